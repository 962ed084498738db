#!/usr/bin/env node
// `npm run bench`: synthesis speed measured side by side in one run, printed as a table with
// ratios. Every command writes into its own temporary folder; dist/ is not touched.
//   node scripts/bench.mjs [--runs N] [--skip-tests] [--skip-ts-node] [--skip-cluster] [--skip-backup]
//                          [--baseline <git revision> | --no-baseline]
// The baseline (by default c0b5d62, the last commit before the speed work of issue 19) is
// checked out into a temporary git worktree under the system's temp folder (sharing this
// checkout's node_modules) and measured in the same run, alternating with this tree, so both
// columns see the same machine load. The worktree is removed at the end.
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
const skipBackup = args.includes('--skip-backup');
const baselineRev = args.includes('--no-baseline') ? undefined : args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : 'c0b5d62';
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
function time(label, cmd, argv, extraEnv = {}, cwd = root) {
  const t0 = process.hrtime.bigint();
  const c0 = childrenCpuMs();
  const r = spawnSync(cmd, argv, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', shell: false, maxBuffer: 256 << 20 });
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

// The baseline tree: a detached worktree of `baselineRev` sharing our node_modules.
let baseRoot;
const cleanups = [];
function cleanup() {
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch {
      /* best effort */
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
if (baselineRev) {
  const holder = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-baseline-'));
  baseRoot = path.join(holder, 'tree');
  const r = spawnSync('git', ['worktree', 'add', '--detach', baseRoot, baselineRev], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`cannot check out the baseline ${baselineRev}: ${r.stderr.trim()}`);
    process.exit(1);
  }
  cleanups.push(() => fs.rmSync(holder, { recursive: true, force: true }));
  cleanups.push(() => spawnSync('git', ['worktree', 'remove', '--force', baseRoot], { cwd: root }));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(baseRoot, 'node_modules'), 'dir');
  const lock = (dir) => fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
  if (lock(baseRoot) !== lock(root)) console.log(`note: the baseline's package-lock.json differs; it runs with this checkout's node_modules`);
}
const trees = () => (baseRoot ? [['base', baseRoot], ['now', root]] : [['now', root]]);

// A memory file system (Linux tmpfs), where one is mounted: the output written there measures
// synthesis without this machine's disk, whose time for creating a few thousand files varies
// from 0.2 to 6 s on the same tree (ext4, shared host).
const memoryDir = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;

/** Median wall and CPU time of `n` runs in each tree, alternating trees run by run; output under `outParent`. */
function measure(label, cmd, argv, n, extraEnv = {}, outParent = os.tmpdir()) {
  const acc = Object.fromEntries(trees().map(([k]) => [k, { xs: [], cpu: [] }]));
  for (let i = 0; i < n; i++) {
    const order = i % 2 ? [...trees()].reverse() : trees();
    for (const [k, dir] of order) {
      const out = fs.mkdtempSync(path.join(outParent, 'bench-'));
      acc[k].xs.push(time(`${label} (${k})`, typeof cmd === 'function' ? cmd(dir) : cmd, argv(out, dir), { CDK8S_OUTDIR: out, NEXTGEN_DIST: out, ...(typeof extraEnv === 'function' ? extraEnv(dir) : extraEnv) }, dir));
      acc[k].cpu.push(lastCpuMs);
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
  const row = { label, runs: n };
  for (const [k] of trees()) row[k] = { ms: median(acc[k].xs), cpuMs: median(acc[k].cpu) };
  return row;
}

const binOf = (dir) => path.join(dir, 'node_modules', '.bin');
const rows = [];
console.log(`machine: ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; median of ${runs} runs unless noted`);
console.log(baseRoot ? `baseline: ${baselineRev} (${spawnSync('git', ['log', '-1', '--format=%h %s', baselineRev], { cwd: root, encoding: 'utf8' }).stdout.trim().slice(0, 90)}), measured in the same run\n` : 'no baseline (--no-baseline)\n');

// Warm the transpile caches once so every row measures a steady state.
// NEXTGEN_DIST: where the app writes (else the repository's dist/); CDK8S_OUTDIR: the CLI's folder.
for (const [, dir] of trees()) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  time('warm-up', process.execPath, ['scripts/synth.mjs'], { CDK8S_OUTDIR: out, NEXTGEN_DIST: out }, dir);
  fs.rmSync(out, { recursive: true, force: true });
}

const npmSynth = measure('npm run synth (all environments)', 'npm', () => ['run', '--silent', 'synth'], runs);
rows.push(npmSynth);
const npmSynthMemory = memoryDir ? measure('npm run synth (all environments, output in memory)', 'npm', () => ['run', '--silent', 'synth'], runs, {}, memoryDir) : undefined;
if (npmSynthMemory) rows.push(npmSynthMemory);
const cliSynth = measure('npx cdk8s synth (app: node scripts/app.mjs)', (dir) => path.join(binOf(dir), 'cdk8s'), (out) => ['synth', '--no-validate', '-o', out], runs);
rows.push(cliSynth);
let tsNode;
if (!skipTsNode) {
  tsNode = measure(
    'npx cdk8s synth (cdk8s default app: npx ts-node main.ts)',
    (dir) => path.join(binOf(dir), 'cdk8s'),
    (out) => ['synth', '--no-validate', '-o', out, '--app', 'npx ts-node main.ts'],
    1,
  );
  rows.push(tsNode);
}

// 50 generated environments: staging's data under 50 names, from each tree's own staging.ts
// (the environment schema changes between revisions).
const genDirs = new Map();
for (const [, dir] of trees()) {
  const genDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-envs-')), 'environments');
  fs.mkdirSync(genDir);
  fs.copyFileSync(path.join(dir, 'environments', 'define.ts'), path.join(genDir, 'define.ts'));
  const staging = fs.readFileSync(path.join(dir, 'environments', 'staging.ts'), 'utf8');
  for (let i = 0; i < 50; i++) {
    const name = `gen${String(i).padStart(2, '0')}`;
    fs.writeFileSync(
      path.join(genDir, `${name}.ts`),
      staging.replace(/name: 'staging'/, `name: '${name}'`).replace(/nextgen-staging/g, `nextgen-${name}`).replace(/\.staging\./g, `.${name}.`),
    );
  }
  genDirs.set(dir, genDir);
  cleanups.push(() => fs.rmSync(path.dirname(genDir), { recursive: true, force: true }));
}
const gen50 = measure('npm run synth (50 generated environments)', 'npm', () => ['run', '--silent', 'synth'], runs, (dir) => ({ NEXTGEN_ENVIRONMENTS: genDirs.get(dir) }));
rows.push(gen50);
const gen50Memory = memoryDir
  ? measure('npm run synth (50 generated environments, output in memory)', 'npm', () => ['run', '--silent', 'synth'], runs, (dir) => ({ NEXTGEN_ENVIRONMENTS: genDirs.get(dir) }), memoryDir)
  : undefined;
if (gen50Memory) rows.push(gen50Memory);
const envCount = fs.readdirSync(path.join(root, 'environments')).filter((f) => /^[a-z0-9-]+\.ts$/.test(f) && !['define.ts', 'load.ts', 'checks.ts', 'index.ts'].includes(f)).length;

let tests;
if (!skipTests) {
  // The unit tests (no real servers, no simulated cluster), once per tree, as CI runs them: with
  // no test cache (.build/test-cache is emptied first, in both trees).
  tests = { label: 'npm run test:unit (unit tests, once, empty test cache)', runs: 1 };
  for (const [k, dir] of trees()) {
    fs.rmSync(path.join(dir, '.build', 'test-cache'), { recursive: true, force: true });
    const ms = time(`npm run test:unit (${k})`, 'npm', ['run', '--silent', 'test:unit'], { CI: process.env.CI ?? '' }, dir);
    tests[k] = { ms, cpuMs: lastCpuMs };
  }
  rows.push(tests);
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x) => (x === undefined ? '' : x.toFixed(0));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : '');
if (baseRoot) {
  console.log(`| ${pad('what', 58)} | ${pad('base ms', 8)} | ${pad('now ms', 8)} | ${pad('speed-up', 8)} | ${pad('base CPU', 8)} | ${pad('now CPU', 8)} | ${pad('speed-up', 8)} | runs |`);
  console.log(`|${'-'.repeat(60)}|${['', '', '', '', '', ''].map(() => '-'.repeat(10)).join('|')}|------|`);
  for (const r of rows) {
    console.log(
      `| ${pad(r.label, 58)} | ${pad(num(r.base.ms), 8)} | ${pad(num(r.now.ms), 8)} | ${pad(ratio(r.base.ms, r.now.ms), 8)} | ${pad(num(r.base.cpuMs), 8)} | ${pad(num(r.now.cpuMs), 8)} | ${pad(ratio(r.base.cpuMs, r.now.cpuMs), 8)} | ${pad(r.runs, 4)} |`,
    );
  }
} else {
  console.log(`| ${pad('what', 58)} | ${pad('wall ms', 8)} | ${pad('CPU ms', 8)} | runs |`);
  console.log(`|${'-'.repeat(60)}|${'-'.repeat(10)}|${'-'.repeat(10)}|------|`);
  for (const r of rows) console.log(`| ${pad(r.label, 58)} | ${pad(num(r.now.ms), 8)} | ${pad(num(r.now.cpuMs), 8)} | ${pad(r.runs, 4)} |`);
}
console.log('(CPU = user + system time of the command and its children; speed-up = base / now. Wall time of');
console.log(' the 50-environment row also depends on how fast this machine writes back ~22 MB of files; "output in');
console.log(' memory" rows write to a tmpfs, to separate synthesis from the disk.)');
console.log('');
const perEnv = (k) => (gen50[k].ms - npmSynth[k].ms) / (50 - envCount);
const verdict = (ok) => (ok ? 'OK' : 'MISSED');
const was = (k, f) => (baseRoot ? `  (baseline ${f(k)})` : '');
console.log(`ratios and targets (this tree${baseRoot ? `; baseline ${baselineRev} in brackets` : ''}):`);
if (tsNode) {
  console.log(`  ts-node default / npm run synth      = ${(tsNode.now.ms / npmSynth.now.ms).toFixed(1)}x  (target >= 3x)`);
  console.log(`  ts-node default / npx cdk8s synth    = ${(tsNode.now.ms / cliSynth.now.ms).toFixed(1)}x  (target >= 3x)`);
}
console.log(`  npm run synth, every environment     = ${npmSynth.now.ms.toFixed(0)} ms  (target < 1000 ms) ${verdict(npmSynth.now.ms < 1000)}${was('base', (k) => `${npmSynth[k].ms.toFixed(0)} ms`)}`);
console.log(`  50 environments                      = ${gen50.now.ms.toFixed(0)} ms  (target <= 2000 ms) ${verdict(gen50.now.ms <= 2000)}${was('base', (k) => `${gen50[k].ms.toFixed(0)} ms`)}`);
if (npmSynthMemory) console.log(`  npm run synth, output in memory      = ${npmSynthMemory.now.ms.toFixed(0)} ms  (target < 1000 ms) ${verdict(npmSynthMemory.now.ms < 1000)}${was('base', (k) => `${npmSynthMemory[k].ms.toFixed(0)} ms`)}`);
if (gen50Memory) console.log(`  50 environments, output in memory    = ${gen50Memory.now.ms.toFixed(0)} ms  (target <= 2000 ms) ${verdict(gen50Memory.now.ms <= 2000)}${was('base', (k) => `${gen50Memory[k].ms.toFixed(0)} ms`)}`);
console.log(`  marginal cost per extra environment  = ${perEnv('now').toFixed(1)} ms${was('base', (k) => `${perEnv(k).toFixed(1)} ms`)}`);
if (tests) console.log(`  npm run test:unit                    = ${(tests.now.ms / 1000).toFixed(1)} s  (target <= 30 s) ${verdict(tests.now.ms <= 30000)}${was('base', (k) => `${(tests[k].ms / 1000).toFixed(1)} s`)}`);
cleanup();

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
if (!skipBackup && fs.existsSync(backupBench)) {
  console.log('');
  const r = spawnSync(process.execPath, [backupBench], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
