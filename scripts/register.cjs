// Loads TypeScript the fast way: each .ts file is transpiled by esbuild on require (no type
// check; `npm run typecheck` does that). Transpiled output is cached in .build/ by content
// hash, so an unchanged tree costs only a file read per module.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const Module = require('module');
const esbuild = require('esbuild');

const cacheDir = path.join(__dirname, '..', '.build', 'ts-cache');
fs.mkdirSync(cacheDir, { recursive: true });

Module._extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha1').update(esbuild.version).update(filename).update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    code = esbuild.transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcefile: filename,
      sourcemap: 'inline',
    }).code;
    const tmp = `${cached}.${process.pid}`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  }
  module._compile(code, filename);
};
