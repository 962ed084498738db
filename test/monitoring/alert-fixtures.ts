/**
 * Synthetic series for every alert (`FIXTURES`): above and below its threshold, shared by the
 * rule-shape tests (alerts.test.ts) and the `promtool test rules` run (alerts.int.test.ts).
 */
import type { Environment, Thresholds } from '../../environments/schema';
import type { AlertRule } from '../../constructs/monitoring/alerts';
import { maxSlotWalKeepBytes } from '../../constructs/postgres/config';

export const STEP = 30; // seconds between synthetic samples

/** A counter rising at `perSecond`, `n` samples. */
export const counter = (perSecond: number, n: number) => `0+${perSecond * STEP}x${n}`;
/** A constant gauge, `n` samples. */
export const gauge = (v: number, n: number) => `${v}+0x${n}`;
/** A value clearly above a percentage threshold, and one clearly below. */
export const above = (pct: number) => pct + (100 - pct) / 2;
export const below = (pct: number) => pct / 2;

export type Series = Array<{ series: string; values: string }>;
export interface Fixture {
  fire: (t: Thresholds, ns: string, n: number, env: Environment, rule: AlertRule) => Series;
  quiet: (t: Thresholds, ns: string, n: number, env: Environment, rule: AlertRule) => Series;
}

export const sel = (ns: string, extra: Record<string, string> = {}) =>
  `{${Object.entries({ namespace: ns, instance: 'x:1', ...extra }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
export const container = (ns: string) => sel(ns, { pod: 'p-0', container: 'c' });

export function requests(ns: string, n: number, total: number, errorPct: number): Series {
  return [
    { series: `http_requests_total${sel(ns, { status: '200' })}`, values: counter((total * (100 - errorPct)) / 100, n) },
    { series: `http_requests_total${sel(ns, { status: '503' })}`, values: counter((total * errorPct) / 100, n) },
  ];
}
export function latency(ns: string, n: number, p99: number, fast: boolean): Series {
  // Buckets at p/4, 4p and +Inf; all 10 req/s fall below p/4 (fast) or between p/4 and 4p (slow).
  return [
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: String(p99 / 4) })}`, values: counter(fast ? 10 : 0, n) },
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: String(p99 * 4) })}`, values: counter(10, n) },
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: '+Inf' })}`, values: counter(10, n) },
  ];
}
export const ratio = (num: string, den: string, ns: string, n: number, pct: number, extra = sel(ns)): Series => [
  { series: `${num}${extra}`, values: gauge(pct, n) },
  { series: `${den}${extra}`, values: gauge(100, n) },
];
export function cpu(ns: string, n: number, pct: number): Series {
  return [
    { series: `container_cpu_usage_seconds_total${container(ns)}`, values: counter(pct / 100, n) },
    { series: `container_spec_cpu_quota${container(ns)}`, values: gauge(100000, n) },
    { series: `container_spec_cpu_period${container(ns)}`, values: gauge(100000, n) },
  ];
}
export function redisHits(ns: string, n: number, hitPct: number): Series {
  return [
    { series: `redis_keyspace_hits_total${sel(ns)}`, values: counter(hitPct, n) },
    { series: `redis_keyspace_misses_total${sel(ns)}`, values: counter(100 - hitPct, n) },
  ];
}

/** One firing and one quiet case per alert. Adding an alert without a fixture fails a test. */
export const FIXTURES: Record<string, Fixture> = {
  NextgenApiRequestRateLow: {
    fire: (t, ns, n) => requests(ns, n, t.minRequestsPerSecond / 2, 0),
    quiet: (t, ns, n) => requests(ns, n, t.minRequestsPerSecond * 2 + 1, 0),
  },
  NextgenApiHighLatencyP99: {
    fire: (t, ns, n) => latency(ns, n, t.p99LatencySeconds, false),
    quiet: (t, ns, n) => latency(ns, n, t.p99LatencySeconds, true),
  },
  NextgenApiHighErrorRate: {
    fire: (t, ns, n) => requests(ns, n, 10, above(t.errorRatePercent)),
    quiet: (t, ns, n) => requests(ns, n, 10, below(t.errorRatePercent)),
  },
  PostgresDown: {
    fire: (_t, ns, n) => [{ series: `pg_up${sel(ns)}`, values: gauge(0, n) }],
    quiet: (_t, ns, n) => [{ series: `pg_up${sel(ns)}`, values: gauge(1, n) }],
  },
  PostgresConnectionsHigh: {
    fire: (t, ns, n) => ratio('pg_stat_database_numbackends', 'pg_settings_max_connections', ns, n, above(t.dbConnectionsPercent)),
    quiet: (t, ns, n) => ratio('pg_stat_database_numbackends', 'pg_settings_max_connections', ns, n, below(t.dbConnectionsPercent)),
  },
  PostgresLongRunningQuery: {
    fire: (t, ns, n) => [{ series: `pg_stat_activity_max_tx_duration${sel(ns, { datname: 'app', state: 'active' })}`, values: gauge(t.dbActiveQuerySeconds * 2, n) }],
    // An idle-in-transaction session is not a running query.
    quiet: (t, ns, n) => [
      { series: `pg_stat_activity_max_tx_duration${sel(ns, { datname: 'app', state: 'active' })}`, values: gauge(t.dbActiveQuerySeconds / 2, n) },
      { series: `pg_stat_activity_max_tx_duration${sel(ns, { datname: 'app', state: 'idle' })}`, values: gauge(t.dbActiveQuerySeconds * 2, n) },
    ],
  },
  PostgresReplicationLagHigh: {
    fire: (t, ns, n) => [
      { series: `nextgen_pg_recovery_lag_seconds${sel(ns)}`, values: gauge(t.replicationLagSeconds * 2, n) },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) },
    ],
    quiet: (t, ns, n) => [
      { series: `nextgen_pg_recovery_lag_seconds${sel(ns)}`, values: gauge(t.replicationLagSeconds / 2, n) },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) },
    ],
  },
  PostgresStandbyNotStreaming: {
    fire: (_t, ns, n) => [{ series: `nextgen_pg_recovery_receiver_streaming${sel(ns)}`, values: gauge(0, n) }, { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) }],
    // A primary has no WAL receiver: not streaming there is normal.
    quiet: (_t, ns, n) => [
      { series: `nextgen_pg_recovery_receiver_streaming${sel(ns)}`, values: gauge(1, n) },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) },
      { series: `nextgen_pg_recovery_receiver_streaming${sel(ns, { instance: 'primary:1' })}`, values: gauge(0, n) },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns, { instance: 'primary:1' })}`, values: gauge(0, n) },
    ],
  },
  PostgresStandbyReplayStopped: {
    fire: (_t, ns, n) => [
      { series: `nextgen_pg_recovery_replay_behind_bytes${sel(ns)}`, values: gauge(1e6, n) },
      { series: `nextgen_pg_recovery_replayed_bytes${sel(ns)}`, values: gauge(5e9, n) },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) },
    ],
    quiet: (_t, ns, n) => [
      { series: `nextgen_pg_recovery_replay_behind_bytes${sel(ns)}`, values: gauge(1e6, n) },
      { series: `nextgen_pg_recovery_replayed_bytes${sel(ns)}`, values: `5000000000+65536x${n}` },
      { series: `nextgen_pg_recovery_in_recovery${sel(ns)}`, values: gauge(1, n) },
    ],
  },
  PostgresReplicationSlotInactive: {
    fire: (_t, ns, n) => [{ series: `nextgen_pg_slot_active${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(0, n) }],
    quiet: (_t, ns, n) => [{ series: `nextgen_pg_slot_active${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(1, n) }],
  },
  PostgresReplicationSlotLost: {
    fire: (_t, ns, n) => [{ series: `nextgen_pg_slot_lost${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(1, n) }],
    quiet: (_t, ns, n) => [{ series: `nextgen_pg_slot_lost${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(0, n) }],
  },
  PostgresReplicationSlotRetainingWal: {
    fire: (_t, ns, n, env) => [{ series: `nextgen_pg_slot_retained_bytes${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(maxSlotWalKeepBytes(env.postgres.storage.sizeGiB) * 0.9, n) }],
    quiet: (_t, ns, n, env) => [{ series: `nextgen_pg_slot_retained_bytes${sel(ns, { slot_name: 'postgres_standby' })}`, values: gauge(maxSlotWalKeepBytes(env.postgres.storage.sizeGiB) * 0.1, n) }],
  },
  ContainerCpuNearLimit: {
    fire: (t, ns, n) => cpu(ns, n, above(t.cpuPercentOfLimit)),
    quiet: (t, ns, n) => cpu(ns, n, below(t.cpuPercentOfLimit)),
  },
  ContainerMemoryNearLimit: {
    fire: (t, ns, n) => ratio('container_memory_working_set_bytes', 'container_spec_memory_limit_bytes', ns, n, above(t.memoryPercentOfLimit), container(ns)),
    quiet: (t, ns, n) => ratio('container_memory_working_set_bytes', 'container_spec_memory_limit_bytes', ns, n, below(t.memoryPercentOfLimit), container(ns)),
  },
  VolumeSpaceLow: {
    fire: (t, ns, n) => ratio('kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes', ns, n, below(t.diskFreePercent), sel(ns, { persistentvolumeclaim: 'data' })),
    quiet: (t, ns, n) => ratio('kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes', ns, n, above(t.diskFreePercent), sel(ns, { persistentvolumeclaim: 'data' })),
  },
  RedisDown: {
    fire: (_t, ns, n) => [{ series: `redis_up${sel(ns)}`, values: gauge(0, n) }],
    quiet: (_t, ns, n) => [{ series: `redis_up${sel(ns)}`, values: gauge(1, n) }],
  },
  RedisHitRateLow: {
    fire: (t, ns, n) => redisHits(ns, n, below(t.redisHitRatePercent)),
    quiet: (t, ns, n) => redisHits(ns, n, above(t.redisHitRatePercent)),
  },
  RedisMemoryHigh: {
    fire: (t, ns, n) => ratio('redis_memory_used_bytes', 'redis_memory_max_bytes', ns, n, above(t.redisMemoryPercent)),
    quiet: (t, ns, n) => ratio('redis_memory_used_bytes', 'redis_memory_max_bytes', ns, n, below(t.redisMemoryPercent)),
  },
  MetricsTargetDown: {
    fire: (_t, ns, n) => [{ series: `up${sel(ns, { job: 'postgres' })}`, values: gauge(0, n) }],
    quiet: (_t, ns, n) => [{ series: `up${sel(ns, { job: 'postgres' })}`, values: gauge(1, n) }],
  },
  NodeUnreachable: {
    fire: (_t, _ns, n) => [{ series: kubelet('node-a'), values: gauge(0, n) }, { series: kubelet('node-b'), values: gauge(1, n) }],
    quiet: (_t, _ns, n) => [{ series: kubelet('node-a'), values: gauge(1, n) }, { series: kubelet('node-b'), values: gauge(1, n) }],
  },

  // Pushed by the backup (labels as the Pushgateway exposes them: grouping key job, instance="").
  BackupTooOld: {
    // The last success is already older than the schedule's gap plus a run, and stays so.
    fire: (_t, ns, n, env, rule) => [{ series: backupSeries(ns, rule), values: `${-(backupLimit(env, rule) + 600)}+0x${n}` }],
    // A backup every sample: the last success is never older than one step.
    quiet: (_t, ns, n, _env, rule) => [{ series: backupSeries(ns, rule), values: `${-STEP}+${STEP}x${n}` }],
  },
  BackupMissing: {
    // Only the other backup reports.
    fire: (_t, ns, n) => [{ series: backupSeries(ns, undefined, 'other-backup'), values: `0+${STEP}x${n}` }],
    quiet: (_t, ns, n, _env, rule) => [{ series: backupSeries(ns, rule), values: `0+${STEP}x${n}` }],
  },
  WalArchiveUploadStale: {
    // Older than the rule's own limit (RPO-derived, so it differs per environment); for the
    // never-reported rule, no report at all.
    fire: (_t, ns, n, _e, rule) =>
      /^absent\(/.test(rule.expr.text)
        ? [{ series: `nextgen_wal_upload_last_success_timestamp_seconds{namespace="${ns}",job="other",instance=""}`, values: `0+${STEP}x${n}` }]
        : [{ series: `nextgen_wal_upload_last_success_timestamp_seconds{namespace="${ns}",job="postgres-wal-archive",instance=""}`, values: gauge(-(Number(/> (\d+)$/.exec(rule.expr.text)![1]) + 600), n) }],
    quiet: (_t, ns, n) => [{ series: `nextgen_wal_upload_last_success_timestamp_seconds{namespace="${ns}",job="postgres-wal-archive",instance=""}`, values: `0+${STEP}x${n}` }],
  },
  WalArchiverCrashLooping: {
    fire: (_t, ns, n) => [{ series: `kube_pod_container_status_restarts_total${ksm(ns, { pod: 'postgres-wal-archive-7f9c', uid: 'u', container: 'upload' })}`, values: `0+1x${n}` }],
    quiet: (_t, ns, n) => [{ series: `kube_pod_container_status_restarts_total${ksm(ns, { pod: 'postgres-wal-archive-7f9c', uid: 'u', container: 'upload' })}`, values: gauge(1, n) }],
  },

  // kube-state-metrics series, with the labels its documentation lists (catalog DOCUMENTED; the simulated cluster checks them on the live release).
  BackupJobFailed: {
    fire: (_t, ns, n, _e, rule) => failedJob(ns, n, `${backupOf(rule)}-29410000`, backupOf(rule), 1),
    quiet: (_t, ns, n, _e, rule) => failedJob(ns, n, `${backupOf(rule)}-29410000`, backupOf(rule), 0),
  },
  BackupCronJobSuspended: {
    fire: (_t, ns, n, _e, rule) => [{ series: `kube_cronjob_spec_suspend${ksm(ns, { cronjob: backupOf(rule) })}`, values: gauge(1, n) }],
    quiet: (_t, ns, n, _e, rule) => [{ series: `kube_cronjob_spec_suspend${ksm(ns, { cronjob: backupOf(rule) })}`, values: gauge(0, n) }],
  },
  KubePodCrashLooping: {
    fire: (_t, ns, n) => [{ series: `kube_pod_container_status_waiting_reason${ksm(ns, { ...podLabels, reason: 'CrashLoopBackOff' })}`, values: gauge(1, n) }],
    quiet: (_t, ns, n) => [{ series: `kube_pod_container_status_waiting_reason${ksm(ns, { ...podLabels, reason: 'ContainerCreating' })}`, values: gauge(1, n) }],
  },
  KubeDeploymentReplicasUnavailable: {
    fire: (_t, ns, n) => [{ series: `kube_deployment_status_replicas_unavailable${ksm(ns, { deployment: 'nextgen-api' })}`, values: gauge(1, n) }],
    quiet: (_t, ns, n) => [{ series: `kube_deployment_status_replicas_unavailable${ksm(ns, { deployment: 'nextgen-api' })}`, values: gauge(0, n) }],
  },
  KubeStatefulSetNotReady: {
    fire: (_t, ns, n) => statefulSet(ns, n, 0, 1),
    quiet: (_t, ns, n) => statefulSet(ns, n, 1, 1),
  },
  KubeHpaMaxedOut: {
    fire: (_t, ns, n) => hpa(ns, n, 6, 6),
    quiet: (_t, ns, n) => hpa(ns, n, 5, 6),
  },
  KubeJobFailed: {
    fire: (_t, ns, n) => failedJob(ns, n, 'nextgen-migrate-92ccf149', undefined, 1),
    quiet: (_t, ns, n) => failedJob(ns, n, 'nextgen-migrate-92ccf149', undefined, 0),
  },
  KubeVolumeFillingUp: {
    // 1 GB free, falling to zero in half (fire) or twice (quiet) the prediction window.
    fire: (t, ns, n) => volumeTrend(ns, n, t.volumeFullWithinHours * 3600 * 0.5),
    quiet: (t, ns, n) => volumeTrend(ns, n, t.volumeFullWithinHours * 3600 * 2),
  },
  KubeQuotaAlmostFull: {
    fire: (t, ns, n) => quota(ns, n, above(t.quotaPercent)),
    quiet: (t, ns, n) => quota(ns, n, below(t.quotaPercent)),
  },

  // cert-manager: expiry as a Unix time; External Secrets: one series per condition/status.
  CertificateExpiringSoon: {
    fire: (t, ns, n) => [{ series: certSeries(ns), values: gauge(t.certificateExpiryDays * 86400 * 0.5, n) }],
    quiet: (t, ns, n) => [{ series: certSeries(ns), values: gauge(t.certificateExpiryDays * 86400 * 2, n) }],
  },
  ExternalSecretNotSynced: {
    fire: (_t, ns, n) => externalSecret(ns, n, false),
    quiet: (_t, ns, n) => externalSecret(ns, n, true),
  },
};

export function kubelet(node: string): string {
  return `up{job="kubelet",node="${node}",instance="${node}:10250"}`;
}
export const backupOf = (rule?: AlertRule) => rule?.labels?.backup ?? 'postgres-backup';
export function backupSeries(ns: string, rule?: AlertRule, job = backupOf(rule)): string {
  return `nextgen_backup_last_success_timestamp_seconds{namespace="${ns}",job="${job}",instance=""}`;
}
/** The age threshold of this rule's backup, from the rule's own expression. */
export const backupLimit = (_env: Environment, rule: AlertRule) => Number(/> (\d+)$/.exec(rule.expr.text)![1]);
/** kube-state-metrics' own target labels plus the object's. */
export const ksm = (ns: string, extra: Record<string, string>) =>
  `{${Object.entries({ job: 'kube-state-metrics', instance: '10.1.2.3:8080', namespace: ns, ...extra }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
export const podLabels = { pod: 'nextgen-api-6d4cf56db6-x7k2p', uid: 'a1b2', container: 'api' };
export function failedJob(ns: string, n: number, job: string, cronJob: string | undefined, failed: number): Series {
  return [
    { series: `kube_job_failed${ksm(ns, { job_name: job, condition: 'true' })}`, values: gauge(failed, n) },
    { series: `kube_job_failed${ksm(ns, { job_name: job, condition: 'false' })}`, values: gauge(1 - failed, n) },
    ...(cronJob
      ? [{ series: `kube_job_owner${ksm(ns, { job_name: job, owner_kind: 'CronJob', owner_name: cronJob, owner_is_controller: 'true' })}`, values: gauge(1, n) }]
      : [{ series: `kube_job_owner${ksm(ns, { job_name: job, owner_kind: '<none>', owner_name: '<none>', owner_is_controller: '<none>' })}`, values: gauge(1, n) }]),
  ];
}
export function statefulSet(ns: string, n: number, ready: number, desired: number): Series {
  return [
    { series: `kube_statefulset_status_replicas_ready${ksm(ns, { statefulset: 'postgres' })}`, values: gauge(ready, n) },
    { series: `kube_statefulset_replicas${ksm(ns, { statefulset: 'postgres' })}`, values: gauge(desired, n) },
  ];
}
export function hpa(ns: string, n: number, current: number, max: number): Series {
  return [
    { series: `kube_horizontalpodautoscaler_status_current_replicas${ksm(ns, { horizontalpodautoscaler: 'nextgen-api' })}`, values: gauge(current, n) },
    { series: `kube_horizontalpodautoscaler_spec_max_replicas${ksm(ns, { horizontalpodautoscaler: 'nextgen-api' })}`, values: gauge(max, n) },
  ];
}
export function volumeTrend(ns: string, n: number, secondsToEmpty: number): Series {
  const free = 1e9;
  return [
    { series: `kubelet_volume_stats_available_bytes${sel(ns, { persistentvolumeclaim: 'data-postgres-0' })}`, values: `${free}-${Math.round((free / secondsToEmpty) * STEP)}x${n}` },
    { series: `kubelet_volume_stats_capacity_bytes${sel(ns, { persistentvolumeclaim: 'data-postgres-0' })}`, values: gauge(2e9, n) },
  ];
}
export function quota(ns: string, n: number, pct: number): Series {
  const q = (type: string) => `kube_resourcequota${ksm(ns, { resourcequota: ns, resource: 'requests.cpu', type })}`;
  return [
    { series: q('hard'), values: gauge(16, n) },
    { series: q('used'), values: gauge((16 * pct) / 100, n) },
    // Another resource far from its limit does not matter.
    { series: `kube_resourcequota${ksm(ns, { resourcequota: ns, resource: 'pods', type: 'hard' })}`, values: gauge(40, n) },
    { series: `kube_resourcequota${ksm(ns, { resourcequota: ns, resource: 'pods', type: 'used' })}`, values: gauge(4, n) },
  ];
}
export function certSeries(ns: string): string {
  return `certmanager_certificate_expiration_timestamp_seconds{job="cert-manager",instance="cert-manager.cert-manager.svc:9402",namespace="${ns}",name="nextgen-api-tls",issuer_name="letsencrypt-prod",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}`;
}
export function externalSecret(ns: string, n: number, ready: boolean): Series {
  const s = (status: string) =>
    `externalsecret_status_condition{job="external-secrets",instance="external-secrets-metrics.external-secrets.svc:8080",namespace="${ns}",name="postgres-app",condition="Ready",status="${status}"}`;
  return [
    { series: s('True'), values: gauge(ready ? 1 : 0, n) },
    { series: s('False'), values: gauge(ready ? 0 : 1, n) },
  ];
}


