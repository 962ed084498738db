/**
 * Alert rules: shape (runbooks, severities, thresholds and `for:` from the environment) and
 * behaviour with the real `promtool test rules`: every alert fires on synthetic series that
 * cross its threshold and stays quiet on series below it, for every real environment.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import type { Environment, Thresholds } from '../environments/schema';
import { alertGroups, AlertRule } from '../constructs/monitoring/alerts';
import { find, parseYaml, realEnvironments, synth, synthEnvironments } from './lib/synth';
import { describeWith, which } from './integration/lib/servers';

const STEP = 30; // seconds between synthetic samples

/** A counter rising at `perSecond`, `n` samples. */
const counter = (perSecond: number, n: number) => `0+${perSecond * STEP}x${n}`;
/** A constant gauge, `n` samples. */
const gauge = (v: number, n: number) => `${v}+0x${n}`;
/** A value clearly above a percentage threshold, and one clearly below. */
const above = (pct: number) => pct + (100 - pct) / 2;
const below = (pct: number) => pct / 2;

type Series = Array<{ series: string; values: string }>;
interface Fixture {
  fire: (t: Thresholds, ns: string, n: number) => Series;
  quiet: (t: Thresholds, ns: string, n: number) => Series;
}

const sel = (ns: string, extra: Record<string, string> = {}) =>
  `{${Object.entries({ namespace: ns, instance: 'x:1', ...extra }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
const container = (ns: string) => sel(ns, { pod: 'p-0', container: 'c' });

function requests(ns: string, n: number, total: number, errorPct: number): Series {
  return [
    { series: `http_requests_total${sel(ns, { status: '200' })}`, values: counter((total * (100 - errorPct)) / 100, n) },
    { series: `http_requests_total${sel(ns, { status: '503' })}`, values: counter((total * errorPct) / 100, n) },
  ];
}
function latency(ns: string, n: number, p99: number, fast: boolean): Series {
  // Buckets at p/4, 4p and +Inf; all 10 req/s fall below p/4 (fast) or between p/4 and 4p (slow).
  return [
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: String(p99 / 4) })}`, values: counter(fast ? 10 : 0, n) },
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: String(p99 * 4) })}`, values: counter(10, n) },
    { series: `http_request_duration_seconds_bucket${sel(ns, { le: '+Inf' })}`, values: counter(10, n) },
  ];
}
const ratio = (num: string, den: string, ns: string, n: number, pct: number, extra = sel(ns)): Series => [
  { series: `${num}${extra}`, values: gauge(pct, n) },
  { series: `${den}${extra}`, values: gauge(100, n) },
];
function cpu(ns: string, n: number, pct: number): Series {
  return [
    { series: `container_cpu_usage_seconds_total${container(ns)}`, values: counter(pct / 100, n) },
    { series: `container_spec_cpu_quota${container(ns)}`, values: gauge(100000, n) },
    { series: `container_spec_cpu_period${container(ns)}`, values: gauge(100000, n) },
  ];
}
function redisHits(ns: string, n: number, hitPct: number): Series {
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
      { series: `pg_replication_lag_seconds${sel(ns)}`, values: gauge(t.replicationLagSeconds * 2, n) },
      { series: `pg_replication_is_replica${sel(ns)}`, values: gauge(1, n) },
    ],
    quiet: (t, ns, n) => [
      { series: `pg_replication_lag_seconds${sel(ns)}`, values: gauge(t.replicationLagSeconds / 2, n) },
      { series: `pg_replication_is_replica${sel(ns)}`, values: gauge(1, n) },
    ],
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
};

const rulesOf = (env: Environment): AlertRule[] =>
  alertGroups({ namespace: env.namespace, thresholds: env.monitoring.thresholds, rateWindowSeconds: 300 }).flatMap((g) => g.rules);

describe('alert rules', () => {
  const prod = synth();
  const shipped = parseYaml(find(prod, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']);
  const shippedRules = shipped.groups.flatMap((g: any) => g.rules);

  test('one alert for each of the guide\'s key metrics areas, each with a fixture', () => {
    const names = shippedRules.map((r: any) => r.alert).sort();
    expect(names).toEqual(Object.keys(FIXTURES).sort());
    expect(new Set(shippedRules.map((r: any) => r.labels.area))).toEqual(new Set(['api', 'database', 'resources', 'cache', 'scraping']));
  });

  test('every alert links its runbook and has a severity, summary and description', () => {
    for (const r of shippedRules) {
      expect(r.annotations.runbook_url).toBe(`https://runbooks.nextgen.example.com/alerts/${r.alert}`);
      expect(['critical', 'warning']).toContain(r.labels.severity);
      expect(r.annotations.summary).toBeTruthy();
      expect(r.annotations.description).toBeTruthy();
    }
  });

  test('`for:` and thresholds come from the environment', () => {
    const changed = synth({ monitoring: { thresholds: { forMinutes: 12, errorRatePercent: 7, redisMemoryPercent: 66 } } });
    const rules = parseYaml(find(changed, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']).groups.flatMap((g: any) => g.rules);
    const byName = (n: string) => rules.find((r: any) => r.alert === n);
    expect(byName('NextgenApiHighErrorRate').for).toBe('12m');
    expect(byName('NextgenApiHighErrorRate').expr).toMatch(/\* 100 > 7$/);
    expect(byName('RedisMemoryHigh').expr).toMatch(/> 66$/);
    // Down alerts page quickly whatever the environment's `for:`.
    expect(byName('PostgresDown').for).toBe('1m');
  });

  test('the p99 latency alert uses histogram_quantile over rate() of the _bucket series, by le', () => {
    const r = shippedRules.find((x: any) => x.alert === 'NextgenApiHighLatencyP99');
    expect(r.expr).toMatch(/^histogram_quantile\(0\.99, sum by \(le\) \(rate\(http_request_duration_seconds_bucket\{[^}]*\}\[5m\]\)\)\) > 1$/);
  });

  test('rules select this environment\'s namespace only', () => {
    for (const r of shippedRules) expect(r.expr).toContain('namespace="nextgen-test"');
  });
});

describeWith(['promtool'], 'alert rules under `promtool test rules`', () => {
  const envs = realEnvironments();
  const { byFolder } = synthEnvironments(envs);

  test.each(envs.map((e) => [e.name, e] as const))('%s: each alert fires above its threshold and stays quiet below it', (_name, env) => {
    const manifests = byFolder.get(env.name)!;
    const rulesText = find(manifests, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    try {
      fs.writeFileSync(path.join(dir, 'nextgen.rules.yaml'), rulesText);
      const tests = rulesOf(env).flatMap((rule) => {
        const evalSeconds = rule.forSeconds + 600;
        const n = (evalSeconds + 300) / STEP;
        const fixture = FIXTURES[rule.alert];
        const check = (expected: number) => ({
          expr: `count(ALERTS{alertname="${rule.alert}",alertstate="firing"}) or vector(0)`,
          eval_time: `${evalSeconds}s`,
          exp_samples: [{ labels: '{}', value: expected }],
        });
        return [
          { name: `${rule.alert} fires`, interval: `${STEP}s`, input_series: fixture.fire(env.monitoring.thresholds, env.namespace, n), promql_expr_test: [check(1)] },
          { name: `${rule.alert} quiet`, interval: `${STEP}s`, input_series: fixture.quiet(env.monitoring.thresholds, env.namespace, n), promql_expr_test: [check(0)] },
        ];
      });
      fs.writeFileSync(path.join(dir, 'tests.yaml'), stringify({ rule_files: ['nextgen.rules.yaml'], evaluation_interval: `${STEP}s`, tests }));
      const r = cp.spawnSync(which('promtool')!, ['test', 'rules', 'tests.yaml'], { cwd: dir, encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/FAILED/);
      expect(r.status).toBe(0);
      console.log(`promtool test rules (${env.name}): ${tests.length} cases (${tests.length / 2} alerts x fire/quiet) passed`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
