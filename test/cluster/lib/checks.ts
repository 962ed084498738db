/**
 * What the simulated cluster is asked after a sync: did the server warn, did the controllers
 * fail to create pods (PodSecurity, quota, LimitRange), did the scheduler fail to place them,
 * and did a repeated apply write anything.
 */
import type { SimCluster } from './cluster';
import { FIELD_MANAGER, Manifest, refOf, snapshot } from './sync';

export interface EventSummary {
  readonly object: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
}

/** Warning events of a namespace. */
export function warningEvents(cluster: SimCluster, namespace: string): EventSummary[] {
  const list = cluster.getJson(['-n', namespace, 'get', 'events', '--field-selector=type=Warning']);
  return list.items.map((e: any) => ({
    object: `${e.involvedObject.kind}/${e.involvedObject.name}`,
    reason: e.reason,
    message: String(e.message ?? '').slice(0, 400),
    count: e.count ?? e.series?.count ?? 1,
  }));
}

/** Pods a controller could not create (admission: PodSecurity, ResourceQuota, LimitRange, ...). */
export const admissionFailures = (events: EventSummary[]) => events.filter((e) => e.reason === 'FailedCreate');
/** Pods the scheduler could not place. */
export const schedulingFailures = (events: EventSummary[]) => events.filter((e) => e.reason === 'FailedScheduling');

/** Pods of the namespace that are not scheduled, with the scheduler's reason. */
export function unscheduledPods(cluster: SimCluster, namespace: string): string[] {
  const pods = cluster.getJson(['-n', namespace, 'get', 'pods']);
  return pods.items
    .filter((p: any) => !p.spec.nodeName && !p.metadata.deletionTimestamp)
    .map((p: any) => {
      const c = (p.status?.conditions ?? []).find((x: any) => x.type === 'PodScheduled');
      return `Pod/${p.metadata.name}${c?.message ? `: ${c.message}` : ''}`;
    });
}

/** When each object was last written by `manager` (its managedFields time). */
export function writeStamps(cluster: SimCluster, objects: Manifest[], manager = FIELD_MANAGER): Map<string, string> {
  const snap = snapshot(cluster, objects);
  const out = new Map<string, string>();
  for (const m of objects) {
    const o = snap.get(refOf(m));
    const entries = (o?.metadata.managedFields ?? []).filter((f: any) => f.manager === manager && f.operation === 'Apply');
    out.set(refOf(m), `${entries.map((f: any) => f.time).join(',') || 'none'} rv=${o?.metadata.resourceVersion ?? 'missing'}`);
  }
  return out;
}

/**
 * Objects a repeated apply wrote again. A no-op server-side apply leaves our manager's
 * managedFields entry untouched; a write stamps it with the time of the write. (resourceVersion
 * and generation also move when a controller writes, e.g. the HPA setting `replicas`, which is
 * not our write; resourceVersion is reported alongside for the record.)
 */
export function rewritten(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  const strip = (s: string) => s.replace(/ rv=.*$/, '');
  for (const [ref, b] of before) {
    const a = after.get(ref) ?? 'missing';
    if (strip(a) !== strip(b)) out.push(`${ref}: ${b} -> ${a}`);
  }
  return out;
}

/**
 * Fields the API server does not store as we wrote them: values it drops (empty lists and
 * strings, `false` and `0` under omitempty) or rewrites (non-canonical quantities such as
 * `1000m`). Each one makes server-side apply see a difference on every apply: a write each
 * time on older servers, and a conflict for any second field manager (`kubectl apply` after
 * Argo CD). Compares every scalar we applied with the live object.
 */
export function serverRewrites(applied: Manifest, live: any): string[] {
  const out: string[] = [];
  const walk = (a: unknown, l: unknown, at: string) => {
    if (Array.isArray(a)) {
      if (!Array.isArray(l) || (a.length === 0 && l === undefined)) {
        out.push(`${at}: ${JSON.stringify(a)} stored as ${JSON.stringify(l)}`);
        return;
      }
      a.forEach((x, i) => walk(x, l[i], `${at}[${i}]`));
      return;
    }
    if (a && typeof a === 'object') {
      if (!l || typeof l !== 'object') {
        if (Object.keys(a).length || l === undefined) out.push(`${at}: ${JSON.stringify(a)} stored as ${JSON.stringify(l)}`);
        return;
      }
      for (const [k, v] of Object.entries(a)) walk(v, (l as Record<string, unknown>)[k], `${at}.${k}`);
      return;
    }
    if (a !== l) out.push(`${at}: ${JSON.stringify(a)} stored as ${JSON.stringify(l)}`);
  };
  const { status: _status, ...rest } = applied as any;
  walk(rest, live, refOf(applied));
  // In atomic lists the server's defaults count too: a second manager would conflict on them.
  const atomic: Array<[string, any, any]> = [
    ['spec.volumeClaimTemplates', (applied as any).spec?.volumeClaimTemplates, live?.spec?.volumeClaimTemplates],
    ['subjects', (applied as any).subjects, live?.subjects],
  ];
  for (const [at, a, l] of atomic) {
    if (!Array.isArray(a) || !Array.isArray(l)) continue;
    const extra = (x: any, y: any, p: string): void => {
      if (!y || typeof y !== 'object' || Array.isArray(y)) return;
      for (const [k, v] of Object.entries(y)) {
        // `creationTimestamp: null` in embedded metadata is how older servers serialize an unset time, not a field.
        if (v === null) continue;
        if (x?.[k] === undefined) out.push(`${refOf(applied)}.${p}.${k}: added by the server (${JSON.stringify(v)}) in an atomic list`);
        else extra(x[k], v, `${p}.${k}`);
      }
    };
    l.forEach((item, i) => extra(a[i], item, `${at}[${i}]`));
  }
  return out;
}
