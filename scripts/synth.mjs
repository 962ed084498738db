// `npm run synth`: same app as `cdk8s synth`, but dist/ is replaced only after a complete,
// valid build (the cdk8s CLI deletes its output folder before the app runs).
globalThis.NEXTGEN_NPM_SYNTH = true;
await import('./app.mjs');
