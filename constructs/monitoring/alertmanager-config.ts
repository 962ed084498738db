/**
 * `alertmanager.yml`: everything goes to Slack (when on), critical alerts also page through
 * PagerDuty (when on). Keys are never in the file: Alertmanager reads them from the mounted
 * Secret (`api_url_file`, `routing_key_file`).
 *
 * @see https://prometheus.io/docs/alerting/latest/configuration/
 */
export interface AlertmanagerConfigOptions {
  readonly slack?: { readonly channel: string; readonly webhookUrlFile: string };
  readonly pagerduty?: { readonly routingKeyFile: string };
  readonly runbookNote?: string;
}

export const RECEIVER = { none: 'null', slack: 'slack', pagerduty: 'pagerduty' } as const;

export function alertmanagerConfig(o: AlertmanagerConfigOptions): Record<string, unknown> {
  const receivers: Record<string, unknown>[] = [{ name: RECEIVER.none }];
  if (o.slack) {
    receivers.push({
      name: RECEIVER.slack,
      slack_configs: [
        {
          api_url_file: o.slack.webhookUrlFile,
          channel: o.slack.channel,
          send_resolved: true,
          title: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})',
          text: '{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}',
        },
      ],
    });
  }
  if (o.pagerduty) {
    receivers.push({
      name: RECEIVER.pagerduty,
      pagerduty_configs: [
        {
          routing_key_file: o.pagerduty.routingKeyFile,
          send_resolved: true,
          description: '{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}',
          links: [{ href: '{{ .CommonAnnotations.runbook_url }}', text: 'Runbook' }],
        },
      ],
    });
  }
  const routes: Record<string, unknown>[] = [];
  // PagerDuty first with `continue`, so critical alerts still reach Slack too.
  if (o.pagerduty) routes.push({ receiver: RECEIVER.pagerduty, matchers: ['severity="critical"'], continue: Boolean(o.slack) });
  return {
    route: {
      receiver: o.slack ? RECEIVER.slack : RECEIVER.none,
      group_by: ['alertname', 'namespace'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes,
    },
    // A critical alert silences the warnings of the same name (e.g. PostgresDown vs. connections).
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['namespace', 'instance'] }],
    receivers,
  };
}
