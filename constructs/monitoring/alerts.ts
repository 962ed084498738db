/**
 * Alert rules for the guide's "Key Metrics to Monitor", as typed data. Thresholds and the
 * `for:` duration come from the environment's `monitoring.thresholds`; every alert links its
 * runbook. Rules select by `namespace` (set by our scrape jobs and by the Prometheus
 * Operator alike), so the same rules work in standalone and operator mode. The backup,
 * cluster-state and add-on alerts are in `cluster-alerts.ts`; the rule model in `rule-model.ts`.
 */
import { M, recordings } from './catalog';
import { backupGroups, kubernetesGroup, platformGroups, replicationGroup } from './cluster-alerts';
import { duration, labels, promql } from './promql';
import { AlertContext, AlertGroup, AlertRule, OUTAGE } from './rule-model';
import { KUBELET_JOBS } from './scrape';

export * from './rule-model';

/**
 * `NextgenApiRequestRateLow`, decided by the environment's traffic assumption
 * (`monitoring.traffic.busyHoursUtc`): traffic expected at every hour makes too little an
 * outage (critical: a page); expected only in busy hours makes it a ticket (warning) inside
 * them, as quiet nights are normal; never expected means idle is normal and there is no alert
 * (an API that is gone still raises MetricsTargetDown and KubeDeploymentReplicasUnavailable).
 */
export function requestRateLow(ctx: AlertContext, reqRate: ReturnType<typeof promql>, forS: number): AlertRule[] {
  const t = ctx.thresholds;
  const traffic = ctx.traffic ?? 'never';
  if (traffic === 'never') return [];
  // `or vector(0)`: with no series at all (API gone) the rate is 0, not "no data".
  const low = promql`(${reqRate} or on() vector(0)) < ${t.minRequestsPerSecond}`;
  const hours = traffic === 'always' ? undefined : traffic;
  const inHours = hours
    ? hours.from < hours.to
      ? `hour() >= ${hours.from} and hour() < ${hours.to}`
      : `hour() >= ${hours.from} or hour() < ${hours.to}`
    : '';
  return [
    {
      alert: 'NextgenApiRequestRateLow',
      threshold: hours ? `< ${t.minRequestsPerSecond} req/s between ${hours.from}:00 and ${hours.to}:00 UTC` : `< ${t.minRequestsPerSecond} req/s at any hour`,
      area: 'api',
      severity: hours ? 'warning' : 'critical',
      forSeconds: forS,
      expr: hours ? promql`${low} and on() (${inHours})` : low,
      summary: 'The API serves almost no requests',
      description: `Request rate is {{ $value | humanize }} req/s, below ${t.minRequestsPerSecond} req/s${hours ? ' in busy hours' : ''}.`,
    },
  ];
}

/** Our batch clients' `application_name`s (pg_dump and pg_basebackup set their own). */
export const BATCH_CLIENTS = ['pg_dump', 'pg_basebackup', 'pg_receivewal'] as const;

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
        ...requestRateLow(ctx, reqRate, forS),
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
          // Not our own batch clients: a dump or base backup is one long transaction by design
          // (the hourly dump fired this every hour). The exporter labels sessions by
          // `application_name` (0.17; where the label is missing the matcher keeps everything).
          expr: promql`max by (namespace, instance, datname) (${M.pgMaxTxDuration}{namespace="${ctx.namespace}",state="active",application_name!~"${BATCH_CLIENTS.join('|')}"}) > ${t.dbActiveQuerySeconds}`,
          summary: 'A PostgreSQL query has been running for a long time',
          description: `The oldest active transaction in {{ $labels.datname }} is {{ $value | humanizeDuration }} old, above ${t.dbActiveQuerySeconds}s.`,
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
          // Only with enough lookups for a share to mean something: a quiet night's handful of
          // lookups made one miss look like a cold cache.
          expr: promql`sum(rate(${M.redisHits}${ns}[${w}])) / (sum(rate(${M.redisHits}${ns}[${w}])) + sum(rate(${M.redisMisses}${ns}[${w}]))) * 100 < ${t.redisHitRatePercent} and on() (sum(rate(${M.redisHits}${ns}[${w}])) + sum(rate(${M.redisMisses}${ns}[${w}]))) >= ${t.redisMinLookupsPerSecond}`,
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
    ...replicationGroup(ctx),
    ...backupGroups(ctx, rec),
    kubernetesGroup(ctx, rec),
    ...platformGroups(ctx),
  ];
}
