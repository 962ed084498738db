/** @type {import('jest').Config} */
module.exports = {
  // One V8 context per worker (environment.js) and the app's modules loaded once per worker
  // (runtime.js): NEXTGEN_JEST_ISOLATE=1 gives every test file its own, as jest does by default.
  testEnvironment: '<rootDir>/test/support/environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // swc transpiles TypeScript without type-checking (fast); `npm run typecheck` checks types.
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  // The version catalog's programs (built by .ci/install at the shipped versions) first on PATH.
  setupFiles: ['<rootDir>/test/support/setup-programs.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Cluster files spread so that one runs beside the rest and the others queue last (see the file).
  // The app's modules loaded once per worker; V8's code cache for the per-file rest (see the file).
  runtime: '<rootDir>/test/support/runtime.js',
  testSequencer: '<rootDir>/test/support/sequencer.js',
  // Real-server tests mostly wait on their servers: three workers overlap them on two cores.
  maxWorkers: 3,
};
