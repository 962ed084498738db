/**
 * Throwaway real servers for integration tests, on loopback and free ports, in temporary
 * folders: PostgreSQL (the catalog's, from Debian trixie), Redis (`redis-server`) and MinIO (`go install`).
 *
 * Tests that need a program use `describeWith([...programs], title, fn)`: without the program
 * the block is skipped and its title says why; under CI (`CI=true`) a missing program is a
 * failure, because `.ci/run` installs them all.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { catalogBinDir } from '../../support/programs';

const GOBIN = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');

/** The catalog's PostgreSQL (server and clients at the shipped version, .ci/build-debian-programs). */
export function pgBinDir(): string | undefined {
  const dir = catalogBinDir('postgres');
  return fs.existsSync(path.join(dir, 'postgres')) ? dir : undefined;
}

/** Absolute path of a program, looking in PATH, Go's bin folder and PostgreSQL's bin folder. */
export function which(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), GOBIN, pgBinDir()].filter(Boolean) as string[];
  for (const d of dirs) {
    const p = path.join(d, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** `describe` when every program is installed; otherwise skipped with the reason in its title (fails under CI). */
export function describeWith(programs: string[], title: string, fn: () => void): void {
  const missing = programs.filter((p) => !which(p));
  if (!missing.length) return describe(title, fn);
  if (process.env.CI === 'true') {
    describe(title, () => {
      test(`needs ${missing.join(', ')}`, () => {
        throw new Error(`CI must provide ${missing.join(', ')} (installed by .ci/install)`);
      });
    });
    return;
  }
  describe.skip(`${title} [SKIPPED: ${missing.join(', ')} not installed; .ci/run installs it]`, fn);
}

/** Poll `fn` until it returns a value (errors count as not yet), or fail naming `what` and the last error. */
export async function waitForValue<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30000, intervalMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${last}` : ''}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await ok()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

const isRoot = process.getuid?.() === 0;

/** Run as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export interface Server {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface PostgresServer extends Server {
  readonly host: '127.0.0.1';
  /** Superuser name and password. */
  readonly user: 'postgres';
  readonly password: string;
  /** Environment for libpq tools (psql, pg_dump) connecting as the superuser. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Run psql as the superuser (or `as`), return stdout; throws with stderr on failure. */
  psql(sql: string, opts?: { db?: string; user?: string; password?: string; args?: string[] }): string;
  /** Same, but returns the status and both streams instead of throwing. */
  psqlResult(sql: string, opts?: { db?: string; user?: string; password?: string }): cp.SpawnSyncReturns<string>;
  /** Stop the server without removing its data (to test "server down"). */
  pause(): void;
}

/**
 * Start a throwaway server. `opts.serverBin`: another server's folder (initdb, pg_ctl, postgres),
 * such as the previous major's; psql and the other clients stay the catalog's.
 */
export async function startPostgres(opts: { serverBin?: string } = {}): Promise<PostgresServer> {
  const bin = pgBinDir();
  const serverBin = opts.serverBin ?? bin;
  if (!bin || !serverBin) throw new Error(`PostgreSQL server binaries not found in ${catalogBinDir('postgres')} (.ci/install builds them)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-'));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  const password = `pw-${process.pid}-${Date.now()}`;
  fs.writeFileSync(path.join(dir, 'pwfile'), `${password}\n`);
  if (isRoot) cp.execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const [c1, a1] = asPostgres(path.join(serverBin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${path.join(dir, 'pwfile')}`, '-E', 'UTF8', '--locale=C']);
  cp.execFileSync(c1, a1, { stdio: 'pipe' });
  const port = await freePort();
  const [c2, a2] = asPostgres(path.join(serverBin, 'pg_ctl'), [
    '-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60',
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`, 'start',
  ]);
  cp.execFileSync(c2, a2, { stdio: 'pipe' });
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    PGHOST: '127.0.0.1',
    PGPORT: String(port),
    PGUSER: 'postgres',
    PGPASSWORD: password,
    PGDATABASE: 'postgres',
    PATH: `${bin}:${process.env.PATH}`,
    ...extra,
  });
  const psqlResult: PostgresServer['psqlResult'] = (sql, opts = {}) =>
    cp.spawnSync(path.join(bin, 'psql'), ['-v', 'ON_ERROR_STOP=1', '-X', '-q', '-At', '-d', opts.db ?? 'postgres', '-f', '-'], {
      input: sql,
      encoding: 'utf8',
      env: env({ ...(opts.user ? { PGUSER: opts.user } : {}), ...(opts.password ? { PGPASSWORD: opts.password } : {}) }),
    });
  let stopped = false;
  const stopCmd = () => {
    const [c, a] = asPostgres(path.join(serverBin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    cp.spawnSync(c, a, { stdio: 'pipe' });
  };
  return {
    host: '127.0.0.1',
    user: 'postgres',
    password,
    port,
    dir,
    env,
    psqlResult,
    psql(sql, opts = {}) {
      const r = psqlResult(sql, opts);
      if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
      return r.stdout;
    },
    pause() {
      stopCmd();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopCmd();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisServer extends Server {
  /** Run redis-cli with args (authenticated when `password` is given); returns stdout. */
  cli(args: string[], password?: string): cp.SpawnSyncReturns<string>;
}

/**
 * Start redis-server with `config` (the generated redis.conf) plus loopback overrides:
 * port, bind, dir and no daemonizing. Returns once it accepts connections.
 */
export async function startRedis(config: string, password?: string): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-'));
  const port = await freePort();
  const conf = path.join(dir, 'redis.conf');
  fs.writeFileSync(conf, `${config}\n# test overrides\nport ${port}\nbind 127.0.0.1\ndir ${dir}\ndaemonize no\nlogfile ${path.join(dir, 'log')}\n`);
  const proc = cp.spawn(which('redis-server')!, [conf], { stdio: 'ignore' });
  const cli: RedisServer['cli'] = (args, pw) =>
    cp.spawnSync(which('redis-cli')!, ['-h', '127.0.0.1', '-p', String(port), ...(pw ? ['--no-auth-warning', '-a', pw] : []), ...args], { encoding: 'utf8' });
  await waitFor('redis-server', () => /PONG|NOAUTH/.test(cli(['ping'], password).stdout));
  return {
    port,
    dir,
    cli,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MinioServer extends Server {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Environment for `mc` with alias `local` pointing at this server, and for the AWS CLI. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
}

/**
 * Start a MinIO server. With `kms: true` it gets a static key so SSE-S3 (`--sse AES256`)
 * works, as on a MinIO or AWS S3 with default encryption.
 */
export async function startMinio(options: { kms?: boolean } = {}): Promise<MinioServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minio-'));
  const port = await freePort();
  const consolePort = await freePort();
  const accessKey = 'testadmin';
  const secretKey = `secret-${process.pid}-${Date.now()}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
    ...(options.kms ? { MINIO_KMS_SECRET_KEY: `test-key:${Buffer.alloc(32, 7).toString('base64')}` } : {}),
  };
  const proc = cp.spawn(which('minio')!, ['server', path.join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    env,
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor('minio', async () => (await fetch(`${endpoint}/minio/health/ready`)).ok, 60000);
  const mcConfig = path.join(dir, 'mc');
  return {
    port,
    dir,
    endpoint,
    accessKey,
    secretKey,
    env(extra = {}) {
      return {
        ...process.env,
        MC_CONFIG_DIR: mcConfig,
        MC_HOST_local: `http://${accessKey}:${secretKey}@127.0.0.1:${port}`,
        AWS_ACCESS_KEY_ID: accessKey,
        AWS_SECRET_ACCESS_KEY: secretKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        // Go's bin folder last: the catalog's builds (first on PATH, test/support/programs.ts) win.
        PATH: `${process.env.PATH}:${GOBIN}`,
        ...extra,
      };
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
