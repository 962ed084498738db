/**
 * Operator mode: for clusters that already run kube-prometheus-stack. Instead of our own
 * Prometheus, emit what the Prometheus Operator reads: a PodMonitor per metrics endpoint,
 * one PrometheusRule with the same rules, and the dashboards as a ConfigMap for the stack's
 * Grafana sidecar. kubelet and cAdvisor are already scraped by the stack.
 *
 * PodMonitors, not ServiceMonitors: they select pods and a container port by name exactly as
 * standalone mode's scrape jobs do. A ServiceMonitor selects Services by label, and several
 * Services may front the same pods (`nextgen-api` and `nextgen-api-lb`), so each pod would
 * be scraped once per Service.
 *
 * @see https://prometheus-operator.dev/docs/api-reference/api/
 */
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  PodMonitor,
  PodMonitorSpecPodMetricsEndpointsRelabelingsAction,
  PrometheusRule,
  PrometheusRuleSpecGroupsRulesExpr,
} from '../../imports/monitoring.coreos.com';
import { Wave, declareIdentity } from '../lib/identity';
import type { MetricsEndpoint } from '../lib/topology';
import { AlertGroup, ruleFile } from './alerts';

export interface OperatorResourcesProps {
  readonly namespace: string;
  readonly endpoints: readonly MetricsEndpoint[];
  readonly groups: AlertGroup[];
  readonly runbookBaseUrl: string;
  /** Labels the cluster's Prometheus selects monitors and rules by. */
  readonly selectorLabels: Record<string, string>;
  readonly scrapeIntervalSeconds: number;
  /** Dashboard JSON models by uid. */
  readonly dashboards: Record<string, unknown>;
}

/** The label kube-prometheus-stack's Grafana sidecar watches for dashboards. */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: '1' };

export class OperatorResources extends Construct {
  readonly podMonitors: PodMonitor[] = [];
  readonly rule: PrometheusRule;

  constructor(scope: Construct, id: string, props: OperatorResourcesProps) {
    super(scope, id);
    declareIdentity(this, { name: 'nextgen-monitoring', component: 'monitoring', wave: Wave.MONITORING });
    const labels = props.selectorLabels;
    const interval = `${props.scrapeIntervalSeconds}s`;
    for (const e of props.endpoints) {
      const name = e.job;
      this.podMonitors.push(
        new PodMonitor(this, `Pod-${name}`, {
          metadata: { name, labels },
          spec: {
            namespaceSelector: { matchNames: [props.namespace] },
            selector: { matchLabels: { ...e.peer.selector } },
            podMetricsEndpoints: [
              {
                port: e.portName,
                path: e.path ?? '/metrics',
                interval,
                // Same job name as standalone mode (the operator would use `<namespace>/<name>`).
                relabelings: [{ action: PodMonitorSpecPodMetricsEndpointsRelabelingsAction.REPLACE, targetLabel: 'job', replacement: e.job }],
                // The Pushgateway relays pushed groups: their own `job` label must win.
                ...(e.honorLabels ? { honorLabels: true } : {}),
              },
            ],
          },
        }),
      );
    }

    const file = ruleFile(props.groups, props.runbookBaseUrl) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> };
    this.rule = new PrometheusRule(this, 'Rules', {
      metadata: { name: 'nextgen-alerts', labels },
      spec: {
        groups: file.groups.map((g) => ({
          name: g.name,
          rules: g.rules.map((r) =>
            r.record
              ? { record: r.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr) }
              : {
                  alert: r.alert,
                  expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr),
                  for: r.for,
                  labels: r.labels,
                  annotations: r.annotations,
                },
          ),
        })),
      },
    });

    new kplus.ConfigMap(this, 'Dashboards', {
      metadata: { name: 'nextgen-dashboards', labels: GRAFANA_DASHBOARD_LABEL },
      data: Object.fromEntries(Object.entries(props.dashboards).map(([uid, d]) => [`${uid}.json`, JSON.stringify(d, null, 2)])),
    });
  }
}
