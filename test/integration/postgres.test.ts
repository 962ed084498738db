/**
 * The restricted application role script, run by a real PostgreSQL exactly as shipped in
 * ConfigMap `postgres-init`: twice (idempotent), then exercised as the app role.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE } from '../../constructs/postgres/config';
import { find, podSpec, synth } from '../support/synth';
import { PostgresServer, describeWith, startPostgres, which } from './lib/servers';

const shipped: string = find(synth(), 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE];

describeWith(['postgres', 'psql'], 'app-role.sql on a real PostgreSQL', () => {
  let pg: PostgresServer;
  const owner = 'nextgen';
  const ownerPassword = 'owner-test-pw';
  const app = 'app_user';
  const appPassword = 'app-test-pw';
  const monitor = 'metrics';
  const monitorPassword = 'monitor-test-pw';
  const repl = 'replicator';
  const roles = { APP_DB_USER: app, APP_DB_PASSWORD: appPassword, MONITOR_DB_USER: monitor, MONITOR_DB_PASSWORD: monitorPassword, REPL_DB_USER: repl, REPL_DB_PASSWORD: 'repl-test-pw' };
  const db = 'marketplace';

  /** Run the shipped script the way the entrypoint and the Job do: psql -f, as the owner, env for the secrets. */
  const runScript = (env: Record<string, string | undefined>) => {
    const file = path.join(pg.dir, APP_ROLE_SQL_FILE);
    fs.writeFileSync(file, shipped);
    return cp.spawnSync(which('psql')!, ['-X', '-v', 'ON_ERROR_STOP=1', '-f', file], {
      encoding: 'utf8',
      env: pg.env({ PGUSER: owner, PGPASSWORD: ownerPassword, PGDATABASE: db, ...env } as Record<string, string>),
    });
  };
  const asApp = (sql: string) => pg.psqlResult(sql, { db, user: app, password: appPassword });
  const asOwner = (sql: string) => pg.psql(sql, { db, user: owner, password: ownerPassword });

  beforeAll(async () => {
    pg = await startPostgres();
    // The official image's entrypoint makes POSTGRES_USER a superuser owning POSTGRES_DB.
    pg.psql(`CREATE ROLE ${owner} LOGIN SUPERUSER PASSWORD '${ownerPassword}'; CREATE DATABASE ${db} OWNER ${owner};`);
    asOwner('CREATE TABLE before_script (id serial PRIMARY KEY, name text);');
  });
  afterAll(async () => pg?.stop());

  test('the script runs twice without error (idempotent)', () => {
    for (let i = 0; i < 2; i++) {
      const r = runScript(roles);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    expect(pg.psql(`SELECT count(*) FROM pg_roles WHERE rolname = '${app}'`).trim()).toBe('1');
  });

  test('without APP_DB_PASSWORD the script fails loudly', () => {
    const r = runScript({ ...roles, APP_DB_PASSWORD: undefined });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/APP_DB_PASSWORD is not set/);
  });

  test('without MONITOR_DB_PASSWORD the script fails loudly', () => {
    const r = runScript({ ...roles, MONITOR_DB_PASSWORD: undefined });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/MONITOR_DB_PASSWORD is not set/);
  });

  test('without REPL_DB_PASSWORD the script fails loudly', () => {
    const r = runScript({ ...roles, REPL_DB_PASSWORD: undefined });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/REPL_DB_PASSWORD is not set/);
  });

  test('the replication role may replicate and nothing else: no superuser, no access to the data', () => {
    expect(pg.psql(`SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = '${repl}'`).trim()).toBe('f|f|f|t|f|t');
    const r = pg.psqlResult('SELECT count(*) FROM before_script', { db, user: repl, password: 'repl-test-pw' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied for database/);
  });

  test('the monitoring role reads statistics of every session but no data', () => {
    const asMonitor = (sql: string) => pg.psqlResult(sql, { db, user: monitor, password: monitorPassword });
    expect(pg.psql(`SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = '${monitor}'`).trim()).toBe('f|f|f|f|f');
    expect(pg.psql(`SELECT pg_has_role('${monitor}', 'pg_monitor', 'member')`).trim()).toBe('t');
    // pg_read_all_stats (part of pg_monitor): other roles' query text is visible, not "<insufficient privilege>".
    const other = cp.spawn(which('psql')!, ['-X', '-c', 'SELECT pg_sleep(3)'], { env: pg.env({ PGUSER: owner, PGPASSWORD: ownerPassword, PGDATABASE: db }) });
    try {
      const seen = () => asMonitor("SELECT query FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'").stdout;
      const deadline = Date.now() + 3000;
      while (!seen().includes('pg_sleep') && Date.now() < deadline);
      expect(seen()).toContain('SELECT pg_sleep(3)');
    } finally {
      other.kill();
    }
    const r = asMonitor('SELECT count(*) FROM before_script');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied/);
  });

  test('the app role is not privileged', () => {
    expect(pg.psql(`SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = '${app}'`).trim()).toBe('f|f|f|f|f');
  });

  test('SELECT, INSERT, UPDATE and DELETE work on tables that existed before the script', () => {
    const r = asApp(
      "INSERT INTO before_script (name) VALUES ('a'); UPDATE before_script SET name = 'b'; SELECT name FROM before_script; DELETE FROM before_script;",
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('b');
  });

  test('default privileges cover tables the owner creates later (migrations)', () => {
    asOwner('CREATE TABLE after_script (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);');
    const r = asApp(
      "INSERT INTO after_script (name) VALUES ('x'); UPDATE after_script SET name = 'y'; DELETE FROM after_script WHERE name = 'nothing'; SELECT name FROM after_script;",
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('y');
  });

  test.each([
    ['CREATE TABLE', 'CREATE TABLE mine (id int)', /permission denied for schema public/],
    ['CREATE TEMP TABLE', 'CREATE TEMP TABLE mine (id int)', /permission denied to create temporary tables/],
    ['DROP TABLE', 'DROP TABLE before_script', /must be owner of table before_script/],
    ['TRUNCATE', 'TRUNCATE before_script', /permission denied for table before_script/],
    ['ALTER TABLE', 'ALTER TABLE before_script ADD COLUMN x int', /must be owner of table before_script/],
    ['CREATE SCHEMA', 'CREATE SCHEMA mine', /permission denied for database/],
    ['CREATE ROLE', 'CREATE ROLE other', /permission denied to create role/],
  ])('%s is refused to the app role', (_what, sql, message) => {
    const r = asApp(sql);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  test('other schemas are out of reach', () => {
    asOwner('CREATE SCHEMA IF NOT EXISTS internal; CREATE TABLE IF NOT EXISTS internal.secrets (v text);');
    const r = asApp('SELECT * FROM internal.secrets');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied for schema internal/);
  });

  test('PUBLIC holds no privileges on public tables, and a role without grants cannot connect', () => {
    pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stranger') THEN CREATE ROLE stranger LOGIN PASSWORD 'stranger-pw'; END IF; END $$;");
    const r = pg.psqlResult('SELECT 1', { db, user: 'stranger', password: 'stranger-pw' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied for database/);
    expect(asOwner("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'PUBLIC' AND table_schema = 'public'").trim()).toBe('0');
  });

  test('re-running the script applies a rotated password', () => {
    const rotated = 'app-rotated-pw';
    expect(runScript({ ...roles, APP_DB_PASSWORD: rotated }).status).toBe(0);
    expect(pg.psqlResult('SELECT 1', { db, user: app, password: appPassword }).status).not.toBe(0);
    expect(pg.psqlResult('SELECT 1', { db, user: app, password: rotated }).stdout.trim()).toBe('1');
    expect(runScript(roles).status).toBe(0);
  });
});

describeWith(['postgres', 'psql'], 'postgresql.conf settings on a real PostgreSQL', () => {
  const server = podSpec(find(synth(), 'StatefulSet', 'postgres')).containers.find((c: any) => c.name === 'postgres');
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => pg?.stop());

  test('every shipped -c setting is a valid parameter with a valid value, and takes effect', () => {
    const settings: string[] = server.args.filter((_: string, i: number) => i % 2 === 1);
    // `postgres -C` parses the configuration plus our flags and prints the effective value.
    const bin = path.join(path.dirname(which('postgres')!), 'postgres');
    const runAs = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', bin] : [bin];
    for (const s of settings) {
      const [name, value] = s.split(/=(.*)/s);
      const r = cp.spawnSync(runAs[0], [...runAs.slice(1), '-D', path.join(pg.dir, 'data'), ...server.args, '-C', name], { encoding: 'utf8' });
      expect({ name, stderr: r.stderr, status: r.status }).toEqual({ name, stderr: '', status: 0 });
      // -C prints the raw value in the parameter's base unit (pg_settings.unit: 8kB, kB, ms or none).
      const unit = pg.psql(`SELECT coalesce(unit, '') FROM pg_settings WHERE name = '${name}'`).trim();
      const mb = /^([0-9]+)MB$/.exec(value);
      const expected = mb && unit === '8kB' ? String((Number(mb[1]) * 1024) / 8) : mb && unit === 'kB' ? String(Number(mb[1]) * 1024) : value;
      expect([name, r.stdout.trim()]).toEqual([name, expected]);
    }
  });
});
