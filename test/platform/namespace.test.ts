/**
 * The Namespace of each environment: Pod Security Admission pinned to restricted, and a
 * ResourceQuota and LimitRange sized from the workloads at maximum scale.
 */
import { Chart, Cron, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { CERT_MANAGER_SOLVER } from '../../constructs/lib/addons';
import { NamespaceBaseline } from '../../constructs/platform/namespace';
import { toMiB, toMillicores } from '../../constructs/lib/quantity';
import { podResources, podTemplates } from '../../constructs/lib/workloads';
import { find, findAll, podSpec, realEnvironments, synth, synthEnvironments, WORKLOAD_KINDS } from '../support/synth';

const { byFolder, built } = synthEnvironments(realEnvironments());

describe.each(built.environments.map((c) => [c.env.name, c.env, byFolder.get(c.env.name)!] as const))('namespace of %s', (_name, env, manifests) => {
  const ns = find(manifests, 'Namespace', env.namespace);

  test('PSA enforce, audit and warn are all restricted, with the version pinned', () => {
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'v1.27',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/audit-version': 'v1.27',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/warn-version': 'v1.27',
    });
  });

  test('the Namespace is cluster-scoped and applied first (sync wave -2); quota and limits right after', () => {
    expect(ns.metadata.namespace).toBeUndefined();
    expect(ns.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('-2');
    expect(find(manifests, 'ResourceQuota', env.namespace).metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('-1');
    expect(find(manifests, 'LimitRange', env.namespace).metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('-1');
  });

  test('the ResourceQuota admits every workload (runbook Jobs included) at maximum scale plus the rollout surge headroom', () => {
    const hard = find(manifests, 'ResourceQuota', env.namespace).spec.hard;
    const runbooks = byFolder.get(`${env.name}/runbooks`) ?? [];
    const templates = podTemplates([...manifests, ...runbooks]);
    expect(templates.map((t) => t.owner)).toEqual(expect.arrayContaining(runbooks.filter((m) => WORKLOAD_KINDS.includes(m.kind)).map((m) => `${m.kind}/${m.metadata.name}`)));
    const need = { pods: 0, rc: 0, rm: 0, lc: 0, lm: 0 };
    for (const t of templates) {
      const r = podResources(t.spec);
      need.pods += t.maxPods;
      need.rc += t.maxPods * r.cpuRequestMillis;
      need.rm += t.maxPods * r.memoryRequestMiB;
      need.lc += t.maxPods * r.cpuLimitMillis;
      need.lm += t.maxPods * r.memoryLimitMiB;
    }
    // cert-manager's HTTP-01 solvers: one pod per TLS host of our Ingresses, all at once.
    const solvers = new Set(findAll(manifests, 'Ingress').filter((i) => i.metadata.annotations?.['cert-manager.io/cluster-issuer']).flatMap((i) => (i.spec.tls ?? []).flatMap((t: any) => t.hosts))).size;
    const add = { pods: solvers, rc: solvers * CERT_MANAGER_SOLVER.cpuRequestMillis, rm: solvers * CERT_MANAGER_SOLVER.memoryRequestMiB, lc: solvers * CERT_MANAGER_SOLVER.cpuLimitMillis, lm: solvers * CERT_MANAGER_SOLVER.memoryLimitMiB };
    const factor = 1 + env.quota.rolloutSurgePercent / 100;
    expect(Number(hard.pods)).toBeGreaterThanOrEqual(need.pods * factor + add.pods);
    expect(toMillicores(hard['requests.cpu'])).toBeGreaterThanOrEqual(need.rc * factor + add.rc);
    expect(toMiB(hard['requests.memory'])).toBeGreaterThanOrEqual(need.rm * factor + add.rm);
    expect(toMillicores(hard['limits.cpu'])).toBeGreaterThanOrEqual(need.lc * factor + add.lc);
    expect(toMiB(hard['limits.memory'])).toBeGreaterThanOrEqual(need.lm * factor + add.lm);
    // ...and not wildly more: the quota is a guard rail, not a blank cheque.
    expect(toMillicores(hard['requests.cpu'])).toBeLessThanOrEqual(Math.ceil(need.rc * factor) + add.rc + 1);
  });

  test('requests.storage leaves room to expand every claim by the documented growth allowance', () => {
    const hard = find(manifests, 'ResourceQuota', env.namespace).spec.hard;
    const runbooks = byFolder.get(`${env.name}/runbooks`) ?? [];
    let gib = 0;
    let claims = 0;
    for (const m of [...manifests, ...runbooks]) {
      if (m.kind === 'PersistentVolumeClaim') gib += toMiB((m as any).spec.resources.requests.storage) / 1024;
      if (m.kind === 'StatefulSet') for (const t of (m as any).spec.volumeClaimTemplates ?? []) gib += ((m as any).spec.replicas ?? 1) * (toMiB(t.spec.resources.requests.storage) / 1024);
      // The recovery Jobs' generic ephemeral volumes are claims too, while their pod runs.
      if (m.kind === 'Job') {
        for (const v of podSpec(m).volumes ?? []) {
          if (!v.ephemeral) continue;
          gib += toMiB(v.ephemeral.volumeClaimTemplate.spec.resources.requests.storage) / 1024;
          claims++;
        }
      }
    }
    expect(claims).toBeGreaterThanOrEqual(1);
    expect(toMiB(hard['requests.storage']) / 1024).toBe(Math.ceil((Math.ceil(gib) * (100 + env.quota.volumeGrowthPercent)) / 100));
    expect(env.quota.volumeGrowthPercent).toBeGreaterThan(0);
  });

  test('the quota counts LoadBalancers and their node ports', () => {
    const hard = find(manifests, 'ResourceQuota', env.namespace).spec.hard;
    const lbs = findAll(manifests, 'Service').filter((s) => s.spec.type === 'LoadBalancer');
    expect(Number(hard['services.loadbalancers'])).toBe(lbs.length);
    expect(Number(hard['services.nodeports'])).toBe(lbs.reduce((n, s) => n + s.spec.ports.length, 0));
  });

  test('the LimitRange admits every container we declare and gives defaults to any other', () => {
    const item = find(manifests, 'LimitRange', env.namespace).spec.limits.find((l: any) => l.type === 'Container');
    expect(item.default).toBeDefined();
    expect(item.defaultRequest).toBeDefined();
    for (const w of manifests.filter((m) => WORKLOAD_KINDS.includes(m.kind))) {
      for (const c of [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers]) {
        expect(toMillicores(c.resources.limits.cpu)).toBeLessThanOrEqual(toMillicores(item.max.cpu));
        expect(toMiB(c.resources.limits.memory)).toBeLessThanOrEqual(toMiB(item.max.memory));
      }
    }
  });
});

describe('NamespaceBaseline on a test chart', () => {
  function chartWith(build: (c: Chart) => void, surge = 25) {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'ns' });
    build(chart);
    const baseline = new NamespaceBaseline(chart, 'Namespace', {
      name: 'ns',
      podSecurity: { level: 'restricted', version: 'v1.27' },
      quota: { rolloutSurgePercent: surge, volumeGrowthPercent: 50 },
    });
    return { chart, baseline };
  }
  const res = (cpu: number, mem: number) => ({
    cpu: { request: kplus.Cpu.millis(cpu), limit: kplus.Cpu.millis(cpu * 2) },
    memory: { request: Size.mebibytes(mem), limit: Size.mebibytes(mem * 2) },
  });
  const workloads = (c: Chart) => {
    const d = new kplus.Deployment(c, 'Web', {
      replicas: 2,
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) }),
    });
    d.addContainer({ image: 'web', resources: res(100, 128) });
    new kplus.HorizontalPodAutoscaler(c, 'Hpa', { target: d, maxReplicas: 4, minReplicas: 2 });
    const job = new kplus.CronJob(c, 'Nightly', { schedule: Cron.daily() });
    job.addContainer({ image: 'job', resources: res(500, 256) });
  };

  test('quota = (HPA max + surge) x pod + one run of each job, plus the surge percent', () => {
    const { baseline } = chartWith(workloads);
    // web: 4 + 1 surge = 5 pods x 100m/128Mi; job: 1 x 500m/256Mi => 1000m, 896Mi, 6 pods; x1.25
    expect(baseline.hard).toMatchObject({
      pods: '8',
      'requests.cpu': '1250m',
      'requests.memory': '1120Mi',
      'limits.cpu': '2500m',
      'limits.memory': '2240Mi',
      'services.loadbalancers': '0',
      'services.nodeports': '0',
    });
  });

  test('the surge percent comes from the environment', () => {
    expect(chartWith(workloads, 50).baseline.hard['requests.cpu']).toBe('1500m');
  });

  test('the PSA level and version come from the environment', () => {
    const ns = find(synth({ podSecurity: { level: 'baseline', version: 'v1.33' } }), 'Namespace', 'nextgen-test');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
    expect(ns.metadata.labels['pod-security.kubernetes.io/warn-version']).toBe('v1.33');
  });

  test('a workload added after the quota was computed fails validation', () => {
    const { chart } = chartWith(workloads);
    new kplus.Deployment(chart, 'Late').addContainer({ image: 'late', resources: res(100, 128) });
    const errors = chart.node.findAll().flatMap((c) => c.node.validate());
    expect(errors.join('\n')).toMatch(/ResourceQuota ns was computed before the last workload was added/);
  });
});
