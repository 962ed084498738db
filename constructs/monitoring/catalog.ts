/**
 * Every metric the alert rules and dashboards read, by the name its exporter really exposes.
 *
 * `LIVE_SOURCES` are exporters the integration test runs against real servers (Debian's
 * postgres_exporter and redis_exporter against PostgreSQL and Redis, scraped by a real
 * Prometheus): each of their metrics here is proven to exist. The backup's own metrics are
 * proven by the live backup-metrics test (`LIVE_ELSEWHERE`). kube-state-metrics, cert-manager
 * and External Secrets cannot run here: their metrics are `DOCUMENTED` with labels and the
 * documentation page of the pinned version. The rest come from sources that cannot run in CI;
 * they are listed in `NOT_RUNNABLE_IN_CI` with the reason. All are covered by
 * `promtool test rules`.
 */
import { Metric, MetricSource, Recorded, promql } from './promql';
import { catalog, splitRef } from '../../environments/shared/versions';

export const M = {
  // The API (prom-client defaults, the names the deployment guide uses).
  httpRequests: new Metric('http_requests_total', 'nextgen-api', 'Requests served, by method, route and `status`.'),
  httpDurationBucket: new Metric('http_request_duration_seconds_bucket', 'nextgen-api', 'Request latency histogram buckets (`le`).'),

  // postgres_exporter.
  pgUp: new Metric('pg_up', 'postgres_exporter', '1 when the exporter could connect to PostgreSQL.'),
  pgBackends: new Metric('pg_stat_database_numbackends', 'postgres_exporter', 'Open connections per database (`datname`).'),
  pgMaxConnections: new Metric('pg_settings_max_connections', 'postgres_exporter', 'The `max_connections` setting.'),
  pgActivityCount: new Metric('pg_stat_activity_count', 'postgres_exporter', 'Connections per database and `state`.'),
  // Query time: the age of the oldest open transaction per state. pg_stat_statements (mean
  // time per statement) needs the extension preloaded and the exporter's opt-in collector.
  pgMaxTxDuration: new Metric('pg_stat_activity_max_tx_duration', 'postgres_exporter', 'Age in seconds of the oldest transaction per `state`.'),
  pgXactCommit: new Metric('pg_stat_database_xact_commit', 'postgres_exporter', 'Committed transactions (counter).'),
  pgXactRollback: new Metric('pg_stat_database_xact_rollback', 'postgres_exporter', 'Rolled back transactions (counter).'),
  pgBlksHit: new Metric('pg_stat_database_blks_hit', 'postgres_exporter', 'Buffer cache hits (counter).'),
  pgBlksRead: new Metric('pg_stat_database_blks_read', 'postgres_exporter', 'Blocks read from disk (counter).'),
  pgDatabaseSize: new Metric('pg_database_size_bytes', 'postgres_exporter', 'Database size on disk.'),
  pgDeadlocks: new Metric('pg_stat_database_deadlocks', 'postgres_exporter', 'Deadlocks detected (counter).'),
  // The `replication` collector (postgres_exporter >= 0.13, on by default in the pinned image).
  pgReplicationLag: new Metric('pg_replication_lag_seconds', 'postgres_exporter', 'Seconds since the last replayed transaction on a standby.'),
  pgIsReplica: new Metric('pg_replication_is_replica', 'postgres_exporter', '1 on a standby.'),

  // Our own postgres_exporter queries (constructs/postgres/exporter-queries.ts): the built-in
  // `pg_replication_lag_seconds` is 0 on a standby that is disconnected or whose replay has
  // stopped, so standby health is read from the slot (primary) and the WAL receiver (standby).
  pgSlotActive: new Metric('nextgen_pg_slot_active', 'nextgen-pg-queries', '1 while a client streams through the replication slot (`slot_name`), on the primary.'),
  pgSlotLost: new Metric('nextgen_pg_slot_lost', 'nextgen-pg-queries', '1 when the slot\'s `wal_status` is `lost`: WAL its client needs is gone.'),
  pgSlotRetainedBytes: new Metric('nextgen_pg_slot_retained_bytes', 'nextgen-pg-queries', 'WAL bytes the primary keeps for the slot (current LSN - restart_lsn).'),
  pgRecoveryStreaming: new Metric('nextgen_pg_recovery_receiver_streaming', 'nextgen-pg-queries', '1 while the WAL receiver of a standby streams from the primary (0 on a primary).'),
  pgRecoveryReplayBehindBytes: new Metric('nextgen_pg_recovery_replay_behind_bytes', 'nextgen-pg-queries', 'Received but not yet replayed WAL on a standby.'),
  pgRecoveryReplayedBytes: new Metric('nextgen_pg_recovery_replayed_bytes', 'nextgen-pg-queries', 'Replay position of a standby (LSN as bytes; grows while replay runs).'),
  pgRecoveryLag: new Metric('nextgen_pg_recovery_lag_seconds', 'nextgen-pg-queries', 'Age of the last replayed transaction while received WAL waits for replay (0 when caught up).'),
  pgRecoveryInRecovery: new Metric('nextgen_pg_recovery_in_recovery', 'nextgen-pg-queries', '1 on a standby.'),

  // redis_exporter.
  redisUp: new Metric('redis_up', 'redis_exporter', '1 when the exporter could reach Redis.'),
  redisHits: new Metric('redis_keyspace_hits_total', 'redis_exporter', 'Successful key lookups (counter).'),
  redisMisses: new Metric('redis_keyspace_misses_total', 'redis_exporter', 'Failed key lookups (counter).'),
  redisMemoryUsed: new Metric('redis_memory_used_bytes', 'redis_exporter', 'Memory allocated by Redis.'),
  redisMemoryMax: new Metric('redis_memory_max_bytes', 'redis_exporter', 'The `maxmemory` setting (0 = unlimited).'),
  redisClients: new Metric('redis_connected_clients', 'redis_exporter', 'Client connections.'),
  redisEvicted: new Metric('redis_evicted_keys_total', 'redis_exporter', 'Keys evicted by maxmemory (counter).'),

  // kubelet's embedded cAdvisor (`/metrics/cadvisor`).
  cpuUsage: new Metric('container_cpu_usage_seconds_total', 'kubelet-cadvisor', 'CPU time used per container (counter).'),
  cpuQuota: new Metric('container_spec_cpu_quota', 'kubelet-cadvisor', 'CFS quota per period: the CPU limit in microseconds.'),
  cpuPeriod: new Metric('container_spec_cpu_period', 'kubelet-cadvisor', 'CFS period in microseconds.'),
  // The working set is what the OOM killer compares to the limit (usage_bytes includes page cache).
  memoryWorkingSet: new Metric('container_memory_working_set_bytes', 'kubelet-cadvisor', 'Working set memory per container.'),
  memoryLimit: new Metric('container_spec_memory_limit_bytes', 'kubelet-cadvisor', 'Memory limit per container (0 = none).'),

  // kubelet `/metrics`: free space on our PersistentVolumes. node_filesystem_* (the guide)
  // needs node_exporter on every node, which this namespace does not run.
  volumeAvailable: new Metric('kubelet_volume_stats_available_bytes', 'kubelet', 'Free bytes per PersistentVolumeClaim.'),
  volumeCapacity: new Metric('kubelet_volume_stats_capacity_bytes', 'kubelet', 'Capacity per PersistentVolumeClaim.'),

  // Prometheus itself, for every target.
  up: new Metric('up', 'prometheus', '1 when the last scrape of a target succeeded.'),

  // kube-state-metrics (names and labels: DOCUMENTED below, at KSM_VERSION).
  ksmPodWaitingReason: new Metric('kube_pod_container_status_waiting_reason', 'kube-state-metrics', '1 while a container waits, by `reason` (CrashLoopBackOff...).'),
  ksmPodRestarts: new Metric('kube_pod_container_status_restarts_total', 'kube-state-metrics', 'Container restarts (counter).'),
  ksmPodPhase: new Metric('kube_pod_status_phase', 'kube-state-metrics', '1 for the `phase` a pod is in.'),
  ksmDeploymentReplicas: new Metric('kube_deployment_spec_replicas', 'kube-state-metrics', 'Desired replicas of a Deployment.'),
  ksmDeploymentAvailable: new Metric('kube_deployment_status_replicas_available', 'kube-state-metrics', 'Available replicas of a Deployment.'),
  ksmDeploymentUnavailable: new Metric('kube_deployment_status_replicas_unavailable', 'kube-state-metrics', 'Unavailable replicas of a Deployment.'),
  ksmStatefulSetReplicas: new Metric('kube_statefulset_replicas', 'kube-state-metrics', 'Desired replicas of a StatefulSet.'),
  ksmStatefulSetReady: new Metric('kube_statefulset_status_replicas_ready', 'kube-state-metrics', 'Ready replicas of a StatefulSet.'),
  ksmHpaMax: new Metric('kube_horizontalpodautoscaler_spec_max_replicas', 'kube-state-metrics', 'maxReplicas of an HPA.'),
  ksmHpaCurrent: new Metric('kube_horizontalpodautoscaler_status_current_replicas', 'kube-state-metrics', 'Current replicas of an HPA.'),
  ksmJobFailed: new Metric('kube_job_failed', 'kube-state-metrics', '1 when a Job has the Failed `condition`.'),
  ksmJobOwner: new Metric('kube_job_owner', 'kube-state-metrics', "A Job's owner (`owner_kind`, `owner_name`): the CronJob that created it."),
  ksmCronJobSuspend: new Metric('kube_cronjob_spec_suspend', 'kube-state-metrics', '1 while a CronJob is suspended.'),
  ksmResourceQuota: new Metric('kube_resourcequota', 'kube-state-metrics', 'ResourceQuota `hard` and `used` per `resource` (`type`).'),

  // Cluster add-ons' own metrics.
  certExpiry: new Metric('certmanager_certificate_expiration_timestamp_seconds', 'cert-manager', 'When a Certificate expires (Unix time), by `name` and `namespace`.'),
  externalSecretCondition: new Metric('externalsecret_status_condition', 'external-secrets', 'ExternalSecret conditions: 1 for the current `condition`/`status` pair.'),

  // Pushed by the backup Job itself (constructs/postgres/push-metrics.sh) to the Pushgateway.
  backupLastSuccess: new Metric('nextgen_backup_last_success_timestamp_seconds', 'nextgen-backup', 'When the last backup that reached S3 finished (Unix time).'),
  backupDuration: new Metric('nextgen_backup_duration_seconds', 'nextgen-backup', 'Wall time of the last successful backup, dump start to upload end.'),
  backupSize: new Metric('nextgen_backup_size_bytes', 'nextgen-backup', 'Size of the last uploaded backup.'),
  // Pushed by the WAL uploader (constructs/postgres/wal-archive.sh) after every round without an error.
  walUploadLastSuccess: new Metric('nextgen_wal_upload_last_success_timestamp_seconds', 'nextgen-backup', 'When the WAL uploader last finished a round without an error (Unix time).'),
} as const;

/**
 * Recording rules: series shared by an alert and a dashboard panel. Each reads one namespace,
 * so the rules of several environments can share a cluster Prometheus (operator mode)
 * without writing the same series twice.
 */
export function recordings(namespace: string) {
  const ns = `namespace="${namespace}"`;
  return {
    backupAge: new Recorded(
      'namespace_job:nextgen_backup_age_seconds',
      promql`time() - max by (namespace, job) (${M.backupLastSuccess}{${ns}})`,
      'Seconds since the last successful backup, per backup job.',
    ),
    quotaUsedRatio: new Recorded(
      'namespace_resourcequota_resource:kube_resourcequota_used:ratio',
      promql`max by (namespace, resourcequota, resource) (${M.ksmResourceQuota}{${ns},type="used"}) / max by (namespace, resourcequota, resource) (${M.ksmResourceQuota}{${ns},type="hard"} > 0)`,
      'Fraction of each ResourceQuota resource in use.',
    ),
  } as const;
}

/** The kube-state-metrics release the image pins (the version catalog) and the documentation below cites. */
export const KSM_VERSION = splitRef(catalog.images.kubeStateMetrics.ref).tag;

const ksmDoc = (file: string) => `https://github.com/kubernetes/kube-state-metrics/blob/${KSM_VERSION}/docs/metrics/${file}`;

/**
 * Metrics of exporters that do not run beside the unit tests, each with the labels our rules
 * read and the documentation page that names them. kube-state-metrics runs at the catalog's
 * version in the simulated cluster (test/cluster/run.ts), where every one of its metrics here
 * must have series carrying these labels; the cluster add-ons' (cert-manager, External Secrets)
 * come from their documentation. `resource` is the kube-state-metrics collector
 * (`--resources`) that exposes it: the Deployment's flag and its RBAC are derived from this list.
 */
export const DOCUMENTED: ReadonlyArray<{ metric: Metric; labels: readonly string[]; doc: string; resource?: string }> = [
  { metric: M.ksmPodWaitingReason, labels: ['namespace', 'pod', 'uid', 'container', 'reason'], doc: ksmDoc('workload/pod-metrics.md'), resource: 'pods' },
  { metric: M.ksmPodRestarts, labels: ['namespace', 'pod', 'uid', 'container'], doc: ksmDoc('workload/pod-metrics.md'), resource: 'pods' },
  { metric: M.ksmPodPhase, labels: ['namespace', 'pod', 'uid', 'phase'], doc: ksmDoc('workload/pod-metrics.md'), resource: 'pods' },
  { metric: M.ksmDeploymentReplicas, labels: ['namespace', 'deployment'], doc: ksmDoc('workload/deployment-metrics.md'), resource: 'deployments' },
  { metric: M.ksmDeploymentAvailable, labels: ['namespace', 'deployment'], doc: ksmDoc('workload/deployment-metrics.md'), resource: 'deployments' },
  { metric: M.ksmDeploymentUnavailable, labels: ['namespace', 'deployment'], doc: ksmDoc('workload/deployment-metrics.md'), resource: 'deployments' },
  { metric: M.ksmStatefulSetReplicas, labels: ['namespace', 'statefulset'], doc: ksmDoc('workload/statefulset-metrics.md'), resource: 'statefulsets' },
  { metric: M.ksmStatefulSetReady, labels: ['namespace', 'statefulset'], doc: ksmDoc('workload/statefulset-metrics.md'), resource: 'statefulsets' },
  { metric: M.ksmHpaMax, labels: ['namespace', 'horizontalpodautoscaler'], doc: ksmDoc('workload/horizontalpodautoscaler-metrics.md'), resource: 'horizontalpodautoscalers' },
  { metric: M.ksmHpaCurrent, labels: ['namespace', 'horizontalpodautoscaler'], doc: ksmDoc('workload/horizontalpodautoscaler-metrics.md'), resource: 'horizontalpodautoscalers' },
  { metric: M.ksmJobFailed, labels: ['namespace', 'job_name', 'condition'], doc: ksmDoc('workload/job-metrics.md'), resource: 'jobs' },
  { metric: M.ksmJobOwner, labels: ['namespace', 'job_name', 'owner_kind', 'owner_name', 'owner_is_controller'], doc: ksmDoc('workload/job-metrics.md'), resource: 'jobs' },
  { metric: M.ksmCronJobSuspend, labels: ['namespace', 'cronjob'], doc: ksmDoc('workload/cronjob-metrics.md'), resource: 'cronjobs' },
  { metric: M.ksmResourceQuota, labels: ['namespace', 'resourcequota', 'resource', 'type'], doc: ksmDoc('policy/resourcequota-metrics.md'), resource: 'resourcequotas' },
  {
    metric: M.certExpiry,
    labels: ['name', 'namespace', 'issuer_name', 'issuer_kind', 'issuer_group'],
    doc: 'https://cert-manager.io/docs/devops-tips/prometheus-metrics/ (cert-manager v1.15)',
  },
  { metric: M.externalSecretCondition, labels: ['name', 'namespace', 'condition', 'status'], doc: 'https://external-secrets.io/v0.10.0/api/metrics/' },
];

/** The kube-state-metrics collectors our rules and dashboards need, sorted. */
export function ksmResources(): string[] {
  return [...new Set(DOCUMENTED.flatMap((d) => (d.resource ? [d.resource] : [])))].sort();
}

/** Exporters the integration test runs for real. */
export const LIVE_SOURCES: ReadonlySet<MetricSource> = new Set(['postgres_exporter', 'redis_exporter', 'prometheus']);

/**
 * Sources proven by other live tests: the backup metrics by the shipped backup script
 * pushing to a real Pushgateway scraped by a real Prometheus (test/integration/backup-metrics.test.ts);
 * our exporter queries by the real postgres_exporter against a real primary and standby
 * (test/integration/replication-metrics.test.ts).
 */
export const LIVE_ELSEWHERE: ReadonlySet<MetricSource> = new Set(['nextgen-backup', 'nextgen-pg-queries']);

/**
 * Metrics whose source cannot run in CI, and why. Tested through `promtool test rules` on
 * synthetic series only.
 */
export const NOT_RUNNABLE_IN_CI: ReadonlyArray<{ metric: Metric; reason: string }> = [
  ...[M.httpRequests, M.httpDurationBucket].map((metric) => ({
    metric,
    reason: 'exposed by the NextGen API image (prom-client), which is not available to CI',
  })),
  ...[M.cpuUsage, M.cpuQuota, M.cpuPeriod, M.memoryWorkingSet, M.memoryLimit].map((metric) => ({
    metric,
    reason: "cAdvisor inside the kubelet: needs a Kubernetes node",
  })),
  ...[M.volumeAvailable, M.volumeCapacity].map((metric) => ({ metric, reason: 'kubelet volume stats: needs a Kubernetes node' })),
];
