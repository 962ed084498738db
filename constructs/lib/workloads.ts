/**
 * What the rules need to know about workloads, read from the synthesized objects only: each
 * pod template, how many pods it can run at once at maximum scale, and its containers.
 */
import type { Manifest } from './output';
import { toMiB, toMillicores } from './quantity';

export interface PodTemplate {
  /** `Kind/name` of the owning workload. */
  readonly owner: string;
  readonly kind: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: any;
  /** Pods that can run at the same time at maximum scale, rollout surge included. */
  readonly maxPods: number;
  /** How `maxPods` was worked out, for error messages. */
  readonly maxPodsWhy: string;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'];

function surgeOf(deploy: any, replicas: number): number {
  const s = deploy.spec?.strategy;
  if (s?.type === 'Recreate') return 0;
  const v = s?.rollingUpdate?.maxSurge ?? '25%';
  if (typeof v === 'number') return v;
  const pct = /^([0-9]+)%$/.exec(v);
  return pct ? Math.ceil((replicas * Number(pct[1])) / 100) : Number(v);
}

/** Every pod template in the manifests, with its maximum concurrent pod count. */
export function podTemplates(manifests: readonly Manifest[]): PodTemplate[] {
  const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler') as any[];
  const out: PodTemplate[] = [];
  for (const m of manifests as any[]) {
    if (!WORKLOAD_KINDS.includes(m.kind)) continue;
    const owner = `${m.kind}/${m.metadata.name}`;
    let template: any;
    let maxPods = 1;
    let why = '1 pod';
    switch (m.kind) {
      case 'Deployment': {
        template = m.spec.template;
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === m.metadata.name);
        const replicas = hpa ? hpa.spec.maxReplicas : (m.spec.replicas ?? 1);
        const surge = surgeOf(m, replicas);
        maxPods = replicas + surge;
        why = `${replicas} ${hpa ? 'HPA max replicas' : 'replicas'} + ${surge} rollout surge`;
        break;
      }
      case 'StatefulSet':
        template = m.spec.template;
        maxPods = m.spec.replicas ?? 1;
        why = `${maxPods} replicas`;
        break;
      case 'DaemonSet':
        template = m.spec.template;
        why = '1 pod per node (counted once)';
        break;
      case 'Job':
        template = m.spec.template;
        maxPods = m.spec.parallelism ?? 1;
        why = `parallelism ${maxPods}`;
        break;
      case 'CronJob':
        template = m.spec.jobTemplate.spec.template;
        maxPods = m.spec.jobTemplate.spec.parallelism ?? 1;
        why = `parallelism ${maxPods}${m.spec.concurrencyPolicy === 'Forbid' ? ', concurrency Forbid' : ''}`;
        break;
    }
    out.push({ owner, kind: m.kind, name: m.metadata.name, labels: template.metadata?.labels ?? {}, spec: template.spec, maxPods, maxPodsWhy: why });
  }
  return out;
}

export interface PodResources {
  cpuRequestMillis: number;
  cpuLimitMillis: number;
  memoryRequestMiB: number;
  memoryLimitMiB: number;
}

/**
 * Effective pod resources as the scheduler sees them: the sum over app containers, or the
 * largest init container if that is bigger (init containers run one at a time, first).
 */
export function podResources(spec: any): PodResources {
  const sum = (cs: any[] = []) =>
    cs.reduce(
      (acc, c) => ({
        cpuRequestMillis: acc.cpuRequestMillis + toMillicores(c.resources?.requests?.cpu),
        cpuLimitMillis: acc.cpuLimitMillis + toMillicores(c.resources?.limits?.cpu),
        memoryRequestMiB: acc.memoryRequestMiB + toMiB(c.resources?.requests?.memory),
        memoryLimitMiB: acc.memoryLimitMiB + toMiB(c.resources?.limits?.memory),
      }),
      { cpuRequestMillis: 0, cpuLimitMillis: 0, memoryRequestMiB: 0, memoryLimitMiB: 0 } as PodResources,
    );
  const app = sum(spec.containers);
  for (const init of spec.initContainers ?? []) {
    const r = sum([init]);
    app.cpuRequestMillis = Math.max(app.cpuRequestMillis, r.cpuRequestMillis);
    app.cpuLimitMillis = Math.max(app.cpuLimitMillis, r.cpuLimitMillis);
    app.memoryRequestMiB = Math.max(app.memoryRequestMiB, r.memoryRequestMiB);
    app.memoryLimitMiB = Math.max(app.memoryLimitMiB, r.memoryLimitMiB);
  }
  return app;
}

export function allContainers(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** Does a `matchLabels`-style selector select these labels? An empty selector selects nothing here. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
