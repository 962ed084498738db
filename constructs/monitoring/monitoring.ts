/**
 * Monitoring for one environment, in the mode the environment chooses:
 * - `standalone`: Prometheus, Alertmanager (if enabled) and Grafana in the namespace;
 * - `operator`: ServiceMonitor/PodMonitor/PrometheusRule for an existing kube-prometheus-stack.
 *
 * Scrape jobs and monitors are derived from `Topology.of(this).metrics`, so this construct
 * must be created after every workload (MarketplaceChart builds it last); a validation
 * fails the synth if an endpoint is declared later and would silently not be scraped.
 */
import { Construct } from 'constructs';
import { imageRef, type MonitoringConfig } from '../../environments/schema';
import { Alertmanager } from '../alertmanager';
import { Grafana } from '../grafana';
import { Prometheus } from '../prometheus';
import { Topology } from '../lib/topology';
import { AlertGroup, alertGroups, ruleFile } from './alerts';
import { DashboardSpec, buildDashboard, dashboardSpecs } from './dashboards';
import { OperatorResources } from './operator';
import { prometheusConfig } from './scrape';

export interface MonitoringProps {
  readonly config: MonitoringConfig;
  readonly namespace: string;
  /** Environment name: the `environment` label on every series and alert. */
  readonly environment: string;
  /** Publish Grafana on this host when `config.grafana.ingress` is on. */
  readonly grafanaHost: string;
  readonly ingressClassName: string;
  /** @default - plain HTTP */
  readonly tls?: { readonly clusterIssuer: string };
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

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const cfg = props.config;
    const topology = Topology.of(this);
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
    this.groups = alertGroups({ namespace: props.namespace, thresholds: cfg.thresholds, rateWindowSeconds });
    this.dashboardSpecs = dashboardSpecs({ namespace: props.namespace, rateWindowSeconds, datasourceUid: DATASOURCE_UID });
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

    if (cfg.alertmanager.enabled) {
      this.alertmanager = new Alertmanager(this, 'Alertmanager', { config: cfg.alertmanager, image: imageRef(cfg.alertmanager.image) });
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
      }),
      ruleFiles: { [RULES_FILE]: ruleFile(this.groups, cfg.runbookBaseUrl) },
    });
    for (const e of endpoints) this.prometheus.scrape(e, e.job);
    if (this.alertmanager) topology.allow(this.prometheus.peer, this.alertmanager.endpoint, 'Prometheus sends alerts to Alertmanager');

    this.grafana = new Grafana(this, 'Grafana', {
      config: cfg.grafana,
      image: imageRef(cfg.grafana.image),
      prometheus: { url: `http://${Prometheus.NAME}:${Prometheus.PORT}`, endpoint: this.prometheus.endpoint, scrapeIntervalSeconds: interval },
      dashboards,
      datasourceUid: DATASOURCE_UID,
      ingress: cfg.grafana.ingress
        ? { host: props.grafanaHost, className: props.ingressClassName, rateLimitRps: cfg.grafana.ingressRateLimitRps, tls: props.tls }
        : undefined,
    });
  }
}
