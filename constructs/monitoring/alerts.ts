/**
 * Alert rules for the guide's "Key Metrics to Monitor", as typed data. Thresholds and the
 * `for:` duration come from the environment's `monitoring.thresholds`; every alert links its
 * runbook. Rules select by `namespace` (set by our scrape jobs and by the Prometheus
 * Operator alike), so the same rules work in standalone and operator mode.
 */
import type { Thresholds } from '../../environments/schema';
import { M } from './catalog';
import { Expr, duration, labels, promql } from './promql';

export type Severity = 'critical' | 'warning';

export interface AlertRule {
  /** CamelCase alert name; also the runbook page name. */
  readonly alert: string;
  readonly expr: Expr;
  /** Seconds the condition must hold. */
  readonly forSeconds: number;
  readonly severity: Severity;
  /** Which of the guide's key metrics this watches. */
  readonly area: 'api' | 'database' | 'resources' | 'cache' | 'scraping';
  readonly summary: string;
  /** May use `{{ $value }}` and `{{ $labels.x }}`. */
  readonly description: string;
}

export interface AlertGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

export interface AlertContext {
  readonly namespace: string;
  readonly thresholds: Thresholds;
  /** Rate window, at least four scrape intervals. */
  readonly rateWindowSeconds: number;
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

  return [
    {
      name: 'nextgen-api',
      rules: [
        rule({
          alert: 'NextgenApiRequestRateLow',
          area: 'api',
          severity: 'critical',
          // `or vector(0)`: with no series at all (API gone) the rate is 0, not "no data".
          expr: promql`(${reqRate} or on() vector(0)) < ${t.minRequestsPerSecond}`,
          summary: 'The API serves almost no requests',
          description: `Request rate is {{ $value | humanize }} req/s, below ${t.minRequestsPerSecond} req/s.`,
        }),
        rule({
          alert: 'NextgenApiHighLatencyP99',
          area: 'api',
          severity: 'warning',
          expr: promql`histogram_quantile(0.99, sum by (le) (rate(${M.httpDurationBucket}${ns}[${w}]))) > ${t.p99LatencySeconds}`,
          summary: 'API p99 latency is high',
          description: `p99 latency is {{ $value | humanizeDuration }}, above ${t.p99LatencySeconds}s.`,
        }),
        rule({
          alert: 'NextgenApiHighErrorRate',
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
          alert: 'PostgresDown',
          area: 'database',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.pgUp}${ns} == 0`,
          summary: 'postgres_exporter cannot reach PostgreSQL',
          description: 'pg_up is 0 for {{ $labels.instance }}.',
        }),
        rule({
          alert: 'PostgresConnectionsHigh',
          area: 'database',
          severity: 'warning',
          expr: promql`sum by (namespace, instance) (${M.pgBackends}${ns}) / max by (namespace, instance) (${M.pgMaxConnections}${ns}) * 100 > ${t.dbConnectionsPercent}`,
          summary: 'PostgreSQL is running out of connections',
          description: `{{ $value | humanize }}% of max_connections in use, above ${t.dbConnectionsPercent}%.`,
        }),
        rule({
          alert: 'PostgresLongRunningQuery',
          area: 'database',
          severity: 'warning',
          expr: promql`max by (namespace, instance, datname) (${M.pgMaxTxDuration}{namespace="${ctx.namespace}",state="active"}) > ${t.dbActiveQuerySeconds}`,
          summary: 'A PostgreSQL query has been running for a long time',
          description: `The oldest active transaction in {{ $labels.datname }} is {{ $value | humanizeDuration }} old, above ${t.dbActiveQuerySeconds}s.`,
        }),
        rule({
          alert: 'PostgresReplicationLagHigh',
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
          area: 'resources',
          severity: 'warning',
          expr: promql`sum by (namespace, pod, container) (rate(${M.cpuUsage}${nsC}[${w}])) / sum by (namespace, pod, container) (${M.cpuQuota}${nsC} / ${M.cpuPeriod}${nsC}) * 100 > ${t.cpuPercentOfLimit}`,
          summary: 'A container uses most of its CPU limit (throttling)',
          description: `{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanize }}% of its CPU limit.`,
        }),
        rule({
          alert: 'ContainerMemoryNearLimit',
          area: 'resources',
          severity: 'warning',
          expr: promql`sum by (namespace, pod, container) (${M.memoryWorkingSet}${nsC}) / sum by (namespace, pod, container) (${M.memoryLimit}${nsC} > 0) * 100 > ${t.memoryPercentOfLimit}`,
          summary: 'A container is close to its memory limit (OOM kill)',
          description: `{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanize }}% of its memory limit.`,
        }),
        rule({
          alert: 'VolumeSpaceLow',
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
          alert: 'RedisDown',
          area: 'cache',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.redisUp}${ns} == 0`,
          summary: 'redis_exporter cannot reach Redis',
          description: 'redis_up is 0 for {{ $labels.instance }}.',
        }),
        rule({
          alert: 'RedisHitRateLow',
          area: 'cache',
          severity: 'warning',
          expr: promql`sum(rate(${M.redisHits}${ns}[${w}])) / (sum(rate(${M.redisHits}${ns}[${w}])) + sum(rate(${M.redisMisses}${ns}[${w}]))) * 100 < ${t.redisHitRatePercent}`,
          summary: 'The Redis cache hit rate is low',
          description: `Hit rate is {{ $value | humanize }}%, below ${t.redisHitRatePercent}%.`,
        }),
        rule({
          alert: 'RedisMemoryHigh',
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
          area: 'scraping',
          severity: 'warning',
          expr: promql`${M.up}${ns} == 0`,
          summary: 'Prometheus cannot scrape a target',
          description: 'Scrapes of {{ $labels.job }} at {{ $labels.instance }} fail.',
        }),
      ],
    },
  ];
}

/** The Prometheus rule-file object (`groups:`), shared by the ConfigMap and PrometheusRule. */
export function ruleFile(groups: AlertGroup[], runbookBaseUrl: string): { groups: unknown[] } {
  return {
    groups: groups.map((g) => ({
      name: g.name,
      rules: g.rules.map((r) => ({
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
    })),
  };
}
