/**
 * jest's Node environment, with one V8 context per worker process instead of one per test file.
 *
 * Why: the code under test and its libraries are loaded once per worker, not once per test
 * file (see runtime.js, which shares their module instances). Module instances made in one
 * context must be used from the same context: objects, arrays and errors of another context
 * fail `instanceof` and prototype checks. So every test file of a worker runs in the context
 * of the worker's first file.
 *
 * What stays per test file: jest's globals (`describe`, `test`, `expect`, the console), which
 * jest installs on the context's global object for each file; the `process` object (jest's
 * copy, with its own `process.env`), taken from the context jest built for this file; the
 * mock registry and the fake timers. Globals a test file itself creates are not removed: no
 * test file here creates one (test/harness-isolation.int.test.ts checks what is shared and what
 * is not).
 *
 * The context is an ordinary V8 context (`vm.constants.DONT_CONTEXTIFY`, Node.js 20.18 and
 * later), not one whose global object is jest's proxy: in a contextified context every global
 * name a module reads (`Object`, `Map`, `JSON`, ...) goes through V8's interceptors and jest's
 * proxy traps, and the app's code ran about 1.8x slower under jest than under node (a warm
 * synthesis of the three environments 190-290 ms against 110-150 ms). jest only reads the
 * context's global object, which stays the same kind of object.
 *
 * NEXTGEN_JEST_ISOLATE=1 restores jest's per-file contexts and module registries, to rule the
 * sharing out when a test behaves differently alone and in the suite.
 */
const vm = require('vm');
const NodeEnvironment = require('jest-environment-node').default;
const { ModuleMocker } = require('jest-mock');
const { LegacyFakeTimers, ModernFakeTimers } = require('@jest/fake-timers');

/** The first environment of this worker: its context and global object. */
let first;

const { isolated, lending } = require('./lend');

/** Run `build` with `vm.createContext` making ordinary contexts (where Node.js offers them). */
function ordinaryContexts(build) {
  const plain = vm.constants?.DONT_CONTEXTIFY;
  if (plain === undefined) return build();
  return lending(vm, 'createContext', (original) => () => original(plain), build);
}

class WorkerContextEnvironment extends NodeEnvironment {
  constructor(config, context) {
    ordinaryContexts(() => super(config, context));
    if (isolated()) return;
    if (!first) {
      first = { context: this.context, global: this.global };
      return;
    }
    // This file's own process object (jest's copy, fresh `process.env`), on the shared global.
    const ownProcess = this.global.process;
    this.context = first.context;
    this.global = first.global;
    this.global.process = ownProcess;
    // What jest-environment-node binds to the global object, bound to the shared one.
    const projectConfig = config.projectConfig;
    this.moduleMocker = new ModuleMocker(this.global);
    const legacy = this.fakeTimers;
    this.fakeTimers = new LegacyFakeTimers({
      config: projectConfig,
      global: this.global,
      moduleMocker: this.moduleMocker,
      timerConfig: legacy._timerConfig,
    });
    legacy.dispose();
    this.fakeTimersModern.dispose();
    this.fakeTimersModern = new ModernFakeTimers({ config: projectConfig, global: this.global });
  }

  async teardown() {
    if (isolated()) return super.teardown();
    // The context outlives this file; jest's teardown would empty the global object that the
    // next file (and the modules loaded into it) use.
    this.fakeTimers?.dispose();
    this.fakeTimersModern?.dispose();
    this.fakeTimers = null;
    this.fakeTimersModern = null;
  }
}

module.exports = WorkerContextEnvironment;
