/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
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
  // V8's code cache shared by the test files of a worker (modules still load afresh per file).
  runtime: '<rootDir>/test/support/runtime.js',
  testSequencer: '<rootDir>/test/support/sequencer.js',
  // Real-server tests mostly wait on their servers: three workers overlap them on two cores.
  maxWorkers: 3,
};
