/**
 * Grafana, stateless: the Prometheus datasource and the dashboards are provisioned from
 * ConfigMaps on every start, so the pod needs no volume beyond an emptyDir (users, stars and
 * ad-hoc edits do not persist; dashboards are changed in code). The admin login comes from
 * Secret `grafana-admin` (keys `admin-user`, `admin-password`) in every environment, so
 * `admin/admin` never exists.
 *
 * Emits: ConfigMaps `grafana-provisioning` and `grafana-dashboards`, Service `grafana`
 * (80 -> 3000), Deployment, and an Ingress for `hosts.grafana` when asked for.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../environments/schema';
import { AdminAccess, hardenIngress } from '../lib/ingress';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { toYaml } from '../lib/output';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, INGRESS_CONTROLLER, Peer } from '../lib/topology';
import { SecretCatalog } from '../platform/secrets';

export interface GrafanaProps {
  readonly config: MonitoringConfig['grafana'];
  /** Full image reference. */
  readonly image: string;
  /** The Prometheus to query: its URL and its endpoint (for the network path). */
  readonly prometheus: { readonly url: string; readonly endpoint: Endpoint; readonly scrapeIntervalSeconds: number };
  /** Dashboard JSON models by uid. */
  readonly dashboards: Record<string, unknown>;
  /** Uid given to the provisioned Prometheus datasource; dashboards refer to it. */
  readonly datasourceUid: string;
  /** Publish through an Ingress on this host. @default - no Ingress */
  readonly ingress?: { readonly host: string; readonly className: string; readonly rateLimitRps: number; readonly tls?: { readonly clusterIssuer: string }; readonly access: AdminAccess };
}

export class Grafana extends Construct {
  static readonly NAME = 'grafana';
  static readonly PORT = 3000;
  /** The `grafana` user of the upstream image. */
  static readonly UID = 472;
  static readonly SECRET = 'grafana-admin';
  static readonly DASHBOARD_DIR = '/etc/grafana/dashboards';

  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly provisioning: kplus.ConfigMap;
  readonly dashboards: kplus.ConfigMap;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly ingress?: kplus.Ingress;

  constructor(scope: Construct, id: string, props: GrafanaProps) {
    super(scope, id);
    const name = Grafana.NAME;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'monitoring', wave: Wave.MONITORING });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Grafana.PORT, portName: 'http' };
    const admin = SecretCatalog.of(this).declare(Grafana.SECRET, ['admin-user', 'admin-password'], { description: 'Grafana admin login' });

    const provisioningData = {
      'datasources.yaml': toYaml({
        apiVersion: 1,
        datasources: [
          {
            name: 'Prometheus',
            uid: props.datasourceUid,
            type: 'prometheus',
            access: 'proxy',
            url: props.prometheus.url,
            isDefault: true,
            editable: false,
            jsonData: { timeInterval: `${props.prometheus.scrapeIntervalSeconds}s` },
          },
        ],
      }),
      'dashboards.yaml': toYaml({
        apiVersion: 1,
        providers: [
          { name: 'nextgen', folder: 'NextGen', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: Grafana.DASHBOARD_DIR } },
        ],
      }),
    };
    this.provisioning = new kplus.ConfigMap(this, 'Provisioning', { metadata: { name: `${name}-provisioning` }, data: provisioningData });
    const dashboardData = Object.fromEntries(Object.entries(props.dashboards).map(([uid, d]) => [`${uid}.json`, JSON.stringify(d, null, 2)]));
    this.dashboards = new kplus.ConfigMap(this, 'Dashboards', { metadata: { name: `${name}-dashboards` }, data: dashboardData });

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name },
      replicas: 1,
      select: false,
      // The config checksum of both ConfigMaps is stamped by stampConfigChecksums (lib/checksum).
      podMetadata: { labels: selector },
      securityContext: restrictedPod(Grafana.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));

    const timing = (failureThreshold: number) => ({ failureThreshold, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(3) });
    // /api/health also checks Grafana's database: readiness. Liveness only asks whether the
    // server accepts connections, so a database hiccup is not a restart.
    const health = (failureThreshold: number) => kplus.Probe.fromHttpGet('/api/health', { port: Grafana.PORT, ...timing(failureThreshold) });
    const listening = (failureThreshold: number) => kplus.Probe.fromTcpSocket({ port: Grafana.PORT, ...timing(failureThreshold) });
    const container = this.deployment.addContainer({
      name: 'grafana',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      ports: [{ number: Grafana.PORT, name: 'http' }],
      startup: listening(30),
      readiness: health(3),
      liveness: listening(6),
      resources: containerResources(props.config.resources),
      securityContext: restrictedContainer(Grafana.UID),
      envVariables: {
        GF_SECURITY_ADMIN_USER: admin.env('admin-user'),
        GF_PATHS_DATA: kplus.EnvValue.fromValue('/var/lib/grafana'),
        GF_PATHS_LOGS: kplus.EnvValue.fromValue('/var/lib/grafana/log'),
        GF_LOG_MODE: kplus.EnvValue.fromValue('console'),
        GF_USERS_ALLOW_SIGN_UP: kplus.EnvValue.fromValue('false'),
        GF_AUTH_ANONYMOUS_ENABLED: kplus.EnvValue.fromValue('false'),
        GF_ANALYTICS_REPORTING_ENABLED: kplus.EnvValue.fromValue('false'),
        GF_ANALYTICS_CHECK_FOR_UPDATES: kplus.EnvValue.fromValue('false'),
        // No egress to the internet: do not try to download plugins at start.
        GF_PLUGINS_PREINSTALL_DISABLED: kplus.EnvValue.fromValue('true'),
        ...(props.ingress ? { GF_SERVER_ROOT_URL: kplus.EnvValue.fromValue(`${props.ingress.tls ? 'https' : 'http'}://${props.ingress.host}/`) } : {}),
      },
    });
    container.mount('/etc/grafana/provisioning', kplus.Volume.fromConfigMap(this, 'ProvisioningVolume', this.provisioning, {
      name: 'provisioning',
      items: { 'datasources.yaml': { path: 'datasources/prometheus.yaml' }, 'dashboards.yaml': { path: 'dashboards/nextgen.yaml' } },
    }), { readOnly: true });
    container.mount(Grafana.DASHBOARD_DIR, kplus.Volume.fromConfigMap(this, 'DashboardsVolume', this.dashboards, { name: 'dashboards' }), { readOnly: true });
    // SQLite database, sessions and plugin cache; rebuilt from provisioning on restart.
    // Grafana reads any setting from a file named by `<VAR>__FILE`: the password is never in the environment.
    const adminFiles = admin.mountFiles(this, container, ['admin-password']);
    container.env.addVariable('GF_SECURITY_ADMIN_PASSWORD__FILE', kplus.EnvValue.fromValue(adminFiles['admin-password']));
    container.mount('/var/lib/grafana', kplus.Volume.fromEmptyDir(this, 'Data', 'data', { sizeLimit: Size.mebibytes(512) }));
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(64) }));
    hardenPodSpec(this.deployment);

    this.service = selectPods(
      new kplus.Service(this, 'Service', { metadata: { name }, ports: [{ name: 'http', port: 80, targetPort: Grafana.PORT }] }),
      selector,
    );
    topology.allow(this.peer, props.prometheus.endpoint, 'Grafana queries Prometheus');
    if (props.ingress) {
      this.ingress = hardenIngress(this, 'Ingress', {
        name,
        hosts: [{ host: props.ingress.host, service: this.service, port: 80 }],
        className: props.ingress.className,
        tls: props.ingress.tls,
        tlsSecretName: `${name}-tls`,
        rateLimitRps: props.ingress.rateLimitRps,
        access: props.ingress.access,
      });
      topology.allow(INGRESS_CONTROLLER, this.endpoint, 'operators reach Grafana through the ingress controller');
    }
  }
}
