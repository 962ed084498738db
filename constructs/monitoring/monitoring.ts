/**
 * Monitoring for one environment, in the mode the environment chooses:
 * - `standalone`: Prometheus, Alertmanager (if enabled), Grafana and kube-state-metrics in the
 *   namespace;
 * - `operator`: ServiceMonitor/PodMonitor/PrometheusRule for an existing kube-prometheus-stack
 *   (which brings its own kube-state-metrics).
 * Both run the Pushgateway that batch Jobs report to (`pushgateway.acceptPushesFrom`).
 *
 * Scrape jobs and monitors are derived from `Topology.of(this).metrics`, so this construct
 * must be created after every workload (MarketplaceChart builds it last); a validation
 * fails the synth if an endpoint is declared later and would silently not be scraped.
 */
import { Construct } from 'constructs';
import { imageRef, type MonitoringConfig } from '../../environments/schema';
import { Alertmanager } from './alertmanager';
import { Grafana } from './grafana';
import { Prometheus } from './prometheus';
import { AdminAccess, restricts } from '../lib/ingress';
import { Topology } from '../lib/topology';
import { KubeStateMetrics } from './kube-state-metrics';
import { Pushgateway } from './pushgateway';
import { AlertGroup, BackupSource, ReplicationSource, WalArchiveSource, alertGroups, ruleFile } from './alerts';
import { DOCUMENTED, ksmResources } from './catalog';
import { DashboardSpec, buildDashboard, dashboardSpecs } from './dashboards';
import { OperatorResources } from './operator';
import { prometheusConfig } from './scrape';

export interface MonitoringProps {
  readonly config: MonitoringConfig;
  readonly namespace: string;
  /** Environment name: the `environment` label on every series and alert. */
  readonly environment: string;
  /** The operators' address: Alertmanager's e-mail recipient unless its config names one. */
  readonly opsEmail: string;
  /** Publish Grafana on this host when `config.grafana.ingress` is on. */
  readonly grafanaHost: string;
  readonly ingressClassName: string;
  /** @default - plain HTTP */
  readonly tls?: { readonly clusterIssuer: string };
  /**
   * Who may open Grafana through its Ingress (`network.adminAccess`); the schema refuses
   * `grafana.ingress` without a restriction.
   * @default - no restriction: Grafana gets no Ingress
   */
  readonly adminAccess?: AdminAccess;
  /** Backups that push their results to the Pushgateway, for the backup alerts and dashboard. @default - none */
  readonly backups?: readonly BackupSource[];
  /** How long a restore may take (the RTO), in seconds. @default 900 */
  readonly restoreSeconds?: number;
  /** Secrets come from External Secrets Operator: watch their sync. @default false */
  readonly externalSecrets?: boolean;
  /** The WAL archive: its uploader's reports and its archiver's restarts. @default - none */
  readonly walArchive?: WalArchiveSource;
  /** Replication slots and the standby (our exporter queries). @default - no replication alerts */
  readonly replication?: ReplicationSource;
}

/** Uid of the Prometheus datasource (also kube-prometheus-stack's default uid). */
export const DATASOURCE_UID = 'prometheus';
export const RULES_FILE = 'nextgen.rules.yaml';

export class Monitoring extends Construct {
  readonly groups: AlertGroup[];
  readonly dashboardSpecs: DashboardSpec[];
  readonly prometheus?: Prometheus;
  readonly alertmanager?: Alertmanager;
  readonly grafana?: Grafana;
  readonly operator?: OperatorResources;
  /** Where batch Jobs push their results; in both modes. */
  readonly pushgateway: Pushgateway;
  /** Standalone only: operator mode relies on the cluster's kube-state-metrics. */
  readonly kubeStateMetrics?: KubeStateMetrics;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const cfg = props.config;
    const topology = Topology.of(this);
    this.pushgateway = new Pushgateway(this, 'Pushgateway', { config: cfg.pushgateway, image: imageRef(cfg.pushgateway.image) });
    if (cfg.mode === 'standalone') {
      this.kubeStateMetrics = new KubeStateMetrics(this, 'KubeStateMetrics', {
        config: cfg.kubeStateMetrics,
        image: imageRef(cfg.kubeStateMetrics.image),
        namespace: props.namespace,
        resources: ksmResources(),
        metricAllowlist: DOCUMENTED.filter((d) => d.resource).map((d) => d.metric.name),
      });
    }
    const endpoints = [...topology.metrics];
    this.node.addValidation({
      validate: () => {
        const late = topology.metrics.filter((m) => !endpoints.includes(m));
        return late.map((m) => `metrics endpoint '${m.job}' was declared after Monitoring was built; create Monitoring last in MarketplaceChart`);
      },
    });

    const interval = cfg.prometheus.scrapeIntervalSeconds;
    // At least four scrapes per rate window, and never below the usual 5m.
    const rateWindowSeconds = Math.max(300, 4 * interval);
    this.groups = alertGroups({
      namespace: props.namespace,
      thresholds: cfg.thresholds,
      rateWindowSeconds,
      backups: props.backups,
      restoreSeconds: props.restoreSeconds,
      certificates: Boolean(props.tls),
      externalSecrets: props.externalSecrets,
      walArchive: props.walArchive,
      replication: props.replication,
      traffic: cfg.traffic.busyHoursUtc,
    });
    this.dashboardSpecs = dashboardSpecs({ namespace: props.namespace, rateWindowSeconds, datasourceUid: DATASOURCE_UID, backups: props.backups });
    const dashboards = Object.fromEntries(this.dashboardSpecs.map((d) => [d.uid, buildDashboard(d, DATASOURCE_UID)]));

    if (cfg.mode === 'operator') {
      this.operator = new OperatorResources(this, 'Operator', {
        namespace: props.namespace,
        endpoints,
        groups: this.groups,
        runbookBaseUrl: cfg.runbookBaseUrl,
        selectorLabels: cfg.operator.selectorLabels,
        scrapeIntervalSeconds: interval,
        dashboards,
      });
      return;
    }

    // Add-on controllers whose metrics the certificate and ExternalSecret alerts read.
    const addonSources = [
      ...(props.tls ? [{ job: 'cert-manager', ...cfg.clusterAddons.certManager }] : []),
      ...(props.externalSecrets ? [{ job: 'external-secrets', ...cfg.clusterAddons.externalSecrets }] : []),
    ];
    const addons = addonSources.map((a) => ({ ...a, address: `${a.service}.${a.namespace}.svc:${a.port}` }));

    if (cfg.alertmanager.enabled) {
      this.alertmanager = new Alertmanager(this, 'Alertmanager', {
        config: cfg.alertmanager,
        image: imageRef(cfg.alertmanager.image),
        readWriteDatabaseJob: props.replication?.readWriteJob,
        opsEmail: props.opsEmail,
      });
    }
    this.prometheus = new Prometheus(this, 'Prometheus', {
      config: cfg.prometheus,
      image: imageRef(cfg.prometheus.image),
      prometheusConfig: prometheusConfig({
        namespace: props.namespace,
        endpoints,
        scrapeIntervalSeconds: interval,
        externalLabels: { environment: props.environment },
        rulesDir: Prometheus.RULES_DIR,
        alertmanager: this.alertmanager?.address,
        selfPort: Prometheus.PORT,
        addons: addons.map((a) => ({ job: a.job, address: a.address })),
      }),
      ruleFiles: { [RULES_FILE]: ruleFile(this.groups, cfg.runbookBaseUrl) },
    });
    for (const e of endpoints) this.prometheus.scrape(e, e.job);
    if (this.alertmanager) topology.allow(this.prometheus.peer, this.alertmanager.endpoint, 'Prometheus sends alerts to Alertmanager');
    for (const a of addons) {
      topology.allow(this.prometheus.peer, { peer: { name: a.job, external: 'cluster-addon', namespace: a.namespace }, port: a.port }, `Prometheus scrapes ${a.job} metrics`);
    }

    this.grafana = new Grafana(this, 'Grafana', {
      config: cfg.grafana,
      image: imageRef(cfg.grafana.image),
      prometheus: { url: `http://${Prometheus.NAME}:${Prometheus.PORT}`, endpoint: this.prometheus.endpoint, scrapeIntervalSeconds: interval },
      dashboards,
      datasourceUid: DATASOURCE_UID,
      ingress:
        cfg.grafana.ingress && restricts(props.adminAccess)
          ? { host: props.grafanaHost, className: props.ingressClassName, rateLimitRps: cfg.grafana.ingressRateLimitRps, tls: props.tls, access: props.adminAccess }
          : undefined,
    });
  }
}
