/**
 * The project's import arrows (checked by test/architecture.test.ts, and by
 * `npx depcruise --config .dependency-cruiser.cjs main.ts constructs rules environments scripts/lib`).
 * Environments are data; constructs build from them; rules read what constructs build; main.ts
 * and the scripts sit on top. Nothing points back up, and nothing goes round in a circle.
 */
const COMPONENTS = '(api|postgres|redis|minio|monitoring|platform)';
module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'an import cycle: split the shared part into a file both can import', severity: 'error', from: {}, to: { circular: true } },
    { name: 'constructs-not-rules', comment: 'rules read what constructs build, never the reverse: move the helper into constructs/lib', severity: 'error', from: { path: '^constructs/' }, to: { path: '^rules/' } },
    { name: 'environments-are-data', comment: 'environment files and their schema never import constructs or rules', severity: 'error', from: { path: '^environments/' }, to: { path: '^(constructs|rules)/' } },
    { name: 'lib-below-components', comment: 'constructs/lib holds what components share; it may name their types, never run their code', severity: 'error', from: { path: '^constructs/lib/' }, to: { path: `^constructs/${COMPONENTS}/`, dependencyTypesNot: ['type-only'] } },
    { name: 'components-through-faces', comment: 'the composition reads each component through its index.ts', severity: 'error', from: { path: '^constructs/marketplace\\.ts$' }, to: { path: `^constructs/${COMPONENTS}/(?!index\\.ts$)` } },
    { name: 'nothing-imports-tests', severity: 'error', from: { pathNot: '^test/' }, to: { path: '^test/' } },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|imports|vendor|\\.build)/' },
  },
};
