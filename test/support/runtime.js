/**
 * jest's module runtime, with the code under test loaded once per worker process.
 *
 * jest gives every test file a fresh module registry, so each file loaded and ran every module
 * again: cdk8s-plus's 2.5 MB `k8s.js`, zod, the Grafana SDK, our constructs, each evaluated
 * again and each running cold (unoptimized) in every file. That was about a third of the unit
 * tier's CPU time (issue 19). Two changes, both per worker process:
 *
 *  - Module instances. The app's modules (everything outside test/) and the libraries they use
 *    are kept in one registry that the worker's test files share, the way `vitest --no-isolate`
 *    or mocha run. The test files themselves and test/ support modules load afresh for each
 *    file (they register hooks, hold per-file state, use the file's `jest` object), except the
 *    pure helpers listed in SHARED_SUPPORT, whose caches (built environments, compiled schema
 *    validators) then serve every file of the worker. jest's own packages keep jest's
 *    handling. A shared module lives in the worker's one V8 context (environment.js). A lazy
 *    `require` made by a shared module after the file that loaded it has ended goes to the
 *    current file's runtime. `jest.isolateModules` still loads fresh copies.
 *    What this gives up: a test that changes a module's state (monkey-patches an export, fills
 *    a cache with something wrong) can affect later files of the same worker. Tests here that
 *    patch a library (render-fast.test.ts) restore it in `finally`. NEXTGEN_JEST_ISOLATE=1 runs
 *    with jest's isolation, to rule sharing out; test/harness-isolation.int.test.ts checks what
 *    is shared and what is not.
 *  - Compiled code. Modules that still load per file (the test files and their helpers) are
 *    compiled from V8's code cache after the first time: the cache is keyed by file name and
 *    checked against the exact transformed source, so an edited or differently transformed
 *    module compiles afresh, and V8 itself rejects data that does not match (then we compile
 *    without it and drop the entry).
 *
 * Both rely on jest 30's runtime internals (`runtime.executor.compile`, the CJS registry in
 * `runtime.registries.moduleRegistry`); if a jest upgrade moves them, construction fails with
 * a message naming this file rather than silently sharing or caching nothing.
 */
const path = require('path');
const vm = require('vm');
const Runtime = require('jest-runtime').default;

const { isolated, lending } = require('./lend');

const TEST_DIR = path.join(__dirname, '..') + path.sep;
/** test/ modules without hooks or per-file state, shared like the app's (their caches serve every file). */
const SHARED_SUPPORT = new Set(['synth.ts', 'schema.ts', 'rules.ts', 'week.ts'].map((f) => path.join(__dirname, f)));
/** jest's packages: loaded by jest's runtime as it sees fit, never shared by us. */
const JEST_PACKAGE = /[\\/]node_modules[\\/](@jest[\\/]|jest-[^\\/]*[\\/]|expect[\\/]|pretty-format[\\/])/;

function isShared(modulePath) {
  if (typeof modulePath !== 'string' || JEST_PACKAGE.test(modulePath)) return false;
  return !modulePath.startsWith(TEST_DIR) || SHARED_SUPPORT.has(modulePath);
}

/** Module instances shared by the test files of this worker, by resolved path. */
const workerModules = new Map();

/** A test file's CJS registry: shared modules in `workerModules`, the rest its own. */
class WorkerRegistry extends Map {
  get(key) {
    return isShared(key) ? workerModules.get(key) : super.get(key);
  }
  has(key) {
    return isShared(key) ? workerModules.has(key) : super.has(key);
  }
  set(key, value) {
    if (isShared(key)) workerModules.set(key, value);
    else super.set(key, value);
    return this;
  }
  delete(key) {
    return isShared(key) ? workerModules.delete(key) : super.delete(key);
  }
}

/** The runtime of the test file running now in this worker. */
let current;

/** file name → { source, data }: compiled code shared by the test files of this worker. */
const codeCache = new Map();

function cachingCompileFunction(original) {
  return function compileFunction(code, params, options) {
    const filename = options && options.filename;
    const hit = filename ? codeCache.get(filename) : undefined;
    const cachedData = hit && hit.source === code ? hit.data : undefined;
    const fn = original.call(vm, code, params, { ...options, cachedData, produceCachedData: cachedData === undefined });
    if (cachedData !== undefined && fn.cachedDataRejected) codeCache.delete(filename);
    else if (cachedData === undefined && filename && fn.cachedDataProduced) codeCache.set(filename, { source: code, data: fn.cachedData });
    return fn;
  };
}

class WorkerRuntime extends Runtime {
  constructor(...args) {
    super(...args);
    current = this;
    if (!isolated()) {
      const registries = this.registries;
      if (!(registries?.moduleRegistry instanceof Map) || typeof registries.getActiveCjsRegistry !== 'function') {
        throw new Error('test/support/runtime.js: jest-runtime no longer keeps its CJS modules in `runtime.registries.moduleRegistry`; update the module sharing for this jest version or remove `runtime` and `testEnvironment` from jest.config.js');
      }
      registries.moduleRegistry = new WorkerRegistry();
    }
    const executor = this.executor;
    if (typeof executor?.compile !== 'function') {
      throw new Error('test/support/runtime.js: jest-runtime no longer compiles modules in `runtime.executor.compile`; update the code cache for this jest version or remove `runtime` from jest.config.js');
    }
    const compile = executor.compile.bind(executor);
    executor.compile = (scriptSource, filename) => lending(vm, 'compileFunction', cachingCompileFunction, () => compile(scriptSource, filename));
  }

  requireModuleOrMock(from, moduleName) {
    // A shared module's lazy `require`, after the file that loaded it has ended.
    if (this !== current && current && this.testState?.isTornDown()) return current.requireModuleOrMock(from, moduleName);
    return super.requireModuleOrMock(from, moduleName);
  }
}

module.exports = WorkerRuntime;
