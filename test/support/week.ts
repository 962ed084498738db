/**
 * A normal week of an environment, as series for `promtool test rules`, and the failures that
 * break it. Sizes, limits and the dump schedule are the environment's (usage in proportion to
 * them, as production's: a data volume 40 % full, the API at half its memory limit). Every metric the shipped rules read has a normal-week story here (`NORMAL`),
 * and every alert a failure case (`FAILURES`); test/monitoring/week.int.test.ts fails when a
 * rule reads a metric without one, or an alert has no case.
 *
 * The week (t = 0 is 1970-01-01 00:00 UTC, one sample and one rule evaluation per minute, or
 * per scrape/evaluation interval when those are longer; the bounds add one of each):
 *   - traffic follows the day: busy from 07:00 to 22:00 UTC (up to 8 req/s), a quiet night
 *     at 0.03 req/s, 0.1 % errors, p99 well under a second;
 *   - the HPA scales the API from 3 to its maximum for 10 minutes at the daily peak, new pods
 *     are unavailable for a minute while they start;
 *   - a rolling update of the API on day 2 at 10:00 (one pod unavailable for 3 minutes, the
 *     request counters restart with the new pods);
 *   - each dump of the environment's schedule runs 4 minutes (its pg_dump is one long transaction), the nightly
 *     base backup at 01:30 runs 25 minutes and fills its scratch volume, the WAL uploader
 *     reports a good round every 15 s;
 *   - node-2 is drained on day 4 at 03:00: the standby and the WAL archiver move (3 minutes
 *     away; their slots are inactive meanwhile), the kubelet stays up;
 *   - the API certificate is renewed on day 5 (30 days before it expires, as cert-manager does).
 */
import { CronExpressionParser } from 'cron-parser';
import type { Environment } from '../../environments/schema';

export const MIN = 60;
export const HOUR = 3600;
export const DAY = 86400;
export const WEEK = 7 * DAY;

/** A series: labels and a value per sample time (seconds); undefined = no sample. */
export interface Series {
  readonly labels: Record<string, string>;
  readonly value: (t: number) => number | undefined;
}

export interface World {
  readonly env: Environment;
  readonly ns: string;
  /** Sample interval (the environment's scrape interval). */
  readonly step: number;
}

const hourOf = (t: number) => Math.floor((t % DAY) / HOUR);
const dayOf = (t: number) => Math.floor(t / DAY);

/** How long a normal dump runs (start to pushed success). */
export const DUMP_RUN = 4 * MIN;

/**
 * Start times (seconds of the simulated week, which begins 1970-01-01T00:00Z as promtool's clock
 * does) of the environment's dump CronJob, in its time zone, from a day before the week on.
 */
export function dumpStarts(env: Environment): number[] {
  const it = CronExpressionParser.parse(env.backup.schedule, { tz: env.backup.timeZone, currentDate: new Date(-DAY * 1000) });
  const out: number[] = [];
  for (let t = it.next().getTime() / 1000; t <= WEEK + DAY; t = it.next().getTime() / 1000) out.push(t);
  return out;
}

/** The last dump start at or before `t`, or undefined. */
function lastStart(starts: readonly number[], t: number): number | undefined {
  let lo = 0;
  let hi = starts.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= t) {
      found = starts[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Requests per second at time t: the day's curve. */
export function trafficRps(t: number): number {
  const h = (t % DAY) / HOUR;
  if (h < 7 || h >= 22) return 0.03;
  return 2 + 6 * Math.sin((Math.PI * (h - 7)) / 15);
}

/** Integral of a rate function from `from` (counter values, 0 at `from`), at multiples of `step`. */
export function counter(rate: (t: number) => number, step: number, from = 0): (t: number) => number {
  const values: number[] = [0];
  return (t: number) => {
    if (t <= from) return 0;
    const k = Math.round((t - from) / step);
    while (values.length <= k) {
      const i = values.length;
      values.push(values[i - 1] + rate(from + (i - 1) * step) * step);
    }
    return Math.round(values[k] * 1000) / 1000;
  };
}

/** Everything normal about the week; `f` lets a failure case replace a value from its break. */
export function normalWeek(w: World): Series[] {
  const { ns, step, env } = w;
  const s: Series[] = [];
  const add = (labels: Record<string, string>, value: (t: number) => number | undefined) => s.push({ labels: { namespace: ns, ...labels }, value });
  const ROLLOUT = 2 * DAY + 10 * HOUR;
  const DRAIN = 4 * DAY + 3 * HOUR;
  const drained = (t: number) => t >= DRAIN && t < DRAIN + 3 * MIN;
  const GiB = 1024 ** 3;

  // The API: two pod generations around the rolling update.
  for (const [pod, from, to] of [
    ['nextgen-api-a', 0, ROLLOUT],
    ['nextgen-api-b', ROLLOUT, Infinity],
  ] as const) {
    const inLife = (t: number) => t >= from && t < to;
    const total = counter((t) => trafficRps(t), step, from);
    const ok = (t: number) => (inLife(t) ? total(t) - Math.floor(total(t) / 1000) : undefined);
    const errors = (t: number) => (inLife(t) ? Math.floor(total(t) / 1000) : undefined);
    add({ __name__: 'http_requests_total', job: 'nextgen-api', pod, status: '200' }, ok);
    add({ __name__: 'http_requests_total', job: 'nextgen-api', pod, status: '500' }, errors);
    // prom-client's default buckets, from 0.1 s.
    for (const [le, share] of [['0.1', 0.9], ['0.25', 0.97], ['0.5', 0.995], ['1', 0.999], ['2.5', 1], ['5', 1], ['10', 1], ['+Inf', 1]] as const) {
      add({ __name__: 'http_request_duration_seconds_bucket', job: 'nextgen-api', pod, le }, (t) => (inLife(t) ? Math.floor(total(t) * share) : undefined));
    }
    add({ __name__: 'up', job: 'nextgen-api', instance: `${pod}:3000`, pod }, (t) => (inLife(t) ? 1 : undefined));
  }

  // PostgreSQL primary and standby (custom queries included), and their exporters.
  // Dumps run on the environment's schedule and take DUMP_RUN each.
  const starts = dumpStarts(env);
  const runningSince = (t: number) => {
    const s = lastStart(starts, t);
    return s !== undefined && t < s + DUMP_RUN ? s : undefined;
  };
  const dumpRunning = (t: number) => runningSince(t) !== undefined;
  for (const [job, instance, standby] of [
    ['postgres', '10.0.1.10:9187', false],
    ['postgres-standby', '10.0.2.11:9187', true],
  ] as const) {
    const gone = (t: number) => standby && drained(t);
    const inst = (t: number) => (standby && t >= DRAIN + 3 * MIN ? '10.0.3.12:9187' : instance);
    for (const i of standby ? [instance, '10.0.3.12:9187'] : [instance]) {
      const mine = (t: number) => !gone(t) && inst(t) === i;
      const g = (v: (t: number) => number) => (t: number) => (mine(t) ? v(t) : undefined);
      add({ __name__: 'up', job, instance: i }, g(() => 1));
      add({ __name__: 'pg_up', job, instance: i }, g(() => 1));
      add({ __name__: 'pg_stat_database_numbackends', job, instance: i, datname: env.postgres.database }, g((t) => (hourOf(t) >= 7 && hourOf(t) < 22 ? 40 : 12)));
      add({ __name__: 'pg_settings_max_connections', job, instance: i }, g(() => env.postgres.maxConnections));
      add({ __name__: 'pg_stat_activity_max_tx_duration', job, instance: i, datname: env.postgres.database, state: 'active', usename: 'app_user', application_name: 'nextgen-api' }, g(() => 0.2));
      add({ __name__: 'nextgen_pg_recovery_in_recovery', job, instance: i }, g(() => (standby ? 1 : 0)));
      add({ __name__: 'nextgen_pg_recovery_receiver_streaming', job, instance: i }, g(() => (standby ? 1 : 0)));
      add({ __name__: 'nextgen_pg_recovery_replay_behind_bytes', job, instance: i }, g((t) => (standby && hourOf(t) >= 7 && hourOf(t) < 22 ? ((t / step) % 3) * 8192 : 0)));
      add({ __name__: 'nextgen_pg_recovery_replayed_bytes', job, instance: i }, g((t) => (standby ? 1e9 + Math.floor(t / step) * 65536 : 0)));
      add({ __name__: 'nextgen_pg_recovery_lag_seconds', job, instance: i }, g((t) => (standby && hourOf(t) >= 7 && hourOf(t) < 22 ? ((t / step) % 3) * 0.5 : 0)));
    }
    if (!standby) {
      // pg_dump holds one transaction for the whole dump.
      add({ __name__: 'pg_stat_activity_max_tx_duration', job, instance, datname: env.postgres.database, state: 'active', usename: 'nextgen', application_name: 'pg_dump' }, (t) =>
        dumpRunning(t) ? t - runningSince(t)! + 1 : undefined,
      );
      for (const slot of ['postgres_standby', 'postgres_wal_archive']) {
        const away = (t: number) => drained(t);
        add({ __name__: 'nextgen_pg_slot_active', job, instance, slot_name: slot }, (t) => (away(t) ? 0 : 1));
        add({ __name__: 'nextgen_pg_slot_lost', job, instance, slot_name: slot }, () => 0);
        add({ __name__: 'nextgen_pg_slot_retained_bytes', job, instance, slot_name: slot }, (t) => (away(t) ? 64 * 1024 ** 2 * ((t - DRAIN) / MIN + 1) : 16 * 1024 ** 2));
      }
    }
  }

  // Redis.
  add({ __name__: 'up', job: 'redis', instance: '10.0.1.20:9121' }, () => 1);
  add({ __name__: 'redis_up', job: 'redis', instance: '10.0.1.20:9121' }, () => 1);
  const lookups = counter((t) => trafficRps(t) * 3, step);
  add({ __name__: 'redis_keyspace_hits_total', job: 'redis', instance: '10.0.1.20:9121' }, (t) => Math.floor(lookups(t) * 0.95));
  add({ __name__: 'redis_keyspace_misses_total', job: 'redis', instance: '10.0.1.20:9121' }, (t) => lookups(t) - Math.floor(lookups(t) * 0.95));
  add({ __name__: 'redis_memory_used_bytes', job: 'redis', instance: '10.0.1.20:9121' }, () => env.redis.maxmemoryMiB * 1024 ** 2 * 0.6);
  add({ __name__: 'redis_memory_max_bytes', job: 'redis', instance: '10.0.1.20:9121' }, () => env.redis.maxmemoryMiB * 1024 ** 2);

  // Pushgateway (backups and WAL uploads) and the other scrape targets.
  const pgw = { instance: '10.0.1.30:9091', job: 'postgres-backup' };
  for (const job of ['pushgateway', 'prometheus', 'kube-state-metrics', 'minio', 'alertmanager']) add({ __name__: 'up', job, instance: `${job}:1` }, () => 1);
  const dumpDone = (t: number) => {
    // The last dump that has finished by `t` succeeded DUMP_RUN after its start.
    const s = lastStart(starts, t - DUMP_RUN)!;
    return s + DUMP_RUN;
  };
  add({ __name__: 'nextgen_backup_last_success_timestamp_seconds', ...pgw }, (t) => dumpDone(t));
  const baseDone = (t: number) => {
    const d = dayOf(t) * DAY + HOUR + 55 * MIN;
    return t >= d ? d : d - DAY;
  };
  add({ __name__: 'nextgen_backup_last_success_timestamp_seconds', ...pgw, job: 'postgres-base-backup' }, (t) => baseDone(t));
  add({ __name__: 'nextgen_wal_upload_last_success_timestamp_seconds', ...pgw, job: 'postgres-wal-archive' }, (t) => (drained(t) ? DRAIN - 10 : t - 10));

  // kube-state-metrics.
  const ksm = { job: 'kube-state-metrics', instance: '10.0.1.40:8080' };
  const hpaCurrent = (t: number) => {
    const h = (t % DAY) / HOUR;
    if (h >= 14.5 && h < 14.5 + 10 / 60) return env.api.autoscaling.maxReplicas;
    return trafficRps(t) > 5 ? env.api.autoscaling.minReplicas + 1 : env.api.autoscaling.minReplicas;
  };
  add({ __name__: 'kube_horizontalpodautoscaler_spec_max_replicas', ...ksm, horizontalpodautoscaler: 'nextgen-api' }, () => env.api.autoscaling.maxReplicas);
  add({ __name__: 'kube_horizontalpodautoscaler_status_current_replicas', ...ksm, horizontalpodautoscaler: 'nextgen-api' }, hpaCurrent);
  add({ __name__: 'kube_deployment_spec_replicas', ...ksm, deployment: 'nextgen-api' }, hpaCurrent);
  add({ __name__: 'kube_deployment_status_replicas_unavailable', ...ksm, deployment: 'nextgen-api' }, (t) =>
    (t >= ROLLOUT && t < ROLLOUT + 3 * MIN) || hpaCurrent(t) !== hpaCurrent(t - MIN) ? 1 : 0,
  );
  add({ __name__: 'kube_deployment_status_replicas_unavailable', ...ksm, deployment: 'postgres-wal-archive' }, (t) => (drained(t) ? 1 : 0));
  for (const sts of ['postgres', 'postgres-standby', 'redis', 'minio', 'pushgateway', 'prometheus', 'alertmanager']) {
    add({ __name__: 'kube_statefulset_replicas', ...ksm, statefulset: sts }, () => 1);
    add({ __name__: 'kube_statefulset_status_replicas_ready', ...ksm, statefulset: sts }, (t) => (sts === 'postgres-standby' && drained(t) ? 0 : 1));
  }
  // The rolling update's new pod waits for its image and volume for a minute.
  add({ __name__: 'kube_pod_container_status_waiting_reason', ...ksm, pod: 'nextgen-api-b', uid: 'b', container: 'api', reason: 'ContainerCreating' }, (t) =>
    t >= ROLLOUT && t < ROLLOUT + MIN ? 1 : undefined,
  );
  for (const [pod, container] of [['postgres-wal-archive-7f9c', 'receive'], ['postgres-wal-archive-7f9c', 'upload'], ['nextgen-api-a', 'api']]) {
    add({ __name__: 'kube_pod_container_status_restarts_total', ...ksm, pod, container }, () => 0);
  }
  for (const owner of ['postgres-backup', 'postgres-base-backup']) {
    add({ __name__: 'kube_cronjob_spec_suspend', ...ksm, cronjob: owner }, () => 0);
    const job_name = `${owner}-29000000`;
    add({ __name__: 'kube_job_failed', ...ksm, job_name, condition: 'true' }, () => 0);
    add({ __name__: 'kube_job_owner', ...ksm, job_name, owner_kind: 'CronJob', owner_name: owner, owner_is_controller: 'true' }, () => 1);
  }
  add({ __name__: 'kube_job_failed', ...ksm, job_name: 'nextgen-migrate-175bd700', condition: 'true' }, () => 0);
  for (const [resource, type, v] of [['requests.cpu', 'hard', 20], ['requests.cpu', 'used', 11], ['requests.memory', 'hard', 64], ['requests.memory', 'used', 40]] as const) {
    add({ __name__: 'kube_resourcequota', ...ksm, resourcequota: ns, resource, type }, (t) => (type === 'used' && hpaCurrent(t) === env.api.autoscaling.maxReplicas ? v * 1.15 : v));
  }

  // kubelet and cAdvisor (node label from the kubelet job's relabelling).
  for (const node of ['node-1', 'node-2', 'node-3']) add({ __name__: 'up', job: 'kubelet', instance: `${node}:10250`, node }, () => 1);
  const vol = (pvc: string, node: string, capGiB: number, used: (t: number) => number) => {
    add({ __name__: 'kubelet_volume_stats_capacity_bytes', job: 'kubelet', node, persistentvolumeclaim: pvc }, () => capGiB * GiB);
    add({ __name__: 'kubelet_volume_stats_available_bytes', job: 'kubelet', node, persistentvolumeclaim: pvc }, (t) => Math.round((capGiB - used(t)) * GiB));
  };
  // Usage in proportion to each environment's sizes (prod: 40 GiB of 100, growing 0.5 GiB a day).
  const data = env.postgres.storage.sizeGiB;
  vol('data-postgres-0', 'node-1', data, (t) => data * (0.4 + (0.005 * t) / DAY));
  vol('data-postgres-standby-0', 'node-2', data, (t) => data * (0.4 + (0.005 * t) / DAY));
  vol('postgres-wal-archive', 'node-2', env.backup.walArchive.volumeSizeGiB, () => 0.05);
  // A running dump fills a sixth of its scratch volume (prod: 8 GiB of 50).
  vol(`postgres-backups-${env.backup.storageClass}`, 'node-3', env.backup.scratchSizeGiB, (t) => (dumpRunning(t) ? env.backup.scratchSizeGiB * 0.16 : 0.1));
  vol(`postgres-base-backup-${env.backup.storageClass}`, 'node-3', env.postgres.storage.sizeGiB, (t) => {
    const m = (t % DAY) / MIN - 90;
    return m >= 0 && m < 25 ? (m / 25) * data * 0.2 : 0.1;
  });
  for (const [pod, container, cores, memMiB, limCores, limMiB] of [
    // CPU and memory in proportion to each environment's limits (prod: 0.3 of 1 core and 500 of
    // 1024 MiB for the API, 0.4 of 2 cores and 1400 of 2048 MiB for PostgreSQL).
    ['nextgen-api-a', 'api', 0.3 * (env.api.resources.limits.cpuMillis / 1000), (500 / 1024) * env.api.resources.limits.memoryMiB, env.api.resources.limits.cpuMillis / 1000, env.api.resources.limits.memoryMiB],
    ['postgres-0', 'postgres', 0.2 * (env.postgres.resources.limits.cpuMillis / 1000), (1400 / 2048) * env.postgres.resources.limits.memoryMiB, env.postgres.resources.limits.cpuMillis / 1000, env.postgres.resources.limits.memoryMiB],
  ] as const) {
    const c = { job: 'kubelet-cadvisor', node: 'node-1', pod, container };
    const cpu = counter(() => cores, step);
    add({ __name__: 'container_cpu_usage_seconds_total', ...c }, cpu);
    add({ __name__: 'container_spec_cpu_quota', ...c }, () => limCores * 100000);
    add({ __name__: 'container_spec_cpu_period', ...c }, () => 100000);
    add({ __name__: 'container_memory_working_set_bytes', ...c }, () => memMiB * 1024 ** 2);
    add({ __name__: 'container_spec_memory_limit_bytes', ...c }, () => limMiB * 1024 ** 2);
  }

  // Cluster add-ons: a 90-day certificate renewed 30 days before it expires; secrets in sync.
  const RENEW = 5 * DAY + 9 * HOUR;
  add({ __name__: 'certmanager_certificate_expiration_timestamp_seconds', job: 'cert-manager', name: 'nextgen-api-tls', issuer_name: 'letsencrypt-prod', issuer_kind: 'ClusterIssuer', issuer_group: 'cert-manager.io' }, (t) =>
    t < RENEW ? RENEW + 30 * DAY : RENEW + 90 * DAY,
  );
  for (const status of ['True', 'False']) {
    add({ __name__: 'externalsecret_status_condition', job: 'external-secrets', name: 'postgres-app', condition: 'Ready', status }, () => (status === 'True' ? 1 : 0));
  }
  return s;
}

/** promtool's expanding notation, run-length compressed (`a+bxn`, `_xn`). */
export function promtoolValues(value: (t: number) => number | undefined, step: number, end: number): string {
  const out: string[] = [];
  let i = 0;
  const n = Math.floor(end / step);
  const v = (k: number) => value(k * step);
  while (i <= n) {
    const a = v(i);
    let j = i;
    if (a === undefined) {
      while (j + 1 <= n && v(j + 1) === undefined) j++;
      out.push(j > i ? `_x${j - i}` : '_');
    } else {
      const b = i + 1 <= n ? v(i + 1) : undefined;
      if (b === undefined) {
        out.push(fmt(a));
      } else {
        const d = b - a;
        j = i + 1;
        while (j + 1 <= n) {
          const c = v(j + 1);
          if (c === undefined || Math.abs(c - v(j)! - d) > 1e-9 * Math.max(1, Math.abs(d)) || Math.abs(c - (a + d * (j + 1 - i))) > 1e-6 * Math.max(1, Math.abs(c))) break;
          j++;
        }
        out.push(`${fmt(a)}${d >= 0 ? '+' : '-'}${fmt(Math.abs(d))}x${j - i}`);
      }
    }
    i = j + 1;
  }
  return out.join(' ');
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : String(+x.toPrecision(15)));

export const hourOfDay = hourOf;

/** What a failure case may read to derive its bound: the environment and the shipped rules. */
export interface BoundContext {
  readonly env: Environment;
  /** Scrape interval and rule evaluation interval, seconds. */
  readonly step: number;
  readonly evaluation: number;
  /** The shipped `for:` of an alert (the longest of its rules, or of those with these labels), seconds. */
  readonly forOf: (alert: string, labels?: Record<string, string>) => number;
  /** The rules' rate window, seconds. */
  readonly rateWindow: number;
}

export interface Failure {
  readonly name: string;
  /** The alert that must fire, and labels it must carry. */
  readonly alert: string;
  readonly labels?: Record<string, string>;
  /** When it breaks. */
  readonly at: number;
  /** The longest allowed time from the break to firing, from the settings. */
  readonly bound: (c: BoundContext) => number;
  /** How the bound is made up, for the report. */
  readonly why: string;
  /** Replace values of matching series from `at` on (undefined = the series stops). */
  readonly breaks: ReadonlyArray<{ match: Record<string, string>; value: (t: number, normal: (t: number) => number | undefined) => number | undefined }>;
  /** Series that appear with the failure. */
  readonly adds?: ReadonlyArray<Series>;
}

/** Prometheus's default `--query.lookback-delta`: a series that stops is still seen this long. */
export const LOOKBACK_DELTA = 300;

/** One scrape plus one evaluation: the pipeline's own delay. */
const pipe = (c: BoundContext) => c.step + c.evaluation;
const forPlus = (alert: string, extra = (_c: BoundContext) => 0) => (c: BoundContext) => c.forOf(alert) + extra(c) + pipe(c);
/** Failures break at 08:00 on day 0: after the quiet night, an hour into busy hours, 8 h of history. */
const B = 8 * HOUR;
const set = (v: number) => () => v;
const frozen = (at: number) => (_t: number, normal: (t: number) => number | undefined) => normal(at);

export function failures(env: Environment): Failure[] {
  const GiB = 1024 ** 3;
  const wal = env.backup.walArchive;
  const keep = Math.floor((env.postgres.storage.sizeGiB * 1024) / 4) * 1024 ** 2;
  // The first scheduled dump from the break on: it and every later one fail.
  const dumpStart = dumpStarts(env).find((t) => t >= B)!;
  const baseStart = HOUR + 30 * MIN;
  return [
    { name: 'traffic cut off in busy hours', alert: 'NextgenApiRequestRateLow', at: B, breaks: [{ match: { __name__: 'http_requests_total' }, value: frozen(B) }, { match: { __name__: 'http_request_duration_seconds_bucket' }, value: frozen(B) }], bound: forPlus('NextgenApiRequestRateLow', (c) => c.rateWindow), why: 'rate window + for' },
    // Every request from the break takes 1-2.5 s.
    { name: 'API slow', alert: 'NextgenApiHighLatencyP99', at: B, breaks: ['0.1', '0.25', '0.5', '1'].map((le) => ({ match: { __name__: 'http_request_duration_seconds_bucket', le }, value: frozen(B) })), bound: forPlus('NextgenApiHighLatencyP99', (c) => c.rateWindow), why: 'rate window + for' },
    { name: 'API erroring', alert: 'NextgenApiHighErrorRate', at: B, breaks: [{ match: { __name__: 'http_requests_total', status: '500' }, value: (t, n) => { const base = n(B)!; return base + (t - B) * trafficRps(t) * 0.1; } }], bound: forPlus('NextgenApiHighErrorRate', (c) => c.rateWindow), why: 'rate window + for' },
    { name: 'primary down', alert: 'PostgresDown', labels: { job: 'postgres' }, at: B, breaks: [{ match: { __name__: 'pg_up', job: 'postgres' }, value: set(0) }], bound: forPlus('PostgresDown'), why: 'for' },
    { name: 'connections exhausted', alert: 'PostgresConnectionsHigh', at: B, breaks: [{ match: { __name__: 'pg_stat_database_numbackends', job: 'postgres' }, value: set(env.postgres.maxConnections - 5) }], bound: forPlus('PostgresConnectionsHigh'), why: 'for' },
    { name: 'runaway query', alert: 'PostgresLongRunningQuery', at: B, breaks: [{ match: { __name__: 'pg_stat_activity_max_tx_duration', job: 'postgres', application_name: 'nextgen-api' }, value: (t) => t - B }], bound: forPlus('PostgresLongRunningQuery', (c) => c.env.monitoring.thresholds.dbActiveQuerySeconds), why: 'threshold + for' },
    { name: 'CPU throttled', alert: 'ContainerCpuNearLimit', at: B, breaks: [{ match: { __name__: 'container_cpu_usage_seconds_total', container: 'api' }, value: (t, n) => n(B)! + (t - B) * (env.api.resources.limits.cpuMillis / 1000) * 0.98 }], bound: forPlus('ContainerCpuNearLimit', (c) => c.rateWindow), why: 'rate window + for' },
    { name: 'memory near OOM', alert: 'ContainerMemoryNearLimit', at: B, breaks: [{ match: { __name__: 'container_memory_working_set_bytes', container: 'api' }, value: set(env.api.resources.limits.memoryMiB * 1024 ** 2 * 0.97) }], bound: forPlus('ContainerMemoryNearLimit'), why: 'for' },
    { name: 'data volume almost full', alert: 'VolumeSpaceLow', at: B, breaks: [{ match: { __name__: 'kubelet_volume_stats_available_bytes', persistentvolumeclaim: 'data-postgres-0' }, value: set(env.postgres.storage.sizeGiB * GiB * 0.05) }], bound: forPlus('VolumeSpaceLow'), why: 'for' },
    { name: 'disk filling', alert: 'KubeVolumeFillingUp', at: B, breaks: [{ match: { __name__: 'kubelet_volume_stats_available_bytes', persistentvolumeclaim: 'data-postgres-0' }, value: (t, n) => n(B)! - ((t - B) / HOUR) * 4 * GiB }], bound: forPlus('KubeVolumeFillingUp', () => 6 * HOUR), why: '6 h trend window + for' },
    { name: 'Redis down', alert: 'RedisDown', at: B, breaks: [{ match: { __name__: 'redis_up' }, value: set(0) }], bound: forPlus('RedisDown'), why: 'for' },
    // The same lookups, now all missing.
    { name: 'cache cold', alert: 'RedisHitRateLow', at: B, breaks: [{ match: { __name__: 'redis_keyspace_hits_total' }, value: frozen(B) }, { match: { __name__: 'redis_keyspace_misses_total' }, value: (t, n) => n(t)! + Math.round((t - B) * trafficRps(t) * 3 * 0.95) }], bound: forPlus('RedisHitRateLow', (c) => c.rateWindow), why: 'rate window + for' },
    { name: 'Redis memory full', alert: 'RedisMemoryHigh', at: B, breaks: [{ match: { __name__: 'redis_memory_used_bytes' }, value: set(env.redis.maxmemoryMiB * 1024 ** 2 * 0.97) }], bound: forPlus('RedisMemoryHigh'), why: 'for' },
    { name: 'a target cannot be scraped', alert: 'MetricsTargetDown', labels: { job: 'minio' }, at: B, breaks: [{ match: { __name__: 'up', job: 'minio' }, value: set(0) }], bound: forPlus('MetricsTargetDown'), why: 'for' },
    { name: 'node lost', alert: 'NodeUnreachable', labels: { node: 'node-3' }, at: B, breaks: [{ match: { __name__: 'up', job: 'kubelet', node: 'node-3' }, value: set(0) }], bound: forPlus('NodeUnreachable'), why: 'for' },
    { name: 'WAL archiver disconnected (slot inactive)', alert: 'PostgresReplicationSlotInactive', labels: { slot_name: 'postgres_wal_archive' }, at: B, breaks: [{ match: { __name__: 'nextgen_pg_slot_active', slot_name: 'postgres_wal_archive' }, value: set(0) }], bound: forPlus('PostgresReplicationSlotInactive'), why: 'for' },
    { name: 'slot lost', alert: 'PostgresReplicationSlotLost', labels: { slot_name: 'postgres_standby' }, at: B, breaks: [{ match: { __name__: 'nextgen_pg_slot_lost', slot_name: 'postgres_standby' }, value: set(1) }], bound: forPlus('PostgresReplicationSlotLost'), why: 'for' },
    { name: 'slot retaining WAL', alert: 'PostgresReplicationSlotRetainingWal', at: B, breaks: [{ match: { __name__: 'nextgen_pg_slot_retained_bytes', slot_name: 'postgres_standby' }, value: (t) => 16 * 1024 ** 2 + ((t - B) / MIN) * GiB }], bound: forPlus('PostgresReplicationSlotRetainingWal', () => Math.ceil(keep / 2 / GiB) * MIN), why: 'time for 1 GiB/min to reach half of max_slot_wal_keep_size + for' },
    { name: 'standby disconnected', alert: 'PostgresStandbyNotStreaming', at: B, breaks: [{ match: { __name__: 'nextgen_pg_recovery_receiver_streaming', job: 'postgres-standby' }, value: set(0) }, { match: { __name__: 'nextgen_pg_slot_active', slot_name: 'postgres_standby' }, value: set(0) }, { match: { __name__: 'nextgen_pg_recovery_replay_behind_bytes', job: 'postgres-standby' }, value: set(0) }, { match: { __name__: 'nextgen_pg_recovery_replayed_bytes', job: 'postgres-standby' }, value: frozen(B) }, { match: { __name__: 'nextgen_pg_recovery_lag_seconds', job: 'postgres-standby' }, value: set(0) }], bound: forPlus('PostgresStandbyNotStreaming'), why: 'for' },
    { name: 'replay stopped', alert: 'PostgresStandbyReplayStopped', at: B, breaks: [{ match: { __name__: 'nextgen_pg_recovery_replayed_bytes', job: 'postgres-standby' }, value: frozen(B) }, { match: { __name__: 'nextgen_pg_recovery_replay_behind_bytes', job: 'postgres-standby' }, value: (t) => (t - B + 60) * 100000 }, { match: { __name__: 'nextgen_pg_recovery_lag_seconds', job: 'postgres-standby' }, value: (t) => t - B }], bound: forPlus('PostgresStandbyReplayStopped', (c) => Math.max(c.forOf('PostgresStandbyReplayStopped'), 300)), why: 'changes() window + for' },
    { name: 'standby lagging', alert: 'PostgresReplicationLagHigh', at: B, breaks: [{ match: { __name__: 'nextgen_pg_recovery_lag_seconds', job: 'postgres-standby' }, value: (t) => Math.min(t - B, env.monitoring.thresholds.replicationLagSeconds * 3) }], bound: forPlus('PostgresReplicationLagHigh', (c) => c.env.monitoring.thresholds.replicationLagSeconds), why: 'threshold + for' },
    { name: 'dump stale (runs stop succeeding)', alert: 'BackupTooOld', labels: { backup: 'postgres-backup' }, at: dumpStart, breaks: [{ match: { __name__: 'nextgen_backup_last_success_timestamp_seconds', job: 'postgres-backup' }, value: frozen(dumpStart) }], bound: (c) => 2 * c.env.backup.activeDeadlineSeconds + pipe(c), why: 'from the missed run: its deadline + the previous run (at most a deadline)' },
    { name: 'base backup stale', alert: 'BackupTooOld', labels: { backup: 'postgres-base-backup' }, at: baseStart, breaks: [{ match: { __name__: 'nextgen_backup_last_success_timestamp_seconds', job: 'postgres-base-backup' }, value: frozen(baseStart) }], bound: (c) => 2 * wal.baseBackupDeadlineSeconds + pipe(c), why: 'from the missed run: its deadline + the previous run' },
    { name: 'dump never reported (Pushgateway wiped, pushes fail)', alert: 'BackupMissing', labels: { backup: 'postgres-backup' }, at: B, breaks: [{ match: { __name__: 'nextgen_backup_last_success_timestamp_seconds', job: 'postgres-backup' }, value: () => undefined }], bound: (c) => LOOKBACK_DELTA + c.forOf('BackupMissing', { backup: 'postgres-backup' }) + pipe(c), why: "Prometheus's 5 min lookback (a vanished series still counts) + longest schedule gap + one run" },
    { name: 'backup job failed', alert: 'BackupJobFailed', labels: { backup: 'postgres-backup' }, at: B, breaks: [{ match: { __name__: 'kube_job_failed', job_name: 'postgres-backup-29000000' }, value: set(1) }], bound: forPlus('BackupJobFailed'), why: 'for' },
    { name: 'backup CronJob left suspended', alert: 'BackupCronJobSuspended', labels: { backup: 'postgres-backup' }, at: B, breaks: [{ match: { __name__: 'kube_cronjob_spec_suspend', cronjob: 'postgres-backup' }, value: set(1) }], bound: forPlus('BackupCronJobSuspended'), why: 'for (the RTO: a restore takes that long)' },
    { name: 'WAL upload stale', alert: 'WalArchiveUploadStale', at: B, breaks: [{ match: { __name__: 'nextgen_wal_upload_last_success_timestamp_seconds' }, value: frozen(B) }], bound: (c) => c.env.backup.rpoMinutes * 60 - (c.env.backup.walArchive.archiveTimeoutSeconds + 30) + pipe(c), why: 'RPO - (archive_timeout + one upload)' },
    { name: 'archiver crash-looping', alert: 'WalArchiverCrashLooping', at: B, breaks: [{ match: { __name__: 'kube_pod_container_status_restarts_total', container: 'upload' }, value: (t) => [0, 10, 30, 70, 150, 310].filter((d) => t - B >= d).length }], bound: (c) => 70 + 2 * c.step + pipe(c), why: "three restarts with the kubelet's back-off (10 s, 20 s, 40 s) + two scrapes" },
    { name: 'API pod crash-looping', alert: 'KubePodCrashLooping', at: B, breaks: [], adds: [{ labels: { __name__: 'kube_pod_container_status_waiting_reason', job: 'kube-state-metrics', instance: '10.0.1.40:8080', pod: 'nextgen-api-a', container: 'api', reason: 'CrashLoopBackOff' }, value: (t) => (t >= B ? 1 : undefined) }], bound: forPlus('KubePodCrashLooping'), why: 'for' },
    { name: 'rollout stuck', alert: 'KubeDeploymentReplicasUnavailable', at: B, breaks: [{ match: { __name__: 'kube_deployment_status_replicas_unavailable', deployment: 'nextgen-api' }, value: set(2) }], bound: forPlus('KubeDeploymentReplicasUnavailable'), why: 'for' },
    { name: 'Redis pod not ready', alert: 'KubeStatefulSetNotReady', at: B, breaks: [{ match: { __name__: 'kube_statefulset_status_replicas_ready', statefulset: 'redis' }, value: set(0) }], bound: forPlus('KubeStatefulSetNotReady'), why: 'for' },
    { name: 'HPA pinned at max', alert: 'KubeHpaMaxedOut', at: B, breaks: [{ match: { __name__: 'kube_horizontalpodautoscaler_status_current_replicas' }, value: set(env.api.autoscaling.maxReplicas) }], bound: forPlus('KubeHpaMaxedOut'), why: 'hpaAtMaxMinutes' },
    { name: 'migration Job failed', alert: 'KubeJobFailed', at: B, breaks: [{ match: { __name__: 'kube_job_failed', job_name: 'nextgen-migrate-175bd700' }, value: set(1) }], bound: forPlus('KubeJobFailed'), why: 'for' },
    { name: 'quota nearly used', alert: 'KubeQuotaAlmostFull', at: B, breaks: [{ match: { __name__: 'kube_resourcequota', resource: 'requests.cpu', type: 'used' }, value: set(19.5) }], bound: forPlus('KubeQuotaAlmostFull'), why: 'for' },
    { name: 'certificate near expiry (renewal failed)', alert: 'CertificateExpiringSoon', at: B, breaks: [], adds: [{ labels: { __name__: 'certmanager_certificate_expiration_timestamp_seconds', job: 'cert-manager', name: 'nextgen-minio-tls', issuer_name: 'letsencrypt-prod', issuer_kind: 'ClusterIssuer', issuer_group: 'cert-manager.io' }, value: () => B + env.monitoring.thresholds.certificateExpiryDays * DAY }], bound: forPlus('CertificateExpiringSoon'), why: 'crossing certificateExpiryDays + for' },
    { name: 'ExternalSecret not syncing', alert: 'ExternalSecretNotSynced', at: B, breaks: [{ match: { __name__: 'externalsecret_status_condition', status: 'False' }, value: set(1) }, { match: { __name__: 'externalsecret_status_condition', status: 'True' }, value: set(0) }], bound: forPlus('ExternalSecretNotSynced'), why: 'for' },
  ];
}

/** The normal week with a failure applied. */
export function broken(normal: Series[], f: Failure, ns: string): Series[] {
  const matches = (labels: Record<string, string>, m: Record<string, string>) => Object.entries(m).every(([k, v]) => labels[k] === v);
  const out = normal.map((s) => {
    const b = f.breaks.find((x) => matches(s.labels, x.match));
    if (!b) return s;
    return { labels: s.labels, value: (t: number) => (t >= f.at && s.value(t) !== undefined ? b.value(t, s.value) : s.value(t)) };
  });
  for (const b of f.breaks) if (!normal.some((s) => matches(s.labels, b.match))) throw new Error(`failure '${f.name}': no normal series matches ${JSON.stringify(b.match)}`);
  return [...out, ...(f.adds ?? []).map((a) => ({ labels: { namespace: ns, ...a.labels }, value: a.value }))];
}
