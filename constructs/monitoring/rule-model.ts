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
  /** Extra labels (e.g. `backup`, which the inhibition rules compare). @default - severity and area only */
  readonly labels?: Readonly<Record<string, string>>;
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
  /** What it is, for people (`hourly dump`, `nightly base backup`). */
  readonly title: string;
  /**
   * The longest gap between two scheduled runs (DST included). The age of the last success
   * reaches gap + one run just before a run that succeeds on time, so that sum, not the RPO,
   * is the age alert's threshold: below it, an age is normal.
   */
  readonly scheduleGapSeconds: number;
  /** How long one run may take (the Job's deadline). */
  readonly runSeconds: number;
  /** `critical` when this backup carries the RPO, `warning` when another line does (the WAL archive). */
  readonly severity: Severity;
}

/** The WAL archiver (`postgres-wal-archive`): its uploader reports each round to the Pushgateway. */
export interface WalArchiveSource {
  /** Pushgateway `job` label and Deployment name. */
  readonly job: string;
  /** Its replication slot on the primary. */
  readonly slot: string;
  /** The environment's RPO: the uploader's silence must be noticed before it is spent. */
  readonly rpoSeconds: number;
  /** archive_timeout + upload interval + one upload: how stale the archive may be in normal operation. */
  readonly boundSeconds: number;
  /** Seconds between upload rounds. */
  readonly uploadIntervalSeconds: number;
}

/** The streaming standby and the replication slots, whichever server has which role. */
export interface ReplicationSource {
  /** A standby is deployed: watch its WAL receiver and replay. */
  readonly standby: boolean;
  /** `max_slot_wal_keep_size` in bytes: beyond it, a slot is lost. */
  readonly slotWalKeepBytes: number;
  /** Scrape job of the server that serves writes (the primary, or the promoted standby): its PostgresDown explains the API's and backups' alerts. */
  readonly readWriteJob: string;
}

/**
 * When real users keep the request rate above `minRequestsPerSecond` (environment data,
 * `monitoring.traffic.busyHoursUtc`): `always` makes less an outage (page), hours make it a
 * ticket inside them (quiet nights are normal), `never` means idle is normal (no alert).
 */
export type TrafficExpectation = 'always' | 'never' | { readonly from: number; readonly to: number };

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
  /** The WAL archive to watch. @default - none */
  readonly walArchive?: WalArchiveSource;
  /** Replication slots and the standby to watch. @default - no replication alerts */
  readonly replication?: ReplicationSource;
  /** When the API must see traffic. @default never */
  readonly traffic?: TrafficExpectation;
}
/** The Prometheus rule-file object (`groups:`), shared by the ConfigMap and PrometheusRule. */
/** GitHub's heading anchor for an alert's runbook section in docs/alerts.md. */
export const runbookAnchor = (alert: string) => `docs/alerts.md#${alert.toLowerCase()}`;

/** The rule file; each alert's `runbook_url` is its section of docs/alerts.md under `runbookBaseUrl`. */
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
        labels: { severity: r.severity, area: r.area, ...r.labels },
        annotations: {
          summary: r.summary,
          description: r.description,
          runbook_url: `${runbookBaseUrl.replace(/\/$/, '')}/${runbookAnchor(r.alert)}`,
        },
      })),
      ],
    })),
  };
}

/** `90 s`, `15 min`, `6 h`, `1 d`: for people, where PromQL's `duration()` is for Prometheus. */
export function humanDuration(seconds: number): string {
  if (seconds === 0) return '0 s';
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
