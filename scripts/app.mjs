// The cdk8s app entry (`app:` in cdk8s.yaml) and the engine of `npm run synth`.
//
// Speed: the app and its dependencies are bundled by esbuild into one cached file under
// .build/, keyed by the project's TypeScript files (path, size, mtime), the lockfile and the
// esbuild version; an unchanged tree skips the bundling and loads one file instead of a few
// hundred modules, compiled from V8's code cache of the previous run (load-bundle.cjs, which
// also maps stack traces to our TypeScript). Environment files are still loaded one by one (they are discovered at run
// time) through the esbuild require hook in register.cjs. No type-checking happens here:
// `npm run typecheck` does that.
import * as crypto from 'crypto';
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';
import { fileURLToPath } from 'url';

// Stack traces (SYNTH_VERBOSE=1) and error locations point at our TypeScript, not at the bundle
// (Node.js keeps the maps of the files it transpiles on require; load-bundle.cjs maps the bundle).
process.setSourceMapsEnabled(true);

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const esbuild = require('esbuild');
require('./register.cjs');
const { loadBundle } = require('./load-bundle.cjs');

const SOURCE_DIRS = ['constructs', 'environments', 'rules', 'imports'];
/** The project files (not node_modules) the last bundle was built from, as esbuild's metafile lists them. */
const INPUTS_FILE = path.join(root, '.build', 'app', 'inputs.json');

function sources() {
  // This file too: its build options shape the bundle.
  const out = [path.join(root, 'main.ts'), fileURLToPath(import.meta.url)];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(root, d));
  // And every other project file the last build bundled (versions.json, imported as data):
  // changing one changes the key. A newly imported file changes its importer, so it is rebuilt.
  try {
    for (const rel of JSON.parse(fs.readFileSync(INPUTS_FILE, 'utf8'))) {
      const abs = path.join(root, rel);
      if (!out.includes(abs) && fs.existsSync(abs)) out.push(abs);
    }
  } catch {
    /* no build yet */
  }
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
      // On the first line, so source-mapped line numbers stay those of the file.
      const header = `var __dirname = ${JSON.stringify(path.dirname(args.path))}, __filename = ${JSON.stringify(args.path)}; `;
      return { contents: header + source, loader: 'ts' };
    });
  },
};

// `import ... from './schema'` means the folder environments/schema/, even when an environment
// file environments/schema.ts exists (esbuild, like Node, tries the file first): the loader
// then refuses that file in one line instead of the build failing on our own imports.
const foldersFirst = {
  name: 'environment-folders-first',
  setup(build) {
    build.onResolve({ filter: /(^|\/)(schema|shared)$/ }, (args) => {
      const dir = path.resolve(args.resolveDir, args.path);
      if (path.dirname(dir) !== path.join(root, 'environments')) return undefined;
      const index = path.join(dir, 'index.ts');
      return fs.existsSync(index) ? { path: index } : undefined;
    });
  },
};

/** One `file:line:col: message` line per esbuild error, paths relative to the project. */
function esbuildLines(e) {
  const errors = e?.errors?.length ? e.errors : [{ text: String(e?.message ?? e).split('\n')[0] }];
  return errors.map((x) => {
    const l = x.location;
    return l ? `${path.relative(root, path.resolve(root, l.file))}:${l.line}:${l.column + 1}: ${x.text}` : x.text;
  });
}

async function bundle() {
  const buildDir = path.join(root, '.build', 'app');
  const existing = path.join(buildDir, `app-${bundleKey(sources())}.cjs`);
  if (fs.existsSync(existing)) return existing;
  fs.mkdirSync(buildDir, { recursive: true });
  // Built in a private folder beside it (same depth, so the map's relative source paths hold)
  // with its source map, then both are moved into place.
  const stage = fs.mkdtempSync(path.join(root, '.build', 'stage-'));
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      metafile: true,
      stdin: { contents: "module.exports = require('./main.ts');", resolveDir: root, sourcefile: 'entry.js', loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: path.join(stage, 'app.cjs'),
      external: ['esbuild'],
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [keepDirname, foldersFirst],
    });
    const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/') && fs.existsSync(path.join(root, f)) && !f.endsWith('.ts'));
    fs.writeFileSync(INPUTS_FILE, `${JSON.stringify(inputs.sort())}\n`);
    // Named by the key the next run computes, which includes the inputs just listed (on a fresh
    // tree the key above could not: the bundle would be built twice).
    const name = `app-${bundleKey(sources())}.cjs`;
    const out = path.join(buildDir, name);
    for (const old of fs.readdirSync(buildDir).filter((f) => /^app-[0-9a-f]+\.cjs(\.map|\..+\.v8cache)?$/.test(f))) fs.rmSync(path.join(buildDir, old), { force: true });
    fs.renameSync(path.join(stage, 'app.cjs.map'), `${out}.map`);
    const code = fs.readFileSync(path.join(stage, 'app.cjs'), 'utf8').replace(/\/\/# sourceMappingURL=app\.cjs\.map\s*$/, `//# sourceMappingURL=${name}.map\n`);
    fs.writeFileSync(path.join(stage, 'app.cjs'), code);
    fs.renameSync(path.join(stage, 'app.cjs'), out);
    return out;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const verbose = process.argv.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.SYNTH_VERBOSE ?? '');
// `npm run synth` (scripts/synth.mjs) sets NEXTGEN_NPM_SYNTH; the cdk8s CLI sets CDK8S_OUTDIR
// and has removed the output folder before running us.
const viaCdk8sCli = !globalThis.NEXTGEN_NPM_SYNTH && process.env.CDK8S_OUTDIR !== undefined;
let app;
try {
  app = loadBundle(await bundle());
} catch (e) {
  for (const line of esbuildLines(e)) console.error(`error: ${line}`);
  if (verbose) console.error(e?.stack ?? e);
  console.error('synthesis failed: the app does not build; nothing was written');
  process.exit(1);
}
process.exitCode = app.exports.main({ root, viaCdk8sCli, verbose });
app.saveCache();
