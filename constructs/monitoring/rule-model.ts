/**
 * The shape of our alert rules, shared by the rule sets (`alerts.ts`, `cluster-alerts.ts`),
 * the Alertmanager configuration (`OUTAGE`, inhibition) and the rule file writer.
 */
import type { Thresholds } from '../../environments/schema';
import { Expr, Recorded, duration } from './promql';

export type Severity = 'critical' | 'warning';

/** Alerts that stand for an outage and hold back its consequences in Alertmanager (inhibition). */
export const OUTAGE = { node: 'NodeUnreachable', database: 'PostgresDown', cache: 'RedisDown', backupJob: 'BackupJobFailed', backupAge: 'BackupTooOld' } as const;

export interface AlertRule {
  /** CamelCase alert name; also the runbook page name. */
  readonly alert: string;
  readonly expr: Expr;
  /** Seconds the condition must hold. */
  readonly forSeconds: number;
  readonly severity: Severity;
  /** Which of the guide's key metrics this watches. */
  readonly area: 'api' | 'database' | 'resources' | 'cache' | 'scraping' | 'backup' | 'kubernetes' | 'platform';
  /** The condition in words, with this environment's numbers (README's alert table). */
  readonly threshold: string;
  readonly summary: string;
  /** May use `{{ $value }}` and `{{ $labels.x }}`. */
  readonly description: string;
}

export interface AlertGroup {
  readonly name: string;
  readonly rules: AlertRule[];
  /** Recording rules evaluated in this group (before its alerts). @default - none */
  readonly records?: Recorded[];
}

/** A backup that reports to the Pushgateway (`push_metrics`) and runs as a CronJob. */
export interface BackupSource {
  /** Pushgateway `job` label and CronJob name (`postgres-backup`). */
  readonly job: string;
  /** Recovery point objective: alert when the last success is older. */
  readonly rpoSeconds: number;
  /** How long one run may take (the Job's deadline): the grace before the age alert fires. */
  readonly runSeconds: number;
}

export interface AlertContext {
  readonly namespace: string;
  readonly thresholds: Thresholds;
  /** Rate window, at least four scrape intervals. */
  readonly rateWindowSeconds: number;
  /** Backups watched for age, failures and suspension. @default - none */
  readonly backups?: readonly BackupSource[];
  /** How long a restore may take (the RTO): a backup CronJob suspended longer was forgotten. @default 900 */
  readonly restoreSeconds?: number;
  /** Certificates are issued by cert-manager (TLS on). @default false */
  readonly certificates?: boolean;
  /** Secrets come from External Secrets Operator. @default false */
  readonly externalSecrets?: boolean;
}
/** The Prometheus rule-file object (`groups:`), shared by the ConfigMap and PrometheusRule. */
export function ruleFile(groups: AlertGroup[], runbookBaseUrl: string): { groups: unknown[] } {
  return {
    groups: groups.map((g) => ({
      name: g.name,
      rules: [
        ...(g.records ?? []).map((r) => ({ record: r.name, expr: r.expr.text })),
        ...g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr.text,
        for: duration(r.forSeconds),
        labels: { severity: r.severity, area: r.area },
        annotations: {
          summary: r.summary,
          description: r.description,
          runbook_url: `${runbookBaseUrl.replace(/\/$/, '')}/alerts/${r.alert}`,
        },
      })),
      ],
    })),
  };
}

/** `90 s`, `15 min`, `6 h`, `1 d`: for people, where PromQL's `duration()` is for Prometheus. */
export function humanDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
