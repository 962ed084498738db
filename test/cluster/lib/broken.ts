/**
 * Deliberately broken manifests, one namespace each, run through the same checks as dist/: each
 * check must catch its own defect, or the green result on dist/ would mean nothing.
 */
import type { SimCluster } from './cluster';
import { admissionFailures, rewritten, schedulingFailures, unscheduledPods, warningEvents, writeStamps } from './checks';
import { Manifest, serverSideApply } from './sync';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const namespace = (name: string): Manifest => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name,
    labels: {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    },
  },
});

const restrictedContainer = (cpu: string) => ({
  name: 'app',
  image: 'registry.example.com/app:1.0.0',
  resources: { requests: { cpu, memory: '64Mi' }, limits: { cpu, memory: '64Mi' } },
  securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
});

const deployment = (ns: string, name: string, replicas: number, container: object): Manifest => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [container] } },
  },
});

export interface BrokenReport {
  podSecurity: { warnings: string[]; admissionFailures: ReturnType<typeof warningEvents> };
  unschedulable: { schedulingFailures: ReturnType<typeof warningEvents>; unscheduled: string[] };
  quota: { admissionFailures: ReturnType<typeof warningEvents> };
  nonIdempotent: { rewritten: string[] };
  control: { warnings: string[]; events: ReturnType<typeof warningEvents>; unscheduled: string[]; rewritten: string[] };
}

export async function broken(cluster: SimCluster, log: (l: string) => void): Promise<BrokenReport> {
  // A control: a correct Deployment must pass every check, or the checks are too eager.
  serverSideApply(cluster, [namespace('control')]);
  const good = [deployment('control', 'good', 2, restrictedContainer('100m'))];
  const controlWarnings = serverSideApply(cluster, good);

  // 1. A pod the restricted profile forbids (no securityContext at all).
  serverSideApply(cluster, [namespace('broken-psa')]);
  const psaWarnings = serverSideApply(cluster, [deployment('broken-psa', 'privileged', 1, { name: 'app', image: 'registry.example.com/app:1.0.0', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } } })]);

  // 2. A request no node can satisfy.
  serverSideApply(cluster, [namespace('broken-schedule')]);
  serverSideApply(cluster, [deployment('broken-schedule', 'huge', 1, restrictedContainer('64'))]);

  // 3. More pods than the quota allows.
  serverSideApply(cluster, [namespace('broken-quota')]);
  serverSideApply(cluster, [{ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'tight', namespace: 'broken-quota' }, spec: { hard: { pods: '1' } } }]);
  await sleep(1500);
  serverSideApply(cluster, [deployment('broken-quota', 'two', 2, restrictedContainer('100m'))]);

  // 4. A field the server rewrites on every apply: a Service whose `type` the server defaults
  //    when it is absent but whose cluster IP family policy we also pin inconsistently.
  serverSideApply(cluster, [namespace('broken-idempotency')]);
  const churn: Manifest[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'churn', namespace: 'broken-idempotency', annotations: { 'sim.nextgen/applied-at': String(Date.now()) } },
      data: { a: 'b' },
    },
  ];
  serverSideApply(cluster, churn);
  await sleep(1100);
  const before = writeStamps(cluster, churn);
  churn[0].metadata.annotations!['sim.nextgen/applied-at'] = String(Date.now());
  serverSideApply(cluster, churn);
  const churned = rewritten(before, writeStamps(cluster, churn));

  await sleep(1100);
  const goodBefore = writeStamps(cluster, good);
  serverSideApply(cluster, good);
  const goodRewritten = rewritten(goodBefore, writeStamps(cluster, good));

  await sleep(4000);
  log('broken: collected');
  const ev = (ns: string) => warningEvents(cluster, ns);
  return {
    podSecurity: { warnings: psaWarnings, admissionFailures: admissionFailures(ev('broken-psa')) },
    unschedulable: { schedulingFailures: schedulingFailures(ev('broken-schedule')), unscheduled: unscheduledPods(cluster, 'broken-schedule') },
    quota: { admissionFailures: admissionFailures(ev('broken-quota')) },
    nonIdempotent: { rewritten: churned },
    control: { warnings: controlWarnings, events: ev('control'), unscheduled: unscheduledPods(cluster, 'control'), rewritten: goodRewritten },
  };
}
