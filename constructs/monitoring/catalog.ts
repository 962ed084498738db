/**
 * Every metric the alert rules and dashboards read, by the name its exporter really exposes.
 *
 * `LIVE_SOURCES` are exporters the integration test runs against real servers (Debian's
 * postgres_exporter and redis_exporter against PostgreSQL and Redis, scraped by a real
 * Prometheus): each of their metrics here is proven to exist. The others come from sources
 * that cannot run in CI; they are listed in `NOT_RUNNABLE_IN_CI` with the reason, and are
 * covered by `promtool test rules` only.
 */
import { Metric, MetricSource } from './promql';

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
} as const;

/** Exporters the integration test runs for real. */
export const LIVE_SOURCES: ReadonlySet<MetricSource> = new Set(['postgres_exporter', 'redis_exporter', 'prometheus']);

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
  ...[M.pgReplicationLag, M.pgIsReplica].map((metric) => ({
    metric,
    reason:
      "postgres_exporter's `replication` collector arrived in 0.13; the pinned image runs v0.17.1 but Debian's package in CI is 0.11.1",
  })),
];
