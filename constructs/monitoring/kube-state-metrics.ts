/**
 * kube-state-metrics for standalone monitoring: cluster-state metrics (pods waiting in
 * CrashLoopBackOff, Deployments short of replicas, failed Jobs, suspended CronJobs, quota use)
 * for this namespace only.
 *
 * Least privilege: `--namespaces=<ours>` makes it list and watch through namespaced
 * informers, so a Role in our namespace is enough (no ClusterRole); `--resources` names only
 * the collectors whose metrics our rules and dashboards read (`ksmResources()` from the
 * metric catalog), and the Role grants `list`/`watch` on exactly those resources. With
 * `--metric-allowlist` it exposes only the metrics in the catalog.
 *
 * @see https://github.com/kubernetes/kube-state-metrics/blob/main/README.md#limited-privileges-environment
 * @see https://github.com/kubernetes/kube-state-metrics/blob/main/docs/developer/cli-arguments.md
 *   (read both at the release the version catalog pins: `KSM_VERSION`)
 *
 * Emits: ServiceAccount, Role + RoleBinding, Deployment `kube-state-metrics`; declares its
 * metrics port (scraped like every other) and its path to the API server.
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../environments/schema';
import { Wave } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, Peer } from '../lib/topology';
import { KUBE_APISERVER } from './prometheus';

export interface KubeStateMetricsProps {
  readonly config: MonitoringConfig['kubeStateMetrics'];
  /** Full image reference. */
  readonly image: string;
  /** The only namespace it watches (ours). */
  readonly namespace: string;
  /** kube-state-metrics collectors to run (`pods`, `jobs`...); the Role grants exactly these. */
  readonly resources: readonly string[];
  /** Metric names to expose (`--metric-allowlist`). @default - every metric of the collectors */
  readonly metricAllowlist?: readonly string[];
}

/** The API group of each collector we may enable. */
export const KSM_API_GROUPS: Readonly<Record<string, string>> = {
  pods: '',
  resourcequotas: '',
  persistentvolumeclaims: '',
  deployments: 'apps',
  statefulsets: 'apps',
  jobs: 'batch',
  cronjobs: 'batch',
  horizontalpodautoscalers: 'autoscaling',
};

export class KubeStateMetrics extends Construct {
  static readonly NAME = 'kube-state-metrics';
  static readonly PORT = 8080;
  static readonly TELEMETRY_PORT = 8081;
  /** `nobody`, as the upstream image and manifests run it. */
  static readonly UID = 65534;

  readonly deployment: kplus.Deployment;
  readonly role: kplus.Role;
  readonly serviceAccount: kplus.ServiceAccount;
  readonly peer: Peer;
  readonly endpoint: Endpoint;

  constructor(scope: Construct, id: string, props: KubeStateMetricsProps) {
    super(scope, id);
    const name = KubeStateMetrics.NAME;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'monitoring', wave: Wave.MONITORING });
    this.peer = peer;
    this.endpoint = { peer, port: KubeStateMetrics.PORT, portName: 'http-metrics' };
    const unknown = props.resources.filter((r) => !(r in KSM_API_GROUPS));
    if (unknown.length) throw new Error(`kube-state-metrics: no API group known for resource(s) ${unknown.join(', ')}; add them to KSM_API_GROUPS`);
    if (!props.resources.length) throw new Error('kube-state-metrics: resources must not be empty');

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: true });
    this.role = new kplus.Role(this, 'Role', { metadata: { name } });
    for (const r of props.resources) {
      this.role.allow(['list', 'watch'], kplus.ApiResource.custom({ apiGroup: KSM_API_GROUPS[r], resourceType: r }));
    }
    new kplus.RoleBinding(this, 'RoleBinding', { metadata: { name }, role: this.role }).addSubjects(this.serviceAccount);

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name },
      replicas: 1,
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(KubeStateMetrics.UID),
      serviceAccount: this.serviceAccount,
      // The token is its credential for listing and watching the API server.
      automountServiceAccountToken: true,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    const probe = (path: string, port: number) =>
      kplus.Probe.fromHttpGet(path, { port, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(5) });
    this.deployment.addContainer({
      name,
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: [
        `--namespaces=${props.namespace}`,
        `--resources=${[...props.resources].sort().join(',')}`,
        ...(props.metricAllowlist ? [`--metric-allowlist=${[...props.metricAllowlist].sort().join(',')}`] : []),
        `--port=${KubeStateMetrics.PORT}`,
        `--telemetry-port=${KubeStateMetrics.TELEMETRY_PORT}`,
      ],
      ports: [
        { number: KubeStateMetrics.PORT, name: 'http-metrics' },
        { number: KubeStateMetrics.TELEMETRY_PORT, name: 'telemetry' },
      ],
      // /livez on the metrics port, /readyz on the telemetry port (since v2.9).
      liveness: probe('/livez', KubeStateMetrics.PORT),
      readiness: probe('/readyz', KubeStateMetrics.TELEMETRY_PORT),
      resources: containerResources(props.config.resources),
      securityContext: restrictedContainer(KubeStateMetrics.UID),
    });
    hardenPodSpec(this.deployment);

    topology.addMetrics({ ...this.endpoint, job: name, path: '/metrics' });
    topology.allow(this.peer, KUBE_APISERVER, 'kube-state-metrics lists and watches our objects through the Kubernetes API');
  }

  /**
   * What its ServiceAccount must and must not be allowed, as `kubectl auth can-i` arguments,
   * for a check against a real API server: `kubectl auth can-i <args>
   * --as=system:serviceaccount:<namespace>:kube-state-metrics` answers yes exactly when
   * `allowed`. Every granted resource with `list` and `watch` in our namespace; nothing in
   * another namespace, no `get` of Secrets, no writes, no cluster-scoped reads.
   */
  static accessChecks(namespace: string, resources: readonly string[]): Array<{ args: string[]; allowed: boolean }> {
    const ref = (r: string) => (KSM_API_GROUPS[r] ? `${r}.${KSM_API_GROUPS[r]}` : r);
    return [
      ...resources.flatMap((r) => ['list', 'watch'].map((verb) => ({ args: [verb, ref(r), '-n', namespace], allowed: true }))),
      ...resources.map((r) => ({ args: ['list', ref(r), '-n', 'kube-system'], allowed: false })),
      ...resources.map((r) => ({ args: ['delete', ref(r), '-n', namespace], allowed: false })),
      { args: ['list', 'secrets', '-n', namespace], allowed: false },
      { args: ['get', 'secrets', '-n', namespace], allowed: false },
      { args: ['list', 'configmaps', '-n', namespace], allowed: false },
      { args: ['list', 'nodes'], allowed: false },
      { args: ['list', 'namespaces'], allowed: false },
    ];
  }

  /** `--resources` as the container receives it, for checks. */
  get resourcesArg(): string[] {
    const args = this.deployment.containers[0].args ?? [];
    return (args.find((a) => a.startsWith('--resources=')) ?? '').replace('--resources=', '').split(',').filter(Boolean);
  }
}
