/**
 * A standby further behind than the primary keeps WAL catches up from the S3 archive: real
 * PostgreSQL servers started from prod's committed StatefulSets (dist/prod), a real S3 (MinIO),
 * the real aws CLI, and every script taken from the committed ConfigMaps: wal-archive.sh
 * streams and uploads the primary's WAL, standby.sh bootstraps the standby, and the standby's
 * shipped `restore_command` (wal-fetch.sh restore) is answered by the sidecar's loop
 * (wal-fetch.sh serve) as in the pod.
 *
 * The primary runs without the standby's slot and keeps no extra WAL (wal_keep_size=0): after a
 * few checkpoints and segment switches the standby's next segment is gone from the primary, so
 * streaming alone fails ("already been removed", shown first without restore_command); with it
 * the standby replays the archive, then streams the rest and reaches the primary's LSN.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { ROOT, parseYaml } from '../support/synth';
import { GeneratedServer, ROLES, SWITCH_WAL_SQL, eventually, initCluster, ownedDir, runAs, runRolesScript, spawnAs, startGenerated } from './lib/replication';
import { MinioServer, describeWith, startMinio } from './lib/servers';

const BUCKET = 'nextgen-backups';
const PREFIX = 'fetch';
/** What ships: prod's committed objects. */
const committed = (file: string) => parseYaml(fs.readFileSync(path.join(ROOT, 'dist', 'prod', file), 'utf8'));

describeWith(['postgres', 'psql', 'pg_basebackup', 'pg_receivewal', 'aws', 'minio'], 'standby catch-up from the WAL archive (restore_command + wal-fetch sidecar) on real PostgreSQL and MinIO', () => {
  const pod = (file: string) => committed(file).spec.template.spec;
  const container = (file: string, name: string) => pod(file).containers.find((c: any) => c.name === name);
  const envOf = (c: any, name: string): string => c.env.find((e: any) => e.name === name)?.value;
  const standbyServer = container('statefulset-postgres-standby.yaml', 'postgres');
  const sidecar = container('statefulset-postgres-standby.yaml', 'wal-fetch');
  const primaryArgs: string[] = container('statefulset-postgres.yaml', 'postgres').args;
  const hba: string = committed('configmap-postgres-hba.yaml').data[HBA_FILE];
  const roles: string = committed('configmap-postgres-init.yaml').data[APP_ROLE_SQL_FILE];
  const archiveSlot = envOf(container('deployment-postgres-wal-archive.yaml', 'receive'), 'SLOT');
  const bootstrap = pod('statefulset-postgres-standby.yaml').initContainers.find((c: any) => c.name === 'bootstrap');
  const standbySlot = envOf(bootstrap, 'SLOT');
  /** Where the pod mounts wal-fetch.sh for the server (from the restore_command itself). */
  const restoreSetting = standbyServer.args.find((a: string) => a.startsWith('restore_command='));
  const shippedScript = /bash (\S+\/wal-fetch\.sh) restore %f %p/.exec(restoreSetting ?? '')?.[1];
  const db = 'marketplace';

  let root: string;
  let scripts: string;
  let spool: string;
  let s3: MinioServer;
  let primary: GeneratedServer;
  let standby: GeneratedServer | undefined;
  let receiver: cp.ChildProcess | undefined;
  let server: cp.ChildProcess | undefined;
  const walDir = () => path.join(root, 'wal');
  const script = (name: string) => path.join(scripts, name);
  const s3Env = () => ({ ...(s3.env() as Record<string, string>), S3_BUCKET: BUCKET, S3_PREFIX: PREFIX, S3_ENDPOINT: s3.endpoint, S3_SSE: 'AES256' });
  const aws = (args: string[]) => cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, ...args], { env: s3.env(), encoding: 'utf8' });
  /** The server's environment for restore_command, as the pod sets it. */
  const fetchEnv = () => ({ WAL_FETCH_DIR: spool, FETCH_TIMEOUT_SECONDS: envOf(standbyServer, 'FETCH_TIMEOUT_SECONDS') });
  /** The standby's shipped arguments, the script at its place here (or without restore_command). */
  const standbyArgs = (withRestore: boolean): string[] => {
    const out: string[] = [];
    const args: string[] = standbyServer.args;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-c' && args[i + 1]?.startsWith('restore_command=')) {
        if (withRestore) out.push('-c', args[i + 1].replace(shippedScript!, script('wal-fetch.sh')));
        i++;
      } else out.push(args[i]);
    }
    return out;
  };
  const restoreCmd = (file: string, target: string, env: Record<string, string> = fetchEnv()) => {
    const started = Date.now();
    const r = runAs('bash', [script('wal-fetch.sh'), 'restore', file, target], env, { timeout: 120000 });
    return { ...r, ms: Date.now() - started };
  };
  const onPrimary = (segment: string) => primary.psql(`SELECT count(*) FROM pg_ls_waldir() WHERE name = '${segment}'`) === '1';

  beforeAll(async () => {
    expect(restoreSetting).toBeDefined();
    expect(shippedScript).toBeDefined();
    root = ownedDir('wal-fetch-itest-');
    // The shipped scripts, from the committed ConfigMaps the pods mount.
    scripts = path.join(root, 'scripts');
    fs.mkdirSync(scripts, { mode: 0o755 });
    for (const cm of ['configmap-postgres-wal-fetch.yaml', 'configmap-postgres-wal-scripts.yaml', 'configmap-postgres-standby-scripts.yaml']) {
      for (const [file, text] of Object.entries(committed(cm).data as Record<string, string>)) fs.writeFileSync(path.join(scripts, file), text, { mode: 0o755 });
    }
    spool = ownedDir('wal-fetch-spool-');
    s3 = await startMinio({ kms: true });
    expect(aws(['s3', 'mb', `s3://${BUCKET}`]).status).toBe(0);

    // The primary keeps no WAL for anyone beyond its slots (prod keeps 1 GiB).
    const data = path.join(root, 'primary');
    initCluster(data);
    primary = await startGenerated({ data, args: [...primaryArgs, '-c', 'wal_keep_size=0'], hba });
    primary.psql(`CREATE DATABASE ${db}`);
    expect(runRolesScript(primary, roles, db).status).toBe(0);
    primary.psql('CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)', { db });
    fs.mkdirSync(walDir());
    cp.execFileSync('chown', ['postgres:postgres', walDir()]);
    receiver = spawnAs('bash', [script('wal-archive.sh'), 'receive'], { ...primary.env('repl'), WAL_DIR: walDir(), SLOT: archiveSlot, TMPDIR: ownedDir('wal-receive-tmp-') }, path.join(root, 'receive.log'));
    await eventually('pg_receivewal streams', () => primary.psql(`SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`) === '1');

    // The sidecar's loop, with its container's environment (the aws CLI is installed for this
    // user here, so it runs as the test's user; the folder is the server's, as in the pod).
    const serveLog = fs.openSync(path.join(root, 'serve.log'), 'a');
    server = cp.spawn('bash', [script('wal-fetch.sh'), 'serve'], {
      env: { ...s3Env(), WAL_FETCH_DIR: spool, ALIVE_SECONDS: envOf(sidecar, 'ALIVE_SECONDS') },
      stdio: ['ignore', 'ignore', serveLog],
    });
    fs.closeSync(serveLog);
    await eventually('the sidecar beats', () => fs.existsSync(path.join(spool, 'serve.alive')));
  }, 180000);

  afterAll(async () => {
    const exited = (p?: cp.ChildProcess) => (p && p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve());
    const gone = Promise.all([exited(server), exited(receiver)]);
    server?.kill('SIGTERM');
    receiver?.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
    standby?.stop('immediate');
    primary?.stop('immediate');
    await s3?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (spool) fs.rmSync(spool, { recursive: true, force: true });
  });

  /** Close the current segment, wait for the archiver to have it, upload everything closed. */
  const archiveNow = async () => {
    const seg = primary.psql(SWITCH_WAL_SQL);
    await eventually(`segment ${seg} received`, () => fs.existsSync(path.join(walDir(), `${seg}.gz`)), 60000);
    const up = cp.spawnSync('bash', [script('wal-archive.sh'), 'upload-once'], { env: { ...s3Env(), WAL_DIR: walDir() }, encoding: 'utf8' });
    expect(up.status).toBe(0);
    return seg;
  };

  let behind = '';

  test('the standby falls further behind than the primary keeps WAL: streaming alone cannot catch up', async () => {
    const data = path.join(root, 'standby');
    const boot = runAs('bash', [script('standby.sh'), 'bootstrap'], { PGDATA: data, SLOT: standbySlot, PGHOST: '127.0.0.1', PGPORT: String(primary.port), REPL_USER: ROLES.repl.user, REPL_PASSWORD: ROLES.repl.password });
    expect(boot.stderr).toMatch(/standby data directory ready/);
    primary.psql(`INSERT INTO orders (note) SELECT 'before ' || g FROM generate_series(1, 1000) g`, { db });
    standby = await startGenerated({ data, args: standbyArgs(true), hba, primaryPort: primary.port, env: fetchEnv() });
    await eventually('the standby streams', () => standby!.psql('SELECT count(*) FROM orders', { db }) === '1000');
    standby.stop('fast');
    standby = undefined;

    // Its slot is lost (as max_slot_wal_keep_size invalidates a slot) while the primary writes on.
    primary.psql(`SELECT pg_drop_replication_slot('${standbySlot}')`);
    behind = primary.psql(`SELECT pg_walfile_name(pg_current_wal_lsn())`);
    for (let round = 1; round <= 5; round++) {
      primary.psql(`INSERT INTO orders (note) SELECT 'round ${round} ' || repeat('x', 200) FROM generate_series(1, 5000) g`, { db });
      await archiveNow();
      primary.psql('CHECKPOINT');
    }
    // The segment the standby needs next is gone from the primary (once the archiver's slot
    // has reported it received), and in the archive.
    await eventually(`the primary removed ${behind}`, () => {
      primary.psql('CHECKPOINT');
      return !onPrimary(behind);
    }, 60000);
    expect(aws(['s3api', 'head-object', '--bucket', BUCKET, '--key', `${PREFIX}/wal/${behind}.gz`]).status).toBe(0);
    // A rebuild recreates the slot, reserving WAL from now on: too late for what is gone.
    primary.psql(`SELECT pg_create_physical_replication_slot('${standbySlot}', true)`);

    const blind = await startGenerated({ data, args: standbyArgs(false), hba, primaryPort: primary.port });
    try {
      await eventually('streaming fails on removed WAL', () => /requested WAL segment \w+ has already been removed/.test(blind.log()), 60000);
      expect(Number(blind.psql(`SELECT count(*) FROM orders`, { db }))).toBeLessThan(Number(primary.psql('SELECT count(*) FROM orders', { db })));
    } finally {
      blind.stop('fast');
    }
  }, 240000);

  test('with the shipped restore_command the standby replays the archive through the sidecar, then streams, and reaches the primary', async () => {
    expect(behind).not.toBe('');
    const started = Date.now();
    standby = await startGenerated({ data: path.join(root, 'standby'), args: standbyArgs(true), hba, primaryPort: primary.port, env: fetchEnv() });
    const target = primary.psql('SELECT pg_current_wal_lsn()');
    await eventually(
      `the standby replays to the primary's ${target}`,
      () => standby!.psql(`SELECT pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`) === 't',
      120000,
    ).catch((e) => {
      throw new Error(`${e}\n${standby!.log()}\n${fs.readFileSync(path.join(root, 'serve.log'), 'utf8')}`);
    });
    const caughtUpMs = Date.now() - started;
    // The segments came from the archive (PostgreSQL's own log), through the sidecar.
    const restored = standby.log().match(/restored log file "[0-9A-F]{24}" from archive/g) ?? [];
    expect(restored.length).toBeGreaterThanOrEqual(5);
    expect(standby.log()).toContain(`restored log file "${behind}" from archive`);
    expect(fs.readFileSync(path.join(root, 'serve.log'), 'utf8')).toContain(`fetched ${behind}.gz`);
    expect(standby.psql('SELECT count(*) FROM orders', { db })).toBe(primary.psql('SELECT count(*) FROM orders', { db }));
    // Then it streams from the primary through its slot, as a caught-up standby does.
    primary.psql(`INSERT INTO orders (note) VALUES ('streamed after catch-up')`, { db });
    await eventually('streamed after catch-up', () => standby!.psql(`SELECT count(*) FROM orders WHERE note = 'streamed after catch-up'`, { db }) === '1', 60000);
    expect(primary.psql(`SELECT application_name || ':' || state FROM pg_stat_replication WHERE application_name = 'postgres-standby'`)).toBe('postgres-standby:streaming');
    // Nothing left behind in the shared folder but the heartbeat.
    expect(fs.readdirSync(spool).sort()).toEqual(['serve.alive']);
    console.log(`wal-fetch: the standby replayed ${restored.length} archived segment(s) and caught up in ${caughtUpMs} ms`);
  }, 180000);

  test('restore_command answers a file the archive lacks with non-zero at once, and writes nothing', () => {
    const target = path.join(spool, '..', path.basename(spool) + '-target');
    for (const file of ['0000000100000000000000FE', '00000009.history']) {
      const r = restoreCmd(file, target);
      expect([file, r.status]).toEqual([file, 1]);
      expect(r.ms).toBeLessThan(10000);
      expect(fs.existsSync(target)).toBe(false);
    }
    // Not an archive name at all: no S3 round trip.
    const partial = restoreCmd(`${behind}.partial`, target);
    expect(partial.status).toBe(1);
    expect(partial.ms).toBeLessThan(2000);
  });

  test('a corrupt archived segment is refused without handing PostgreSQL a file; no sidecar, no wait', () => {
    const junk = path.join(root, 'junk.gz');
    cp.execSync(`printf 'not really wal' | gzip -c | head -c 20 > ${junk}`);
    expect(aws(['s3', 'cp', '--only-show-errors', junk, `s3://${BUCKET}/${PREFIX}/wal/0000000100000000000000F0.gz`]).status).toBe(0);
    const target = path.join(ownedDir('wal-fetch-target-'), 'RECOVERYXLOG');
    const bad = restoreCmd('0000000100000000000000F0', target);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/does not decompress/);
    expect(fs.readdirSync(path.dirname(target))).toEqual([]);

    // A good segment lands whole at the path PostgreSQL gave.
    const good = restoreCmd(behind, target);
    expect(good.status).toBe(0);
    expect(fs.statSync(target).size).toBe(16 * 1024 * 1024);

    // The sidecar is not running (a folder it never served): non-zero at once, saying so.
    const lone = ownedDir('wal-fetch-lone-');
    const r = restoreCmd(behind, path.join(lone, 'x'), { ...fetchEnv(), WAL_FETCH_DIR: lone });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the wal-fetch sidecar is not running/);
    expect(r.ms).toBeLessThan(2000);
    fs.rmSync(path.dirname(target), { recursive: true, force: true });
    fs.rmSync(lone, { recursive: true, force: true });
  });

  test('liveness: the probe as shipped passes while the serve loop beats and fails once its heartbeat is older than the limit', () => {
    const [cmd, shipped, ...args] = sidecar.livenessProbe.exec.command;
    expect(shipped).toBe('/scripts/wal-fetch.sh');
    const limit = Number(envOf(sidecar, 'ALIVE_SECONDS'));
    const probe = (dir: string) => cp.spawnSync(cmd, [script('wal-fetch.sh'), ...args], { env: { ...process.env, WAL_FETCH_DIR: dir, ALIVE_SECONDS: String(limit) }, encoding: 'utf8' });
    expect({ status: probe(spool).status, stderr: probe(spool).stderr }).toEqual({ status: 0, stderr: '' });
    const stale = ownedDir('wal-fetch-stale-');
    try {
      expect(probe(stale).stderr).toMatch(/no heartbeat yet/);
      fs.writeFileSync(path.join(stale, 'serve.alive'), '');
      cp.execFileSync('touch', ['-d', `@${Math.floor(Date.now() / 1000) - limit - 60}`, path.join(stale, 'serve.alive')]);
      const stuck = probe(stale);
      expect(stuck.status).not.toBe(0);
      expect(stuck.stderr).toMatch(new RegExp(`the loop has not beaten for \\d+ s \\(limit ${limit} s\\): stuck`));
    } finally {
      fs.rmSync(stale, { recursive: true, force: true });
    }
  });
});
