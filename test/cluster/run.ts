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
import * as path from 'path';
import { loadAllEnvironments } from '../../environments/load';
import { ROOT, controlPlane } from './lib/binaries';
import { NodeSpec, SimCluster, freePort } from './lib/cluster';
import { MetricsApi, startMetricsApi } from './lib/metrics-api';
import { admissionFailures, rewritten, serverRewrites, schedulingFailures, unscheduledPods, warningEvents, writeStamps } from './lib/checks';
import { Manifest, argoSync, isHook, kubectlApplyKustomize, readFolder, serverSideApply, snapshot, unhealthy, waitHealthy } from './lib/sync';
import { createWorstCase } from './lib/worst-case';
import { broken } from './lib/broken';

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
  worstCase: Awaited<ReturnType<typeof createWorstCase>>;
  worstCaseUnscheduled: string[];
  worstCaseAdmissionFailures: ReturnType<typeof warningEvents>;
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
    worstCase,
    worstCaseUnscheduled,
    worstCaseAdmissionFailures: admissionFailures(after.filter((e) => !known.has(`${e.object} ${e.reason} ${e.message}`))),
  };
}

interface UpgradeReport {
  scenario: 'upgrade';
  env: string;
  version: string;
  kubectl: { baseApplied: boolean; baseError?: string; error?: string; unhealthy: string[] };
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
    await waitHealthy(cluster, readFolder(path.join(dist, envName)), 180_000, UNGATED).catch(() => undefined);
    out.unhealthy = unhealthy(cluster, readFolder(path.join(dist, envName)).filter((m: Manifest) => !UNGATED.includes(m.kind)));
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
