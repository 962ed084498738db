// dependency-cruiser's API for test/architecture.test.ts: every cruise the test needs in one
// process, so the tool (and the TypeScript compiler it loads) is loaded once, not per cruise.
//   node test/support/cruise.mjs '[{"cwd": ..., "config": ..., "roots": [...], "cache": <folder>?}, ...]'
// prints a JSON array: per cruise, the violations of its summary and the number of modules it read.
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const results = [];
for (const { cwd, config, roots, cache } of JSON.parse(process.argv[2])) {
  process.chdir(cwd);
  const options = await extractDepcruiseOptions(config);
  if (cache) options.cache = { folder: cache, strategy: 'content' };
  const tsConfig = options.tsConfig?.fileName ? extractTSConfig(options.tsConfig.fileName) : undefined;
  const { output } = await cruise(roots, { ...options, outputType: 'json' }, {}, { tsConfig });
  const { summary, modules } = JSON.parse(output);
  results.push({ violations: summary.violations, modules: modules.length });
}
process.stdout.write(JSON.stringify(results));
