/**
 * `alertmanager.yml`: everything goes to Slack (when on), critical alerts also page through
 * PagerDuty (when on), and alerts of the chosen severities are e-mailed (when on). Keys are
 * never in the file: Alertmanager reads them from the mounted Secret (`api_url_file`,
 * `routing_key_file`, `smtp_auth_password_file`).
 *
 * Inhibition keeps an outage to one notification, and is scoped to what its source really
 * explains (the same node, the same target), never the whole environment:
 *   - a node that stops answering holds back the alerts that carry its `node` label (its
 *     kubelet's scrape, its volumes and containers), not PostgresDown or the API's alerts, which
 *     have no node label and may well be a different failure;
 *   - PostgreSQL down holds back the other database alerts of the same `instance`; only the
 *     read-write server's (`job`) holds back the API and backup alerts (the standby down
 *     explains neither);
 *   - Redis down the cache alerts; a failed backup Job the age alerts of the same `backup`;
 *   - a critical alert the warnings of the same target (`SAME_TARGET`: every naming label equal).
 * Alertmanager counts a label missing on both sides as equal, so every rule compares a label
 * its source always has. test/monitoring/week.int.test.ts checks that no failure's intended alert
 * is held back by another alert the same failure raises.
 *
 * @see https://prometheus.io/docs/alerting/latest/configuration/
 */
import { OUTAGE } from './alerts';

export interface AlertmanagerConfigOptions {
  /** Scrape job of the read-write PostgreSQL server. @default postgres */
  readonly readWriteDatabaseJob?: string;
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

/** Labels that together name what an alert is about. */
export const SAME_TARGET = ['namespace', 'job', 'instance', 'pod', 'container', 'job_name', 'deployment', 'statefulset', 'persistentvolumeclaim', 'slot_name', 'backup'] as const;

/** The inhibition rules, as data (tests post real alerts to a real Alertmanager with them). */
export function inhibitRules(readWriteDatabaseJob = 'postgres'): Record<string, unknown>[] {
  return [
    // A critical alert silences the warnings of the same target (e.g. PostgresDown vs. connections):
    // every label that names an object must match, so one kube-state-metrics alert (same job and
    // instance for all) never silences another about a different pod, Deployment or Job.
    { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [...SAME_TARGET] },
    // A node down takes its pods with it: hold back what carries its node label. (Two node
    // alerts never inhibit each other: an alert matching both sides is not inhibited by one that does too.)
    { source_matchers: [`alertname="${OUTAGE.node}"`], target_matchers: ['severity=~"critical|warning"'], equal: ['node'] },
    // A database server down: its own other alerts (same instance)...
    { source_matchers: [`alertname="${OUTAGE.database}"`], target_matchers: ['area="database"'], equal: ['namespace', 'instance'] },
    // ...and, for the read-write server only, the API errors and backup failures it causes.
    { source_matchers: [`alertname="${OUTAGE.database}"`, `job="${readWriteDatabaseJob}"`], target_matchers: ['area=~"api|backup"'], equal: ['namespace'] },
    { source_matchers: [`alertname="${OUTAGE.cache}"`], target_matchers: ['area="cache"'], equal: ['namespace'] },
    // A failed backup Job explains that backup being old.
    { source_matchers: [`alertname="${OUTAGE.backupJob}"`], target_matchers: [`alertname=~"${OUTAGE.backupAge}|BackupMissing"`], equal: ['namespace', 'backup'] },
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
    inhibit_rules: inhibitRules(o.readWriteDatabaseJob),
    receivers,
  };
}
