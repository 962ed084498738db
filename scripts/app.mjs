// The cdk8s app entry (`app:` in cdk8s.yaml): runs main.ts through the esbuild loader.
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
require('./register.cjs');
const { main } = require('../main.ts');
process.exitCode = main();
