/**
 * Applying a `dist/` folder the way Argo CD syncs it (gitops-engine's sync): phases PreSync,
 * Sync, PostSync; within a phase, waves in `argocd.argoproj.io/sync-wave` order, then kind and
 * name; every object applied server-side with Argo CD's field manager; hooks created (after
 * deleting the previous one under `BeforeHookCreation`) and deleted under `HookSucceeded`; and
 * each wave waited on until healthy, judged as Argo CD's built-in health checks judge it.
 *
 * Also the plain `kubectl apply --server-side -k` path the README offers without Argo CD.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse, parseAllDocuments } from 'yaml';
import type { SimCluster } from './cluster';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [k: string]: any;
}

export const SYNC_WAVE = 'argocd.argoproj.io/sync-wave';
export const HOOK = 'argocd.argoproj.io/hook';
export const HOOK_DELETE_POLICY = 'argocd.argoproj.io/hook-delete-policy';
export const FIELD_MANAGER = 'argocd-controller';

/** The objects of a dist folder in its kustomization order (or file order without one). */
export function readFolder(dir: string): Manifest[] {
  const kust = path.join(dir, 'kustomization.yaml');
  const files = fs.existsSync(kust)
    ? (parse(fs.readFileSync(kust, 'utf8')).resources as string[])
    : fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  return files.flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8'))
      .map((d) => d.toJSON() as Manifest)
      .filter(Boolean),
  );
}

export const waveOf = (m: Manifest) => Number(m.metadata.annotations?.[SYNC_WAVE] ?? 0);
const phaseOf = (m: Manifest) => m.metadata.annotations?.[HOOK]?.split(',')[0].trim();
export const isHook = (m: Manifest) => phaseOf(m) !== undefined;
export const refOf = (m: Manifest) => `${m.kind}/${m.metadata.name}`;

/** gitops-engine's kind order within a wave (pkg/sync/sync_tasks.go). */
const KIND_ORDER = [
  'Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget', 'ServiceAccount',
  'Secret', 'SecretList', 'ConfigMap', 'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim', 'CustomResourceDefinition',
  'ClusterRole', 'ClusterRoleList', 'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role', 'RoleList', 'RoleBinding',
  'RoleBindingList', 'Service', 'DaemonSet', 'Pod', 'ReplicationController', 'ReplicaSet', 'Deployment',
  'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService',
];
const kindRank = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
const syncOrder = (a: Manifest, b: Manifest) =>
  waveOf(a) - waveOf(b) || kindRank(a.kind) - kindRank(b.kind) || a.metadata.name.localeCompare(b.metadata.name);

export type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Suspended';

const cond = (o: any, type: string) => (o.status?.conditions ?? []).find((c: any) => c.type === type);

/** Argo CD's built-in health assessment (gitops-engine pkg/health) for the kinds we ship. */
export function healthOf(live: any): { health: Health; message?: string } {
  if (!live) return { health: 'Missing' };
  const s = live.status ?? {};
  switch (live.kind) {
    case 'Deployment': {
      if (live.spec.paused) return { health: 'Suspended' };
      if ((s.observedGeneration ?? 0) < live.metadata.generation) return { health: 'Progressing', message: 'waiting for the controller' };
      const p = cond(live, 'Progressing');
      if (p?.reason === 'ProgressDeadlineExceeded') return { health: 'Degraded', message: p.message };
      const want = live.spec.replicas ?? 1;
      if ((s.updatedReplicas ?? 0) < want) return { health: 'Progressing', message: `${s.updatedReplicas ?? 0}/${want} updated` };
      if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return { health: 'Progressing', message: 'old replicas pending termination' };
      if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return { health: 'Progressing', message: `${s.availableReplicas ?? 0}/${want} available` };
      return { health: 'Healthy' };
    }
    case 'StatefulSet': {
      if ((s.observedGeneration ?? 0) < live.metadata.generation) return { health: 'Progressing', message: 'waiting for the controller' };
      const want = live.spec.replicas ?? 1;
      if ((s.readyReplicas ?? 0) < want) return { health: 'Progressing', message: `${s.readyReplicas ?? 0}/${want} ready` };
      if (live.spec.updateStrategy?.type !== 'OnDelete' && s.updateRevision !== s.currentRevision) return { health: 'Progressing', message: 'rolling update' };
      return { health: 'Healthy' };
    }
    case 'Job': {
      const failed = cond(live, 'Failed');
      if (failed?.status === 'True') return { health: 'Degraded', message: failed.message };
      if (cond(live, 'Complete')?.status === 'True') return { health: 'Healthy' };
      if (live.spec.suspend) return { health: 'Suspended' };
      return { health: 'Progressing', message: 'job running' };
    }
    case 'PersistentVolumeClaim':
      if (s.phase === 'Bound') return { health: 'Healthy' };
      if (s.phase === 'Lost') return { health: 'Degraded' };
      return { health: 'Progressing', message: `claim ${s.phase ?? 'Pending'}` };
    case 'Service':
      if (live.spec.type === 'LoadBalancer' && !(s.loadBalancer?.ingress ?? []).length) return { health: 'Progressing', message: 'no load balancer address yet' };
      return { health: 'Healthy' };
    case 'Ingress':
      return (s.loadBalancer?.ingress ?? []).length ? { health: 'Healthy' } : { health: 'Progressing', message: 'no address yet' };
    case 'HorizontalPodAutoscaler': {
      // gitops-engine: these conditions make an HPA Degraded; anything else with a True
      // AbleToScale is Healthy.
      for (const c of s.conditions ?? []) {
        if (c.status === 'False' && ['FailedGetScale', 'FailedUpdateScale', 'FailedGetResourceMetric', 'InvalidSelector'].includes(c.reason)) {
          return { health: 'Degraded', message: `${c.type}: ${c.reason}` };
        }
      }
      return { health: 'Healthy' };
    }
    case 'ExternalSecret': {
      // Argo CD's resource customization for external-secrets.io/ExternalSecret.
      const ready = cond(live, 'Ready');
      if (ready?.status === 'False') return { health: 'Degraded', message: ready.message };
      if (ready?.status === 'True') return { health: 'Healthy' };
      return { health: 'Progressing', message: 'waiting for the secret' };
    }
    case 'CronJob':
      return { health: live.spec.suspend ? 'Suspended' : 'Healthy' };
    default:
      return { health: 'Healthy' };
  }
}

export interface ApplyLog {
  /** `Warning:` lines the API server sent back. */
  readonly warnings: string[];
  /** Per wave: when it started and how long it took to become healthy. */
  readonly waves: Array<{ phase: string; wave: number; objects: string[]; ms: number }>;
}

function stripWarnings(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('Warning:'));
}

/** Server-side apply of objects as one request batch; returns the server's warnings. */
export function serverSideApply(cluster: SimCluster, objects: Manifest[], fieldManager = FIELD_MANAGER): string[] {
  if (!objects.length) return [];
  const input = objects.map((o) => JSON.stringify(o)).join('\n');
  const r = cluster.kubectl(['apply', '--server-side', `--field-manager=${fieldManager}`, '-f', '-'], input);
  if (r.status !== 0) throw new Error(`apply failed: ${r.stderr.trim()}`);
  return stripWarnings(r.stderr);
}

const typeOf = (m: Manifest) => {
  const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
  return group ? `${m.kind.toLowerCase()}.${group}` : m.kind.toLowerCase();
};

/** The live state of every object, fetched with one request per namespace (by `Kind/name`). */
export function snapshot(cluster: SimCluster, objects: Manifest[]): Map<string, any> {
  const out = new Map<string, any>();
  const byNs = new Map<string, Set<string>>();
  for (const m of objects) {
    const ns = m.metadata.namespace ?? '';
    if (!byNs.has(ns)) byNs.set(ns, new Set());
    byNs.get(ns)!.add(typeOf(m));
  }
  for (const [ns, types] of byNs) {
    const list = JSON.parse(cluster.must([...(ns ? ['-n', ns] : []), 'get', [...types].sort().join(','), '-o', 'json', '--show-managed-fields']));
    for (const o of list.items) if ((o.metadata.namespace ?? '') === ns) out.set(`${o.kind}/${o.metadata.name}`, o);
  }
  return out;
}

export function live(cluster: SimCluster, m: Manifest): any | undefined {
  return snapshot(cluster, [m]).get(refOf(m));
}

/**
 * Workloads an HPA has not scaled into its range yet. A Deployment without `replicas` (the HPA
 * owns the field) starts at 1 and the HPA raises it on its next sync, up to 15 s later. Argo
 * CD calls it Healthy in between; the harness waits for the HPA, or a check made right after
 * "healthy" would catch the rollout the HPA is about to start.
 */
export function unscaled(snap: Map<string, any>): Map<string, string> {
  const out = new Map<string, string>();
  for (const hpa of snap.values()) {
    if (hpa.kind !== 'HorizontalPodAutoscaler') continue;
    const ref = `${hpa.spec.scaleTargetRef.kind}/${hpa.spec.scaleTargetRef.name}`;
    const target = snap.get(ref);
    if (!target) continue;
    const replicas = target.spec.replicas ?? 1;
    const min = hpa.spec.minReplicas ?? 1;
    if (replicas < min || replicas > hpa.spec.maxReplicas) {
      out.set(ref, `HPA ${hpa.metadata.name} has not scaled it yet: ${replicas} replicas, range ${min}..${hpa.spec.maxReplicas}`);
    }
  }
  return out;
}

/** `Kind/name health (why)` for every object that is not Healthy, or not yet scaled by its HPA. */
export function unhealthy(cluster: SimCluster, objects: Manifest[]): string[] {
  const snap = snapshot(cluster, objects);
  const waiting = unscaled(snap);
  return objects
    .map((m) => {
      const h = healthOf(snap.get(refOf(m)));
      const why = waiting.get(refOf(m));
      return { m, h: h.health === 'Healthy' && why ? { health: 'Progressing' as Health, message: why } : h };
    })
    .filter((x) => x.h.health !== 'Healthy')
    .map((x) => `${refOf(x.m)} ${x.h.health}${x.h.message ? ` (${x.h.message})` : ''}`);
}

export interface SyncOptions {
  /** Give up on a wave after this long. @default 300000 */
  readonly waveTimeoutMs?: number;
  /** Kinds whose health does not gate the next wave (e.g. HPA without a metrics API). @default none */
  readonly ungated?: readonly string[];
  readonly log?: (line: string) => void;
}

/** Sync the objects the way Argo CD does; throws when a wave does not become healthy. */
export async function argoSync(cluster: SimCluster, objects: Manifest[], opts: SyncOptions = {}): Promise<ApplyLog> {
  const log: ApplyLog = { warnings: [], waves: [] };
  const timeout = opts.waveTimeoutMs ?? 300_000;
  const phases = ['PreSync', 'Sync', 'PostSync'];
  for (const phase of phases) {
    const inPhase = objects.filter((m) => (phase === 'Sync' ? !isHook(m) || phaseOf(m) === 'Sync' : phaseOf(m) === phase));
    const waves = [...new Set(inPhase.map(waveOf))].sort((a, b) => a - b);
    for (const wave of waves) {
      const started = Date.now();
      const batch = inPhase.filter((m) => waveOf(m) === wave).sort(syncOrder);
      const hooks = batch.filter(isHook);
      for (const h of hooks) {
        const policies = (h.metadata.annotations?.[HOOK_DELETE_POLICY] ?? 'BeforeHookCreation').split(',').map((s) => s.trim());
        if (policies.includes('BeforeHookCreation')) {
          const ns = h.metadata.namespace ? ['-n', h.metadata.namespace] : [];
          cluster.must([...ns, 'delete', h.kind.toLowerCase(), h.metadata.name, '--ignore-not-found', '--wait=true', '--cascade=foreground']);
        }
      }
      log.warnings.push(...serverSideApply(cluster, batch));
      const gated = batch.filter((m) => !(opts.ungated ?? []).includes(m.kind));
      let last: string[] = [];
      await cluster.waitFor(`${phase} wave ${wave} to be healthy`, timeout, () => (last = unhealthy(cluster, gated)).length === 0, () => last.join('; '));
      for (const h of hooks) {
        const policies = (h.metadata.annotations?.[HOOK_DELETE_POLICY] ?? '').split(',').map((s) => s.trim());
        if (policies.includes('HookSucceeded')) {
          const ns = h.metadata.namespace ? ['-n', h.metadata.namespace] : [];
          cluster.must([...ns, 'delete', h.kind.toLowerCase(), h.metadata.name, '--ignore-not-found']);
        }
      }
      const ms = Date.now() - started;
      log.waves.push({ phase, wave, objects: batch.map(refOf), ms });
      opts.log?.(`  ${phase} wave ${wave}: ${batch.length} objects healthy in ${ms} ms`);
    }
  }
  return log;
}

/** The README's path without Argo CD: `kubectl apply --server-side -k <folder>`. */
export function kubectlApplyKustomize(cluster: SimCluster, dir: string): string[] {
  const r = cluster.kubectl(['apply', '--server-side', '-k', dir]);
  if (r.status !== 0) throw new Error(`kubectl apply --server-side -k ${path.basename(dir)} failed: ${r.stderr.trim()}`);
  return stripWarnings(r.stderr);
}

/** resourceVersion of every object (by `Kind/name`), to prove a re-apply changes nothing. */
export function resourceVersions(cluster: SimCluster, objects: Manifest[]): Map<string, string> {
  const snap = snapshot(cluster, objects);
  return new Map(objects.map((m) => [refOf(m), snap.get(refOf(m))?.metadata.resourceVersion ?? 'missing']));
}

/** Wait until every object is healthy (no wave order); for the kubectl path. */
export async function waitHealthy(cluster: SimCluster, objects: Manifest[], timeoutMs: number, ungated: readonly string[] = []): Promise<void> {
  const gated = objects.filter((m) => !ungated.includes(m.kind));
  let last: string[] = [];
  await cluster.waitFor('every object to be healthy', timeoutMs, () => (last = unhealthy(cluster, gated)).length === 0, () => last.join('; '));
}
