/**
 * The PostgreSQL major upgrade (16 -> 17) of docs/operations.md, "Upgrade PostgreSQL to a new
 * major", on real servers: volumes written before the catalog moved to 17 hold 16 data, which
 * the 17 server refuses to open, so the data moves by dump and restore with the project's own
 * scripts, taken from the synthesized ConfigMaps in dist/:
 *
 *   a PostgreSQL 16.10 server (the catalog's `postgresPrevious`) with the application's roles
 *   (app-role.sql from dist) and a Prisma-shaped schema with rows; `backup.sh dump` + `upload`
 *   (pg_dump 17, the new image's) to MinIO; a fresh 17 server with the roles; `restore.sh fetch`
 *   + `load`; `verify.sh` (the post-restore check); rows, sequences and the app role's access
 *   compared with the source.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { catalog } from '../../environments/shared/versions';
import { describeWith, MinioServer, pgBinDir, PostgresServer, startMinio, startPostgres } from '../integration/lib/servers';
import { CI_CACHE } from '../support/programs';
import { parseYaml, realTree } from '../support/synth';

const tree = realTree();
const configMap = (name: string) => parseYaml(tree.get(`prod/configmap-${name}.yaml`)!).data as Record<string, string>;
const scripts = configMap('postgres-backup-scripts');
const appRoleSql = configMap('postgres-init')['app-role.sql'];

const previous = catalog.tools.postgresPrevious;
const previousBin = path.join(CI_CACHE, 'postgres-previous', previous, 'bin');
const previousMajor = previous.split('.')[0];
const shippedMajor = /:(\d+)\./.exec(catalog.images.postgres.ref)![1];

const BUCKET = 'nextgen-backups';
const OWNER = { user: 'nextgen', password: 'owner-pw' };
const DB = 'nextgen_marketplace_prod';
const ROLES = { APP_DB_USER: 'nextgen_app', APP_DB_PASSWORD: 'app-pw', MONITOR_DB_USER: 'metrics', MONITOR_DB_PASSWORD: 'mon-pw', REPL_DB_USER: 'replicator', REPL_DB_PASSWORD: 'repl-pw' };

const title = `major upgrade ${previousMajor} -> ${shippedMajor}: dump and restore with the shipped scripts`;
// The previous major's server is fetched by .ci/install (.ci/fetch-previous-postgres); under CI its absence fails.
if (!fs.existsSync(path.join(previousBin, 'postgres')) && process.env.CI !== 'true') describe.skip(`${title} [SKIPPED: ${previousBin} missing; .ci/install fetches it]`, () => test('x', () => undefined));
else describeWith(['postgres', 'psql', 'pg_dump', 'pg_restore', 'aws', 'minio'], title, () => {
  let old: PostgresServer;
  let next: PostgresServer;
  let s3: MinioServer;
  let work: string;

  /** What the entrypoint and the app-role Job do on a new server: the owner and database, then the roles. */
  function prepare(pg: PostgresServer) {
    pg.psql(`CREATE ROLE ${OWNER.user} LOGIN SUPERUSER PASSWORD '${OWNER.password}'; CREATE DATABASE ${DB} OWNER ${OWNER.user};`);
    const file = path.join(work, `app-role-${pg.port}.sql`);
    fs.writeFileSync(file, appRoleSql);
    const r = cp.spawnSync('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-f', file], { encoding: 'utf8', env: pg.env({ PGUSER: OWNER.user, PGPASSWORD: OWNER.password, PGDATABASE: DB, ...ROLES }) });
    if (r.status !== 0) throw new Error(`app-role.sql failed on port ${pg.port}: ${r.stderr}`);
  }
  const asOwner = (pg: PostgresServer, sql: string) => pg.psql(sql, { db: DB, user: OWNER.user, password: OWNER.password });
  /** Run one phase of a shipped script as its container would, with the target's owner credentials. */
  function run(script: string, phase: string | undefined, pg: PostgresServer, extra: Record<string, string>) {
    const file = path.join(work, script);
    const env = { ...pg.env({ PGUSER: OWNER.user, PGPASSWORD: OWNER.password, PGDATABASE: DB }), ...s3.env(), S3_BUCKET: BUCKET, S3_PREFIX: 'prod', S3_ENDPOINT: s3.endpoint, ...extra };
    return cp.spawnSync('bash', phase ? [file, phase] : [file], { env, encoding: 'utf8', timeout: 300000 });
  }
  function fingerprint(pg: PostgresServer): Record<string, string> {
    const tables = asOwner(pg, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`).trim().split('\n');
    const out: Record<string, string> = {};
    for (const t of tables) out[t] = asOwner(pg, `SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-') FROM "${t}" x`).trim();
    out['sequence Order_id_seq'] = asOwner(pg, `SELECT last_value FROM "Order_id_seq"`).trim();
    return out;
  }

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'major-upgrade-'));
    fs.chmodSync(work, 0o777);
    // The ConfigMap's scripts side by side, as mounted (backup.sh sources push-metrics.sh).
    for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(work, name), text);
    [old, next, s3] = await Promise.all([startPostgres({ serverBin: previousBin }), startPostgres(), startMinio({ kms: true })]);
    const mb = cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'mb', `s3://${BUCKET}`], { env: s3.env(), encoding: 'utf8' });
    expect(mb.stderr).toBe('');
    prepare(old);
    prepare(next);
    // A Prisma-shaped database: the migrations table, quoted mixed-case tables, an enum, jsonb, a view.
    asOwner(
      old,
      `CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz,
         migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(),
         applied_steps_count integer NOT NULL DEFAULT 0);
       INSERT INTO _prisma_migrations VALUES
         ('a1', 'c1', now(), '20260101000000_init', NULL, NULL, now(), 1),
         ('a2', 'c2', now() + interval '1 second', '20260301000000_orders', NULL, NULL, now(), 1);
       CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'PAID', 'SHIPPED');
       CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL UNIQUE, profile jsonb);
       CREATE TABLE "Order" (id bigserial PRIMARY KEY, "userId" int NOT NULL REFERENCES "User"(id), status "OrderStatus" NOT NULL,
         total numeric(12,2) NOT NULL, "placedAt" timestamptz NOT NULL);
       CREATE INDEX ON "Order" ("userId");
       CREATE INDEX ON "User" USING gin (profile);
       CREATE VIEW "UserTotals" AS SELECT "userId", sum(total) AS total FROM "Order" GROUP BY "userId";
       INSERT INTO "User" (email, profile) SELECT 'user' || g || '@example.com', jsonb_build_object('g', g, 'name', 'Zoë ' || g) FROM generate_series(1, 2000) g;
       INSERT INTO "Order" ("userId", status, total, "placedAt")
         SELECT 1 + g % 2000, (ARRAY['PENDING','PAID','SHIPPED'])[1 + g % 3]::"OrderStatus", (g * 0.37)::numeric(12,2),
                timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
         FROM generate_series(1, 20000) g;`,
    );
  }, 180000);

  afterAll(async () => {
    await Promise.all([old?.stop(), next?.stop(), s3?.stop()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test(`the source is PostgreSQL ${previousMajor} and the target the shipped ${shippedMajor}`, () => {
    expect(old.psql('SHOW server_version').trim()).toMatch(new RegExp(`^${previousMajor}\\.`));
    const shipped = /:(\d+\.\d+)/.exec(catalog.images.postgres.ref)![1];
    expect(next.psql('SHOW server_version').trim().split(' ')[0]).toBe(shipped);
  });

  test('the dump of the old server with the new image\'s pg_dump, verified and uploaded, restores into the new server exactly', () => {
    const backupDir = path.join(work, 'backups');
    fs.mkdirSync(backupDir);
    const env = { BACKUP_DIR: backupDir, LOCAL_RETENTION_DAYS: '7', REMOTE_RETENTION_DAYS: '90' };
    const dump = run('backup.sh', 'dump', old, env);
    expect(dump.stderr).toMatch(new RegExp(`verified ${DB}-\\d{8}T\\d{6}Z\\.dump`));
    expect(dump.status).toBe(0);
    expect(run('backup.sh', 'upload', old, env).status).toBe(0);

    const restoreEnv = { RESTORE_DIR: path.join(work, 'restore'), BACKUP_KEY: 'latest' };
    const fetch = run('restore.sh', 'fetch', next, restoreEnv);
    expect(fetch.status).toBe(0);
    const load = run('restore.sh', 'load', next, restoreEnv);
    expect(load.stderr).toMatch(/done/);
    expect(load.status).toBe(0);

    const before = fingerprint(old);
    expect(before.Order).toMatch(/^20000 /);
    expect(fingerprint(next)).toEqual(before);
    expect(asOwner(next, `SELECT sum(total) FROM "UserTotals"`)).toBe(asOwner(old, `SELECT sum(total) FROM "UserTotals"`));
    expect(asOwner(next, `SELECT enum_range(NULL::"OrderStatus")`).trim()).toBe('{PENDING,PAID,SHIPPED}');
  });

  test('the post-restore check passes on the upgraded database, and the application role reads and writes it', () => {
    const verify = run('verify.sh', undefined, next, { EXPECT_MIGRATION: '20260301000000_orders', EXPECT_ROWS: 'User>=2000,Order>=20000' });
    expect(verify.stderr).toMatch(/writable primary/);
    expect(verify.status).toBe(0);
    const app = { db: DB, user: ROLES.APP_DB_USER, password: ROLES.APP_DB_PASSWORD };
    expect(next.psql(`SELECT count(*) FROM "Order"`, app).trim()).toBe('20000');
    // New rows continue the sequences where the old server left them (no primary key collision).
    expect(next.psql(`INSERT INTO "User" (email) VALUES ('after-upgrade@example.com') RETURNING id`, app).trim()).toBe('2001');
  });

  test(`the ${shippedMajor} server refuses the ${previousMajor} data directory: why the upgrade is a dump and restore, not an image bump`, () => {
    old.pause();
    const data = path.join(old.dir, 'data');
    const argv = [path.join(pgBinDir()!, 'postgres'), '-D', data, '-p', '1'];
    const r = process.getuid?.() === 0
      ? cp.spawnSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', timeout: 30000 })
      : cp.spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`database files are incompatible with server[\\s\\S]*initialized by PostgreSQL version ${previousMajor}`));
  });
});
