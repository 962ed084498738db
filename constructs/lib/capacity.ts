/**
 * What a chart's workloads can consume at their largest, read from its ApiObjects: pods
 * and resources at maximum scale (the same reading the `capacity` rule uses: HPA max
 * replicas plus rollout surge, StatefulSet replicas, Jobs and CronJobs once), volume claims
 * (generic ephemeral volumes included) and Service ports. Sizes the namespace ResourceQuota and LimitRange.
 */
import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import type { Manifest } from './output';
import { sharedRender } from './render';
import { toMiB, toMillicores } from './quantity';
import { WORKLOAD_KINDS, allContainers, podResources, podTemplates } from './workloads';

export interface ChartCapacity {
  /** Pods, and the sums of their requests and limits (millicores, MiB), at maximum scale. */
  readonly pods: number;
  readonly requestsCpuMillis: number;
  readonly requestsMemoryMiB: number;
  readonly limitsCpuMillis: number;
  readonly limitsMemoryMiB: number;
  /** The largest limits of any single container. */
  readonly largestContainer: { readonly cpuMillis: number; readonly memoryMiB: number };
  /** Claims: PVCs, StatefulSet volumeClaimTemplates x replicas, and generic ephemeral volumes x pods. */
  readonly claims: number;
  readonly storageGiB: number;
  readonly largestClaimGiB: number;
  readonly loadBalancers: number;
  /** Node ports: NodePort Services, and LoadBalancer Services unless they opt out of them. */
  readonly nodePorts: number;
}

const COUNTED_KINDS = new Set([...WORKLOAD_KINDS, 'HorizontalPodAutoscaler', 'PersistentVolumeClaim', 'Service']);

/** The capacity of every ApiObject under the scopes (usually charts). */
export function capacityOf(...scopes: IConstruct[]): ChartCapacity {
  // Rendering an object is the expensive part of synthesis: render only the kinds that count,
  // once, shared with the other readers of the finished tree (lib/render).
  return capacityOfManifests(countedObjects(...scopes).map((o) => sharedRender(o) as Manifest));
}

/** The ApiObjects whose kinds count towards capacity (workloads, HPAs, claims, Services). */
export function countedObjects(...scopes: IConstruct[]): ApiObject[] {
  return scopes
    .flatMap((scope) => scope.node.findAll())
    .filter((c): c is ApiObject => c instanceof ApiObject && COUNTED_KINDS.has(c.kind));
}

export function capacityOfManifests(objects: readonly Manifest[]): ChartCapacity {
  const c = {
    pods: 0,
    requestsCpuMillis: 0,
    requestsMemoryMiB: 0,
    limitsCpuMillis: 0,
    limitsMemoryMiB: 0,
    largestContainer: { cpuMillis: 0, memoryMiB: 0 },
    claims: 0,
    storageGiB: 0,
    largestClaimGiB: 0,
    loadBalancers: 0,
    nodePorts: 0,
  };
  for (const p of podTemplates(objects)) {
    const r = podResources(p.spec);
    c.pods += p.maxPods;
    c.requestsCpuMillis += p.maxPods * r.cpuRequestMillis;
    c.requestsMemoryMiB += p.maxPods * r.memoryRequestMiB;
    c.limitsCpuMillis += p.maxPods * r.cpuLimitMillis;
    c.limitsMemoryMiB += p.maxPods * r.memoryLimitMiB;
    for (const k of allContainers(p.spec)) {
      c.largestContainer.cpuMillis = Math.max(c.largestContainer.cpuMillis, toMillicores(k.resources?.limits?.cpu));
      c.largestContainer.memoryMiB = Math.max(c.largestContainer.memoryMiB, Math.ceil(toMiB(k.resources?.limits?.memory)));
    }
  }
  const claim = (storage: string | undefined, count: number) => {
    const gib = toMiB(storage) / 1024;
    c.claims += count;
    c.storageGiB += gib * count;
    c.largestClaimGiB = Math.max(c.largestClaimGiB, gib);
  };
  for (const p of podTemplates(objects)) {
    // Generic ephemeral volumes: a claim per pod, for as long as the pod lives.
    for (const v of p.spec.volumes ?? []) if (v.ephemeral) claim(v.ephemeral.volumeClaimTemplate?.spec?.resources?.requests?.storage, p.maxPods);
  }
  for (const o of objects as any[]) {
    if (o.kind === 'StatefulSet') {
      // Claims stay with the ordinal, so replicas (not surge) count.
      for (const t of o.spec.volumeClaimTemplates ?? []) claim(t.spec?.resources?.requests?.storage, o.spec.replicas ?? 1);
    }
    if (o.kind === 'PersistentVolumeClaim') claim(o.spec?.resources?.requests?.storage, 1);
    if (o.kind === 'Service' && o.spec?.type === 'LoadBalancer') c.loadBalancers++;
    if (o.kind === 'Service' && (o.spec?.type === 'NodePort' || (o.spec?.type === 'LoadBalancer' && o.spec.allocateLoadBalancerNodePorts !== false))) {
      c.nodePorts += o.spec.ports?.length ?? 0;
    }
  }
  return { ...c, storageGiB: Math.ceil(c.storageGiB), largestClaimGiB: Math.ceil(c.largestClaimGiB) };
}
