/**
 * Alert rules for the guide's "Key Metrics to Monitor", as typed data. Thresholds and the
 * `for:` duration come from the environment's `monitoring.thresholds`; every alert links its
 * runbook. Rules select by `namespace` (set by our scrape jobs and by the Prometheus
 * Operator alike), so the same rules work in standalone and operator mode.
 */
import type { Thresholds } from '../../environments/schema';
import { M, recordings } from './catalog';
import { Expr, Recorded, duration, labels, promql } from './promql';
import { KUBELET_JOBS } from './scrape';
import { humanDuration } from './alert-table';

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

/** The rule groups for one environment. */
export function alertGroups(ctx: AlertContext): AlertGroup[] {
  const t = ctx.thresholds;
  const ns = labels({ namespace: ctx.namespace });
  const nsC = `{namespace="${ctx.namespace}",container!="",container!="POD"}`;
  const w = duration(ctx.rateWindowSeconds);
  const forS = t.forMinutes * 60;
  const fiveXx = `{namespace="${ctx.namespace}",status=~"5.."}`;
  const reqRate = promql`sum(rate(${M.httpRequests}${ns}[${w}]))`;
  const rule = (r: Omit<AlertRule, 'forSeconds'> & { forSeconds?: number }): AlertRule => ({ forSeconds: forS, ...r });
  const rec = recordings(ctx.namespace);

  return [
    {
      name: 'nextgen-api',
      rules: [
        rule({
          alert: 'NextgenApiRequestRateLow',
          threshold: `< ${t.minRequestsPerSecond} req/s`,
          area: 'api',
          severity: 'critical',
          // `or vector(0)`: with no series at all (API gone) the rate is 0, not "no data".
          expr: promql`(${reqRate} or on() vector(0)) < ${t.minRequestsPerSecond}`,
          summary: 'The API serves almost no requests',
          description: `Request rate is {{ $value | humanize }} req/s, below ${t.minRequestsPerSecond} req/s.`,
        }),
        rule({
          alert: 'NextgenApiHighLatencyP99',
          threshold: `p99 > ${t.p99LatencySeconds} s`,
          area: 'api',
          severity: 'warning',
          expr: promql`histogram_quantile(0.99, sum by (le) (rate(${M.httpDurationBucket}${ns}[${w}]))) > ${t.p99LatencySeconds}`,
          summary: 'API p99 latency is high',
          description: `p99 latency is {{ $value | humanizeDuration }}, above ${t.p99LatencySeconds}s.`,
        }),
        rule({
          alert: 'NextgenApiHighErrorRate',
          threshold: `> ${t.errorRatePercent} % 5xx`,
          area: 'api',
          severity: 'critical',
          expr: promql`sum(rate(${M.httpRequests}${fiveXx}[${w}])) / ${reqRate} * 100 > ${t.errorRatePercent}`,
          summary: 'Many API requests fail with 5xx',
          description: `{{ $value | humanize }}% of requests return 5xx, above ${t.errorRatePercent}%.`,
        }),
      ],
    },
    {
      name: 'nextgen-database',
      rules: [
        rule({
          alert: OUTAGE.database,
          threshold: 'pg_up = 0',
          area: 'database',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.pgUp}${ns} == 0`,
          summary: 'postgres_exporter cannot reach PostgreSQL',
          description: 'pg_up is 0 for {{ $labels.instance }}.',
        }),
        rule({
          alert: 'PostgresConnectionsHigh',
          threshold: `> ${t.dbConnectionsPercent} % of max_connections`,
          area: 'database',
          severity: 'warning',
          expr: promql`sum by (namespace, instance) (${M.pgBackends}${ns}) / max by (namespace, instance) (${M.pgMaxConnections}${ns}) * 100 > ${t.dbConnectionsPercent}`,
          summary: 'PostgreSQL is running out of connections',
          description: `{{ $value | humanize }}% of max_connections in use, above ${t.dbConnectionsPercent}%.`,
        }),
        rule({
          alert: 'PostgresLongRunningQuery',
          threshold: `active transaction > ${t.dbActiveQuerySeconds} s`,
          area: 'database',
          severity: 'warning',
          expr: promql`max by (namespace, instance, datname) (${M.pgMaxTxDuration}{namespace="${ctx.namespace}",state="active"}) > ${t.dbActiveQuerySeconds}`,
          summary: 'A PostgreSQL query has been running for a long time',
          description: `The oldest active transaction in {{ $labels.datname }} is {{ $value | humanizeDuration }} old, above ${t.dbActiveQuerySeconds}s.`,
        }),
        rule({
          alert: 'PostgresReplicationLagHigh',
          threshold: `> ${t.replicationLagSeconds} s behind`,
          area: 'database',
          severity: 'warning',
          expr: promql`max by (namespace, instance) (${M.pgReplicationLag}${ns}) > ${t.replicationLagSeconds} and on (namespace, instance) ${M.pgIsReplica}${ns} == 1`,
          summary: 'A PostgreSQL standby lags behind the primary',
          description: `Replication lag is {{ $value | humanizeDuration }}, above ${t.replicationLagSeconds}s.`,
        }),
      ],
    },
    {
      name: 'nextgen-resources',
      rules: [
        rule({
          alert: 'ContainerCpuNearLimit',
          threshold: `> ${t.cpuPercentOfLimit} % of the CPU limit`,
          area: 'resources',
          severity: 'warning',
          expr: promql`sum by (namespace, pod, container) (rate(${M.cpuUsage}${nsC}[${w}])) / sum by (namespace, pod, container) (${M.cpuQuota}${nsC} / ${M.cpuPeriod}${nsC}) * 100 > ${t.cpuPercentOfLimit}`,
          summary: 'A container uses most of its CPU limit (throttling)',
          description: `{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanize }}% of its CPU limit.`,
        }),
        rule({
          alert: 'ContainerMemoryNearLimit',
          threshold: `> ${t.memoryPercentOfLimit} % of the memory limit`,
          area: 'resources',
          severity: 'warning',
          expr: promql`sum by (namespace, pod, container) (${M.memoryWorkingSet}${nsC}) / sum by (namespace, pod, container) (${M.memoryLimit}${nsC} > 0) * 100 > ${t.memoryPercentOfLimit}`,
          summary: 'A container is close to its memory limit (OOM kill)',
          description: `{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanize }}% of its memory limit.`,
        }),
        rule({
          alert: 'VolumeSpaceLow',
          threshold: `< ${t.diskFreePercent} % free`,
          area: 'resources',
          severity: 'warning',
          expr: promql`${M.volumeAvailable}${ns} / ${M.volumeCapacity}${ns} * 100 < ${t.diskFreePercent}`,
          summary: 'A persistent volume is almost full',
          description: `{{ $labels.persistentvolumeclaim }} has {{ $value | humanize }}% free, below ${t.diskFreePercent}%.`,
        }),
      ],
    },
    {
      name: 'nextgen-cache',
      rules: [
        rule({
          alert: OUTAGE.cache,
          threshold: 'redis_up = 0',
          area: 'cache',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.redisUp}${ns} == 0`,
          summary: 'redis_exporter cannot reach Redis',
          description: 'redis_up is 0 for {{ $labels.instance }}.',
        }),
        rule({
          alert: 'RedisHitRateLow',
          threshold: `hit rate < ${t.redisHitRatePercent} %`,
          area: 'cache',
          severity: 'warning',
          expr: promql`sum(rate(${M.redisHits}${ns}[${w}])) / (sum(rate(${M.redisHits}${ns}[${w}])) + sum(rate(${M.redisMisses}${ns}[${w}]))) * 100 < ${t.redisHitRatePercent}`,
          summary: 'The Redis cache hit rate is low',
          description: `Hit rate is {{ $value | humanize }}%, below ${t.redisHitRatePercent}%.`,
        }),
        rule({
          alert: 'RedisMemoryHigh',
          threshold: `> ${t.redisMemoryPercent} % of maxmemory`,
          area: 'cache',
          severity: 'warning',
          expr: promql`${M.redisMemoryUsed}${ns} / (${M.redisMemoryMax}${ns} > 0) * 100 > ${t.redisMemoryPercent}`,
          summary: 'Redis is close to maxmemory (evictions)',
          description: `Redis uses {{ $value | humanize }}% of maxmemory, above ${t.redisMemoryPercent}%.`,
        }),
      ],
    },
    {
      name: 'nextgen-scraping',
      rules: [
        rule({
          alert: 'MetricsTargetDown',
          threshold: 'up = 0',
          area: 'scraping',
          severity: 'warning',
          expr: promql`${M.up}${ns} == 0`,
          summary: 'Prometheus cannot scrape a target',
          description: 'Scrapes of {{ $labels.job }} at {{ $labels.instance }} fail.',
        }),
        rule({
          alert: OUTAGE.node,
          threshold: 'kubelet up = 0',
          area: 'scraping',
          severity: 'critical',
          forSeconds: 120,
          // The kubelet of every node is scraped; a node that stops answering takes its pods with it.
          expr: promql`${M.up}{job="${KUBELET_JOBS.kubelet}"} == 0`,
          summary: 'A node (its kubelet) does not answer',
          description: 'The kubelet on {{ $labels.node }} cannot be scraped; pods on it are likely down. Other alerts of this environment are held back while it lasts.',
        }),
      ],
    },
    ...backupGroups(ctx, rec),
    kubernetesGroup(ctx, rec),
    ...platformGroups(ctx),
  ];
}

/** Backup freshness from the backup's own report, and its Jobs and CronJob from cluster state. */
function backupGroups(ctx: AlertContext, rec: ReturnType<typeof recordings>): AlertGroup[] {
  const backups = ctx.backups ?? [];
  if (!backups.length) return [];
  const ns = ctx.namespace;
  const restoreSeconds = ctx.restoreSeconds ?? 900;
  return [
    {
      name: 'nextgen-backup',
      records: [rec.backupAge],
      rules: backups.flatMap((b): AlertRule[] => [
        {
          alert: OUTAGE.backupAge,
          threshold: `last success older than ${humanDuration(b.rpoSeconds)} (the RPO)`,
          area: 'backup',
          severity: 'critical',
          // A run may take up to its deadline: the age passes the RPO briefly before each success.
          forSeconds: b.runSeconds,
          expr: promql`${rec.backupAge}{namespace="${ns}",job="${b.job}"} > ${b.rpoSeconds}`,
          summary: 'The last successful backup is older than the RPO',
          description: `The last {{ $labels.job }} success was {{ $value | humanizeDuration }} ago, more than the RPO of ${duration(b.rpoSeconds)}.`,
        },
        {
          alert: OUTAGE.backupJob,
          threshold: 'a Job of the backup CronJob failed',
          area: 'backup',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.ksmJobFailed}{namespace="${ns}",condition="true"} == 1 and on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ns}",owner_kind="CronJob",owner_name="${b.job}"}`,
          summary: 'A backup Job failed',
          description: `Job {{ $labels.job_name }} of CronJob ${b.job} failed after all its retries.`,
        },
        {
          alert: 'BackupCronJobSuspended',
          threshold: 'backup CronJob suspended',
          area: 'backup',
          severity: 'warning',
          // The restore runbook suspends it; longer than a restore takes means it was forgotten.
          forSeconds: restoreSeconds,
          expr: promql`${M.ksmCronJobSuspend}{namespace="${ns}",cronjob="${b.job}"} == 1`,
          summary: 'The backup CronJob has been suspended longer than a restore takes',
          description: `CronJob ${b.job} is suspended (for more than ${duration(restoreSeconds)}): no backups are taken.`,
        },
      ]),
    },
  ];
}

/** Cluster state of our namespace (kube-state-metrics) and volume growth (kubelet). */
function kubernetesGroup(ctx: AlertContext, rec: ReturnType<typeof recordings>): AlertGroup {
  const t = ctx.thresholds;
  const ns = labels({ namespace: ctx.namespace });
  const forS = t.forMinutes * 60;
  const backupJobs = (ctx.backups ?? []).map((b) => b.job);
  // Backup Jobs have their own (critical) alert.
  const notBackups = backupJobs.length
    ? promql` unless on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ctx.namespace}",owner_kind="CronJob",owner_name=~"${backupJobs.join('|')}"}`
    : '';
  const byName = (m: Expr | string, by: string) => promql`max by (namespace, ${by}) (${m})`;
  return {
    name: 'nextgen-kubernetes',
    records: [rec.quotaUsedRatio],
    rules: [
      {
        alert: 'KubePodCrashLooping',
        threshold: 'CrashLoopBackOff',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        // max_over_time: the waiting reason flips to "" between restarts.
        expr: promql`max_over_time(${M.ksmPodWaitingReason}{namespace="${ctx.namespace}",reason="CrashLoopBackOff"}[5m]) >= 1`,
        summary: 'A container is crash looping',
        description: '{{ $labels.pod }}/{{ $labels.container }} is in CrashLoopBackOff.',
      },
      {
        alert: 'KubeDeploymentReplicasUnavailable',
        threshold: 'unavailable replicas > 0',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${byName(promql`${M.ksmDeploymentUnavailable}${ns}`, 'deployment')} > 0`,
        summary: 'A Deployment has unavailable replicas',
        description: 'Deployment {{ $labels.deployment }} has {{ $value }} unavailable replica(s).',
      },
      {
        alert: 'KubeStatefulSetNotReady',
        threshold: 'ready < desired replicas',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${byName(promql`${M.ksmStatefulSetReady}${ns}`, 'statefulset')} < ${byName(promql`${M.ksmStatefulSetReplicas}${ns}`, 'statefulset')}`,
        summary: 'A StatefulSet has replicas that are not ready',
        description: 'StatefulSet {{ $labels.statefulset }} has {{ $value }} ready replica(s), fewer than desired.',
      },
      {
        alert: 'KubeHpaMaxedOut',
        threshold: 'current = max replicas',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: t.hpaAtMaxMinutes * 60,
        expr: promql`${byName(promql`${M.ksmHpaCurrent}${ns}`, 'horizontalpodautoscaler')} >= ${byName(promql`${M.ksmHpaMax}${ns}`, 'horizontalpodautoscaler')}`,
        summary: 'An autoscaler has run at its maximum replicas for long',
        description: `HPA {{ $labels.horizontalpodautoscaler }} has been at maxReplicas ({{ $value }}) for ${t.hpaAtMaxMinutes} min: raise the maximum or find the load.`,
      },
      {
        alert: 'KubeJobFailed',
        threshold: 'a Job failed',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: 60,
        expr: promql`${M.ksmJobFailed}{namespace="${ctx.namespace}",condition="true"} == 1 ${notBackups}`,
        summary: 'A Job failed',
        description: 'Job {{ $labels.job_name }} failed after all its retries.',
      },
      {
        alert: 'KubeVolumeFillingUp',
        threshold: `full within ${t.volumeFullWithinHours} h (trend of 6 h)`,
        area: 'kubernetes',
        severity: 'warning',
        // Extrapolations are noisy: the trend must hold for an hour (as kube-prometheus does).
        forSeconds: 3600,
        expr: promql`predict_linear(${M.volumeAvailable}${ns}[6h], ${t.volumeFullWithinHours * 3600}) < 0`,
        summary: 'A persistent volume is predicted to fill up',
        description: `At the rate of the last 6 hours, {{ $labels.persistentvolumeclaim }} is full within ${t.volumeFullWithinHours} h.`,
      },
      {
        alert: 'KubeQuotaAlmostFull',
        threshold: `> ${t.quotaPercent} % of a quota`,
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${rec.quotaUsedRatio}${ns} * 100 > ${t.quotaPercent}`,
        summary: 'The namespace quota is almost used up',
        description: `{{ $labels.resource }} of quota {{ $labels.resourcequota }} is {{ $value | humanize }}% used, above ${t.quotaPercent}%: the next pod or rollout may be refused.`,
      },
    ],
  };
}

/** Cluster add-ons this environment depends on: cert-manager and External Secrets. */
function platformGroups(ctx: AlertContext): AlertGroup[] {
  const t = ctx.thresholds;
  const rules: AlertRule[] = [];
  if (ctx.certificates) {
    rules.push({
      alert: 'CertificateExpiringSoon',
      threshold: `expires within ${t.certificateExpiryDays} days`,
      area: 'platform',
      severity: 'warning',
      forSeconds: t.forMinutes * 60,
      expr: promql`${M.certExpiry}{namespace="${ctx.namespace}"} - time() < ${t.certificateExpiryDays * 86400}`,
      summary: 'A TLS certificate expires soon (cert-manager did not renew it)',
      description: `Certificate {{ $labels.name }} expires in {{ $value | humanizeDuration }}, within ${t.certificateExpiryDays} days.`,
    });
  }
  if (ctx.externalSecrets) {
    rules.push({
      alert: 'ExternalSecretNotSynced',
      threshold: 'Ready = False',
      area: 'platform',
      severity: 'warning',
      forSeconds: t.forMinutes * 60,
      expr: promql`${M.externalSecretCondition}{namespace="${ctx.namespace}",condition="Ready",status="False"} == 1`,
      summary: 'An ExternalSecret cannot sync from the secret store',
      description: 'ExternalSecret {{ $labels.name }} is not Ready: its Secret keeps the last synced value (or does not exist).',
    });
  }
  return rules.length ? [{ name: 'nextgen-platform', rules }] : [];
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
