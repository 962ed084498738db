/**
 * kube-state-metrics: standalone only, pinned official image, restricted, watching our
 * namespace only, with a Role that grants exactly the collectors `--resources` enables (which
 * are exactly those of the documented metrics our rules and dashboards read).
 */
import { KSM_API_GROUPS, KubeStateMetrics } from '../../constructs/monitoring/kube-state-metrics';
import { DOCUMENTED, KSM_VERSION, ksmResources } from '../../constructs/monitoring/catalog';
import { dashboardQueries } from '../../constructs/monitoring/dashboards';
import type { Metric } from '../../constructs/monitoring/promql';
import { find, findAll, podSpec, synth, synthEnvironments, testEnvironment } from '../support/synth';

/** RBAC as the API server evaluates it for one Role: does any rule allow verb on group/resource? */
function roleAllows(role: any, verb: string, group: string, resource: string): boolean {
  return role.rules.some(
    (r: any) =>
      (r.verbs.includes(verb) || r.verbs.includes('*')) &&
      (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')),
  );
}

describe('kube-state-metrics', () => {
  const env = testEnvironment();
  const { built, byFolder } = synthEnvironments([env]);
  const chart = built.environments[0];
  const m = byFolder.get(env.name)!;
  const deploy = find(m, 'Deployment', 'kube-state-metrics');
  const pod = podSpec(deploy);
  const c = pod.containers[0];
  const arg = (name: string) => c.args.find((a: string) => a.startsWith(`--${name}=`))?.split('=')[1];
  const role = find(m, 'Role', 'kube-state-metrics');

  test('pinned official image of the documented version', () => {
    expect(c.image).toBe(`registry.k8s.io/kube-state-metrics/kube-state-metrics:${KSM_VERSION}`);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
  });

  test('watches only this namespace', () => {
    expect(arg('namespaces')).toBe(env.namespace);
  });

  test('the Role covers exactly the resources the --resources flag lists, with list and watch only', () => {
    const flag = arg('resources')!.split(',').sort();
    const granted = role.rules.flatMap((r: any) => r.resources).sort();
    expect(granted).toEqual(flag);
    for (const r of role.rules) {
      expect([...r.verbs].sort()).toEqual(['list', 'watch']);
      for (const res of r.resources) expect(r.apiGroups).toEqual([KSM_API_GROUPS[res]]);
    }
  });

  test('--resources are exactly the collectors of the documented metrics, and --metric-allowlist exactly those metrics', () => {
    expect(arg('resources')!.split(',')).toEqual(ksmResources());
    expect(arg('metric-allowlist')!.split(',').sort()).toEqual(DOCUMENTED.filter((d) => d.resource).map((d) => d.metric.name).sort());
  });

  test('every kube-state-metrics metric the rules and dashboards read is documented (with labels and source), and nothing documented is unused', () => {
    const used = new Set<Metric>([
      ...chart.monitoring.groups.flatMap((g) => [...g.rules.flatMap((r) => [...r.expr.metrics]), ...(g.records ?? []).flatMap((r) => [...r.expr.metrics])]),
      ...dashboardQueries(chart.monitoring.dashboardSpecs).flatMap((q) => [...q.expr.metrics]),
    ]);
    const ksmUsed = [...used].filter((x) => x.source === 'kube-state-metrics').map((x) => x.name).sort();
    const documented = DOCUMENTED.filter((d) => d.resource).map((d) => d.metric.name).sort();
    expect(ksmUsed).toEqual(documented);
    for (const d of DOCUMENTED) {
      expect(d.doc).toMatch(/^https:\/\//);
      if (d.resource) expect(d.doc).toContain(`/blob/${KSM_VERSION}/docs/metrics/`);
      expect(d.labels).toContain('namespace');
    }
  });

  test('only a namespaced Role: no ClusterRole or ClusterRoleBinding for kube-state-metrics', () => {
    expect(findAll(m, 'ClusterRole').map((x) => x.metadata.name)).not.toContain(expect.stringContaining('kube-state-metrics'));
    expect(role.metadata.namespace).toBe(env.namespace);
    const binding = find(m, 'RoleBinding', 'kube-state-metrics');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'kube-state-metrics' });
    expect(binding.subjects).toEqual([expect.objectContaining({ kind: 'ServiceAccount', name: 'kube-state-metrics', namespace: env.namespace })]);
    expect(pod.serviceAccountName).toBe('kube-state-metrics');
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  test('the `kubectl auth can-i` checks for a real cluster agree with the generated Role', () => {
    const checks = KubeStateMetrics.accessChecks(env.namespace, arg('resources')!.split(','));
    expect(checks.filter((x) => x.allowed).length).toBe(2 * ksmResources().length);
    for (const { args, allowed } of checks) {
      const [verb, ref, , ns] = args;
      const [resource, ...group] = ref.split('.');
      const inNamespace = ns === env.namespace;
      expect({ args, allowed: inNamespace && roleAllows(role, verb, group.join('.'), resource) }).toEqual({ args, allowed });
    }
  });

  test('restricted: non-root, read-only root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/livez', port: 8080 });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 8081 });
  });

  test('scraped like every workload, and allowed to reach only the API server', () => {
    expect(chart.topology.metrics.find((e) => e.job === 'kube-state-metrics')).toMatchObject({ port: 8080, portName: 'http-metrics' });
    const np = find(m, 'NetworkPolicy', 'kube-state-metrics');
    expect(np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toEqual([443, 443, 443]);
    expect(np.spec.ingress).toHaveLength(1);
    expect(np.spec.ingress[0].ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
  });

  test('operator mode relies on the cluster\'s kube-state-metrics: none deployed, the rules stay', () => {
    const op = synth({ monitoring: { mode: 'operator' } });
    expect(op.some((x) => x.metadata.name === 'kube-state-metrics')).toBe(false);
    const rules = JSON.stringify(find(op, 'PrometheusRule', 'nextgen-alerts').spec);
    expect(rules).toContain('KubePodCrashLooping');
  });

  test('a collector without a known API group is refused with its name', () => {
    expect(() => KubeStateMetrics.accessChecks('x', ['pods'])).not.toThrow();
    const { Testing } = require('cdk8s');
    expect(() => new KubeStateMetrics(Testing.chart(), 'K', { config: env.monitoring.kubeStateMetrics, image: 'x:1', namespace: 'x', resources: ['widgets'] })).toThrow(/widgets/);
  });
});
