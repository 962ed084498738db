/**
 * Prometheus in the environment's namespace: a one-replica StatefulSet with its own
 * PersistentVolumeClaim, retention from the environment, and a ServiceAccount allowed only
 * what Kubernetes service discovery needs (pods, services, endpoints in this namespace; node
 * list and kubelet metrics cluster-wide, read-only).
 *
 * Configuration and rules are generated text in ConfigMaps (`prometheus-config`,
 * `prometheus-rules`), so the tests run `promtool` on exactly what ships. A checksum of both
 * on the pod template rolls the pod when either changes.
 *
 * Emits: ServiceAccount, Role + RoleBinding, ClusterRole + ClusterRoleBinding, two
 * ConfigMaps, headless Service `prometheus` (9090) and StatefulSet `prometheus`.
 */
import { createHash } from 'crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../environments/schema';
import { Wave, instanceOf, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, ExternalEndpoint, Peer, Topology } from '../lib/topology';
import { toYaml } from '../lib/output';
import { addClaimTemplate } from '../lib/statefulset';

export interface PrometheusProps {
  readonly config: MonitoringConfig['prometheus'];
  /** The full `prometheus.yml` (see `monitoring/scrape.ts`). */
  readonly prometheusConfig: Record<string, unknown>;
  /** Rule files by file name (`nextgen.rules.yaml` -> `{ groups }`). */
  readonly ruleFiles: Record<string, unknown>;
  /** Full image reference. */
  readonly image: string;
}

export const KUBELET: ExternalEndpoint = { peer: { name: 'kubelet', external: 'kubelet' }, port: 10250 };
export const KUBE_APISERVER: ExternalEndpoint = { peer: { name: 'kube-apiserver', external: 'kube-apiserver' }, port: 443 };

export class Prometheus extends Construct {
  static readonly NAME = 'prometheus';
  static readonly PORT = 9090;
  /** `nobody` in the upstream image. */
  static readonly UID = 65534;
  static readonly CONFIG_DIR = '/etc/prometheus';
  static readonly RULES_DIR = '/etc/prometheus/rules';
  static readonly DATA_DIR = '/prometheus';

  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;
  readonly rulesConfigMap: kplus.ConfigMap;
  readonly serviceAccount: kplus.ServiceAccount;
  readonly peer: Peer;
  readonly endpoint: Endpoint;

  constructor(scope: Construct, id: string, props: PrometheusProps) {
    super(scope, id);
    const name = Prometheus.NAME;
    const cfg = props.config;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'monitoring', wave: Wave.MONITORING });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Prometheus.PORT, portName: 'http' };

    const configText = toYaml(props.prometheusConfig);
    const ruleTexts = Object.fromEntries(Object.entries(props.ruleFiles).map(([f, v]) => [f, toYaml(v)]));
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: `${name}-config` }, data: { 'prometheus.yml': configText } });
    this.rulesConfigMap = new kplus.ConfigMap(this, 'Rules', { metadata: { name: `${name}-rules` }, data: ruleTexts });

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: true });
    this.grantDiscovery(name);

    this.service = selectPods(
      new kplus.Service(this, 'Service', {
        metadata: { name },
        clusterIP: 'None',
        ports: [{ name: 'http', port: Prometheus.PORT, targetPort: Prometheus.PORT }],
      }),
      selector,
    );

    const checksum = createHash('sha256').update(configText).update(JSON.stringify(ruleTexts)).digest('hex').slice(0, 16);
    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name },
      replicas: 1,
      service: this.service,
      select: false,
      podMetadata: { labels: selector, annotations: { 'nextgen.example.com/config-checksum': checksum } },
      securityContext: restrictedPod(Prometheus.UID),
      serviceAccount: this.serviceAccount,
      // The token is the kubelet and API server credential for service discovery.
      automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(300),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));
    // StatefulSet points its governing Service at its construct-address label; we select by ours.
    ApiObject.of(this.service).addJsonPatch(JsonPatch.remove('/spec/selector/cdk8s.io~1metadata.addr'));

    // Keep 15% of the volume free: retention by size stops the TSDB before the disk fills.
    const retentionSize = Size.gibibytes(cfg.storage.sizeGiB * 0.85);
    const probe = (path: string, failureThreshold: number) =>
      kplus.Probe.fromHttpGet(path, { port: Prometheus.PORT, failureThreshold, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(5) });
    const container = this.statefulSet.addContainer({
      name: 'prometheus',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: [
        `--config.file=${Prometheus.CONFIG_DIR}/prometheus.yml`,
        `--storage.tsdb.path=${Prometheus.DATA_DIR}`,
        `--storage.tsdb.retention.time=${cfg.retentionDays}d`,
        `--storage.tsdb.retention.size=${Math.floor(retentionSize.toMebibytes())}MB`,
        `--web.listen-address=:${Prometheus.PORT}`,
      ],
      ports: [{ number: Prometheus.PORT, name: 'http' }],
      // WAL replay after a restart can take minutes on a full volume.
      startup: probe('/-/ready', 60),
      readiness: probe('/-/ready', 3),
      liveness: probe('/-/healthy', 6),
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(Prometheus.UID),
    });
    container.mount(`${Prometheus.CONFIG_DIR}/prometheus.yml`, kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.configMap, { name: 'config' }), {
      subPath: 'prometheus.yml',
      readOnly: true,
    });
    container.mount(Prometheus.RULES_DIR, kplus.Volume.fromConfigMap(this, 'RulesVolume', this.rulesConfigMap, { name: 'rules' }), { readOnly: true });
    hardenPodSpec(this.statefulSet);

    // The TSDB: one ReadWriteOnce claim, kept when the StatefulSet goes (shared helper).
    addClaimTemplate(this.statefulSet, {
      name: 'data',
      container,
      mountPath: Prometheus.DATA_DIR,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });

    topology.allow(this.peer, KUBELET, 'Prometheus scrapes kubelet and cAdvisor metrics');
    topology.allow(this.peer, KUBE_APISERVER, 'Prometheus discovers pods and nodes through the Kubernetes API');
  }

  /** Allow Prometheus to scrape `endpoint` (network path). */
  scrape(endpoint: Endpoint, job: string): void {
    Topology.of(this).allow(this.peer, endpoint, `Prometheus scrapes ${job}`);
  }

  /** Least privilege for Kubernetes SD: read pods/services/endpoints here, nodes and kubelet metrics cluster-wide. */
  private grantDiscovery(name: string): void {
    const role = new kplus.Role(this, 'Role', { metadata: { name } });
    role.allow(['get', 'list', 'watch'], kplus.ApiResource.PODS, kplus.ApiResource.SERVICES, kplus.ApiResource.ENDPOINTS);
    new kplus.RoleBinding(this, 'RoleBinding', { metadata: { name }, role }).addSubjects(this.serviceAccount);

    // Cluster-scoped, so the name carries the environment (`nextgen-prod-prometheus`).
    const clusterName = `${instanceOf(this)}-${name}`;
    const clusterRole = new kplus.ClusterRole(this, 'ClusterRole', { metadata: { name: clusterName } });
    clusterRole.allow(['list', 'watch'], kplus.ApiResource.NODES);
    // `nodes/metrics` is what the kubelet authorizes /metrics and /metrics/cadvisor against.
    clusterRole.allow(['get'], kplus.ApiResource.custom({ apiGroup: '', resourceType: 'nodes/metrics' }));
    new kplus.ClusterRoleBinding(this, 'ClusterRoleBinding', { metadata: { name: clusterName }, role: clusterRole }).addSubjects(this.serviceAccount);
  }
}
