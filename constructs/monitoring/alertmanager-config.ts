/**
 * `alertmanager.yml`: everything goes to Slack (when on), critical alerts also page through
 * PagerDuty (when on), and alerts of the chosen severities are e-mailed (when on). Keys are
 * never in the file: Alertmanager reads them from the mounted Secret (`api_url_file`,
 * `routing_key_file`, `smtp_auth_password_file`).
 *
 * Inhibition keeps an outage to one notification: a node that stops answering holds back
 * every other alert of the environment, PostgreSQL down holds back the database, API and
 * backup alerts it causes, Redis down the cache alerts, a failed backup Job the backup-age
 * alert, and any critical alert the warnings of the same target.
 *
 * @see https://prometheus.io/docs/alerting/latest/configuration/
 */
import { OUTAGE } from './alerts';

export interface AlertmanagerConfigOptions {
  readonly slack?: { readonly channel: string; readonly webhookUrlFile: string };
  readonly pagerduty?: { readonly routingKeyFile: string };
  /** @default - no e-mail receiver */
  readonly email?: {
    readonly to: string;
    readonly from: string;
    /** `host:port` */
    readonly smarthost: string;
    readonly authUsername: string;
    readonly authPasswordFile: string;
    readonly severities: readonly string[];
  };
  readonly runbookNote?: string;
}

export const RECEIVER = { none: 'null', slack: 'slack', pagerduty: 'pagerduty', email: 'email' } as const;

/** The inhibition rules, as data (tests post real alerts to a real Alertmanager with them). */
export function inhibitRules(): Record<string, unknown>[] {
  return [
    // A critical alert silences the warnings of the same target (e.g. PostgresDown vs. connections).
    { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['namespace', 'instance'] },
    // A node down takes pods with it: page for the node only. (Two node alerts never inhibit
    // each other: an alert matching both sides is not inhibited by one that does too.)
    { source_matchers: [`alertname="${OUTAGE.node}"`], target_matchers: ['severity=~"critical|warning"'], equal: ['environment'] },
    // The database down: API errors, database warnings and backup failures are its consequences.
    { source_matchers: [`alertname="${OUTAGE.database}"`], target_matchers: ['area=~"api|database|backup"'], equal: ['namespace'] },
    { source_matchers: [`alertname="${OUTAGE.cache}"`], target_matchers: ['area="cache"'], equal: ['namespace'] },
    // A failed backup Job explains the backup being old.
    { source_matchers: [`alertname="${OUTAGE.backupJob}"`], target_matchers: [`alertname="${OUTAGE.backupAge}"`], equal: ['namespace'] },
  ];
}

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
  if (o.email) {
    receivers.push({
      name: RECEIVER.email,
      email_configs: [
        {
          to: o.email.to,
          send_resolved: true,
          headers: { Subject: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})' },
        },
      ],
    });
  }
  const routes: Record<string, unknown>[] = [];
  // PagerDuty and e-mail first with `continue`, then Slack as the last child route. `continue`
  // only moves on to the next sibling: an alert that matched a child never falls back to the
  // root's receiver, so Slack must be a child too (amtool config routes test proves it).
  if (o.pagerduty) routes.push({ receiver: RECEIVER.pagerduty, matchers: ['severity="critical"'], continue: true });
  if (o.email) routes.push({ receiver: RECEIVER.email, matchers: [`severity=~"${o.email.severities.join('|')}"`], continue: true });
  if (routes.length) {
    if (o.slack) routes.push({ receiver: RECEIVER.slack });
    else routes[routes.length - 1] = { ...routes[routes.length - 1], continue: false };
  }
  return {
    ...(o.email
      ? {
          global: {
            smtp_smarthost: o.email.smarthost,
            smtp_from: o.email.from,
            smtp_auth_username: o.email.authUsername,
            smtp_auth_password_file: o.email.authPasswordFile,
            smtp_require_tls: true,
          },
        }
      : {}),
    route: {
      receiver: o.slack ? RECEIVER.slack : RECEIVER.none,
      group_by: ['alertname', 'namespace'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes,
    },
    inhibit_rules: inhibitRules(),
    receivers,
  };
}
