/**
 * Every pod finds a node: the environment's cluster model (`cluster.nodes` nodes of
 * `nodeCpuMillis`/`nodeMemoryMiB` allocatable, spread over `cluster.zones` zones) runs every
 * workload at its largest, read from the rendered objects:
 *   - Deployments at their HPA's maxReplicas (else replicas), StatefulSets at replicas,
 *     DaemonSets once per node, plus the largest Job or CronJob pod (one runs at a time);
 *   - each pod's requests fit one node's allocatable (a pod larger than every node is
 *     Pending forever, whatever the pool's total);
 *   - required pod anti-affinity (the standby never on the primary's node) and topology spread
 *     with `whenUnsatisfiable: DoNotSchedule` hold, as the scheduler applies them;
 * placing pods as the scheduler's filters would (largest first, then the node with the most
 * room left). When a pod finds no node, the finding says how many nodes would do.
 * @see https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
 * @see https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
 */
import type { Environment } from '../environments/schema';
import { formatCpu, formatMiB, toMiB, toMillicores } from '../constructs/lib/quantity';
import { allContainers, podResources, podTemplates, selects, type PodTemplate } from '../constructs/lib/workloads';
import type { Manifest } from '../constructs/lib/output';
import type { Finding, Rule } from './engine';

const HOSTNAME = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

export interface Pod {
  /** `StatefulSet/postgres-standby` */
  readonly owner: string;
  readonly labels: Record<string, string>;
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  /** Selectors of required anti-affinity terms per topology key. */
  readonly antiAffinity: ReadonlyArray<{ selector: Record<string, string>; key: string }>;
  /** DoNotSchedule spread constraints. */
  readonly spread: ReadonlyArray<{ selector: Record<string, string>; key: string; maxSkew: number }>;
  /** How the count was worked out (`6 HPA max replicas`). */
  readonly why: string;
  /** Each container's requests, to find the environment field they come from. */
  readonly containers: ReadonlyArray<{ cpuMillis: number; memoryMiB: number }>;
}

interface Node {
  readonly name: string;
  readonly zone: string;
  cpu: number;
  mem: number;
  readonly pods: Pod[];
}

/** The pods an environment runs at its largest (see the file comment). */
export function podsAtMaximum(manifests: readonly Manifest[], nodes: number): Pod[] {
  const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler') as any[];
  const pods: Pod[] = [];
  let largestJob: { t: PodTemplate; r: ReturnType<typeof podResources> } | undefined;
  for (const t of podTemplates(manifests)) {
    const r = podResources(t.spec);
    if (t.kind === 'Job' || t.kind === 'CronJob') {
      if (!largestJob || r.memoryRequestMiB > largestJob.r.memoryRequestMiB || (r.memoryRequestMiB === largestJob.r.memoryRequestMiB && r.cpuRequestMillis > largestJob.r.cpuRequestMillis)) {
        largestJob = { t, r };
      }
      continue;
    }
    const m = manifests.find((x) => x.kind === t.kind && x.metadata.name === t.name) as any;
    let count = 1;
    let why = '1 pod';
    if (t.kind === 'Deployment') {
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === t.name);
      count = hpa ? hpa.spec.maxReplicas : (m.spec.replicas ?? 1);
      why = hpa ? `${count} HPA max replicas` : `${count} replicas`;
    } else if (t.kind === 'StatefulSet') {
      count = m.spec.replicas ?? 1;
      why = `${count} replica${count === 1 ? '' : 's'}`;
    } else if (t.kind === 'DaemonSet') {
      count = nodes;
      why = 'one per node';
    }
    for (let i = 0; i < count; i++) pods.push(podOf(t, r, why));
  }
  if (largestJob) pods.push(podOf(largestJob.t, largestJob.r, 'the largest Job'));
  return pods;
}

function podOf(t: PodTemplate, r: ReturnType<typeof podResources>, why: string): Pod {
  const anti = (t.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((a: any) => ({
    selector: a.labelSelector?.matchLabels ?? {},
    key: a.topologyKey,
  }));
  const spread = (t.spec.topologySpreadConstraints ?? [])
    .filter((c: any) => (c.whenUnsatisfiable ?? 'DoNotSchedule') === 'DoNotSchedule')
    .map((c: any) => ({ selector: c.labelSelector?.matchLabels ?? {}, key: c.topologyKey, maxSkew: c.maxSkew ?? 1 }));
  const containers = allContainers(t.spec).map((c: any) => ({ cpuMillis: toMillicores(c.resources?.requests?.cpu), memoryMiB: toMiB(c.resources?.requests?.memory) }));
  return { owner: t.owner, labels: t.labels, cpuMillis: r.cpuRequestMillis, memoryMiB: r.memoryRequestMiB, antiAffinity: anti, spread, why, containers };
}

const domainOf = (n: Node, key: string) => (key === ZONE ? n.zone : key === HOSTNAME ? n.name : undefined);

/** Why `pod` cannot go on `node` (undefined when it can). */
function refusal(pod: Pod, node: Node, nodes: readonly Node[]): string | undefined {
  if (pod.cpuMillis > node.cpu) return `${formatCpu(node.cpu)} CPU left`;
  if (pod.memoryMiB > node.mem) return `${formatMiB(node.mem)} memory left`;
  for (const a of pod.antiAffinity) {
    const d = domainOf(node, a.key);
    if (d === undefined) continue;
    const clash = nodes.filter((n) => domainOf(n, a.key) === d).flatMap((n) => n.pods).find((p) => selects(a.selector, p.labels));
    if (clash) return `runs ${clash.owner}, which its anti-affinity excludes (${a.key})`;
  }
  // The other direction: a placed pod's anti-affinity excludes this one.
  for (const n of nodes) {
    for (const p of n.pods) {
      for (const a of p.antiAffinity) {
        const d = domainOf(node, a.key);
        if (d !== undefined && domainOf(n, a.key) === d && selects(a.selector, pod.labels)) return `is excluded by the anti-affinity of ${p.owner} (${a.key})`;
      }
    }
  }
  for (const s of pod.spread) {
    const domains = [...new Set(nodes.map((n) => domainOf(n, s.key)).filter((d): d is string => d !== undefined))];
    if (!domains.length) continue;
    const count = (d: string) => nodes.filter((n) => domainOf(n, s.key) === d).flatMap((n) => n.pods).filter((p) => selects(s.selector, p.labels)).length;
    const min = Math.min(...domains.map(count));
    const here = domainOf(node, s.key)!;
    if (count(here) + 1 - min > s.maxSkew) return `would break its topology spread (${s.key}, maxSkew ${s.maxSkew})`;
  }
  return undefined;
}

export interface Placement {
  /** The first pod that found no node, with each node's reason. */
  readonly unplaced?: { pod: Pod; reasons: string[] };
}

/** Place `pods` on the cluster model as the scheduler would; the first pod without a node, if any. */
export function place(pods: readonly Pod[], cluster: Pick<Environment['cluster'], 'nodes' | 'nodeCpuMillis' | 'nodeMemoryMiB' | 'zones'>): Placement {
  const nodes: Node[] = Array.from({ length: cluster.nodes }, (_, i) => ({
    name: `node-${i + 1}`,
    zone: `zone-${(i % cluster.zones) + 1}`,
    cpu: cluster.nodeCpuMillis,
    mem: cluster.nodeMemoryMiB,
    pods: [],
  }));
  // Constrained pods first, then the largest: the order a careful operator (and the
  // scheduler's preemption, eventually) ends up with.
  const order = [...pods].sort((a, b) => b.antiAffinity.length - a.antiAffinity.length || b.memoryMiB - a.memoryMiB || b.cpuMillis - a.cpuMillis);
  for (const pod of order) {
    const fits = nodes.filter((n) => refusal(pod, n, nodes) === undefined);
    if (!fits.length) return { unplaced: { pod, reasons: nodes.map((n) => `${n.name} ${refusal(pod, n, nodes)}`) } };
    // Least allocated: the node with the most memory left, then CPU.
    const node = fits.sort((a, b) => b.mem - a.mem || b.cpu - a.cpu)[0];
    node.cpu -= pod.cpuMillis;
    node.mem -= pod.memoryMiB;
    node.pods.push(pod);
  }
  return {};
}

/** The field of the environment whose requests a pod has (`postgres.resources`), found by value. */
export function resourcesField(env: unknown, pod: Pod): string | undefined {
  const hits: string[] = [];
  const walk = (v: any, at: string) => {
    if (!v || typeof v !== 'object') return;
    if (v.requests && typeof v.requests.cpuMillis === 'number' && typeof v.requests.memoryMiB === 'number') {
      if (pod.containers.some((c) => c.cpuMillis === v.requests.cpuMillis && c.memoryMiB === v.requests.memoryMiB)) hits.push(at);
    }
    for (const [k, x] of Object.entries(v)) walk(x, at ? `${at}.${k}` : k);
  };
  walk(env, '');
  // Prefer the section named in the workload (`StatefulSet/postgres-standby` -> postgres.resources).
  const name = pod.owner.split('/')[1] ?? '';
  return hits.find((h) => name.includes(h.split('.').slice(-2, -1)[0] ?? '\0')) ?? hits[0];
}

const rule: Rule = {
  id: 'scheduling',
  field: 'cluster.nodes',
  allowed: 'enough nodes for every pod under its anti-affinity and spread rules',
  description:
    'At maximum scale (HPA max replicas, StatefulSet replicas, the largest Job) every pod fits a node of the cluster model (cluster.nodes x nodeCpuMillis/nodeMemoryMiB over cluster.zones) under its required anti-affinity and DoNotSchedule topology spread, and no pod requests more than one node has.',
  check(ctx) {
    const c = ctx.env.cluster;
    const findings: Finding[] = [];
    const pods = podsAtMaximum(ctx.manifests, c.nodes);
    const node = `a node's allocatable (${formatCpu(c.nodeCpuMillis)} CPU, ${formatMiB(c.nodeMemoryMiB)} memory: cluster.nodeCpuMillis, cluster.nodeMemoryMiB)`;
    const seen = new Set<string>();
    for (const p of pods) {
      if (seen.has(p.owner) || (p.cpuMillis <= c.nodeCpuMillis && p.memoryMiB <= c.nodeMemoryMiB)) continue;
      seen.add(p.owner);
      const field = resourcesField(ctx.env, p);
      const cpu = p.cpuMillis > c.nodeCpuMillis;
      findings.push({
        resource: p.owner,
        field: field ? `${field}.requests.${cpu ? 'cpuMillis' : 'memoryMiB'}` : cpu ? 'cluster.nodeCpuMillis' : 'cluster.nodeMemoryMiB',
        allowed: `requests within ${node}`,
        message: `a pod requests ${formatCpu(p.cpuMillis)} CPU and ${formatMiB(p.memoryMiB)} memory, more than any node has: it would stay Pending`,
      });
    }
    if (findings.length) return findings;
    const result = place(pods, c);
    if (result.unplaced) {
      const { pod, reasons } = result.unplaced;
      let enough = c.nodes + 1;
      while (enough <= c.nodes + 64 && place(podsAtMaximum(ctx.manifests, enough), { ...c, nodes: enough }).unplaced) enough++;
      const shown = reasons.length > 3 ? [...reasons.slice(0, 3), `${reasons.length - 3} more alike`] : reasons;
      findings.push({
        resource: pod.owner,
        allowed: enough <= c.nodes + 64 ? `at least ${enough} nodes of ${formatCpu(c.nodeCpuMillis)}/${formatMiB(c.nodeMemoryMiB)}` : 'more or larger nodes',
        message: `one of its pods (${pod.why}) finds no node among ${c.nodes}: ${shown.join('; ')}`,
      });
    }
    return findings;
  },
};
export default rule;
