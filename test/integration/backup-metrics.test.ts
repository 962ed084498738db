/**
 * Backup freshness, live on real programs: the shipped backup script (dump, then upload)
 * against a real PostgreSQL and MinIO, with the environment the shipped upload container gets,
 * pushes to a real Pushgateway (built at the catalog's version, persistence file on disk);
 * a real Prometheus scrapes it with the generated Pushgateway job and evaluates the generated
 * backup rules with a test-shortened schedule gap. The backup-age alert fires once the last
 * success is older than that gap plus one run, and resolves after the next successful run.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { alertGroups, ruleFile } from '../../constructs/monitoring/alerts';
import { M } from '../../constructs/monitoring/catalog';
import { Pushgateway } from '../../constructs/monitoring/pushgateway';
import { BACKUP_SCRIPT, PUSH_METRICS_SCRIPT, WAL_ARCHIVE_SCRIPT } from '../../constructs/postgres/scripts';
import { find, parseYaml, podSpec, synthEnvironments, testEnvironment } from '../support/synth';
import { describeWith, freePort, MinioServer, PostgresServer, startMinio, startPostgres, which, waitForValue } from './lib/servers';

const PUSHGATEWAY = 'pushgateway';
const BUCKET = 'nextgen-backups';
/** Test-shortened schedule: the longest gap between runs and the grace of one run, in seconds. */
const GAP = 6;
const RUN = 2;


describeWith(['postgres', 'psql', 'pg_dump', 'pg_restore', 'aws', 'minio', PUSHGATEWAY, 'prometheus'], 'backup metrics: the backup pushes, Prometheus alerts on age', () => {
  const env = testEnvironment();
  const { built, byFolder } = synthEnvironments([env]);
  const chart = built.environments[0];
  const manifests = byFolder.get(env.name)!;
  const ns = env.namespace;
  const generated = parseYaml(find(manifests, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
  const upload = podSpec(find(manifests, 'CronJob', 'postgres-backup')).containers.find((c: any) => c.name === 'upload');
  const shipped = (name: string) => upload.env.find((e: any) => e.name === name)?.value as string;

  let pg: PostgresServer;
  let s3: MinioServer;
  let work: string;
  let gateway: cp.ChildProcess | undefined;
  let prometheus: cp.ChildProcess | undefined;
  let gatewayPort = 0;
  let promUrl = '';

  const startGateway = () => {
    const log = fs.openSync(path.join(work, 'pushgateway.log'), 'a');
    gateway = cp.spawn(which(PUSHGATEWAY)!, [`--web.listen-address=127.0.0.1:${gatewayPort}`, `--persistence.file=${path.join(work, 'pushgateway.metrics')}`], {
      stdio: ['ignore', log, log],
    });
    return waitForValue('pushgateway ready', async () => ((await fetch(`http://127.0.0.1:${gatewayPort}/-/ready`)).ok ? true : undefined));
  };
  const stopGateway = async () => {
    if (gateway && gateway.exitCode === null) {
      gateway.kill('SIGTERM');
      await new Promise((r) => gateway!.once('exit', r));
    }
  };
  const gatewayMetric = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('job="postgres-backup"'));
    return line ? Number(line.split(' ').pop()) : undefined;
  };
  const query = async (q: string): Promise<any[]> => {
    const body: any = await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json();
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result;
  };
  const alertState = async (name: string): Promise<string> => {
    const body: any = await (await fetch(`${promUrl}/api/v1/alerts`)).json();
    return body.data.alerts.find((a: any) => a.labels.alertname === name)?.state ?? 'inactive';
  };
  /** One backup, both phases, with the upload container's Pushgateway settings pointed at loopback. */
  const backup = (pushgatewayUrl?: string) => {
    const dir = path.join(work, 'backups');
    fs.mkdirSync(dir, { recursive: true });
    const e: NodeJS.ProcessEnv = {
      ...pg.env({ PGDATABASE: 'shop' }),
      ...s3.env(),
      PATH: pg.env().PATH,
      S3_BUCKET: BUCKET,
      S3_PREFIX: 'metrics-itest',
      S3_ENDPOINT: s3.endpoint,
      BACKUP_DIR: dir,
      LOCAL_RETENTION_DAYS: '7',
      REMOTE_RETENTION_DAYS: '90',
      [Pushgateway.URL_ENV]: pushgatewayUrl ?? shipped(Pushgateway.URL_ENV).replace(/\/\/[^/]+/, `//127.0.0.1:${gatewayPort}`),
      [Pushgateway.JOB_ENV]: shipped(Pushgateway.JOB_ENV),
    };
    const dump = cp.spawnSync('bash', [BACKUP_SCRIPT, 'dump'], { env: e, encoding: 'utf8' });
    if (dump.status !== 0) throw new Error(`dump failed: ${dump.stderr}`);
    const up = cp.spawnSync('bash', [BACKUP_SCRIPT, 'upload'], { env: e, encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`upload failed: ${up.stderr}`);
    const newest = fs.readdirSync(dir).filter((f) => f.endsWith('.dump')).sort().pop()!;
    return { log: up.stderr, size: fs.statSync(path.join(dir, newest)).size };
  };

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPostgres(), startMinio({ kms: true })]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-metrics-'));
    fs.chmodSync(work, 0o777);
    const mb = cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'mb', `s3://${BUCKET}`], { env: s3.env(), encoding: 'utf8' });
    if (mb.status !== 0) throw new Error(mb.stderr);
    pg.psql('create database shop');
    pg.psql('create table t (x int); insert into t select generate_series(1, 5000);', { db: 'shop' });

    gatewayPort = await freePort();
    await startGateway();

    // The generated Pushgateway job, with Kubernetes discovery swapped for the loopback target
    // (and the namespace label its relabelling would set); the generated backup rules with the
    // test's short schedule gap.
    const job = generated.scrape_configs.find((j: any) => j.job_name === 'pushgateway');
    const { kubernetes_sd_configs: _sd, relabel_configs: _rl, ...rest } = job;
    const groups = alertGroups({
      namespace: ns,
      thresholds: env.monitoring.thresholds,
      rateWindowSeconds: 300,
      backups: [{ job: chart.backup.peer.name, title: 'dump', scheduleGapSeconds: GAP, runSeconds: RUN, severity: 'critical' }],
    }).filter((g) => g.name === 'nextgen-backup');
    fs.writeFileSync(path.join(work, 'backup.rules.yaml'), stringify(ruleFile(groups, env.monitoring.runbookBaseUrl)));
    fs.writeFileSync(
      path.join(work, 'prometheus.yml'),
      stringify({
        global: { ...generated.global, scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(work, 'backup.rules.yaml')],
        scrape_configs: [{ ...rest, static_configs: [{ targets: [`127.0.0.1:${gatewayPort}`], labels: { namespace: ns } }] }],
      }),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const log = fs.openSync(path.join(work, 'prometheus.log'), 'w');
    prometheus = cp.spawn(
      which('prometheus')!,
      [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`],
      { stdio: ['ignore', log, log] },
    );
    await waitForValue('Prometheus scrapes the Pushgateway', async () => ((await query(`up{job="pushgateway",namespace="${ns}"} == 1`)).length ? true : undefined));
  }, 180000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((r) => prometheus!.once('exit', r));
    }
    await stopGateway();
    await Promise.all([pg?.stop(), s3?.stop()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the shipped upload container is told where to push and under which job', () => {
    expect(shipped(Pushgateway.URL_ENV)).toBe(`http://pushgateway:${Pushgateway.PORT}`);
    expect(shipped(Pushgateway.JOB_ENV)).toBe('postgres-backup');
  });

  test('a backup pushes its last success, duration and size; Prometheus scrapes them with the job label the rules select', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { log, size } = backup();
    expect(log).toMatch(/reported success to http:\/\/127\.0\.0\.1/);
    const series = await waitForValue('backup metrics in Prometheus', async () => {
      const r = await query(`{__name__=~"nextgen_backup_.*",namespace="${ns}",job="postgres-backup"}`);
      return r.length === 3 ? r : undefined;
    });
    const value = (name: string) => Number(series.find((s: any) => s.metric.__name__ === name).value[1]);
    expect(value(M.backupLastSuccess.name)).toBeGreaterThanOrEqual(before);
    expect(value(M.backupLastSuccess.name)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(value(M.backupSize.name)).toBe(size);
    expect(value(M.backupDuration.name)).toBeGreaterThanOrEqual(0);
    expect(value(M.backupDuration.name)).toBeLessThan(120);
  }, 60000);

  test('BackupTooOld fires once the last success is older than the schedule gap plus one run; the next success resolves it', async () => {
    await waitForValue('a fresh backup is reported', async () => ((await query(`namespace_job:nextgen_backup_age_seconds{namespace="${ns}"}`)).length ? true : undefined));
    expect(await alertState('BackupTooOld')).toBe('inactive');
    await waitForValue('BackupTooOld firing', async () => ((await alertState('BackupTooOld')) === 'firing' ? true : undefined), (GAP + RUN + 5) * 1000);
    const age = Number((await query(`namespace_job:nextgen_backup_age_seconds{namespace="${ns}"}`))[0].value[1]);
    expect(age).toBeGreaterThan(GAP + RUN);

    backup();
    await waitForValue('BackupTooOld resolved', async () => ((await alertState('BackupTooOld')) === 'inactive' ? true : undefined), 10000);
  }, 90000);

  test('the Pushgateway keeps the last success across a restart (persistence file)', async () => {
    const last = await gatewayMetric(M.backupLastSuccess.name);
    expect(last).toBeGreaterThan(0);
    await stopGateway();
    await startGateway();
    expect(await gatewayMetric(M.backupLastSuccess.name)).toBe(last);
  }, 30000);

  test('a backup whose push fails still succeeds (it reached S3) and says so in its log', async () => {
    const before = await gatewayMetric(M.backupLastSuccess.name);
    const closed = await freePort();
    const { log } = backup(`http://127.0.0.1:${closed}`);
    expect(log).toMatch(/WARNING: the backup succeeded but its metrics could not be pushed/);
    expect(await gatewayMetric(M.backupLastSuccess.name)).toBe(before);
  }, 60000);

  test('push_metrics needs nothing but bash: it pushes with an empty PATH', async () => {
    const r = cp.spawnSync('/bin/bash', ['--norc', '--noprofile', '-c', `source ${JSON.stringify(PUSH_METRICS_SCRIPT)}; printf 'nextgen_itest_pushed 7\\n' | push_metrics itest-job`], {
      env: { PATH: '/nonexistent', PUSHGATEWAY_URL: `http://127.0.0.1:${gatewayPort}` },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const text = await (await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).text();
    expect(text).toMatch(/^nextgen_itest_pushed\{.*job="itest-job".*\} 7$/m);
  });

  test('the WAL uploader, with its shipped env, reports each good round (nothing to upload included) for WalArchiveUploadStale', async () => {
    const up = podSpec(find(manifests, 'Deployment', 'postgres-wal-archive')).containers.find((c: any) => c.name === 'upload');
    const val = (n: string) => up.env.find((e: any) => e.name === n)?.value as string;
    const walDir = fs.mkdtempSync(path.join(work, 'wal-'));
    const before = Math.floor(Date.now() / 1000);
    const r = cp.spawnSync('bash', [WAL_ARCHIVE_SCRIPT, 'upload-once'], {
      env: {
        PATH: process.env.PATH,
        WAL_DIR: walDir,
        S3_BUCKET: BUCKET,
        S3_PREFIX: 'wal-itest',
        [Pushgateway.URL_ENV]: val(Pushgateway.URL_ENV).replace(/\/\/[^/]+/, `//127.0.0.1:${gatewayPort}`),
        [Pushgateway.JOB_ENV]: val(Pushgateway.JOB_ENV),
      },
      encoding: 'utf8',
    });
    expect(r.stderr).toMatch(/uploaded 0 file/);
    expect(r.status).toBe(0);
    const text = await (await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).text();
    const m = new RegExp(`^${M.walUploadLastSuccess.name}\\{[^}]*job="postgres-wal-archive"[^}]*\\} (\\S+)$`, 'm').exec(text);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(before);
  });

  test('a failed push is reported, not hidden, and a bad job name is refused', () => {
    const run = (job: string, url: string) =>
      cp.spawnSync('/bin/bash', ['--norc', '--noprofile', '-c', `source ${JSON.stringify(PUSH_METRICS_SCRIPT)}; echo 'x 1' | push_metrics ${job}`], { env: { PATH: '/nonexistent', PUSHGATEWAY_URL: url }, encoding: 'utf8' });
    expect(run('itest-job', 'http://127.0.0.1:1').status).not.toBe(0);
    expect(run("'bad/job'", `http://127.0.0.1:${gatewayPort}`).status).toBe(2);
  });
});
