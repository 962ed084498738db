/**
 * The continuous WAL archive, base backups and point-in-time restore on a real PostgreSQL
 * (started from the generated configuration) and a real S3 (MinIO with SSE-S3), running the
 * shipped scripts as their containers do: wal-archive.sh receive + upload, base-backup.sh
 * take + upload, pitr.sh fetch + restore into a fresh data directory from S3 alone.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { BASE_BACKUP_SCRIPT, PITR_SCRIPT, WAL_ARCHIVE_SCRIPT } from '../../constructs/postgres/scripts';
import { find, podSpec, synth } from '../support/synth';
import { GeneratedServer, ROLES, SWITCH_WAL_SQL, eventually, initCluster, ownedDir, runAs, runRolesScript, spawnAs, startGenerated } from './lib/replication';
import { MinioServer, describeWith, startMinio } from './lib/servers';

const BUCKET = 'nextgen-backups';

describeWith(['postgres', 'psql', 'pg_basebackup', 'pg_receivewal', 'aws', 'minio'], 'WAL archive and point-in-time restore against real PostgreSQL and MinIO', () => {
  const manifests = synth();
  const serverArgs: string[] = podSpec(find(manifests, 'StatefulSet', 'postgres')).containers.find((c: any) => c.name === 'postgres').args;
  const hba: string = find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE];
  const roles: string = find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE];
  const archive = podSpec(find(manifests, 'Deployment', 'postgres-wal-archive'));
  const slot = archive.containers.find((c: any) => c.name === 'receive').env.find((e: any) => e.name === 'SLOT').value;
  const db = 'marketplace';

  let pg: GeneratedServer;
  let s3: MinioServer;
  let root: string;
  let receiver: cp.ChildProcess;
  /** The receive loop's TMPDIR, where it keeps its heartbeat. */
  let receiveTmp: string;
  const walDir = () => path.join(root, 'wal');

  const s3Env = (prefix: string) => ({ ...(s3.env() as Record<string, string>), S3_BUCKET: BUCKET, S3_PREFIX: prefix, S3_ENDPOINT: s3.endpoint, S3_SSE: 'AES256' });
  const aws = (args: string[]) => cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, ...args], { env: s3.env(), encoding: 'utf8' });
  const keys = (prefix: string): string[] => {
    const r = aws(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', `${prefix}/`, '--query', 'Contents[].Key', '--output', 'json']);
    expect(r.status).toBe(0);
    return (JSON.parse(r.stdout || 'null') ?? []).sort();
  };
  /** Close the current segment and wait until the uploader has sent everything closed. */
  const archiveNow = async () => {
    const seg = pg.psql(SWITCH_WAL_SQL);
    await eventually(`segment ${seg} received`, () => fs.existsSync(path.join(walDir(), `${seg}.gz`)));
    const up = cp.spawnSync('bash', [WAL_ARCHIVE_SCRIPT, 'upload-once'], { env: { ...s3Env('itest'), WAL_DIR: walDir() }, encoding: 'utf8' });
    expect(up.stderr).toMatch(/uploaded \d+ file\(s\)/);
    expect(up.status).toBe(0);
    return seg;
  };
  const restore = async (prefix: string, target: string, name: string) => {
    const dir = ownedDir(`pitr-${name}-`);
    const env = { ...s3Env(prefix), TARGET_TIME: target, RESTORE_DIR: path.join(dir, 'restore') };
    const fetch = cp.spawnSync('bash', [PITR_SCRIPT, 'fetch'], { env, encoding: 'utf8' });
    if (fetch.status !== 0) return { fetch, dir };
    cp.execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    const data = path.join(dir, 'pgdata');
    const run = runAs('bash', [PITR_SCRIPT, 'restore'], { TARGET_TIME: target, RESTORE_DIR: path.join(dir, 'restore'), PGDATA: data, PGUSER: ROLES.owner.user });
    return { fetch, restore: run, data, dir };
  };

  beforeAll(async () => {
    root = ownedDir('wal-itest-');
    s3 = await startMinio({ kms: true });
    expect(aws(['s3', 'mb', `s3://${BUCKET}`]).status).toBe(0);
    const data = path.join(root, 'primary');
    initCluster(data);
    pg = await startGenerated({ data, args: serverArgs, hba });
    pg.psql(`CREATE DATABASE ${db}`);
    expect(runRolesScript(pg, roles, db).status).toBe(0);
    pg.psql('CREATE TABLE orders (id bigserial PRIMARY KEY, batch text NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())', { db });
    fs.mkdirSync(walDir());
    cp.execFileSync('chown', ['postgres:postgres', walDir()]);
    receiveTmp = ownedDir('wal-receive-tmp-');
    receiver = spawnAs('bash', [WAL_ARCHIVE_SCRIPT, 'receive'], { ...pg.env('repl'), WAL_DIR: walDir(), SLOT: slot, TMPDIR: receiveTmp }, path.join(root, 'receive.log'));
    await eventually('pg_receivewal streams', () => pg.psql(`SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`) === '1');
  }, 120000);

  afterAll(async () => {
    receiver?.kill('SIGTERM');
    pg?.stop('immediate');
    await s3?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  let noted = '';
  let baseStamp = '';

  test('the server closes a segment on archive_timeout: the shipped setting is what bounds the RPO', () => {
    expect(pg.psql(`SELECT setting FROM pg_settings WHERE name = 'archive_timeout'`)).toBe('60');
    expect(pg.psql(`SELECT slot_name || ':' || active FROM pg_replication_slots`)).toBe(`${slot}:true`);
  });

  test('closing a segment with nothing written since the last switch names the complete one, not the open one', async () => {
    pg.psql(`SELECT pg_logical_emit_message(false, 'nextgen-test', 'a write')`);
    const first = pg.psql(SWITCH_WAL_SQL);
    // Nothing written since: the switch is a no-op and returns the boundary after `first`.
    const boundary = pg.psql('SELECT pg_switch_wal()');
    expect(pg.psql(`SELECT pg_walfile_name('${boundary}'::pg_lsn)`)).not.toBe(first);
    expect(pg.psql(SWITCH_WAL_SQL)).toBe(first);
    // The name it gives is complete: the archiver has it with no further write.
    await eventually(`segment ${first} received`, () => fs.existsSync(path.join(walDir(), `${first}.gz`)));
    // The boundary's own name is the open segment: the archiver has only its partial file.
    expect(fs.existsSync(path.join(walDir(), `${pg.psql(`SELECT pg_walfile_name('${boundary}'::pg_lsn)`)}.gz`))).toBe(false);
  });

  test('base backup: taken as the replication role, verified, uploaded with SSE; info marks it complete', async () => {
    pg.psql(`INSERT INTO orders (batch) SELECT 'before base' FROM generate_series(1, 1000)`, { db });
    const baseDir = path.join(root, 'base');
    fs.mkdirSync(baseDir);
    cp.execFileSync('chown', ['postgres:postgres', baseDir]);
    const take = runAs('bash', [BASE_BACKUP_SCRIPT, 'take'], { ...pg.env('repl'), BASE_DIR: baseDir });
    expect(take.stderr).toMatch(/verified base backup \d{8}T\d{6}Z \(start [0-9A-F]{24}/);
    expect(take.status).toBe(0);
    const up = cp.spawnSync('bash', [BASE_BACKUP_SCRIPT, 'upload'], { env: { ...s3Env('itest'), BASE_DIR: baseDir, RETENTION_DAYS: '7' }, encoding: 'utf8' });
    expect(up.stderr).toMatch(/retention 7 d on timeline 1's history: kept 1 base backup/);
    expect(up.status).toBe(0);
    const base = keys('itest').filter((k) => k.startsWith('itest/base/'));
    baseStamp = /base\/(\d{8}T\d{6}Z)\//.exec(base[0])![1];
    expect(base.map((k) => k.replace(baseStamp, 'S'))).toEqual(['itest/base/S/SHA256SUMS', 'itest/base/S/backup_manifest', 'itest/base/S/base.tar.zst', 'itest/base/S/info', 'itest/base/S/pg_wal.tar']);
    const head = aws(['s3api', 'head-object', '--bucket', BUCKET, '--key', `itest/base/${baseStamp}/base.tar.zst`]);
    expect(JSON.parse(head.stdout).ServerSideEncryption).toBe('AES256');
    expect(fs.readdirSync(baseDir)).toEqual([]);
  });

  test('round trip: restore to a noted time from S3 alone has exactly the rows written before it', async () => {
    pg.psql(`INSERT INTO orders (batch) SELECT 'A' FROM generate_series(1, 2000)`, { db });
    await archiveNow();
    await new Promise((r) => setTimeout(r, 1100));
    noted = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await new Promise((r) => setTimeout(r, 1100));
    pg.psql(`INSERT INTO orders (batch) SELECT 'B' FROM generate_series(1, 3000)`, { db });
    pg.psql(`UPDATE orders SET batch = 'A changed' WHERE batch = 'A' AND id % 2 = 0`, { db });
    await archiveNow();
    const walKeys = keys('itest').filter((k) => k.startsWith('itest/wal/'));
    expect(walKeys.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(aws(['s3api', 'head-object', '--bucket', BUCKET, '--key', walKeys[0]]).stdout).ServerSideEncryption).toBe('AES256');

    const r = await restore('itest', noted, 'noted');
    expect(r.fetch.stderr).toMatch(new RegExp(`base backup ${baseStamp}`));
    expect(r.fetch.status).toBe(0);
    expect(r.restore!.stderr).toMatch(/recovery ended: .*recovery stopping before commit/);
    expect(r.restore!.stderr).toMatch(/the data directory is ready/);
    expect(r.restore!.status).toBe(0);
    const restored = await startGenerated({ data: r.data!, args: serverArgs, hba });
    try {
      expect(restored.psql('SELECT pg_is_in_recovery()')).toBe('f');
      expect(restored.psql(`SELECT batch || ':' || count(*) FROM orders GROUP BY batch ORDER BY batch`, { db })).toBe('A:2000\nbefore base:1000');
    } finally {
      restored.stop();
    }
  });

  test('latest: restores everything archived, the later batch and the update included', async () => {
    const r = await restore('itest', 'latest', 'latest');
    expect(r.restore!.stderr).toMatch(/the data directory is ready/);
    expect(r.restore!.status).toBe(0);
    const restored = await startGenerated({ data: r.data!, args: serverArgs, hba });
    try {
      const rows = (srv: GeneratedServer) => srv.psql(`SELECT batch || ':' || count(*) FROM orders GROUP BY batch ORDER BY batch`, { db });
      expect(rows(restored)).toBe(rows(pg));
      expect(rows(restored)).toBe('A:1000\nA changed:1000\nB:3000\nbefore base:1000');
    } finally {
      restored.stop();
    }
  });

  test('a restore into a data directory that holds a cluster is refused', async () => {
    const r = await restore('itest', 'latest', 'occupied');
    fs.mkdirSync(path.join(r.dir, 'occupied'));
    fs.writeFileSync(path.join(r.dir, 'occupied', 'PG_VERSION'), '16\n');
    cp.execFileSync('chown', ['-R', 'postgres:postgres', r.dir]);
    const again = runAs('bash', [PITR_SCRIPT, 'restore'], { TARGET_TIME: 'latest', RESTORE_DIR: path.join(r.dir, 'restore'), PGDATA: path.join(r.dir, 'occupied'), PGUSER: ROLES.owner.user });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a cluster/);
  });

  /** A copy of the archive under another prefix, to damage. */
  const copyArchive = (to: string) => expect(aws(['s3', 'sync', '--only-show-errors', `s3://${BUCKET}/itest/`, `s3://${BUCKET}/${to}/`]).status).toBe(0);

  test('a missing segment fails the restore loudly, naming it', async () => {
    copyArchive('missing');
    const segs = keys('missing').filter((k) => /\/wal\/[0-9A-F]{24}\.gz$/.test(k));
    expect(segs.length).toBeGreaterThanOrEqual(3);
    const gone = segs[segs.length - 2];
    expect(aws(['s3', 'rm', '--only-show-errors', `s3://${BUCKET}/${gone}`]).status).toBe(0);
    const r = await restore('missing', 'latest', 'missing');
    expect(r.restore!.status).not.toBe(0);
    expect(r.restore!.stderr).toMatch(new RegExp(`WAL segment [0-9A-F]{16} is missing from the archive`));
    expect(r.restore!.stderr).toContain(gone.slice(-27, -11));
    expect(fs.existsSync(path.join(r.data!, 'PG_VERSION'))).toBe(false);
  });

  test('a corrupt segment fails the restore loudly, naming it', async () => {
    copyArchive('corrupt');
    const segs = keys('corrupt').filter((k) => /\/wal\/[0-9A-F]{24}\.gz$/.test(k));
    const bad = segs[segs.length - 1];
    const junk = path.join(root, 'junk.gz');
    cp.execSync(`printf 'not really wal' | gzip -c | head -c 20 > ${junk}`);
    expect(aws(['s3', 'cp', '--only-show-errors', junk, `s3://${BUCKET}/${bad}`]).status).toBe(0);
    const r = await restore('corrupt', 'latest', 'corrupt');
    expect(r.restore!.status).not.toBe(0);
    expect(r.restore!.stderr).toMatch(/WAL segment [0-9A-F]{24}\.gz is corrupt/);
  });

  test('a last segment that is sound gzip but no WAL fails a latest restore: recovery stopped before it', async () => {
    copyArchive('unreplayed');
    const segs = keys('unreplayed').filter((k) => /\/wal\/[0-9A-F]{24}\.gz$/.test(k));
    const last = segs[segs.length - 1];
    const zeros = path.join(root, 'zeros.gz');
    cp.execSync(`head -c ${16 * 1024 * 1024} /dev/zero | gzip -1 > ${zeros}`);
    expect(aws(['s3', 'cp', '--only-show-errors', zeros, `s3://${BUCKET}/${last}`]).status).toBe(0);
    const r = await restore('unreplayed', 'latest', 'unreplayed');
    // Recovery ends at the start of that segment; the promoted server's own position is already
    // inside it, on the new timeline: only the replay position shows what was replayed.
    expect(r.restore!.stderr).toMatch(new RegExp(`recovery stopped in segment [0-9A-F]{24}, before the last archived one ${last.slice(-27, -3)}`));
    expect(r.restore!.status).not.toBe(0);
  });

  test('a target before the oldest base backup is refused by fetch', async () => {
    const r = await restore('itest', '2020-01-01T00:00:00Z', 'early');
    expect(r.fetch.status).not.toBe(0);
    expect(r.fetch.stderr).toMatch(/no base backup was consistent before 2020-01-01T00:00:00Z/);
  });

  test('retention keeps every base backup of the window, the newest older one and every segment they need; deletes the rest', () => {
    const prefix = 'retention';
    const stamp = (days: number) => new Date(Date.now() - days * 86400e3).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const body = path.join(root, 'body');
    fs.writeFileSync(body, 'x');
    const put = (key: string, file = body) => expect(aws(['s3', 'cp', '--only-show-errors', '--sse', 'AES256', file, `s3://${BUCKET}/${prefix}/${key}`]).status).toBe(0);
    const base = (days: number, startWal: string, complete = true) => {
      const s = stamp(days);
      put(`base/${s}/base.tar.gz`);
      if (complete) {
        const info = path.join(root, `info-${s}`);
        fs.writeFileSync(info, `stamp=${s}\nstart_wal=${startWal}\nstart_time=x\nend_time=x\n`);
        put(`base/${s}/info`, info);
      }
      return s;
    };
    const old = [base(20, '000000010000000000000010'), base(12, '000000010000000000000020')];
    const older = base(9, '000000010000000000000030'); // newest before the 7-day window: kept
    const inWindow = [base(5, '000000010000000000000040'), base(1, '000000020000000000000050')];
    const incompleteOld = base(15, '000000010000000000000015', false);
    const segs = ['00000001000000000000000F', '000000010000000000000010', '00000001000000000000002F.gz', '000000010000000000000030.gz',
      '000000010000000000000031.gz', '000000020000000000000030.gz', '000000020000000000000051.gz', '000000010000000100000000.gz'];
    for (const s of segs) put(`wal/${s}`);
    // Timeline 2 forked from timeline 1 in segment 0x45: timeline 1 up to there is its history.
    const history = path.join(root, 'history-2');
    fs.writeFileSync(history, '1\t0/45000000\tno recovery target specified\n');
    put('wal/00000002.history', history);
    put('notes.txt');

    const r = cp.spawnSync('bash', [BASE_BACKUP_SCRIPT, 'prune'], { env: { ...s3Env(prefix), BASE_DIR: path.join(root, 'unused'), RETENTION_DAYS: '7' }, encoding: 'utf8' });
    expect(r.stderr).toMatch(new RegExp(`kept 3 base backup\\(s\\) from ${older} \\(start segment 000000010000000000000030\\); deleted 5 base backup object\\(s\\) and 3 WAL segment\\(s\\)`));
    expect(r.status).toBe(0);
    const left = keys(prefix);
    for (const s of [...old, incompleteOld]) expect(left.filter((k) => k.includes(s))).toEqual([]);
    for (const s of [older, ...inWindow]) expect(left).toContain(`${prefix}/base/${s}/info`);
    // Segments from the oldest kept backup's start on the chain, the rest of timeline 1 (off the
    // chain, but younger than the window) and history files stay.
    expect(left.filter((k) => k.includes('/wal/')).map((k) => k.split('/').pop()).sort()).toEqual(
      ['000000010000000000000030.gz', '000000010000000000000031.gz', '000000010000000100000000.gz', '00000002.history', '000000020000000000000030.gz', '000000020000000000000051.gz'].sort(),
    );
    expect(left).toContain(`${prefix}/notes.txt`);
  });

  test('retention after a PITR keeps the new timeline: a backup of the abandoned timeline sets no floor', () => {
    const prefix = 'retention-pitr';
    const stamp = (days: number) => new Date(Date.now() - days * 86400e3).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const body = path.join(root, 'body');
    fs.writeFileSync(body, 'x');
    const put = (key: string, file = body) => expect(aws(['s3', 'cp', '--only-show-errors', file, `s3://${BUCKET}/${prefix}/${key}`]).status).toBe(0);
    const base = (days: number, startWal: string) => {
      const s = stamp(days);
      const info = path.join(root, `info-pitr-${s}`);
      fs.writeFileSync(info, `stamp=${s}\nstart_wal=${startWal}\nstart_time=x\nend_time=x\n`);
      put(`base/${s}/base.tar.gz`);
      put(`base/${s}/info`, info);
      return s;
    };
    // Timeline 1 ran to segment 0x1D0 (base backups at 0x100 and 0x1C0); the PITR went back to
    // segment 0x50 and timeline 2 has run from there (0x50..0x5F).
    const before = base(9, '000000010000000000000010');
    // Taken on timeline 1 after the point the PITR went back to: the newest before the window,
    // which a per-segment-name retention keeps and uses as the floor for every timeline.
    base(8, '000000010000000000000100');
    const abandoned = base(1, '0000000100000000000001C0');
    const history = path.join(root, 'history-pitr');
    fs.writeFileSync(history, '1\t0/50000028\tbefore 2026-11-27 07:45:00+00\n');
    put('wal/00000002.history', history);
    const tl2 = Array.from({ length: 16 }, (_, i) => `0000000200000000000000${(0x50 + i).toString(16).toUpperCase()}.gz`);
    for (const s of ['00000001000000000000000F.gz', '000000010000000000000010.gz', '000000010000000000000050.gz', '0000000100000000000001C0.gz', ...tl2]) put(`wal/${s}`);

    const r = cp.spawnSync('bash', [BASE_BACKUP_SCRIPT, 'prune'], { env: { ...s3Env(prefix), BASE_DIR: path.join(root, 'unused'), RETENTION_DAYS: '7' }, encoding: 'utf8' });
    expect(r.stderr).toMatch(new RegExp(`on timeline 2's history: kept 1 base backup\\(s\\) from ${before}`));
    expect(r.status).toBe(0);
    const left = keys(prefix).map((k) => k.slice(prefix.length + 1));
    // Every segment of timeline 2, and timeline 1 from the kept backup to the fork.
    for (const s of [...tl2, '000000010000000000000010.gz', '000000010000000000000050.gz', '00000002.history']) expect(left).toContain(`wal/${s}`);
    expect(left).not.toContain('wal/00000001000000000000000F.gz');
    // The abandoned timeline's backup is younger than the window: kept, but it is no floor.
    expect(left).toContain(`base/${abandoned}/info`);
  });

  test('liveness: the probes as shipped pass while the upload loop runs and fail once its heartbeat is older than the limit', async () => {
    const upload = archive.containers.find((c: any) => c.name === 'upload');
    const receive = archive.containers.find((c: any) => c.name === 'receive');
    const tmp = path.join(root, 'probe-tmp');
    fs.mkdirSync(tmp);
    // The probe's command from the manifest, with the script from this checkout and the container's ALIVE_SECONDS.
    const probe = (c: any, tmpdir = tmp) => {
      const [cmd, script, ...args] = c.livenessProbe.exec.command;
      expect(script).toBe('/scripts/wal-archive.sh');
      const limit = c.env.find((e: any) => e.name === 'ALIVE_SECONDS').value;
      return cp.spawnSync(cmd, [WAL_ARCHIVE_SCRIPT, ...args], { env: { ...process.env, WAL_DIR: path.join(root, 'probe-wal'), TMPDIR: tmpdir, ALIVE_SECONDS: limit }, encoding: 'utf8' });
    };
    const before = probe(upload);
    expect(before.status).not.toBe(0);
    expect(before.stderr).toMatch(/upload: no heartbeat yet/);
    // The real loop, one round a second, against MinIO.
    const loop = cp.spawn('bash', [WAL_ARCHIVE_SCRIPT, 'upload'], { env: { ...s3Env('probe'), WAL_DIR: path.join(root, 'probe-wal'), TMPDIR: tmp, UPLOAD_INTERVAL_SECONDS: '1' }, stdio: 'ignore' });
    fs.mkdirSync(path.join(root, 'probe-wal'), { recursive: true });
    try {
      await eventually('the upload loop beats', () => probe(upload).status === 0);
    } finally {
      loop.kill('SIGTERM');
    }
    // A loop that stopped beating: older than the limit fails, naming the age.
    const limit = Number(upload.env.find((e: any) => e.name === 'ALIVE_SECONDS').value);
    cp.execFileSync('touch', ['-d', `@${Math.floor(Date.now() / 1000) - limit - 60}`, path.join(tmp, 'wal-upload.alive')]);
    const stuck = probe(upload);
    expect(stuck.status).not.toBe(0);
    expect(stuck.stderr).toMatch(new RegExp(`upload: the loop has not beaten for \\d+ s \\(limit ${limit} s\\): stuck`));
    // The receive phase: the loop streaming since the start of this file beats within its limit.
    const live = probe(receive, receiveTmp);
    expect({ status: live.status, stderr: live.stderr }).toEqual({ status: 0, stderr: '' });
    expect(Date.now() - fs.statSync(path.join(receiveTmp, 'wal-receive.alive')).mtimeMs).toBeLessThan(10000);
    expect(probe(receive).status).not.toBe(0); // no receive heartbeat in the upload's folder
  });

  describe('the archiver exits non-zero (so the restart is counted) on a state it cannot handle', () => {
    test('receive: the archive is on a newer timeline than the server (split brain): refuses to stream', () => {
      const dir = ownedDir('wal-newer-');
      fs.writeFileSync(path.join(dir, '000000050000000000000001.gz'), 'x');
      cp.execFileSync('chown', ['-R', 'postgres:postgres', dir]);
      const r = runAs('bash', [WAL_ARCHIVE_SCRIPT, 'receive'], { ...pg.env('repl'), WAL_DIR: dir, SLOT: 'exit_path_newer', TMPDIR: dir }, { timeout: 60000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/is on timeline 1, older than the archive's 5 .*refusing to stream/);
      // Nothing streams through the slot it checked.
      expect(pg.psql(`SELECT active FROM pg_replication_slots WHERE slot_name = 'exit_path_newer'`)).toBe('f');
      pg.psql(`SELECT pg_drop_replication_slot('exit_path_newer')`);
    });

    test('receive: MAX_FAILURES failed attempts in a row (the primary unreachable): exits', () => {
      const dir = ownedDir('wal-unreachable-');
      const started = Date.now();
      const r = runAs('bash', [WAL_ARCHIVE_SCRIPT, 'receive'], { ...pg.env('repl'), PGPORT: '1', WAL_DIR: dir, SLOT: 'exit_path_down', MAX_FAILURES: '2', TMPDIR: dir }, { timeout: 60000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/2 failed attempts in a row to stream from .*:1; exiting so the restart is counted/);
      // One 5 s pause between the two attempts, no more.
      expect(Date.now() - started).toBeLessThan(30000);
    });

    test('upload: a failed upload exits and leaves the segment for the next round', () => {
      const dir = path.join(root, 'wal-upload-fail');
      fs.mkdirSync(dir);
      const seg = path.join(dir, '000000010000000000000099.gz');
      fs.writeFileSync(seg, 'x');
      const r = cp.spawnSync('bash', [WAL_ARCHIVE_SCRIPT, 'upload-once'], {
        env: { ...s3Env('exit-path'), S3_ENDPOINT: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1', WAL_DIR: dir },
        encoding: 'utf8',
        timeout: 120000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/upload of 000000010000000000000099\.gz failed; it stays in .* for the next round/);
      expect(fs.existsSync(seg)).toBe(true);
    }, 150000);
  });

  test('retention deletes diverged segments once older than the window, whatever the chain', () => {
    const prefix = 'retention-diverged';
    const stamp = (days: number) => new Date(Date.now() - days * 86400e3).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const body = path.join(root, 'body-diverged');
    fs.writeFileSync(body, 'x');
    const put = (key: string) => expect(aws(['s3', 'cp', '--only-show-errors', '--sse', 'AES256', body, `s3://${BUCKET}/${prefix}/${key}`]).status).toBe(0);
    const oldFork = stamp(9);
    const recentFork = stamp(2);
    put(`diverged/${oldFork}/000000010000000000000031.gz`);
    put(`diverged/${oldFork}/000000010000000000000032.gz.partial`);
    put(`diverged/${recentFork}/000000020000000000000040.gz`);
    put('diverged/000000010000000000000033.gz'); // flat, as uploaded before the upload time was in the key: just written, kept
    put('wal/000000010000000000000030.gz');
    const r = cp.spawnSync('bash', [BASE_BACKUP_SCRIPT, 'prune'], { env: { ...s3Env(prefix), BASE_DIR: path.join(root, 'unused'), RETENTION_DAYS: '7' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/retention 7 d: deleted 2 diverged segment\(s\) set aside after a timeline fork/);
    // No complete base backup: the chain's retention deletes nothing.
    expect(r.stderr).toMatch(/no complete base backup in S3; nothing deleted/);
    expect(keys(prefix).map((k) => k.slice(prefix.length + 1)).sort()).toEqual(
      [`diverged/${recentFork}/000000020000000000000040.gz`, 'diverged/000000010000000000000033.gz', 'wal/000000010000000000000030.gz'].sort(),
    );
  });

  test('retention with no complete base backup deletes nothing', () => {
    const prefix = 'retention-empty';
    const body = path.join(root, 'body');
    expect(aws(['s3', 'cp', '--only-show-errors', body, `s3://${BUCKET}/${prefix}/wal/000000010000000000000001.gz`]).status).toBe(0);
    const r = cp.spawnSync('bash', [BASE_BACKUP_SCRIPT, 'prune'], { env: { ...s3Env(prefix), BASE_DIR: path.join(root, 'unused'), RETENTION_DAYS: '7' }, encoding: 'utf8' });
    expect(r.stderr).toMatch(/no complete base backup in S3; nothing deleted/);
    expect(r.status).toBe(0);
    expect(keys(prefix)).toEqual([`${prefix}/wal/000000010000000000000001.gz`]);
  });
});
