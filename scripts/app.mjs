// The cdk8s app entry (`app:` in cdk8s.yaml) and the engine of `npm run synth`.
//
// Speed: the app and its dependencies are bundled by esbuild into one cached file under
// .build/, keyed by the project's TypeScript files (path, size, mtime), the lockfile and the
// esbuild version; an unchanged tree skips the bundling and loads one file instead of a few
// hundred modules. Environment files are still loaded one by one (they are discovered at run
// time) through the esbuild require hook in register.cjs. No type-checking happens here:
// `npm run typecheck` does that.
import * as crypto from 'crypto';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const esbuild = require('esbuild');
require('./register.cjs');

const SOURCE_DIRS = ['constructs', 'environments', 'rules', 'imports'];

function sources() {
  const out = [path.join(root, 'main.ts')];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(root, d));
  return out.sort();
}

function bundleKey(files) {
  const h = crypto.createHash('sha1').update(esbuild.version).update(root);
  h.update(fs.readFileSync(path.join(root, 'package-lock.json')));
  for (const f of files) {
    const s = fs.statSync(f);
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

// Bundled modules must still see their own folder: give each project file its own
// __dirname/__filename (esbuild renames the per-module declarations apart).
const keepDirname = {
  name: 'keep-dirname',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = fs.readFileSync(args.path, 'utf8');
      const header = `var __dirname = ${JSON.stringify(path.dirname(args.path))}, __filename = ${JSON.stringify(args.path)};\n`;
      return { contents: header + source, loader: 'ts' };
    });
  },
};

async function bundle() {
  const buildDir = path.join(root, '.build');
  const out = path.join(buildDir, `app-${bundleKey(sources())}.cjs`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(buildDir, { recursive: true });
  const tmp = `${out}.${process.pid}`;
  await esbuild.build({
    stdin: { contents: "module.exports = require('./main.ts');", resolveDir: root, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: tmp,
    external: ['esbuild'],
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'error',
    plugins: [keepDirname],
  });
  for (const old of fs.readdirSync(buildDir).filter((f) => /^app-[0-9a-f]+\.cjs$/.test(f))) fs.rmSync(path.join(buildDir, old), { force: true });
  fs.renameSync(tmp, out);
  return out;
}

const { main } = require(await bundle());
process.exitCode = main(root);
