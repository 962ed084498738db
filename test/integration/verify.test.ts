/**
 * The post-restore check (verify.sh, runbook Job `postgres-verify`) on a real PostgreSQL, with
 * the script taken from the synthesized ConfigMap `postgres-backup-scripts`: it passes on the
 * database expected and fails, with the reason, on a wrong or half restore.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { find, podSpec, synth, synthEnvironments, testEnvironment } from '../support/synth';
import { PostgresServer, describeWith, startPostgres } from './lib/servers';

describeWith(['postgres', 'psql'], 'post-restore check (verify.sh) on real PostgreSQL', () => {
  const manifests = synth();
  const runbooks = synthEnvironments([testEnvironment()]).byFolder.get('test/runbooks')!;
  const job = find(runbooks, 'Job', 'postgres-verify');
  const script: string = find(manifests, 'ConfigMap', 'postgres-backup-scripts').data['verify.sh'];
  let pg: PostgresServer;
  let dir: string;

  const verify = (db: string, extra: Record<string, string> = {}) =>
    cp.spawnSync('bash', [path.join(dir, 'verify.sh')], { encoding: 'utf8', env: { ...pg.env({ PGDATABASE: db }), EXPECT_MIGRATION: '', EXPECT_ROWS: '', ...extra } });

  beforeAll(async () => {
    pg = await startPostgres();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
    fs.writeFileSync(path.join(dir, 'verify.sh'), script);
    for (const db of ['good', 'empty', 'nomigrations', 'halfmigrated']) pg.psql(`CREATE DATABASE ${db}`);
    const migrations = `CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz,
      migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count int NOT NULL DEFAULT 0);
      INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name) VALUES ('1', 'x', now() - interval '1 day', '20261101000000_init'), ('2', 'y', now(), '20261120000000_orders');
      CREATE TABLE "User" (id serial PRIMARY KEY, email text); CREATE TABLE "Order" (id serial PRIMARY KEY, total int);`;
    pg.psql(`${migrations} INSERT INTO "User" (email) SELECT 'u' || g FROM generate_series(1, 120) g; INSERT INTO "Order" (total) SELECT g FROM generate_series(1, 300) g;`, { db: 'good' });
    pg.psql(migrations, { db: 'empty' });
    pg.psql(`CREATE TABLE "User" (id serial PRIMARY KEY); INSERT INTO "User" DEFAULT VALUES;`, { db: 'nomigrations' });
    pg.psql(`${migrations} UPDATE _prisma_migrations SET finished_at = NULL WHERE id = '2'; INSERT INTO "User" (email) VALUES ('a');`, { db: 'halfmigrated' });
  }, 60000);
  afterAll(async () => {
    await pg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the runbook Job runs the shipped script against the read-write Service as the owner', () => {
    const c = podSpec(job).containers[0];
    expect(c.command).toEqual(['bash', '/scripts/verify.sh']);
    expect(c.env.find((e: any) => e.name === 'PGHOST').value).toBe('postgres');
    expect(c.env.find((e: any) => e.name === 'PGUSER').valueFrom.secretKeyRef.name).toBe('postgres-owner');
  });

  test('passes on the database expected, with and without expectations', () => {
    const plain = verify('good');
    expect(plain.stderr).toMatch(/passed: .* is the database expected/);
    expect(plain.status).toBe(0);
    const strict = verify('good', { EXPECT_MIGRATION: '20261120000000_orders', EXPECT_ROWS: 'User>=100,Order>=300' });
    expect(strict.stderr).toMatch(/table Order: 300 row\(s\)/);
    expect(strict.status).toBe(0);
  });

  test.each([
    ['an empty restore', 'empty', {}, /no table of the public schema has a row/],
    ['a database without the migrations table', 'nomigrations', {}, /no migrations table _prisma_migrations/],
    ['a half-applied migration', 'halfmigrated', {}, /1 migration\(s\) unfinished or rolled back/],
    ['an older restore than expected', 'good', { EXPECT_MIGRATION: '20261201000000_next' }, /newest migration is 20261120000000_orders, expected 20261201000000_next/],
    ['too few rows', 'good', { EXPECT_ROWS: 'User>=1000' }, /table User has 120 row\(s\), expected at least 1000/],
  ])('fails on %s', (_what, db, extra, reason) => {
    const r = verify(db, extra as Record<string, string>);
    expect(r.stderr).toMatch(reason);
    expect(r.status).not.toBe(0);
  });

  test('fails on a server that refuses writes (read-only sessions, as on a standby)', () => {
    const r = cp.spawnSync('bash', [path.join(dir, 'verify.sh')], { encoding: 'utf8', env: { ...pg.env({ PGDATABASE: 'good', PGOPTIONS: '-c default_transaction_read_only=on' }) } });
    expect(r.stderr).toMatch(/refuses a write/);
    expect(r.status).not.toBe(0);
  });
});
