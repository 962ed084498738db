// `npm run diagram`: docs/architecture.dot, docs/architecture.svg, the README alert table and the sync-wave table of
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
const { ALERT_TABLE_MARKERS, alertTable } = require('../constructs/monitoring/alert-table.ts');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = process.hrtime.bigint();
const check = process.argv.includes('--check');

const envs = loadAllEnvironments(ROOT);
const charts = buildApp(envs).charts;
const dot = architectureDot(charts);
const svg = renderSvg(dot);
// The sync-wave table of the operations guide comes from the same charts.
const operations = fs.readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
// The README's alert table comes from the rules every environment ships.
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const alertEnvs = charts.filter((c) => c.monitoring && c.env).map((c) => ({ name: c.env.name, groups: c.monitoring.groups }));
const [head, rest] = readme.split(ALERT_TABLE_MARKERS.begin);
const withAlerts = rest === undefined ? readme : `${head}${ALERT_TABLE_MARKERS.begin}\n${alertTable(alertEnvs)}\n${rest.slice(rest.indexOf(ALERT_TABLE_MARKERS.end))}`;
const files = {
  'docs/architecture.dot': dot,
  'docs/architecture.svg': svg,
  'docs/operations.md': withWaveTable(operations, waveTable(charts, envs.map((e) => e.name))),
  'README.md': withAlerts,
};

if (check) {
  const stale = Object.entries(files).filter(([f, c]) => !fs.existsSync(path.join(ROOT, f)) || fs.readFileSync(path.join(ROOT, f), 'utf8') !== c);
  for (const [f] of stale) console.error(`stale: ${f}`);
  if (stale.length) {
    console.error("FAIL: the architecture diagram, the sync-wave table or the README's alert table differs from the code; run 'npm run diagram' and commit");
    process.exitCode = 1;
  } else console.log('docs/architecture.{dot,svg}, the sync-wave table in docs/operations.md and the alert table in README.md are current');
} else {
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ROOT, f)), { recursive: true });
    fs.writeFileSync(path.join(ROOT, f), c);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`wrote docs/architecture.dot, docs/architecture.svg, the sync-wave table of docs/operations.md and the alert table of README.md in ${ms.toFixed(0)} ms`);
}
