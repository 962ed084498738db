// Loads the app bundle (app.mjs builds it) with V8's code cache, and keeps stack traces pointing
// at our TypeScript.
//
// Why: compiling the 2.6 MB bundle, and the functions it compiles lazily while it synthesizes,
// was a third of a warm `npm run synth` (load 260-640 ms; 150-440 ms from the cache). Node.js 20
// offers no compile cache for `require` (module.enableCompileCache is Node.js 22), so the bundle
// is compiled as a `vm.Script` with the cache V8 wrote after the previous run, next to the bundle
// and named by the Node.js version and architecture. V8 checks the cache against the source and
// its own version and flags; a rejected or unreadable cache only costs a normal compile, after
// which a fresh one is written (atomically: concurrent synths each write a whole file).
//
// Node.js maps stack traces through source maps only for code its module loader compiled, so
// this file formats them itself (Error.prepareStackTrace): frames in the bundle through the
// bundle's source map, frames in other files (environment files, transpiled on require) through
// the map Node.js keeps for them (module.findSourceMap), every other frame as V8 prints it.
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

/** Where the code cache of `bundle` lives for this Node.js. */
function cacheFileOf(bundle) {
  return `${bundle}.${process.version}-${process.arch}.v8cache`;
}

/** `file:line:column` of a frame, mapped to the original source where a map is known. */
function mapper(bundle) {
  let bundleMap;
  // Module.wrap's prefix shifts the columns of the bundle's first line.
  const prefix = Module.wrap('').indexOf('{') + 1;
  return (file, line, column) => {
    let map;
    let col = column;
    if (file === bundle) {
      bundleMap ??= new Module.SourceMap(JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')));
      map = bundleMap;
      if (line === 1) col -= prefix;
    } else {
      map = Module.findSourceMap(file);
    }
    if (!map) return undefined;
    const entry = map.findEntry(line - 1, col - 1);
    if (!entry || entry.originalSource === undefined) return undefined;
    const source = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : path.resolve(path.dirname(file), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  };
}

function installStackMapping(bundle) {
  const map = mapper(bundle);
  Error.prepareStackTrace = (error, frames) => {
    const head = Error.prototype.toString.call(error);
    const lines = frames.map((frame) => {
      const text = frame.toString();
      const file = frame.getFileName();
      const line = frame.getLineNumber();
      const column = frame.getColumnNumber();
      if (!file || line == null || column == null) return `    at ${text}`;
      let mapped;
      try {
        mapped = map(file, line, column);
      } catch {
        mapped = undefined;
      }
      return `    at ${mapped ? text.replace(`${file}:${line}:${column}`, mapped) : text}`;
    });
    return [head, ...lines].join('\n');
  };
}

/**
 * Load `bundle` (CommonJS) and return its exports, with `saveCache()` to call once the app has
 * run (the cache then holds the functions compiled while it ran, too).
 */
function loadBundle(bundle) {
  installStackMapping(bundle);
  const cacheFile = cacheFileOf(bundle);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first run of this bundle */
  }
  const source = fs.readFileSync(bundle, 'utf8');
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const mod = new Module(bundle, null);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  mod.loaded = true;
  const saveCache = () => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    const tmp = `${cacheFile}.${process.pid}`;
    try {
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      // A cache is an optimization: a read-only checkout only compiles every time.
      fs.rmSync(tmp, { force: true });
    }
  };
  return { exports: mod.exports, saveCache, cacheFile, cacheRejected: cachedData !== undefined && script.cachedDataRejected };
}

module.exports = { loadBundle, cacheFileOf };
