/**
 * PostgreSQL servers started from the generated StatefulSet configuration, for replication,
 * WAL archive and point-in-time tests: the shipped `-c` arguments and pg_hba.conf, with only
 * the addresses, ports and memory changed for loopback. Scripts run as the `postgres` user
 * (as in the pods, uid 999), with exactly the environment a test gives them.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, pgBinDir, which } from './servers';

const isRoot = process.getuid?.() === 0;
/** The catalog's server and client programs (all in one folder, at the shipped version). */
const PG_BIN = pgBinDir() ?? path.dirname(which('postgres') ?? '/usr/bin/postgres');
export const pgBin = (p: string) => path.join(PG_BIN, p);

/** Run as the `postgres` user (when we are root) with exactly `env` (plus PATH). */
export function runAs(cmd: string, args: string[], env: Record<string, string>, opts: { timeout?: number } = {}): cp.SpawnSyncReturns<string> {
  const full = { PATH: `${PG_BIN}:${process.env.PATH}`, ...env };
  const argv = ['env', '-i', ...Object.entries(full).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  return isRoot
    ? cp.spawnSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', timeout: opts.timeout ?? 120000 })
    : cp.spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: opts.timeout ?? 120000 });
}

/** Start `cmd` in the background as the `postgres` user. */
export function spawnAs(cmd: string, args: string[], env: Record<string, string>, log: string): cp.ChildProcess {
  const full = { PATH: `${PG_BIN}:${process.env.PATH}`, ...env };
  const argv = ['env', '-i', ...Object.entries(full).map(([k, v]) => `${k}=${v}`), cmd, ...args];
  const out = fs.openSync(log, 'a');
  return isRoot
    ? cp.spawn('runuser', ['-u', 'postgres', '--', ...argv], { stdio: ['ignore', out, out] })
    : cp.spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
}

/** A folder the `postgres` user owns. */
export function ownedDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  if (isRoot) cp.execFileSync('chown', ['postgres:postgres', d]);
  return d;
}

export interface Roles {
  readonly owner: { readonly user: string; readonly password: string };
  readonly repl: { readonly user: string; readonly password: string };
  readonly app: { readonly user: string; readonly password: string };
  readonly monitor: { readonly user: string; readonly password: string };
}

export const ROLES: Roles = {
  owner: { user: 'nextgen', password: 'owner-pw' },
  repl: { user: 'replicator', password: 'repl-pw' },
  app: { user: 'app_user', password: 'app-pw' },
  monitor: { user: 'metrics', password: 'monitor-pw' },
};

export interface GeneratedServer {
  readonly port: number;
  readonly data: string;
  readonly dir: string;
  /** libpq environment as `role` (default the owner). */
  env(role?: keyof Roles, db?: string): Record<string, string>;
  psql(sql: string, opts?: { db?: string; role?: keyof Roles }): string;
  psqlResult(sql: string, opts?: { db?: string; role?: keyof Roles }): cp.SpawnSyncReturns<string>;
  stop(mode?: 'fast' | 'immediate'): void;
  log(): string;
}

/**
 * Start `postgres` on `data` with the generated container `args` (and the generated hba
 * file), for loopback: listen on 127.0.0.1:port, socket in its own folder, small buffers, and
 * `primary_conninfo` pointed at `primaryPort` instead of the `postgres` Service.
 */
export async function startGenerated(opts: {
  readonly data: string;
  readonly args: string[];
  readonly hba: string;
  readonly primaryPort?: number;
  readonly port?: number;
  /** More environment for the server (and so for its restore_command), beside the replication role's. */
  readonly env?: Record<string, string>;
}): Promise<GeneratedServer> {
  const dir = ownedDir('pgsrv-');
  const port = opts.port ?? (await freePort());
  const hbaFile = path.join(dir, 'pg_hba.conf');
  fs.writeFileSync(hbaFile, opts.hba);
  const args = opts.args.map((a) =>
    a.startsWith('primary_conninfo=')
      ? a.replace(/host=\S+/, 'host=127.0.0.1').replace(/port=\d+/, `port=${opts.primaryPort ?? 1}`)
      : a,
  );
  const overrides = ['listen_addresses=127.0.0.1', `port=${port}`, `unix_socket_directories=${dir}`, `hba_file=${hbaFile}`, 'shared_buffers=32MB', 'fsync=off'];
  const logFile = path.join(dir, 'log');
  const proc = spawnAs(pgBin('postgres'), ['-D', opts.data, ...args, ...overrides.flatMap((o) => ['-c', o])], { ...opts.env, PGUSER: ROLES.repl.user, PGPASSWORD: ROLES.repl.password }, logFile);
  const env = (role: keyof Roles = 'owner', db = 'postgres') => ({
    PGHOST: '127.0.0.1',
    PGPORT: String(port),
    PGUSER: ROLES[role].user,
    PGPASSWORD: ROLES[role].password,
    PGDATABASE: db,
  });
  const psqlResult = (sql: string, o: { db?: string; role?: keyof Roles } = {}) =>
    cp.spawnSync(pgBin('psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { input: sql, encoding: 'utf8', env: { ...process.env, ...env(o.role, o.db) } });
  const end = Date.now() + 60000;
  for (;;) {
    const r = cp.spawnSync(pgBin('pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
    if (r.status === 0) break;
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`postgres did not start (exit ${proc.exitCode}, pg_isready ${r.status} ${r.stderr}):\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}`);
    await new Promise((r2) => setTimeout(r2, 100));
  }
  let stopped = false;
  return {
    port,
    data: opts.data,
    dir,
    env,
    psqlResult,
    psql(sql, o = {}) {
      const r = psqlResult(sql, o);
      if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
      return r.stdout.trim();
    },
    stop(mode = 'fast') {
      if (stopped) return;
      stopped = true;
      runAs(pgBin('pg_ctl'), ['-D', opts.data, '-m', mode, '-w', 'stop'], {});
    },
    log: () => fs.readFileSync(logFile, 'utf8'),
  };
}

/** A new cluster as the official image's entrypoint makes it: the owner is the superuser. */
export function initCluster(data: string): void {
  const pw = path.join(path.dirname(data), 'pwfile');
  fs.writeFileSync(pw, `${ROLES.owner.password}\n`);
  if (isRoot) cp.execFileSync('chown', ['postgres:postgres', pw]);
  const r = runAs(pgBin('initdb'), ['-D', data, '-U', ROLES.owner.user, `--pwfile=${pw}`, '-E', 'UTF8', '--locale=C', '--auth=scram-sha-256'], {});
  if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr}`);
}

/** The shipped roles script, as the entrypoint runs it on first start (creates the replication role). */
export function runRolesScript(server: GeneratedServer, script: string, db: string): cp.SpawnSyncReturns<string> {
  const file = path.join(server.dir, 'roles.sql');
  fs.writeFileSync(file, script);
  return cp.spawnSync(pgBin('psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-f', file], {
    encoding: 'utf8',
    env: {
      ...process.env,
      ...server.env('owner', db),
      APP_DB_USER: ROLES.app.user,
      APP_DB_PASSWORD: ROLES.app.password,
      MONITOR_DB_USER: ROLES.monitor.user,
      MONITOR_DB_PASSWORD: ROLES.monitor.password,
      REPL_DB_USER: ROLES.repl.user,
      REPL_DB_PASSWORD: ROLES.repl.password,
    },
  });
}

/**
 * Close the current WAL segment and name the newest complete one: it holds everything written so
 * far, and the archiver receives it without further writes. `pg_switch_wal()` does nothing when
 * nothing was written since the last switch and then returns the start of the current segment,
 * and `pg_walfile_name` of a segment boundary names the segment that starts there: still open,
 * complete only after the next write and switch. One byte back names the segment that ends there.
 */
export const SWITCH_WAL_SQL = 'SELECT pg_walfile_name(pg_switch_wal() - 1)';

/** Poll `f` until it returns true. */
export async function eventually(what: string, f: () => boolean, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (f()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}
