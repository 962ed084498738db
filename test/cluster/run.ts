/**
 * The simulated-cluster driver: runs one scenario on a fresh cluster and prints a JSON report
 * on its last line (`REPORT {...}`). It must run in its own network namespace; use
 * `runScenario()` (lib/netns.ts), which starts it under `unshare --net`.
 *
 *   install  <env>          CRDs, dist/cluster, then dist/<env> synced the way Argo CD syncs it;
 *                           warnings, admission and scheduling failures, a repeated apply, the
 *                           worst case, time to healthy
 *   upgrade  <env> <base>   the base commit's dist/ then ours: with `kubectl apply --server-side -k`,
 *                           then (fresh cluster) in Argo CD order
 *   broken                  deliberately broken manifests: each check must catch its own
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadAllEnvironments } from '../../environments/load';
import { ROOT, argo, controlPlane } from './lib/binaries';
import { applications, startArgo, waveOrderViolations } from './lib/argocd';
import { CronExpressionParser } from 'cron-parser';
import { gitopsRepository } from '../../environments/shared/gitops';
import { NodeSpec, SimCluster, freePort } from './lib/cluster';
import { MetricsApi, startMetricsApi } from './lib/metrics-api';
import { admissionFailures, rewritten, serverRewrites, schedulingFailures, unscheduledPods, warningEvents, writeStamps } from './lib/checks';
import { Manifest, argoSync, isHook, kubectlApplyKustomize, readFolder, serverSideApply, snapshot, unhealthy, waitHealthy } from './lib/sync';
import { createWorstCase } from './lib/worst-case';
import { broken } from './lib/broken';
import { KubeStateMetrics } from '../../constructs/monitoring/kube-state-metrics';
import { catalogBinDir } from '../support/programs';
import { renderCharts } from '../../constructs/lib/output';
import { buildApp } from '../../main';
import { DOCUMENTED } from '../../constructs/monitoring/catalog';
import { catalog, splitRef } from '../../environments/shared/versions';

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Kinds whose health does not gate a wave: none (the metrics stand-in makes HPAs healthy). */
const UNGATED: string[] = (process.env.SIM_UNGATED ?? '').split(',').filter(Boolean);

export function nodesFor(envName: string): NodeSpec[] {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName);
  if (!env) throw new Error(`no environment ${envName}`);
  return Array.from({ length: env.cluster.nodes }, (_, i) => ({
    name: `${envName}-worker-${i + 1}`,
    cpuMillis: env.cluster.nodeCpuMillis,
    memoryMiB: env.cluster.nodeMemoryMiB,
    zone: ZONES[i % ZONES.length],
  }));
}

interface InstallReport {
  scenario: 'install';
  env: string;
  version: string;
  warnings: string[];
  waves: Array<{ phase: string; wave: number; objects: string[]; ms: number }>;
  applyToHealthyMs: number;
  warningEvents: ReturnType<typeof warningEvents>;
  admissionFailures: ReturnType<typeof warningEvents>;
  schedulingFailures: ReturnType<typeof warningEvents>;
  unscheduled: string[];
  rewrittenByArgo: string[];
  rewrittenByKubectl: string[];
  storedDifferently: string[];
  kubectlConflicts: string[];
  ksmChecks: number;
  ksmAccess: string[];
  ksmLive: Awaited<ReturnType<typeof runKubeStateMetrics>> | undefined;
  worstCase: Awaited<ReturnType<typeof createWorstCase>>;
  worstCaseUnscheduled: string[];
  worstCaseAdmissionFailures: ReturnType<typeof warningEvents>;
}

/**
 * The shipped kube-state-metrics (the catalog's version, built by .ci/install) run against this
 * API server as its own ServiceAccount (a token from the TokenRequest API), with exactly the
 * Deployment's arguments (ports aside): what its RBAC really lets it list and watch, and which
 * of the allowlisted metrics it exposes for the namespace's objects.
 */
async function runKubeStateMetrics(cluster: SimCluster, ns: string, deployment: Manifest) {
  const bin = path.join(catalogBinDir('kubeStateMetrics'), 'kube-state-metrics');
  if (!fs.existsSync(bin)) return { skipped: `${bin} is not built (.ci/install builds it)` } as const;
  const spec = deployment.spec.template.spec;
  const container = spec.containers[0];
  const token = cluster.must(['-n', ns, 'create', 'token', spec.serviceAccountName, '--duration=1h']).trim();
  const kubeconfig = path.join(cluster.dir, 'ksm-kubeconfig');
  fs.writeFileSync(kubeconfig, fs.readFileSync(cluster.kubeconfig, 'utf8').replace(/token: .*/, `token: ${token}`));
  const [port, telemetry] = await Promise.all([freePort(), freePort()]);
  const args = (container.args as string[])
    .filter((a) => !/^--(port|telemetry-port|host|telemetry-host)=/.test(a))
    .concat([`--port=${port}`, `--telemetry-port=${telemetry}`, '--host=127.0.0.1', '--telemetry-host=127.0.0.1', `--kubeconfig=${kubeconfig}`]);
  cluster.startProcess('kube-state-metrics', bin, args);
  const allowlist = (container.args as string[]).find((a) => a.startsWith('--metric-allowlist='))!.replace('--metric-allowlist=', '').split(',');
  const shippedPort = (flag: string) => Number((container.args as string[]).find((a) => a.startsWith(`--${flag}=`))!.split('=')[1]);
  const local = new Map([[shippedPort('port'), port], [shippedPort('telemetry-port'), telemetry]]);
  const get = (p: number, urlPath: string) => fetch(`http://127.0.0.1:${p}${urlPath}`).then(async (r) => ({ status: r.status, body: await r.text() }), () => ({ status: 0, body: '' }));
  let text = '';
  const started = Date.now();
  // Listed once the namespace's pods show (every informer lists before it serves), then one scrape.
  while (Date.now() - started < 90_000) {
    const r = await get(port, '/metrics');
    if (r.status === 200 && r.body.includes(`kube_pod_status_phase{namespace="${ns}"`)) {
      text = r.body;
      break;
    }
    await sleep(1000);
  }
  // The Deployment's probes, asked of the running program on the ports they name.
  const probes = await Promise.all(
    (['livenessProbe', 'readinessProbe'] as const).map(async (kind) => {
      const h = container[kind]?.httpGet;
      if (!h) return `${kind}: none`;
      const p = local.get(Number(h.port));
      return `${kind} ${h.path} on ${h.port}: ${p ? (await get(p, h.path)).status : 'a port kube-state-metrics does not listen on'}`;
    }),
  );
  const lines = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(`namespace="${ns}"`));
  const series = (name: string) => lines(name).length;
  return {
    version: cp.spawnSync(bin, ['version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0],
    scraped: text.length > 0,
    probes,
    /** Allowlisted names this version does not know at all (no HELP line). */
    unknown: allowlist.filter((n) => !text.includes(`# HELP ${n} `)),
    series: Object.fromEntries(allowlist.map((n) => [n, series(n)])),
    /** Allowlisted metrics of a collector whose kind has no object in the namespace (dev has no HPA). */
    noObjects: DOCUMENTED.filter((d) => d.resource && allowlist.includes(d.metric.name))
      .filter((d) => cluster.getJson(['-n', ns, 'get', d.resource!]).items.length === 0)
      .map((d) => d.metric.name),
    /** Labels our rules read (catalog DOCUMENTED) that a series of this version lacks. */
    missingLabels: DOCUMENTED.filter((d) => d.resource).flatMap((d) =>
      lines(d.metric.name).length ? d.labels.filter((l) => !lines(d.metric.name).every((x) => x.includes(`${l}="`))).map((l) => `${d.metric.name}: ${l}`) : [],
    ),
    /** Refusals and watch failures in its log (RBAC it lacks). */
    refused: cluster.logTail('kube-state-metrics', 400).split('\n').filter((l) => /forbidden|Failed to watch|failed to list/i.test(l)),
  };
}

async function install(cluster: SimCluster, envName: string, dist: string): Promise<InstallReport> {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName)!;
  const folder = path.join(dist, envName);
  const objects = readFolder(folder);
  const ns = env.namespace;
  const clusterSync = await argoSync(cluster, readFolder(path.join(dist, 'cluster')), { log });
  const started = Date.now();
  const sync = await argoSync(cluster, objects, { log, ungated: UNGATED });
  const applyToHealthyMs = Date.now() - started;
  log(`${envName}: first sync healthy in ${applyToHealthyMs} ms`);

  // A repeated sync must write nothing: Argo CD's way (resources, not hooks, which Argo CD
  // recreates on every sync by design), then the README's `kubectl apply --server-side -k`
  // twice (the first takes co-ownership under the kubectl manager, the second must be a no-op).
  const resources = objects.filter((m) => !isHook(m));
  const snap = snapshot(cluster, objects);
  const storedDifferently = objects.flatMap((m) => serverRewrites(m, snap.get(`${m.kind}/${m.metadata.name}`)));
  await sleep(1100);
  const before = writeStamps(cluster, resources);
  serverSideApply(cluster, resources);
  const rewrittenByArgo = rewritten(before, writeStamps(cluster, resources));
  const firstKubectl = cluster.kubectl(['apply', '--server-side', '-k', folder]);
  const kubectlConflicts = firstKubectl.status === 0 ? [] : [firstKubectl.stderr.split('\n').filter((l) => /conflict|^- \./.test(l)).join('\n')];
  if (firstKubectl.status !== 0) cluster.must(['apply', '--server-side', '--force-conflicts', '-k', folder]);
  await sleep(1100);
  const beforeKubectl = writeStamps(cluster, objects, 'kubectl');
  const kubectlWarnings = kubectlApplyKustomize(cluster, folder);
  const rewrittenByKubectl = rewritten(beforeKubectl, writeStamps(cluster, objects, 'kubectl'));

  const events = warningEvents(cluster, ns);
  const unscheduled = unscheduledPods(cluster, ns);

  // kube-state-metrics' RBAC, asked of the real authorizer as its ServiceAccount.
  const ksm = objects.find((m) => m.kind === 'Deployment' && m.metadata.name === 'kube-state-metrics');
  const ksmAccess: string[] = [];
  let ksmChecks = 0;
  if (ksm) {
    const spec = ksm.spec.template.spec;
    const resources = (spec.containers[0].args as string[]).find((a) => a.startsWith('--resources='))!.replace('--resources=', '').split(',');
    for (const c of KubeStateMetrics.accessChecks(ns, resources)) {
      ksmChecks++;
      const r = cluster.kubectl(['auth', 'can-i', ...c.args, `--as=system:serviceaccount:${ns}:${spec.serviceAccountName}`]);
      const allowed = r.stdout.trim() === 'yes';
      if (allowed !== c.allowed) ksmAccess.push(`can-i ${c.args.join(' ')}: ${r.stdout.trim() || r.stderr.trim()} (expected ${c.allowed ? 'yes' : 'no'})`);
    }
  }
  const ksmLive = ksm ? await runKubeStateMetrics(cluster, ns, ksm) : undefined;

  const worstCase = await createWorstCase(cluster, {
    namespace: ns,
    folder,
    clusterFolder: path.join(dist, 'cluster'),
    volumeGrowthPercent: env.quota.volumeGrowthPercent,
    log,
  });
  // Let the scheduler and the controllers act on what was just created.
  await sleep(3000);
  let worstCaseUnscheduled: string[] = [];
  await cluster
    .waitFor('every worst-case pod to be scheduled', 30_000, () => (worstCaseUnscheduled = unscheduledPods(cluster, ns)).length === 0)
    .catch(() => undefined);
  const after = warningEvents(cluster, ns);
  const known = new Set(events.map((e) => `${e.object} ${e.reason} ${e.message}`));
  return {
    scenario: 'install',
    env: envName,
    version: cluster.bins.version,
    warnings: [...clusterSync.warnings, ...sync.warnings, ...kubectlWarnings],
    waves: sync.waves,
    applyToHealthyMs,
    warningEvents: events,
    admissionFailures: admissionFailures(events),
    schedulingFailures: schedulingFailures(events),
    unscheduled,
    rewrittenByArgo,
    rewrittenByKubectl,
    storedDifferently,
    kubectlConflicts,
    ksmChecks,
    ksmAccess,
    ksmLive,
    worstCase,
    worstCaseUnscheduled,
    worstCaseAdmissionFailures: admissionFailures(after.filter((e) => !known.has(`${e.object} ${e.reason} ${e.message}`))),
  };
}

interface UpgradeReport {
  scenario: 'upgrade';
  env: string;
  version: string;
  kubectl: { baseApplied: boolean; baseError?: string; error?: string; unhealthy: string[]; why?: string[] };
  argo: { baseSynced: boolean; baseError?: string; error?: string };
}

async function upgradeKubectl(cluster: SimCluster, envName: string, dist: string, base: string): Promise<UpgradeReport['kubectl']> {
  const out: UpgradeReport['kubectl'] = { baseApplied: false, unhealthy: [] };
  try {
    kubectlApplyKustomize(cluster, path.join(base, 'cluster'));
    kubectlApplyKustomize(cluster, path.join(base, envName));
    out.baseApplied = true;
  } catch (e) {
    out.baseError = (e as Error).message;
  }
  // Let the base's Jobs start, as they would on a live cluster before the next commit lands.
  await sleep(3000);
  try {
    kubectlApplyKustomize(cluster, path.join(dist, 'cluster'));
    kubectlApplyKustomize(cluster, path.join(dist, envName));
    await waitHealthy(cluster, readFolder(path.join(dist, envName)), 300_000, UNGATED).catch(() => undefined);
    out.unhealthy = unhealthy(cluster, readFolder(path.join(dist, envName)).filter((m: Manifest) => !UNGATED.includes(m.kind)));
    if (out.unhealthy.length) {
      // Why: what the controllers and the scheduler said.
      const ns = loadAllEnvironments(ROOT).find((e) => e.name === envName)!.namespace;
      out.why = [...warningEvents(cluster, ns).map((e) => `${e.object} ${e.reason}: ${e.message}`), ...unscheduledPods(cluster, ns)];
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

async function upgradeArgo(cluster: SimCluster, envName: string, dist: string, base: string): Promise<UpgradeReport['argo']> {
  const out: UpgradeReport['argo'] = { baseSynced: false };
  try {
    await argoSync(cluster, readFolder(path.join(base, 'cluster')), { log });
    await argoSync(cluster, readFolder(path.join(base, envName)), { log, ungated: UNGATED, waveTimeoutMs: 60_000 });
    out.baseSynced = true;
  } catch (e) {
    // The base may have defects of its own (that is why there is a new commit); what matters
    // is that ours syncs on top of whatever it left.
    out.baseError = (e as Error).message;
  }
  try {
    await argoSync(cluster, readFolder(path.join(dist, 'cluster')), { log });
    await argoSync(cluster, readFolder(path.join(dist, envName)), { log, ungated: UNGATED });
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

interface ArgoReport {
  scenario: 'argocd';
  version: string;
  bootstrapWarnings: string[];
  apps: ReturnType<typeof applications>;
  waveOrder: Record<string, string[]>;
  prodWindowOpen: boolean;
  prodBeforeManualSync?: ReturnType<typeof applications>[number];
  selfHeal: { changed: string; restored: boolean };
  secondCommit: { revision: string; synced: boolean; value?: string };
  drill: DrillReport;
  failover?: FailoverReport;
  pitr?: RunbookReport | { error: string };
  majorUpgrade?: RunbookReport | { error: string };
  timings: Record<string, number>;
}

/** Whether an `allow` sync window of the AppProjects covers `app` now. */
function windowOpen(app: string, dist: string, now = new Date()): boolean {
  const windows = readFolder(path.join(dist, 'argocd'))
    .filter((m) => m.kind === 'AppProject')
    .flatMap((p) => (p.spec.syncWindows ?? []) as any[])
    .filter((w) => w.kind === 'allow' && (w.applications ?? []).includes(app));
  if (!windows.length) return true;
  return windows.some((w) => {
    const start = CronExpressionParser.parse(w.schedule, { tz: w.timeZone ?? 'UTC', currentDate: new Date(now.getTime() + 1000) }).prev().getTime();
    const m = /^(\d+)([hm])$/.exec(w.duration);
    const ms = m ? Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 60_000) : 0;
    return now.getTime() < start + ms;
  });
}

/**
 * `argocd app sync <name> [--prune]` as the CLI and the API server do it: the operation carries
 * the Application's own sync options (the server copies `spec.syncPolicy.syncOptions` when the
 * CLI sends none; a flag such as `--server-side` would replace them all, RespectIgnoreDifferences
 * included).
 */
function cliSync(cluster: SimCluster, name: string, prune = false): void {
  const app = cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io', name]);
  const syncOptions = app.spec.syncPolicy?.syncOptions ?? [];
  cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', name, '--type=merge', '-p', JSON.stringify({ operation: { initiatedBy: { username: 'sim-operator' }, sync: { revision: gitopsRepository.targetRevision, ...(prune ? { prune } : {}), syncOptions } } })]);
}

interface DrillReport {
  env: string;
  /** After the pause and three reconciliations: nothing of the drill was undone. */
  during: { envAutomated: boolean; rootAutomated: boolean; cronJobSuspended: boolean; apiReplicas: number; restoreJobPresent: boolean; appSync: string };
  restoreCompleted: boolean;
  /** After resuming as the drill says. */
  after: { envAutomated: boolean; cronJobSuspended: boolean; apiAvailable: number; appSync: string; appHealth: string };
}

/**
 * The restore drill of docs/operations.md on the real Argo CD, step by step. `argocd app set
 * <app> --sync-policy none` is what the CLI does to the Application (it removes
 * `spec.syncPolicy.automated`), `argocd app sync` sets its `operation`; the kubectl steps run as
 * written. The restore Job is held running (mid-restore) while time passes.
 */
async function restoreDrill(cluster: SimCluster, dist: string, envName: string): Promise<DrillReport> {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName)!;
  const ns = env.namespace;
  const app = `nextgen-${envName}`;
  const getApp = (name: string) => cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io', name]);
  const setPolicyNone = (name: string) => {
    if (getApp(name).spec.syncPolicy?.automated) cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', name, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/syncPolicy/automated' }])]);
  };
  const sync = (name: string) => cliSync(cluster, name);
  const replicas = env.api.autoscaling.enabled ? env.api.autoscaling.minReplicas : env.api.replicas;
  // 1. Pause Argo CD: the root first, then the environment.
  setPolicyNone('nextgen-argocd');
  setPolicyNone(app);
  // 2. Stop the writers.
  cluster.must(['-n', ns, 'scale', 'deploy/nextgen-api', '--replicas=0']);
  cluster.must(['-n', ns, 'patch', 'cronjob', 'postgres-backup', '-p', '{"spec":{"suspend":true}}']);
  // 4. The restore Job from the committed runbook, held mid-restore.
  const job = readFolder(path.join(dist, envName, 'runbooks')).find((m) => m.kind === 'Job' && m.metadata.name === 'postgres-restore')!;
  job.spec.template.metadata = { ...(job.spec.template.metadata ?? {}), annotations: { ...(job.spec.template.metadata?.annotations ?? {}), 'sim.nextgen/hold': 'true' } };
  cluster.must(['-n', ns, 'delete', 'job', 'postgres-restore', '--ignore-not-found']);
  cluster.must(['create', '-f', '-'], JSON.stringify(job));
  // Time passes: several reconciliations of every Application (10 s each).
  await sleep(35_000);
  const live = () => ({
    cronJobSuspended: Boolean(cluster.getJson(['-n', ns, 'get', 'cronjob', 'postgres-backup']).spec.suspend),
    apiReplicas: cluster.getJson(['-n', ns, 'get', 'deploy', 'nextgen-api']).spec.replicas ?? 1,
    restoreJobPresent: cluster.kubectl(['-n', ns, 'get', 'job', 'postgres-restore']).status === 0,
  });
  const during = { envAutomated: Boolean(getApp(app).spec.syncPolicy?.automated), rootAutomated: Boolean(getApp('nextgen-argocd').spec.syncPolicy?.automated), appSync: getApp(app).status?.sync?.status, ...live() };
  // 5. The restore finishes (the held pod is released and completes).
  for (const pod of cluster.getJson(['-n', ns, 'get', 'pods', '-l', 'job-name=postgres-restore']).items) {
    cluster.must(['-n', ns, 'annotate', 'pod', pod.metadata.name, 'sim.nextgen/hold-']);
  }
  const restoreCompleted = await cluster
    .waitFor('the restore Job to complete', 120_000, () => (cluster.getJson(['-n', ns, 'get', 'job', 'postgres-restore']).status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True'))
    .then(() => true, () => false);
  // 6. Resume: the root automated again, then sync the root and the environment.
  cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', 'nextgen-argocd', '--type=merge', '-p', JSON.stringify({ spec: { syncPolicy: { automated: { prune: true, selfHeal: true } } } })]);
  sync('nextgen-argocd');
  await cluster.waitFor(`the root to restore ${app}'s policy from git`, 120_000, () => Boolean(getApp(app).spec.syncPolicy?.automated) === env.gitops.automated).catch(() => undefined);
  await cluster.waitFor(`${app} to be idle`, 60_000, () => getApp(app).status?.operationState?.phase !== 'Running').catch(() => undefined);
  sync(app);
  await cluster.waitFor(`${app} to be idle`, 120_000, () => getApp(app).status?.operationState?.phase !== 'Running').catch(() => undefined);
  // Then the backups, as the runbook resumes them (a sync leaves `suspend` to the runbooks).
  cluster.must(['-n', ns, 'patch', 'cronjob', 'postgres-backup', '-p', '{"spec":{"suspend":false}}']);
  // 7. Bring the API back.
  cluster.must(['-n', ns, 'scale', 'deploy/nextgen-api', `--replicas=${replicas}`]);
  await cluster.waitFor('the API to be available', 120_000, () => (cluster.getJson(['-n', ns, 'get', 'deploy', 'nextgen-api']).status.availableReplicas ?? 0) >= replicas).catch(() => undefined);
  // 8. Clean up.
  cluster.must(['-n', ns, 'delete', 'job', 'postgres-restore']);
  await cluster.waitFor(`${app} to be Synced and Healthy`, 120_000, () => getApp(app).status?.sync?.status === 'Synced' && getApp(app).status?.health?.status === 'Healthy').catch(() => undefined);
  const a = getApp(app);
  return {
    env: envName,
    during,
    restoreCompleted,
    after: {
      envAutomated: Boolean(a.spec.syncPolicy?.automated),
      cronJobSuspended: live().cronJobSuspended,
      apiAvailable: cluster.getJson(['-n', ns, 'get', 'deploy', 'nextgen-api']).status.availableReplicas ?? 0,
      appSync: a.status?.sync?.status,
      appHealth: a.status?.health?.status,
    },
  };
}

interface FailoverCheck {
  step: string;
  /** The fenced primary's StatefulSet `postgres` replicas (0 from step 1 until step 8). */
  fencedReplicas: number | undefined;
  /** The StatefulSet whose pods the read-write Service `postgres` selects. */
  writableSelects: string | undefined;
  /** Runbook objects created so far that are gone. */
  pruned: string[];
  appSync: string;
}

interface FailoverReport {
  env: string;
  /** After every step, and after two forced syncs with prune while Argo CD is paused. */
  checks: FailoverCheck[];
  /** Every runbook Job completed. */
  jobsCompleted: Record<string, boolean>;
  /** The switch Job's commands, run as its ServiceAccount: refusals. */
  switchRefused: string[];
  /** After git agrees (promoted: true) and Argo CD resumed. */
  after: { envAutomated: boolean; fencedReplicas: number | undefined; writableSelects: string | undefined; readOnlySelects: string | undefined; appSync: string; appHealth: string };
}

/**
 * The failover runbook of docs/operations.md on the real Argo CD (root and environment
 * Applications as shipped, self-heal and prune), step by step, with the runbook objects of
 * dist/<env>/runbooks. kwok completes the Jobs' pods; what the switch Job's containers do
 * (`kubectl patch service ...`) is run as written, as the Job's ServiceAccount (impersonated), so
 * its Role is proven too. After every step Argo CD is forced to sync twice with prune: nothing
 * of the runbook may be undone or deleted. Step 7 commits the environment with
 * `postgres.standby.promoted: true`, synthesized by the project.
 */
async function failoverDrill(cluster: SimCluster, dist: string, rig: Awaited<ReturnType<typeof startArgo>>, envName: string): Promise<FailoverReport> {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName)!;
  const ns = env.namespace;
  const app = `nextgen-${envName}`;
  const rb = path.join(dist, envName, 'runbooks');
  const runbook = readFolder(rb);
  const getApp = (name: string) => cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io', name]);
  const setPolicyNone = (name: string) => {
    if (getApp(name).spec.syncPolicy?.automated) cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', name, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/syncPolicy/automated' }])]);
  };
  const syncNow = async (name: string, prune: boolean) => {
    await cluster.waitFor(`${name} to be idle`, 120_000, () => getApp(name).status?.operationState?.phase !== 'Running').catch(() => undefined);
    const before = getApp(name).status?.operationState?.startedAt;
    cliSync(cluster, name, prune);
    await cluster
      .waitFor(`a forced sync of ${name} to finish`, 180_000, () => {
        const o = getApp(name).status?.operationState;
        return Boolean(o && o.startedAt !== before && ['Succeeded', 'Failed', 'Error'].includes(o.phase));
      })
      .catch(() => undefined);
  };
  const created: Array<{ kind: string; name: string }> = [];
  const create = (kind: string, name: string) => {
    const m = runbook.find((x) => x.kind === kind && x.metadata.name === name);
    if (!m) throw new Error(`dist/${envName}/runbooks has no ${kind} ${name}`);
    cluster.must(['apply', '--server-side', '--field-manager=operator', '-f', '-'], JSON.stringify(m));
    created.push({ kind, name });
    return m;
  };
  const jobsCompleted: Record<string, boolean> = {};
  const waitJob = async (name: string) => {
    jobsCompleted[name] = await cluster
      .waitFor(`the runbook Job ${name} to complete`, 120_000, () => (cluster.getJson(['-n', ns, 'get', 'job', name]).status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True'))
      .then(() => true, () => false);
  };
  const selects = (svc: string) => {
    const sel = cluster.getJson(['-n', ns, 'get', 'service', svc]).spec.selector ?? {};
    return sel['app.kubernetes.io/name'] as string | undefined;
  };
  const fenced = () => cluster.getJson(['-n', ns, 'get', 'statefulset', 'postgres']).spec.replicas as number | undefined;
  const checks: FailoverCheck[] = [];
  const check = async (step: string) => {
    for (let i = 0; i < 2; i++) await syncNow(app, true);
    const pruned = created.filter((o) => cluster.kubectl(['-n', ns, 'get', o.kind, o.name]).status !== 0).map((o) => `${o.kind}/${o.name}`);
    checks.push({ step, fencedReplicas: fenced(), writableSelects: selects('postgres'), pruned, appSync: getApp(app).status?.sync?.status });
  };

  // 0. Pause Argo CD, the root first.
  setPolicyNone('nextgen-argocd');
  setPolicyNone(app);
  // 1. Fence the old primary.
  cluster.must(['-n', ns, 'scale', 'statefulset/postgres', '--replicas=0']);
  await cluster.waitFor('pod postgres-0 to be deleted', 120_000, () => cluster.kubectl(['-n', ns, 'get', 'pod', 'postgres-0']).status !== 0).catch(() => undefined);
  await check('1 fence');
  // 2. Promote the standby.
  cluster.must(['-n', ns, 'delete', 'job', 'postgres-promote', '--ignore-not-found']);
  create('Job', 'postgres-promote');
  await waitJob('postgres-promote');
  await check('2 promote');
  // 3. Switch the Services: the Job's commands, as its ServiceAccount.
  for (const kind of ['ServiceAccount', 'Role', 'RoleBinding']) create(kind, 'postgres-switch');
  const sw = create('Job', 'postgres-switch');
  await waitJob('postgres-switch');
  const sa = sw.spec.template.spec.serviceAccountName;
  const switchRefused: string[] = [];
  for (const c of [...(sw.spec.template.spec.initContainers ?? []), ...sw.spec.template.spec.containers]) {
    const [bin, ...args] = c.command as string[];
    if (path.basename(bin) !== 'kubectl') throw new Error(`the switch Job's container ${c.name} runs ${bin}, not kubectl`);
    const r = cluster.kubectl(['-n', ns, `--as=system:serviceaccount:${ns}:${sa}`, ...args]);
    if (r.status !== 0) switchRefused.push(`${c.name}: ${r.stderr.trim()}`);
  }
  await check('3 switch');
  // 4. Verify.
  create('Job', 'postgres-verify');
  await waitJob('postgres-verify');
  await check('4 verify');
  // 6. Rebuild the old primary as a standby (its volume mounted, still fenced).
  create('Job', 'postgres-rebuild');
  await waitJob('postgres-rebuild');
  await check('6 rebuild');
  // 7. Make git agree: the environment with postgres.standby.promoted = true, as the project synthesizes it.
  const envs = loadAllEnvironments(ROOT);
  const flippedTree = renderCharts(buildApp(envs.map((e) => (e.name === envName ? { ...e, postgres: { ...e.postgres, standby: { ...e.postgres.standby, promoted: true } } } : e))).charts);
  rig.commit(`${envName}: postgres.standby.promoted = true (failover)`, (w) => {
    const folder = path.join(w, 'dist', envName);
    fs.rmSync(folder, { recursive: true, force: true });
    for (const [file, text] of flippedTree) {
      if (!file.startsWith(`${envName}/`)) continue;
      fs.mkdirSync(path.dirname(path.join(w, 'dist', file)), { recursive: true });
      fs.writeFileSync(path.join(w, 'dist', file), text);
    }
  });
  // 8. Resume Argo CD, root first; then start the rebuilt server.
  cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', 'nextgen-argocd', '--type=merge', '-p', JSON.stringify({ spec: { syncPolicy: { automated: { prune: true, selfHeal: true } } } })]);
  await syncNow('nextgen-argocd', false);
  await cluster.waitFor(`the root to restore ${app}'s policy from git`, 120_000, () => Boolean(getApp(app).spec.syncPolicy?.automated) === env.gitops.automated).catch(() => undefined);
  await syncNow(app, false);
  await check('8 resume (git agrees)');
  cluster.must(['-n', ns, 'scale', 'statefulset/postgres', '--replicas=1']);
  // 9. Clean up.
  cluster.must(['-n', ns, 'delete', 'job', 'postgres-promote', 'postgres-switch', 'postgres-verify', 'postgres-rebuild']);
  await syncNow(app, true);
  await cluster.waitFor(`${app} to be Synced and Healthy`, 180_000, () => getApp(app).status?.sync?.status === 'Synced' && getApp(app).status?.health?.status === 'Healthy').catch(() => undefined);
  const a = getApp(app);
  return {
    env: envName,
    checks,
    jobsCompleted,
    switchRefused,
    after: {
      envAutomated: Boolean(a.spec.syncPolicy?.automated),
      fencedReplicas: fenced(),
      writableSelects: selects('postgres'),
      readOnlySelects: selects('postgres-ro'),
      appSync: a.status?.sync?.status,
      appHealth: a.status?.health?.status,
    },
  };
}

interface RunbookCheck {
  step: string;
  /** Replicas of the servers, the archiver and the API after the step (and, while Argo CD is paused, two forced syncs with prune). */
  replicas: { postgres?: number; standby?: number; archiver?: number; api?: number };
  /** Whether the dump CronJob is suspended. */
  backupSuspended: boolean;
  /** Objects the runbook created so far (and did not delete itself) that are gone. */
  pruned: string[];
  /** The volumes the runbook released: each still there, and kept (Retain). */
  oldVolumes: Array<{ claim: string; exists: boolean; reclaimPolicy?: string }>;
  appSync: string;
}

type RunbookHow = 'ran' | 'argocd' | 'skipped: no container logs under kwok' | 'skipped: no API process behind the host';

interface RunbookReport {
  env: string;
  /** The runbook's REPLICAS for this environment (the API's minimum). */
  apiReplicas: number;
  /** Every command of the runbook, in order (continued lines and loops joined): how it was run. */
  commands: Array<{ step: string; command: string; how: RunbookHow }>;
  /** Placeholders of the document replaced by a value (the drill's dump has no real key). */
  substituted: Record<string, string>;
  checks: RunbookCheck[];
  /** After Argo CD resumed and the runbook's clean-up. */
  after: { envAutomated: boolean; replicas: RunbookCheck['replicas']; backupSuspended: boolean; appSync: string; appHealth: string };
}

/** The bash block under a `## <title>` heading of docs/operations.md. */
export function runbookBlock(title: string): string[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
  const at = doc.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`docs/operations.md has no section "${title}"`);
  const m = /```bash\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!m) throw new Error(`the section "${title}" of docs/operations.md has no bash block`);
  return m[1].split('\n');
}

/**
 * A runbook's commands as the shell reads them: comments (`# N.` starts step N) and commands,
 * lines ending in `\` joined with the next, a `for ...; do` loop joined up to its `done`.
 */
export function runbookCommands(lines: string[]): Array<{ step: string; command: string } | { step: string; comment: string }> {
  const out: Array<{ step: string; command: string } | { step: string; comment: string }> = [];
  let step = '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const heading = /^# (\d+)\./.exec(line);
      if (heading) step = heading[1];
      out.push({ step, comment: line });
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trimEnd()} ${lines[++i].trim()}`;
    if (/^for .*; do$/.test(line)) {
      const body: string[] = [line];
      while (i + 1 < lines.length && lines[i].trim() !== 'done') body.push(lines[++i].trim());
      line = body.join('\n');
    }
    out.push({ step, command: line });
  }
  return out;
}

/**
 * Walk a runbook of docs/operations.md on the real Argo CD, from the document itself: every
 * shell line is run as written by a shell (the variables of its first line set for this
 * environment, `X=$(...)` lines kept for the next), `argocd app set/sync` are done to the
 * Application as the CLI does them, and only `kubectl logs` (kwok runs no containers) and `curl`
 * (no API process behind the host) are skipped. A step ends with a check: while Argo CD is paused
 * it is first forced to sync twice with prune; what the runbook stopped must stay stopped, and
 * nothing it created may be pruned.
 */
async function walkRunbook(
  cluster: SimCluster,
  dist: string,
  envName: string,
  title: string,
  opts: { placeholders?: Record<string, string>; onComment?: (comment: string) => void } = {},
): Promise<RunbookReport> {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName)!;
  const ns = env.namespace;
  const app = `nextgen-${envName}`;
  if (path.basename(dist) !== 'dist') throw new Error(`the runbooks name dist/ relative to the repository; ${dist} is not a dist/ folder`);
  const getApp = (name: string) => cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io', name]);
  const syncNow = async (name: string, prune: boolean) => {
    await cluster.waitFor(`${name} to be idle`, 120_000, () => getApp(name).status?.operationState?.phase !== 'Running').catch(() => undefined);
    const before = getApp(name).status?.operationState?.startedAt;
    cliSync(cluster, name, prune);
    await cluster
      .waitFor(`a sync of ${name} to finish`, 180_000, () => {
        const o = getApp(name).status?.operationState;
        return Boolean(o && o.startedAt !== before && ['Succeeded', 'Failed', 'Error'].includes(o.phase));
      })
      .catch(() => undefined);
  };
  const replicasOf = (kind: string, name: string): number | undefined => {
    const r = cluster.kubectl(['-n', ns, 'get', kind, name, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout).spec.replicas ?? 1) : undefined;
  };
  const replicas = () => ({
    postgres: replicasOf('statefulset', 'postgres'),
    standby: replicasOf('statefulset', 'postgres-standby'),
    archiver: replicasOf('deployment', 'postgres-wal-archive'),
    api: replicasOf('deployment', 'nextgen-api'),
  });
  const backupSuspended = () => Boolean(cluster.getJson(['-n', ns, 'get', 'cronjob', 'postgres-backup']).spec.suspend);
  const apiReplicas = env.api.autoscaling.enabled ? env.api.autoscaling.minReplicas : env.api.replicas;
  const lines = runbookBlock(title);
  if (!/^ENV=\S+ NS=/.test(lines[0])) throw new Error(`the runbook's first line sets its variables; it is: ${lines[0]}`);
  const vars: Record<string, string> = {};
  for (const [, k] of lines[0].matchAll(/\b([A-Z_]+)=/g)) vars[k] = '';
  Object.assign(vars, {
    ENV: envName,
    NS: ns,
    RB: `dist/${envName}/runbooks`,
    // A minute ago, in UTC, to the second (the form the runbook's example uses).
    TARGET: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    REPLICAS: String(apiReplicas),
    API_HOST: env.hosts.api,
  });
  for (const k of Object.keys(vars)) if (!lines[0].includes(`${k}=`)) delete vars[k];
  const shellEnv = () => ({ ...process.env, ...vars, KUBECONFIG: cluster.kubeconfig, KUBECTL_KUBERC: 'false', PATH: `${path.dirname(cluster.bins.kubectl)}:${process.env.PATH}` });
  const sh = (step: string, command: string) => {
    const r = cp.spawnSync('sh', ['-ec', command], { cwd: path.dirname(dist), env: shellEnv(), encoding: 'utf8', timeout: 900_000 });
    if (r.status !== 0) throw new Error(`step ${step}: \`${command}\` failed (${r.status}): ${`${r.stderr}${r.stdout}`.trim().slice(0, 600)}`);
    return r.stdout;
  };
  const commands: RunbookReport['commands'] = [];
  const checks: RunbookCheck[] = [];
  const substituted: Record<string, string> = {};
  // Objects the runbook creates (kind/name), minus those it deletes itself; volumes it releases.
  const created = new Map<string, { kind: string; name: string }>();
  const released: Array<{ claim: string; volume: string }> = [];
  const oldVolumes = () =>
    released.map(({ claim, volume }) => {
      const r = cluster.kubectl(['get', 'pv', volume, '-o', 'json']);
      return r.status === 0 ? { claim, exists: true, reclaimPolicy: JSON.parse(r.stdout).spec.persistentVolumeReclaimPolicy } : { claim, exists: false };
    });
  const check = async (step: string) => {
    if (!getApp(app).spec.syncPolicy?.automated) for (let i = 0; i < 2; i++) await syncNow(app, true);
    const pruned = [...created.values()].filter((o) => cluster.kubectl(['-n', ns, 'get', o.kind, o.name]).status !== 0).map((o) => `${o.kind}/${o.name}`);
    checks.push({ step, replicas: replicas(), backupSuspended: backupSuspended(), pruned, oldVolumes: oldVolumes(), appSync: getApp(app).status?.sync?.status });
  };

  let step = '';
  for (const item of runbookCommands(lines.slice(1))) {
    if (item.step !== step) {
      if (step) await check(step);
      step = item.step;
    }
    if ('comment' in item) {
      opts.onComment?.(item.comment);
      continue;
    }
    let line = item.command;
    for (const [placeholder, value] of Object.entries(opts.placeholders ?? {})) {
      if (line.includes(placeholder)) {
        line = line.replaceAll(placeholder, value);
        substituted[placeholder] = value;
      }
    }
    if (/<[a-z][^>]*>/i.test(line.replace(/<<|->|=>/g, ''))) throw new Error(`step ${step}: a placeholder the drill does not fill: ${line}`);
    const argocd = /^argocd app (set|sync) (\S+)(.*)$/.exec(line);
    if (argocd) {
      const name = argocd[2].replaceAll('$ENV', envName);
      if (argocd[1] === 'set' && /--sync-policy none/.test(argocd[3])) {
        if (getApp(name).spec.syncPolicy?.automated) cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', name, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/syncPolicy/automated' }])]);
      } else if (argocd[1] === 'set' && /--sync-policy automated/.test(argocd[3])) {
        const automated = { prune: /--auto-prune/.test(argocd[3]), selfHeal: /--self-heal/.test(argocd[3]) };
        cluster.must(['-n', 'argocd', 'patch', 'applications.argoproj.io', name, '--type=merge', '-p', JSON.stringify({ spec: { syncPolicy: { automated } } })]);
      } else if (argocd[1] === 'sync') {
        await syncNow(name, false);
        // The root's sync restores the environment Application's own policy from git.
        if (name === 'nextgen-argocd') await cluster.waitFor(`the root to restore ${app}'s policy from git`, 120_000, () => Boolean(getApp(app).spec.syncPolicy?.automated) === env.gitops.automated).catch(() => undefined);
      } else {
        throw new Error(`the drill does not know the runbook's command: ${line}`);
      }
      commands.push({ step, command: item.command, how: 'argocd' });
      continue;
    }
    if (/^kubectl .* logs /.test(line)) {
      commands.push({ step, command: item.command, how: 'skipped: no container logs under kwok' });
      continue;
    }
    if (/^curl /.test(line)) {
      commands.push({ step, command: item.command, how: 'skipped: no API process behind the host' });
      continue;
    }
    const assignment = /^([A-Z_]+)=\$\((.*)\)$/.exec(line);
    if (assignment) {
      vars[assignment[1]] = sh(step, `printf '%s' "$(${assignment[2]})"`);
      commands.push({ step, command: item.command, how: 'ran' });
      continue;
    }
    if (!/^(kubectl |for )/.test(line)) throw new Error(`the drill does not know the runbook's command: ${line}`);
    // Volumes the runbook is about to release (`kubectl patch pv $(... get pvc <claim> ...)`,
    // in a loop over claims too), to check they are kept.
    if (/patch pv /.test(line)) {
      const loop = /^for c in (.*); do/.exec(line)?.[1].split(/\s+/) ?? [];
      for (const m of line.matchAll(/get pvc (\$c|[a-z0-9-]+)/g)) {
        for (const claim of m[1] === '$c' ? loop : [m[1]]) released.push({ claim, volume: cluster.getJson(['-n', ns, 'get', 'pvc', claim]).spec.volumeName });
      }
    }
    const stdout = sh(step, line);
    commands.push({ step, command: item.command, how: 'ran' });
    // What the runbook creates must survive every sync; what it deletes is no longer expected.
    for (const made of stdout.matchAll(/^([a-z]+)(?:\.[a-z0-9.]+)?\/(\S+) created$/gm)) created.set(`${made[1]}/${made[2]}`, { kind: made[1], name: made[2] });
    const deleted = / delete (job|pvc) ([a-z0-9 -]+)$/.exec(line);
    if (deleted) for (const name of deleted[2].trim().split(/\s+/)) created.delete(`${deleted[1] === 'pvc' ? 'persistentvolumeclaim' : 'job'}/${name}`);
  }
  if (step) await check(step);
  await cluster.waitFor(`${app} to be Synced and Healthy`, 180_000, () => getApp(app).status?.sync?.status === 'Synced' && getApp(app).status?.health?.status === 'Healthy').catch(() => undefined);
  const a = getApp(app);
  return {
    env: envName,
    apiReplicas,
    commands,
    substituted,
    checks,
    after: { envAutomated: Boolean(a.spec.syncPolicy?.automated), replicas: replicas(), backupSuspended: backupSuspended(), appSync: a.status?.sync?.status, appHealth: a.status?.health?.status },
  };
}

/**
 * The point-in-time restore runbook of docs/operations.md, walked on the real Argo CD
 * (`walkRunbook`): the stopped servers, archiver and API stay stopped through forced syncs, the
 * fresh claim and the Jobs are not pruned, the old volume is kept.
 */
function pitrDrill(cluster: SimCluster, dist: string, envName: string): Promise<RunbookReport> {
  return walkRunbook(cluster, dist, envName, 'Restore to a point in time');
}

/**
 * The PostgreSQL major upgrade runbook of docs/operations.md, walked on the real Argo CD. First
 * the cluster is put where the runbook starts: git (and, synced, the cluster) runs the previous
 * major's image, a made-up tag of the catalog's repository (kwok pulls nothing). Step 4's "merge
 * the upgrade commit" is then the commit that brings the catalog's image back. The dump key of
 * step 5 is a made-up one (kwok runs no dump).
 */
async function majorUpgradeDrill(cluster: SimCluster, dist: string, rig: Awaited<ReturnType<typeof startArgo>>, envName: string): Promise<RunbookReport> {
  const env = loadAllEnvironments(ROOT).find((e) => e.name === envName)!;
  const app = `nextgen-${envName}`;
  const image = catalog.images.postgres.ref;
  const previous = `${splitRef(image).repository}:previous-major`;
  const folder = path.join(dist, envName);
  const files = fs.readdirSync(folder).filter((f) => f.endsWith('.yaml') && fs.readFileSync(path.join(folder, f), 'utf8').includes(`image: ${image}\n`));
  if (!files.length) throw new Error(`dist/${envName} runs no ${image}`);
  const setImage = (from: string, to: string) => (w: string) => {
    for (const f of files) {
      const p = path.join(w, 'dist', envName, f);
      fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll(`image: ${from}\n`, `image: ${to}\n`));
    }
  };
  rig.commit(`${envName}: PostgreSQL on the previous major (drill setup)`, setImage(image, previous));
  cliSync(cluster, app);
  const liveImage = () => cluster.getJson(['-n', env.namespace, 'get', 'statefulset', 'postgres']).spec.template.spec.containers.find((c: any) => c.name === 'postgres')?.image;
  await cluster.waitFor(`${app} to run the previous major's image`, 300_000, () => liveImage() === previous, () => String(liveImage()));
  await cluster.waitFor(`${app} to be Synced and Healthy`, 300_000, () => {
    const a = cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io', app]);
    return a.status?.sync?.status === 'Synced' && a.status?.health?.status === 'Healthy' && a.status?.operationState?.phase !== 'Running';
  });
  return walkRunbook(cluster, dist, envName, 'Upgrade PostgreSQL to a new major', {
    placeholders: { '<database>-<UTC timestamp>': `${env.postgres.database}-20261207T060000Z` },
    onComment: (comment) => {
      if (/Merge the upgrade commit/.test(comment)) rig.commit(`${envName}: PostgreSQL major upgrade (drill)`, setImage(previous, image));
    },
  });
}

async function argoScenario(cluster: SimCluster, dist: string): Promise<ArgoReport> {
  const bins = argo();
  if ('missing' in bins) throw new Error(`missing: ${bins.missing.join(', ')}`);
  const t0 = Date.now();
  const rig = await startArgo(cluster, bins, { originalRepoUrl: gitopsRepository.repoURL, branch: gitopsRepository.targetRevision });
  const timings: Record<string, number> = {};
  // Bootstrap exactly as docs/operations.md says.
  const bootstrapWarnings = [...kubectlApplyKustomize(cluster, path.join(rig.work, 'dist', 'cluster')), ...kubectlApplyKustomize(cluster, path.join(rig.work, 'dist', 'argocd'))];
  const envs = loadAllEnvironments(ROOT);
  const prodWindowOpen = windowOpen('nextgen-prod', dist);
  const names = envs.map((e) => `nextgen-${e.name}`);
  const expectSynced = (a: ReturnType<typeof applications>[number]) => a.sync === 'Synced' && a.health === 'Healthy';
  const auto = names.filter((n) => n !== 'nextgen-prod' || prodWindowOpen);
  let last: ReturnType<typeof applications> = [];
  await cluster.waitFor('every Application to be Synced and Healthy', 600_000, () => {
    last = applications(cluster);
    return ['nextgen-argocd', ...auto].every((n) => last.some((a) => a.name === n && expectSynced(a)));
  }, () => JSON.stringify(last));
  timings.bootstrapToHealthyMs = Date.now() - t0;
  log(`argocd: ${auto.join(', ')} Synced and Healthy in ${timings.bootstrapToHealthyMs} ms`);
  let prodBeforeManualSync: ReturnType<typeof applications>[number] | undefined;
  if (!prodWindowOpen) {
    // Outside prod's window an automated sync must not happen; a manual sync may (manualSync: true).
    await sleep(30_000);
    prodBeforeManualSync = applications(cluster).find((a) => a.name === 'nextgen-prod');
    cliSync(cluster, 'nextgen-prod');
    await cluster.waitFor('nextgen-prod to sync manually', 600_000, () => {
      last = applications(cluster);
      return last.some((a) => a.name === 'nextgen-prod' && expectSynced(a));
    }, () => JSON.stringify(last));
  }
  const waveOrder = Object.fromEntries(envs.map((e) => [e.name, waveOrderViolations(cluster, path.join(dist, e.name))]));

  // Self-heal: a manual change in a self-healing environment is reverted.
  const healEnv = envs.find((e) => e.gitops.automated)!;
  const cmName = 'nextgen-api-config';
  const original = cluster.getJson(['-n', healEnv.namespace, 'get', 'configmap', cmName]).data;
  const key = Object.keys(original).sort()[0];
  cluster.must(['-n', healEnv.namespace, 'patch', 'configmap', cmName, '--type=merge', '-p', JSON.stringify({ data: { [key]: 'changed-by-hand' } })]);
  let restored = false;
  await cluster
    .waitFor('self-heal to revert a manual change', 120_000, () => (restored = cluster.getJson(['-n', healEnv.namespace, 'get', 'configmap', cmName]).data[key] === original[key]))
    .catch(() => undefined);

  // A second commit is synced, in order, like the first.
  const t1 = Date.now();
  const marker = `second-commit-${Date.now()}`;
  const revision = rig.commit('simulated cluster: a second commit', (w) => {
    const f = path.join(w, 'dist', healEnv.name, `configmap-${cmName}.yaml`);
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/^data:\n/m, `data:\n  SIM_MARKER: ${marker}\n`));
  });
  let value: string | undefined;
  const synced = await cluster
    .waitFor('the second commit to be synced', 180_000, () => {
      value = cluster.getJson(['-n', healEnv.namespace, 'get', 'configmap', cmName]).data.SIM_MARKER;
      const app = applications(cluster).find((a) => a.name === `nextgen-${healEnv.name}`);
      return value === marker && app?.revision === revision && app.sync === 'Synced';
    })
    .then(() => true, () => false);
  timings.secondCommitMs = Date.now() - t1;
  // The Applications after bootstrap and the second commit, before the drills change anything.
  const apps = applications(cluster);
  const t2 = Date.now();
  const drillEnv = envs.find((e) => e.name === 'staging') ?? healEnv;
  const drill = await restoreDrill(cluster, dist, drillEnv.name);
  timings.drillMs = Date.now() - t2;
  const t3 = Date.now();
  const failoverEnv = envs.find((e) => e.postgres.standby.enabled && !e.postgres.standby.promoted);
  const failover = failoverEnv ? await failoverDrill(cluster, dist, rig, failoverEnv.name) : undefined;
  timings.failoverMs = Date.now() - t3;
  const t4 = Date.now();
  // The point-in-time restore, then the major upgrade, on an environment with a WAL archive and
  // a standby that the failover left alone. A drill that fails is reported, not thrown, so the
  // other findings stay readable.
  const hasStandby = (e: (typeof envs)[number]) => e.postgres.standby.enabled ?? e.tier === 'production';
  const recoveryEnv = envs.find((e) => e.backup.walArchive.enabled && hasStandby(e) && e.name !== failoverEnv?.name);
  const reported = async (fn: () => Promise<RunbookReport>): Promise<RunbookReport | { error: string }> => {
    try {
      return await fn();
    } catch (e) {
      log(`drill failed: ${(e as Error).message}`);
      return { error: (e as Error).message };
    }
  };
  const pitr = recoveryEnv ? await reported(() => pitrDrill(cluster, dist, recoveryEnv.name)) : undefined;
  timings.pitrMs = Date.now() - t4;
  const t5 = Date.now();
  const majorUpgrade = recoveryEnv ? await reported(() => majorUpgradeDrill(cluster, dist, rig, recoveryEnv.name)) : undefined;
  timings.majorUpgradeMs = Date.now() - t5;
  return {
    drill,
    failover,
    pitr,
    majorUpgrade,
    scenario: 'argocd',
    version: cluster.bins.version,
    bootstrapWarnings,
    apps,
    waveOrder,
    prodWindowOpen,
    prodBeforeManualSync,
    selfHeal: { changed: `${healEnv.namespace}/ConfigMap/${cmName} ${key}`, restored },
    secondCommit: { revision, synced, value },
    timings,
  };
}

async function withCluster<T>(version: string, nodes: NodeSpec[], fn: (c: SimCluster) => Promise<T>): Promise<T> {
  const bins = controlPlane(version);
  if ('missing' in bins) throw new Error(`missing: ${bins.missing.join(', ')}`);
  const t = Date.now();
  const cluster = await SimCluster.start(bins, nodes);
  let metrics: MetricsApi | undefined;
  try {
    metrics = await startMetricsApi(cluster, await freePort());
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  log(`cluster ${version} with ${nodes.length} nodes up in ${Date.now() - t} ms`);
  const onSignal = () => {
    cluster.kill();
    process.exit(130);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.once('exit', () => cluster.kill());
  try {
    return await fn(cluster);
  } finally {
    metrics.close();
    await cluster.stop();
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  }
}

export async function main(argv: string[]): Promise<unknown> {
  const [scenario, version, ...rest] = argv;
  const dist = process.env.SIM_DIST ?? path.join(ROOT, 'dist');
  switch (scenario) {
    case 'install': {
      const [env] = rest;
      return withCluster(version, nodesFor(env), (c) => install(c, env, dist));
    }
    case 'upgrade': {
      const [env, base] = rest;
      const report: UpgradeReport = {
        scenario: 'upgrade',
        env,
        version,
        kubectl: await withCluster(version, nodesFor(env), (c) => upgradeKubectl(c, env, dist, base)),
        argo: await withCluster(version, nodesFor(env), (c) => upgradeArgo(c, env, dist, base)),
      };
      return report;
    }
    case 'argocd': {
      const prod = nodesFor('prod');
      // Every environment in one cluster: the prod pool plus each other environment's nodes.
      const others = loadAllEnvironments(ROOT).filter((e) => e.name !== 'prod').flatMap((e) => nodesFor(e.name));
      return withCluster(version, [...prod, ...others], (c) => argoScenario(c, dist));
    }
    case 'broken': {
      return withCluster(version, nodesFor('prod'), (c) => broken(c, log));
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (report) => {
      process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
      process.exit(0);
    },
    (e) => {
      process.stdout.write(`REPORT ${JSON.stringify({ error: (e as Error).message })}\n`);
      process.exit(1);
    },
  );
}
