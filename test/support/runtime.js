/**
 * jest's module runtime, with V8's code cache kept per worker process.
 *
 * jest gives every test file a fresh module registry, so each file compiles every module it
 * loads again: cdk8s-plus's 2.5 MB `k8s.js`, zod, the Grafana SDK, our constructs. Profiled
 * in band, compiling was 10 s of the unit tier's 80 s of CPU. Module *instances* must stay per
 * file (that isolation is jest's contract), but the compiled code need not: the first file a
 * worker runs compiles a module and keeps V8's code cache for it; later files compile the same
 * source from that cache. The cache is keyed by file name and checked against the exact
 * transformed source, so an edited or differently transformed module compiles afresh, and V8
 * itself rejects data that does not match (then we compile without it and drop the entry).
 *
 * Everything else is jest's own `compile` (error handling, dynamic import), which reaches
 * `vm.compileFunction` through the `vm` module object: we lend it a caching version for the
 * duration of that call only. jest 30 compiles in the runtime's module executor; if a jest
 * upgrade moves it, construction fails with a message saying so rather than silently caching
 * nothing.
 */
const vm = require('vm');
const Runtime = require('jest-runtime').default;

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

class CodeCachingRuntime extends Runtime {
  constructor(...args) {
    super(...args);
    const executor = this.executor;
    if (typeof executor?.compile !== 'function') {
      throw new Error('test/support/runtime.js: jest-runtime no longer compiles modules in `runtime.executor.compile`; update the code cache for this jest version or remove `runtime` from jest.config.js');
    }
    const compile = executor.compile.bind(executor);
    executor.compile = (scriptSource, filename) => {
      const original = vm.compileFunction;
      vm.compileFunction = cachingCompileFunction(original);
      try {
        return compile(scriptSource, filename);
      } finally {
        vm.compileFunction = original;
      }
    };
  }
}

module.exports = CodeCachingRuntime;
