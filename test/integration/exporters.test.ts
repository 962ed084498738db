/**
 * Live proof that the metric names our rules and dashboards read really exist: the real
 * postgres_exporter and redis_exporter (configured with the env of the shipped exporter
 * containers) run against a real PostgreSQL and Redis, and a real Prometheus scrapes them
 * with the generated scrape jobs (Kubernetes discovery swapped for static targets) and
 * evaluates the generated rules.
 *
 * Metrics from sources that cannot run here are listed in `NOT_RUNNABLE_IN_CI` (with the
 * reason) and covered by `promtool test rules` in test/monitoring/alerts.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { Postgres } from '../../constructs/postgres/primary';
import { Redis } from '../../constructs/redis/redis';
import { DOCUMENTED, LIVE_ELSEWHERE, M, LIVE_SOURCES, NOT_RUNNABLE_IN_CI } from '../../constructs/monitoring/catalog';
import { Metric } from '../../constructs/monitoring/promql';
import { dashboardQueries } from '../../constructs/monitoring/dashboards';
import { find, parseYaml, podSpec, synthEnvironments, testEnvironment } from '../support/synth';
import { APP_ROLE_SQL_FILE } from '../../constructs/postgres/config';
import { describeWith, freePort, startPostgres, startRedis, which, PostgresServer, RedisServer, waitForValue } from './lib/servers';

const PG_EXPORTER = 'postgres_exporter';
const REDIS_EXPORTER = 'prometheus-redis-exporter';


/** The shipped container's env, with addresses and Secret values replaced for loopback servers. */
function shippedEnv(container: any, secrets: Record<string, string>, replace: Array<[RegExp, string]>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) {
      const v = secrets[e.valueFrom.secretKeyRef.key];
      if (v === undefined) throw new Error(`no test value for secret key ${e.valueFrom.secretKeyRef.key}`);
      env[e.name] = v;
    } else if (/_FILE$/.test(e.name) && String(e.value).startsWith('/run/secrets/')) {
      // A Secret key mounted as a file (`*_FILE`): the same value, in a file of our own.
      const key = path.basename(e.value);
      if (secrets[key] === undefined) throw new Error(`no test value for secret key ${key}`);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'secret-')), key);
      fs.writeFileSync(file, secrets[key], { mode: 0o400 });
      env[e.name] = file;
    } else {
      env[e.name] = replace.reduce((s, [from, to]) => s.replace(from, to), String(e.value ?? ''));
    }
  }
  return env;
}

describeWith(['postgres', 'psql', 'redis-server', 'redis-cli', PG_EXPORTER, REDIS_EXPORTER, 'prometheus'], 'exporters scraped live by Prometheus with the generated jobs', () => {
  const env = testEnvironment();
  const { built, byFolder } = synthEnvironments([env]);
  const chart = built.environments[0];
  const manifests = byFolder.get(env.name)!;
  const ns = env.namespace;
  const endpointOf = (peer: string) => {
    const e = chart.topology.metrics.find((m) => m.peer.name === peer);
    if (!e) throw new Error(`no metrics endpoint declared for '${peer}'`);
    return e;
  };
  const exporterOf = (sts: string) => podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'exporter');
  const generated = parseYaml(find(manifests, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
  const rulesText: string = find(manifests, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];

  let pg: PostgresServer;
  let redis: RedisServer;
  const procs: cp.ChildProcess[] = [];
  const dirs: string[] = [];
  let promUrl = '';
  const query = async (q: string): Promise<any> => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body: any = await r.json();
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result;
  };
  const spawn = (bin: string, args: string[], envVars: NodeJS.ProcessEnv, log: string) => {
    const out = fs.openSync(log, 'w');
    const p = cp.spawn(which(bin)!, args, { env: envVars, stdio: ['ignore', out, out] });
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporters-'));
    dirs.push(dir);
    pg = await startPostgres();
    pg.psql(`CREATE DATABASE ${env.postgres.database}`);
    // The shipped roles script, so the exporter signs in as the monitoring role it creates
    // (pg_monitor only): every metric below must be readable with exactly that privilege.
    const rolesSql = path.join(dir, APP_ROLE_SQL_FILE);
    fs.writeFileSync(rolesSql, find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE]);
    const roles = { APP_DB_USER: 'app_user', APP_DB_PASSWORD: 'app-pw', MONITOR_DB_USER: 'metrics', MONITOR_DB_PASSWORD: `metrics-${process.pid}`, REPL_DB_USER: 'replicator', REPL_DB_PASSWORD: 'repl-pw' };
    const sql = cp.spawnSync(which('psql')!, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', rolesSql], { encoding: 'utf8', env: pg.env({ PGDATABASE: env.postgres.database, ...roles }) });
    if (sql.status !== 0) throw new Error(`roles script failed: ${sql.stderr}`);
    const redisPassword = `redis-${process.pid}`;
    redis = await startRedis(`requirepass ${redisPassword}\nmaxmemory 64mb\nmaxmemory-policy allkeys-lru\nsave ""`, redisPassword);

    const pgPort = await freePort();
    const redisExporterPort = await freePort();
    spawn(PG_EXPORTER, [`--web.listen-address=127.0.0.1:${pgPort}`],
      shippedEnv(exporterOf(Postgres.NAME), { username: roles.MONITOR_DB_USER, password: roles.MONITOR_DB_PASSWORD }, [[/127\.0\.0\.1:\d+/, `127.0.0.1:${pg.port}`]]), path.join(dir, 'pg-exporter.log'));
    spawn(REDIS_EXPORTER, [`-web.listen-address=127.0.0.1:${redisExporterPort}`],
      shippedEnv(exporterOf(Redis.NAME), { password: redisPassword }, [[/127\.0\.0\.1:\d+/, `127.0.0.1:${redis.port}`]]), path.join(dir, 'redis-exporter.log'));

    // The generated jobs, with Kubernetes discovery (and its relabelling) swapped for the loopback targets.
    const statics: Record<string, number> = { [endpointOf(Postgres.NAME).job]: pgPort, [endpointOf(Redis.NAME).job]: redisExporterPort };
    const jobs = generated.scrape_configs
      .filter((j: any) => j.job_name in statics)
      .map(({ kubernetes_sd_configs: _sd, relabel_configs: _rl, ...j }: any) => ({
        ...j,
        static_configs: [{ targets: [`127.0.0.1:${statics[j.job_name]}`], labels: { namespace: ns } }],
      }));
    expect(jobs).toHaveLength(2);
    fs.writeFileSync(path.join(dir, 'nextgen.rules.yaml'), rulesText);
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      stringify({
        global: { ...generated.global, scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(dir, 'nextgen.rules.yaml')],
        scrape_configs: jobs,
      }),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { PATH: process.env.PATH }, path.join(dir, 'prometheus.log'));

    await waitForValue('both exporters scraped and up', async () => {
      const up = await query(`up{namespace="${ns}"} == 1`);
      return up.length === 2 ? up : undefined;
    }, 60000, 250);
    // Some cache traffic (hits and misses) and database work, then a few more scrapes.
    for (let i = 0; i < 20; i++) redis.cli(['SET', `k${i}`, 'v'], redisPassword);
    // 80 hits and 4 misses: a healthy ~95% hit rate.
    for (let i = 0; i < 84; i++) redis.cli(['GET', i < 80 ? `k${i % 20}` : `missing${i}`], redisPassword);
    pg.psql('CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000); SELECT count(*) FROM t;', { db: env.postgres.database });
    await new Promise((r) => setTimeout(r, 5000));
  }, 180000);

  afterAll(async () => {
    for (const p of procs) {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
    }
    await redis?.stop();
    await pg?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const liveMetrics = Object.values(M).filter((m) => LIVE_SOURCES.has(m.source) && !NOT_RUNNABLE_IN_CI.some((n) => n.metric === m));

  test('every metric of postgres_exporter and redis_exporter that we use exists in a live scrape', async () => {
    const missing: string[] = [];
    for (const m of liveMetrics) {
      const r = await query(`count({__name__="${m.name}",namespace="${ns}"})`);
      if (!r.length || Number(r[0].value[1]) < 1) missing.push(m.name);
    }
    expect(missing).toEqual([]);
    console.log(`live metrics proven: ${liveMetrics.length} (${liveMetrics.map((m) => m.name).join(', ')})`);
  });

  test('every metric the rules and dashboards read is proven live, documented at a pinned version, or listed as not runnable in CI, with a reason', () => {
    const used = new Set<Metric>([
      ...chart.monitoring.groups.flatMap((g) => [...g.rules.flatMap((r) => [...r.expr.metrics]), ...(g.records ?? []).flatMap((r) => [...r.expr.metrics])]),
      ...dashboardQueries(chart.monitoring.dashboardSpecs).flatMap((q) => [...q.expr.metrics]),
    ]);
    // Recorded series exist when their inputs do (the inputs are in `used` too).
    const raw = [...used].filter((m) => m.source !== 'recording-rule');
    const documented = (m: Metric) => DOCUMENTED.some((d) => d.metric === m && /^https:\/\//.test(d.doc));
    const elsewhere = (m: Metric) => LIVE_ELSEWHERE.has(m.source);
    const notRunnable = (m: Metric) => NOT_RUNNABLE_IN_CI.some((n) => n.metric === m && n.reason.length > 10);
    const unproven = raw.filter((m) => !liveMetrics.includes(m) && !documented(m) && !elsewhere(m) && !notRunnable(m));
    expect(unproven.map((m) => m.name)).toEqual([]);
    const n = (f: (m: Metric) => boolean) => raw.filter(f).length;
    console.log(
      `metrics used: ${raw.length}; proven live here: ${n((m) => liveMetrics.includes(m))}; live in the backup-metrics test: ${n(elsewhere)}; ` +
        `documented (kube-state-metrics, cert-manager, external-secrets): ${n(documented)}; not runnable in CI: ${n(notRunnable)}`,
    );
  });

  test('dashboard queries over live metrics return data from the real Prometheus', async () => {
    const live = dashboardQueries(chart.monitoring.dashboardSpecs).filter((q) => [...q.expr.metrics].every((m) => liveMetrics.includes(m)));
    expect(live.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const q of live) if (!(await query(q.expr.text)).length) empty.push(`${q.dashboard}/${q.panel}: ${q.expr.text}`);
    expect(empty).toEqual([]);
    console.log(`dashboard queries with live data: ${live.length}`);
  });

  test('the generated rules load and evaluate without errors; nothing fires against healthy servers', async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const body: any = await (await fetch(`${promUrl}/api/v1/rules`)).json();
    const rules = body.data.groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBe(chart.monitoring.groups.flatMap((g) => [...g.rules, ...(g.records ?? [])]).length);
    expect(rules.filter((r: any) => r.health !== 'ok').map((r: any) => `${r.name}: ${r.lastError}`)).toEqual([]);
    // Only the API request-rate alert may be active (no API runs here, so its rate is 0), and
    // the alerts on a report never pushed (no Pushgateway here) may be pending, never firing.
    const active = rules.filter((r: any) => r.type === 'alerting' && r.state !== 'inactive' && r.name !== 'NextgenApiRequestRateLow');
    expect(active.filter((r: any) => !(r.state === 'pending' && /^absent\(/.test(r.query))).map((r: any) => `${r.name} ${r.state}`)).toEqual([]);
  });

  test('the cache hit rate expression of the rule yields the live ratio', async () => {
    const rule = chart.monitoring.groups.flatMap((g) => g.rules).find((r) => r.alert === 'RedisHitRateLow')!;
    const ratio = rule.expr.text.split(' < ')[0];
    const r = await query(ratio);
    // 80 hits and 4 misses were generated: about 95%.
    expect(Number(r[0].value[1])).toBeGreaterThan(90);
    expect(Number(r[0].value[1])).toBeLessThan(100);
  });
});

describeWith([PG_EXPORTER, REDIS_EXPORTER], "an exporter sidecar's readiness does not depend on its database (or any other pod)", () => {
  const manifests = synthEnvironments([testEnvironment()]).byFolder.get('test')!;
  const cases: Array<{ sts: string; bin: string; flag: string; secrets: Record<string, string> }> = [
    { sts: Postgres.NAME, bin: PG_EXPORTER, flag: '--web.listen-address', secrets: { username: 'monitor', password: 'x' } },
    { sts: Redis.NAME, bin: REDIS_EXPORTER, flag: '-web.listen-address', secrets: { password: 'x' } },
    { sts: `${Postgres.NAME}-standby`, bin: PG_EXPORTER, flag: '--web.listen-address', secrets: { username: 'monitor', password: 'x' } },
  ];

  test.each(cases)('$sts: the readiness probe of its exporter answers 200 while nothing listens where the database should be', async ({ sts, bin, flag, secrets }) => {
    const container = podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'exporter');
    const probe = container.readinessProbe.httpGet;
    expect(probe.host).toBeUndefined(); // the pod itself
    const closed = await freePort(); // nothing listens here: the database is "down"
    const port = await freePort();
    const env = shippedEnv(container, secrets, [[/127\.0\.0\.1:\d+/, `127.0.0.1:${closed}`]]);
    const proc = cp.spawn(which(bin)!, [`${flag}=127.0.0.1:${port}`], { env, stdio: 'ignore' });
    try {
      const status = await waitForValue(`${bin} readiness`, async () => (await fetch(`http://127.0.0.1:${port}${probe.path}`)).status, 20000);
      expect(status).toBe(200);
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
