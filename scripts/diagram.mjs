// `npm run diagram`: docs/architecture.dot, docs/architecture.svg and the sync-wave table of
// docs/operations.md from the cdk8s app (the
// same buildApp as `npm run synth`), so the picture always matches the code. `--check`
// regenerates in memory and exits 1 if the committed files differ (CI runs it like the
// dist/ check). The SVG needs Graphviz (`dot`, Debian package graphviz).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
require('./register.cjs');
const { buildApp } = require('../main.ts');
const { loadAllEnvironments } = require('../environments/load.ts');
const { architectureDot, renderSvg } = require('./lib/diagram.ts');
const { waveTable, withWaveTable } = require('./lib/waves.ts');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = process.hrtime.bigint();
const check = process.argv.includes('--check');

const envs = loadAllEnvironments(ROOT);
const charts = buildApp(envs).charts;
const dot = architectureDot(charts);
const svg = renderSvg(dot);
// The sync-wave table of the operations guide comes from the same charts.
const operations = fs.readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
const files = {
  'docs/architecture.dot': dot,
  'docs/architecture.svg': svg,
  'docs/operations.md': withWaveTable(operations, waveTable(charts, envs.map((e) => e.name))),
};

if (check) {
  const stale = Object.entries(files).filter(([f, c]) => !fs.existsSync(path.join(ROOT, f)) || fs.readFileSync(path.join(ROOT, f), 'utf8') !== c);
  for (const [f] of stale) console.error(`stale: ${f}`);
  if (stale.length) {
    console.error("FAIL: the architecture diagram or the sync-wave table differs from the code; run 'npm run diagram' and commit docs/");
    process.exitCode = 1;
  } else console.log('docs/architecture.{dot,svg} and the sync-wave table in docs/operations.md are current');
} else {
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ROOT, f)), { recursive: true });
    fs.writeFileSync(path.join(ROOT, f), c);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`wrote docs/architecture.dot, docs/architecture.svg and the sync-wave table of docs/operations.md in ${ms.toFixed(0)} ms`);
}
