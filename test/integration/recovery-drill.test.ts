/**
 * The recovery drill on real servers: a primary and a streaming standby started from the
 * generated configuration, the WAL archive streaming to a real S3 (MinIO), and every step run
 * by the shipped scripts taken from the synthesized ConfigMaps (standby.sh, wal-archive.sh,
 * base-backup.sh, pitr.sh, timelines.sh, verify.sh), as the runbooks of docs/operations.md run
 * them:
 *
 *   a steady write load on the primary; the standby falls behind (stopped) while the archive
 *   keeps streaming; the primary is killed; the standby is promoted (a new timeline that forks
 *   before the archive's position); the archiver follows the new timeline; the old primary is
 *   rebuilt as a standby; a point-in-time restore to after the failover; retention; a restore
 *   of the latest state from what retention left.
 *
 * Asserted: no acknowledged write older than the RPO is lost; the old primary never accepts a
 * write again; the archive has no gap across the timeline switch; retention leaves a
 * restorable chain; the post-restore check passes on the right restore and fails on a wrong one.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { find, podSpec, synth } from '../support/synth';
import { GeneratedServer, ROLES, SWITCH_WAL_SQL, eventually, initCluster, ownedDir, pgBin, runAs, runRolesScript, spawnAs, startGenerated } from './lib/replication';
import { MinioServer, describeWith, startMinio } from './lib/servers';

const BUCKET = 'nextgen-backups';
const PREFIX = 'drill';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

describeWith(['postgres', 'psql', 'pg_basebackup', 'pg_receivewal', 'pg_rewind', 'aws', 'minio'], 'recovery drill on real PostgreSQL and MinIO', () => {
  const manifests = synth();
  const serverOf = (sts: string) => podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'postgres').args as string[];
  const hba: string = find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE];
  const roles: string = find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE];
  const archiveSlot = podSpec(find(manifests, 'Deployment', 'postgres-wal-archive')).containers.find((c: any) => c.name === 'receive').env.find((e: any) => e.name === 'SLOT').value;
  const rpoSeconds = 5 * 60; // prod's backup.rpoMinutes (synth() is prod's data)
  const db = 'marketplace';

  let root: string;
  let scripts: string;
  let s3: MinioServer;
  let primary: GeneratedServer;
  let standby: GeneratedServer;
  let receiver: cp.ChildProcess | undefined;
  let writer: cp.ChildProcess | undefined;
  const walDir = () => path.join(root, 'wal');
  const acked = () => path.join(root, 'acked');

  const script = (name: string) => path.join(scripts, name);
  const s3Env = () => ({ ...(s3.env() as Record<string, string>), S3_BUCKET: BUCKET, S3_PREFIX: PREFIX, S3_ENDPOINT: s3.endpoint, S3_SSE: 'AES256' });
  const aws = (args: string[]) => cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, ...args], { env: s3.env(), encoding: 'utf8' });
  const keys = (sub: string): string[] => {
    const r = aws(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', `${PREFIX}/${sub}`, '--query', 'Contents[].Key', '--output', 'json']);
    expect(r.status).toBe(0);
    return (JSON.parse(r.stdout || 'null') ?? []).map((k: string) => k.slice(PREFIX.length + 1)).sort();
  };
  const uploadOnce = () => {
    const up = cp.spawnSync('bash', [script('wal-archive.sh'), 'upload-once'], { env: { ...s3Env(), WAL_DIR: walDir() }, encoding: 'utf8' });
    expect(up.status).toBe(0);
  };
  const archiveNow = async (server: GeneratedServer) => {
    const seg = server.psql(SWITCH_WAL_SQL);
    await eventually(`segment ${seg} received`, () => fs.existsSync(path.join(walDir(), `${seg}.gz`)), 60000).catch((e) => {
      throw new Error(`${e}\nin ${walDir()}: ${fs.readdirSync(walDir()).join(' ')}\nthe receiver (${receiver?.exitCode === null ? 'running' : `exited ${receiver?.exitCode}`}):\n${fs.readFileSync(path.join(root, 'receive.log'), 'utf8').slice(-4000)}\nthe server:\n${server.log().slice(-4000)}`);
    });
    uploadOnce();
  };
  const startReceiver = (server: GeneratedServer) => {
    receiver = spawnAs('bash', [script('wal-archive.sh'), 'receive'], { ...server.env('repl'), WAL_DIR: walDir(), SLOT: archiveSlot, MAX_FAILURES: '3' }, path.join(root, 'receive.log'));
  };
  const startWriter = (server: GeneratedServer) => {
    const env = server.env('owner', db);
    const loop = `while :; do r=$(${pgBin('psql')} -XAtq -c "INSERT INTO writes DEFAULT VALUES RETURNING id") && echo "$r $(date +%s.%N)" >> ${acked()}; sleep 0.05; done`;
    writer = cp.spawn('bash', ['-c', loop], { env: { ...process.env, ...env }, stdio: 'ignore' });
  };
  const stopWriter = async () => {
    writer?.kill('SIGKILL');
    writer = undefined;
    await sleep(300);
  };
  /** Acknowledged writes: id and the time the commit was acknowledged (epoch seconds). */
  const ackedWrites = () =>
    fs.readFileSync(acked(), 'utf8').trim().split('\n').filter(Boolean).map((l) => {
      const [id, at] = l.split(' ');
      return { id: Number(id), at: Number(at) };
    });
  const baseBackup = (server: GeneratedServer, retentionDays = '7') => {
    const baseDir = path.join(root, 'base');
    fs.mkdirSync(baseDir, { recursive: true });
    cp.execFileSync('chown', ['postgres:postgres', baseDir]);
    const take = runAs('bash', [script('base-backup.sh'), 'take'], { ...server.env('repl'), BASE_DIR: baseDir });
    expect(take.stderr).toMatch(/verified base backup/);
    const up = cp.spawnSync('bash', [script('base-backup.sh'), 'upload'], { env: { ...s3Env(), BASE_DIR: baseDir, RETENTION_DAYS: retentionDays }, encoding: 'utf8' });
    expect(up.status).toBe(0);
    return [.../verified base backup (\S+) \(start ([0-9A-F]{24})/.exec(take.stderr)!.slice(1, 3), up.stderr];
  };
  const pitr = async (target: string, name: string) => {
    const dir = ownedDir(`drill-pitr-${name}-`);
    const env = { ...s3Env(), TARGET_TIME: target, RESTORE_DIR: path.join(dir, 'restore') };
    const fetch = cp.spawnSync('bash', [script('pitr.sh'), 'fetch'], { env, encoding: 'utf8' });
    expect(fetch.stderr).toMatch(/downloaded base backup/);
    cp.execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    const data = path.join(dir, 'pgdata');
    const restore = runAs('bash', [script('pitr.sh'), 'restore'], { TARGET_TIME: target, RESTORE_DIR: path.join(dir, 'restore'), PGDATA: data, PGUSER: ROLES.owner.user });
    if (restore.status !== 0) throw new Error(`pitr restore to ${target} failed:\n${restore.stderr}`);
    return startGenerated({ data, args: serverOf('postgres'), hba });
  };
  const verify = (server: GeneratedServer, extra: Record<string, string>) =>
    cp.spawnSync('bash', [script('verify.sh')], { encoding: 'utf8', env: { ...process.env, ...server.env('owner', db), PATH: `${path.dirname(pgBin('psql'))}:${process.env.PATH}`, EXPECT_MIGRATION: '', EXPECT_ROWS: '', ...extra } });

  beforeAll(async () => {
    root = ownedDir('recovery-drill-');
    // The shipped scripts, from the ConfigMaps the Jobs and pods mount.
    scripts = path.join(root, 'scripts');
    fs.mkdirSync(scripts);
    for (const cm of ['postgres-wal-scripts', 'postgres-standby-scripts', 'postgres-backup-scripts']) {
      for (const [file, text] of Object.entries(find(manifests, 'ConfigMap', cm).data as Record<string, string>)) fs.writeFileSync(path.join(scripts, file), text, { mode: 0o755 });
    }
    s3 = await startMinio({ kms: true });
    expect(aws(['s3', 'mb', `s3://${BUCKET}`]).status).toBe(0);
    const data = path.join(root, 'primary');
    initCluster(data);
    primary = await startGenerated({ data, args: serverOf('postgres'), hba });
    primary.psql(`CREATE DATABASE ${db}`);
    expect(runRolesScript(primary, roles, db).status).toBe(0);
    primary.psql(
      `CREATE TABLE writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
       CREATE TABLE _prisma_migrations (id text PRIMARY KEY, checksum text NOT NULL, finished_at timestamptz, migration_name text NOT NULL,
         logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count int NOT NULL DEFAULT 0);
       INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name) VALUES ('1', 'x', now(), '20261101000000_init');`,
      { db },
    );
    fs.mkdirSync(walDir());
    cp.execFileSync('chown', ['postgres:postgres', walDir()]);
    fs.writeFileSync(acked(), '');
    const sdata = path.join(root, 'standby');
    const b = runAs('bash', [script('standby.sh'), 'bootstrap'], { PGDATA: sdata, SLOT: 'postgres_standby', PGHOST: '127.0.0.1', PGPORT: String(primary.port), REPL_USER: ROLES.repl.user, REPL_PASSWORD: ROLES.repl.password });
    expect(b.status).toBe(0);
    standby = await startGenerated({ data: sdata, args: serverOf('postgres-standby'), hba, primaryPort: primary.port });
    startReceiver(primary);
    await eventually('pg_receivewal streams', () => primary.psql(`SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`) === '1');
  }, 180000);

  afterAll(async () => {
    writer?.kill('SIGKILL');
    receiver?.kill('SIGTERM');
    for (const s of [standby, primary]) s?.stop('immediate');
    await s3?.stop();
    if (root && !process.env.DRILL_KEEP) fs.rmSync(root, { recursive: true, force: true });
  });

  let base1: string[];
  let killedAt = 0;
  let promotedAt = '';
  let afterFailover = '';
  let beforeMigration = '';

  test('under a steady write load, the standby falls behind and the primary dies', async () => {
    base1 = baseBackup(primary);
    startWriter(primary);
    await sleep(3000);
    await archiveNow(primary);
    await eventually('the standby caught up', () => standby.psql('SELECT count(*) FROM writes', { db }) !== '0', 30000);
    // The standby stops receiving; the primary keeps writing and the archive keeps streaming
    // whole segments past the standby's position.
    standby.stop('fast');
    for (let i = 0; i < 3; i++) {
      await sleep(1500);
      await archiveNow(primary);
    }
    await sleep(1000);
    killedAt = Date.now() / 1000;
    primary.stop('immediate');
    await stopWriter();
    expect(ackedWrites().length).toBeGreaterThan(20);
  }, 240000);

  test('promote: the standby becomes the primary on a new timeline; no acknowledged write older than the RPO is lost', async () => {
    standby = await startGenerated({ data: standby.data, args: serverOf('postgres-standby'), hba, primaryPort: primary.port });
    const p = runAs('bash', [script('standby.sh'), 'promote'], { ...standby.env('owner'), PROMOTE_WAIT_SECONDS: '60' });
    expect(p.stderr).toMatch(/is the primary now \(timeline 2\)/);
    promotedAt = isoNow();
    const present = new Set(standby.psql('SELECT id FROM writes', { db }).split('\n').map(Number));
    const lost = ackedWrites().filter((w) => !present.has(w.id));
    // Writes acknowledged while the standby was stopped are lost (asynchronous replication),
    // but none older than the RPO.
    expect(lost.length).toBeGreaterThan(0);
    for (const w of lost) expect(killedAt - w.at).toBeLessThan(rpoSeconds);
    startWriter(standby);
  }, 120000);

  test('the archiver follows the new timeline from the switch point: diverged segments set aside, no gap', async () => {
    receiver?.kill('SIGTERM');
    await sleep(500);
    startReceiver(standby);
    await eventually('pg_receivewal streams from the new primary', () => standby.psql(`SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`) === '1', 90000).catch((e) => {
      throw new Error(`${e}\n${fs.readFileSync(path.join(root, 'receive.log'), 'utf8')}`);
    });
    expect(fs.readFileSync(path.join(root, 'receive.log'), 'utf8')).toMatch(/timeline fork: the server's timeline 2 left timeline 1/);
    standby.psql(`INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name) VALUES ('2', 'y', now(), '20261206000000_after_failover')`, { db });
    await sleep(1100);
    afterFailover = isoNow();
    await sleep(1100);
    await archiveNow(standby);
    await archiveNow(standby);
    const wal = keys('wal/').map((k) => k.slice(4));
    expect(wal).toContain('00000002.history');
    expect(keys('diverged/').length).toBeGreaterThan(0);
    // Along the new timeline's history, from the first base backup on, every segment is there.
    const history = aws(['s3', 'cp', `s3://${BUCKET}/${PREFIX}/wal/00000002.history`, '-']).stdout;
    const [, hi, lo] = /^1\t([0-9A-F]+)\/([0-9A-F]+)/m.exec(history)!;
    const fork = Number((BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`)) / (16n * 1024n * 1024n));
    const segno = (n: string) => parseInt(n.slice(8, 16), 16) * 256 + parseInt(n.slice(16, 24), 16);
    const chain = wal.filter((n) => /^[0-9A-F]{24}\.gz$/.test(n)).filter((n) => (n.startsWith('00000001') ? segno(n) <= fork : n.startsWith('00000002')));
    const numbers = [...new Set(chain.map(segno))].filter((s) => s >= segno(base1[1])).sort((a, b) => a - b);
    expect(numbers.length).toBeGreaterThan(3);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => numbers[0] + i));
    expect(chain.some((n) => n.startsWith('00000002'))).toBe(true);
  }, 240000);

  test('the old primary is rebuilt as a standby and never accepts a write', async () => {
    const rebuild = runAs('bash', [script('standby.sh'), 'rebuild'], {
      PGDATA: primary.data, SLOT: 'postgres', PGHOST: '127.0.0.1', PGPORT: String(standby.port), PGDATABASE: 'postgres',
      PGUSER: ROLES.owner.user, PGPASSWORD: ROLES.owner.password, REPL_USER: ROLES.repl.user, REPL_PASSWORD: ROLES.repl.password,
    });
    expect(rebuild.stderr).toMatch(/is a standby of 127\.0\.0\.1/);
    expect(rebuild.status).toBe(0);
    primary = await startGenerated({ data: primary.data, args: serverOf('postgres'), hba, primaryPort: standby.port });
    expect(primary.psql('SELECT pg_is_in_recovery()')).toBe('t');
    expect(primary.psqlResult('INSERT INTO writes DEFAULT VALUES', { db }).stderr).toMatch(/read-only transaction/);
    // What it wrote after the standby stopped is gone: it follows the new primary's history.
    const lost = ackedWrites().filter((w) => w.at > killedAt - rpoSeconds).map((w) => w.id);
    const onNew = new Set(standby.psql('SELECT id FROM writes', { db }).split('\n').map(Number));
    const diverged = lost.filter((id) => !onNew.has(id));
    await eventually('the rebuilt server replayed', () => Number(primary.psql('SELECT count(*) FROM writes', { db })) > 0);
    const onOld = new Set(primary.psql('SELECT id FROM writes', { db }).split('\n').map(Number));
    for (const id of diverged) expect(onOld.has(id)).toBe(false);
  }, 240000);

  test('PITR to a time after the failover: the writes before it, the post-restore check passes; a wrong restore fails it', async () => {
    await stopWriter();
    beforeMigration = promotedAt;
    await archiveNow(standby);
    const restored = await pitr(afterFailover, 'after');
    try {
      expect(restored.psql('SELECT pg_is_in_recovery()')).toBe('f');
      const ok = verify(restored, { EXPECT_MIGRATION: '20261206000000_after_failover', EXPECT_ROWS: 'writes>=20' });
      expect(ok.stderr).toMatch(/passed/);
      expect(ok.status).toBe(0);
      // Every write acknowledged by the new primary before the target is there.
      const present = new Set(restored.psql('SELECT id FROM writes', { db }).split('\n').map(Number));
      const target = Date.parse(afterFailover) / 1000;
      const onNew = new Set(standby.psql(`SELECT id FROM writes WHERE at < '${afterFailover}'`, { db }).split('\n').map(Number));
      for (const w of ackedWrites()) if (w.at < target - 1 && onNew.has(w.id)) expect(present.has(w.id)).toBe(true);
    } finally {
      restored.stop();
    }
    // Deliberately wrong: a restore to before the migration the operator expects.
    const wrong = await pitr(beforeMigration, 'wrong');
    try {
      const r = verify(wrong, { EXPECT_MIGRATION: '20261206000000_after_failover' });
      expect(r.stderr).toMatch(/newest migration is 20261101000000_init, expected 20261206000000_after_failover/);
      expect(r.status).not.toBe(0);
    } finally {
      wrong.stop();
    }
  }, 480000);

  test('retention after the failover leaves a restorable chain: latest restores from what is left', async () => {
    // A window of 0 days: only the newest backup on the chain is kept, the least a restore needs.
    const [base2, start2, log] = baseBackup(standby, '0');
    expect(start2.startsWith('00000002')).toBe(true);
    expect(log).toMatch(new RegExp(`on timeline 2's history: kept 1 base backup\\(s\\) from ${base2} \\(start segment ${start2}\\); deleted [1-9]\\d* base backup object\\(s\\) and [1-9]\\d* WAL segment`));
    const left = keys('');
    expect(left).toContain(`base/${base2}/info`);
    expect(left).toContain('wal/00000002.history');
    await archiveNow(standby);
    expect(keys('wal/').filter((k) => /^wal\/00000002/.test(k) && k.slice(4, 28) >= start2).length).toBeGreaterThan(0);
    const restored = await pitr('latest', 'latest');
    try {
      expect(verify(restored, { EXPECT_MIGRATION: '20261206000000_after_failover' }).status).toBe(0);
      expect(restored.psql('SELECT count(*) FROM writes', { db })).toBe(standby.psql('SELECT count(*) FROM writes', { db }));
    } finally {
      restored.stop();
    }
  }, 480000);
});
