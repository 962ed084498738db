#!/usr/bin/env node
// `npm run bench`: synthesis speed measured side by side in one run, printed as a table with
// ratios. Every command writes into its own temporary folder; dist/ is not touched.
//   node scripts/bench.mjs [--runs N] [--skip-tests] [--skip-ts-node] [--skip-cluster]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const skipTests = args.includes('--skip-tests');
const skipTsNode = args.includes('--skip-ts-node');
const skipCluster = args.includes('--skip-cluster');
const env = { ...process.env, CDK8S_CHECK_UPGRADE: 'false', SYNTH_QUIET: '1' };

// CPU time of finished child processes (Linux: cutime + cstime in /proc/self/stat, 100 Hz).
function childrenCpuMs() {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return NaN;
  }
}

let lastCpuMs = NaN;
function time(label, cmd, argv, extraEnv = {}) {
  const t0 = process.hrtime.bigint();
  const c0 = childrenCpuMs();
  const r = spawnSync(cmd, argv, { cwd: root, env: { ...env, ...extraEnv }, encoding: 'utf8', shell: false });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  lastCpuMs = childrenCpuMs() - c0;
  if (r.status !== 0) {
    console.error(`${label} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(label, cmd, argv, n, extraEnv = {}) {
  const xs = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    xs.push(time(label, cmd, argv(out), { CDK8S_OUTDIR: out, ...extraEnv }));
    cpu.push(lastCpuMs);
    fs.rmSync(out, { recursive: true, force: true });
  }
  return { label, ms: median(xs), cpuMs: median(cpu), runs: n };
}

const npx = path.join(root, 'node_modules', '.bin');
const rows = [];
console.log(`machine: ${os.cpus().length} cores, node ${process.version}; median of ${runs} runs unless noted\n`);

// Warm the transpile cache once so every row measures a steady state.
time('warm-up', process.execPath, ['scripts/synth.mjs'], { CDK8S_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')) });

const npmSynth = measure('npm run synth (all environments)', 'npm', () => ['run', '--silent', 'synth'], runs);
rows.push(npmSynth);
const cliSynth = measure('npx cdk8s synth (app: node scripts/app.mjs)', path.join(npx, 'cdk8s'), (out) => ['synth', '--no-validate', '-o', out], runs);
rows.push(cliSynth);
let tsNode;
if (!skipTsNode) {
  tsNode = measure(
    'npx cdk8s synth (cdk8s default app: npx ts-node main.ts)',
    path.join(npx, 'cdk8s'),
    (out) => ['synth', '--no-validate', '-o', out, '--app', 'npx ts-node main.ts'],
    1,
  );
  rows.push(tsNode);
}

// 50 generated environments: staging's data under 50 names.
const genDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-envs-')), 'environments');
fs.mkdirSync(genDir);
fs.copyFileSync(path.join(root, 'environments', 'define.ts'), path.join(genDir, 'define.ts'));
const staging = fs.readFileSync(path.join(root, 'environments', 'staging.ts'), 'utf8');
for (let i = 0; i < 50; i++) {
  const name = `gen${String(i).padStart(2, '0')}`;
  fs.writeFileSync(
    path.join(genDir, `${name}.ts`),
    staging.replace(/name: 'staging'/, `name: '${name}'`).replace(/nextgen-staging/g, `nextgen-${name}`).replace(/\.staging\./g, `.${name}.`),
  );
}
const gen50 = measure('npm run synth (50 generated environments)', 'npm', () => ['run', '--silent', 'synth'], runs, { NEXTGEN_ENVIRONMENTS: genDir });
rows.push(gen50);
const envCount = fs.readdirSync(path.join(root, 'environments')).filter((f) => /^[a-z0-9-]+\.ts$/.test(f) && !['define.ts', 'load.ts', 'checks.ts', 'index.ts'].includes(f)).length;

let testsMs;
if (!skipTests) {
  // The unit tests: the fast part of the suite (no real servers, no simulated cluster).
  testsMs = time('npm run test:unit', 'npm', ['run', '--silent', 'test:unit'], { CI: process.env.CI ?? '' });
  rows.push({ label: 'npm run test:unit (unit tests, once)', ms: testsMs, cpuMs: lastCpuMs, runs: 1 });
}

const pad = (s, n) => String(s).padEnd(n);
console.log(`| ${pad('what', 58)} | ${pad('wall ms', 8)} | ${pad('CPU ms', 8)} | runs |`);
console.log(`|${'-'.repeat(60)}|${'-'.repeat(10)}|${'-'.repeat(10)}|------|`);
for (const r of rows) console.log(`| ${pad(r.label, 58)} | ${pad(r.ms.toFixed(0), 8)} | ${pad(r.cpuMs.toFixed(0), 8)} | ${pad(r.runs, 4)} |`);
console.log('(CPU = user + system time of the command and its children; wall time of the 50-environment');
console.log(' row also depends on how fast this machine writes back ~22 MB of files.)');
console.log('');
const perEnv = (gen50.ms - npmSynth.ms) / (50 - envCount);
console.log(`ratios and targets:`);
if (tsNode) {
  console.log(`  ts-node default / npm run synth      = ${(tsNode.ms / npmSynth.ms).toFixed(1)}x  (target >= 3x)`);
  console.log(`  ts-node default / npx cdk8s synth    = ${(tsNode.ms / cliSynth.ms).toFixed(1)}x  (target >= 3x)`);
}
console.log(`  npm run synth, every environment     = ${npmSynth.ms.toFixed(0)} ms  (target < 1000 ms) ${npmSynth.ms < 1000 ? 'OK' : 'MISSED'}`);
console.log(`  50 environments                      = ${gen50.ms.toFixed(0)} ms  (target < 3000 ms) ${gen50.ms < 3000 ? 'OK' : 'MISSED'}`);
console.log(`  marginal cost per extra environment  = ${perEnv.toFixed(1)} ms`);
if (testsMs !== undefined) console.log(`  npm run test:unit                    = ${(testsMs / 1000).toFixed(1)} s  (target < 30 s) ${testsMs < 30000 ? 'OK' : 'MISSED'}`);

// First apply to all-healthy on the simulated cluster (newest server), per environment.
if (!skipCluster) {
  // The version catalog (versions.json), as .ci/install reads it.
  const shell = spawnSync(process.execPath, [path.join(root, '.ci', 'catalog.mjs'), 'shell'], { encoding: 'utf8' }).stdout;
  const versions = Object.fromEntries(shell.split('\n').map((l) => /^([A-Z_]+)='([^']*)'/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));
  const version = versions.KUBERNETES_NEWEST;
  const gobin = path.join(spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout.trim() || path.join(os.homedir(), 'go'), 'bin');
  if (!fs.existsSync(path.join(gobin, 'kubernetes', version, 'kube-apiserver'))) {
    console.log(`\nsimulated cluster: skipped (Kubernetes ${version} not built; .ci/install builds it)`);
  } else {
    console.log(`\nsimulated cluster (Kubernetes ${version}, kwok nodes as each environment declares): first apply, Argo CD order, to all-healthy`);
    const envNames = fs.readdirSync(path.join(root, 'dist')).filter((d) => fs.existsSync(path.join(root, 'dist', d, 'kustomization.yaml')) && !['cluster', 'argocd'].includes(d)).sort();
    for (const name of envNames) {
      const t0 = Date.now();
      const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', `ip link set lo up && exec ${JSON.stringify(process.execPath)} -r ./scripts/register.cjs test/cluster/run.ts install ${version} ${name}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('REPORT '));
      const report = line ? JSON.parse(line.slice(7)) : { error: r.stderr };
      if (report.error) console.log(`  ${name.padEnd(10)} failed: ${String(report.error).split('\n')[0]}`);
      else console.log(`  ${name.padEnd(10)} apply-to-healthy ${String(report.applyToHealthyMs).padStart(6)} ms   (waves: ${report.waves.map((w) => `${w.wave}:${w.ms}`).join(' ')}; whole scenario with cluster start ${Date.now() - t0} ms)`);
    }
  }
}

const backupBench = path.join(root, 'scripts', 'bench-backup.mjs');
if (fs.existsSync(backupBench)) {
  console.log('');
  const r = spawnSync(process.execPath, [backupBench], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
