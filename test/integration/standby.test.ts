/**
 * The streaming standby and the failover runbook on real PostgreSQL servers started from the
 * generated configuration (the StatefulSets' `-c` arguments and ConfigMap `postgres-hba`),
 * with the shipped standby.sh doing what its init container and runbook Jobs do:
 * bootstrap (pg_basebackup through the slot), streaming, lag seen by the real
 * postgres_exporter, promotion, and the old primary rejoining as a standby (pg_rewind).
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { find, podSpec, synth } from '../support/synth';
import { GeneratedServer, ROLES, eventually, initCluster, ownedDir, runAs, runRolesScript, startGenerated } from './lib/replication';
import { describeWith, freePort } from './lib/servers';

const EXPORTER = 'postgres_exporter';

describeWith(['postgres', 'psql', 'pg_basebackup', 'pg_receivewal', 'pg_rewind', EXPORTER], 'streaming standby and failover on real PostgreSQL', () => {
  const manifests = synth();
  const server = (sts: string) => podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'postgres');
  const primaryArgs: string[] = server('postgres').args;
  const standbyArgs: string[] = server('postgres-standby').args;
  const hba: string = find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE];
  const roles: string = find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE];
  const bootstrap = podSpec(find(manifests, 'StatefulSet', 'postgres-standby')).initContainers.find((c: any) => c.name === 'bootstrap');
  const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name)?.value;

  let primary: GeneratedServer;
  let standby: GeneratedServer;
  let root: string;
  const db = 'marketplace';

  // The script as it ships: from the synthesized ConfigMap, not the source file.
  const shipped: string = find(manifests, 'ConfigMap', 'postgres-standby-scripts').data['standby.sh'];
  const standbyScript = (phase: string, env: Record<string, string>) => {
    const file = path.join(root, 'standby.sh');
    if (!fs.existsSync(file)) fs.writeFileSync(file, shipped, { mode: 0o755 });
    return runAs('bash', [file, phase], env);
  };

  beforeAll(async () => {
    root = ownedDir('standby-itest-');
    const data = path.join(root, 'primary');
    initCluster(data);
    primary = await startGenerated({ data, args: primaryArgs, hba });
    primary.psql(`CREATE DATABASE ${db}`);
    const r = runRolesScript(primary, roles, db);
    expect(r.status).toBe(0);
    primary.psql('CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)', { db });
  }, 120000);

  afterAll(() => {
    standby?.stop('immediate');
    primary?.stop('immediate');
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('the generated settings make every server ready to be primary or standby', () => {
    expect(primary.psql(`SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('wal_level', 'wal_log_hints', 'hot_standby', 'primary_slot_name')`)).toBe(
      'hot_standby=on primary_slot_name=postgres wal_level=replica wal_log_hints=on',
    );
    // The replication role logs in over TCP for replication, and only for that.
    expect(primary.psql(`SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = '${ROLES.repl.user}'`)).toBe('t|f');
    const r = primary.psqlResult('SELECT count(*) FROM orders', { db, role: 'repl' });
    expect(r.status).not.toBe(0);
  });

  test('bootstrap copies the primary through its slot; rows written on the primary appear on the standby', async () => {
    const data = path.join(root, 'standby');
    const env = { PGDATA: data, SLOT: envOf(bootstrap, 'SLOT'), PGHOST: '127.0.0.1', PGPORT: String(primary.port), REPL_USER: ROLES.repl.user, REPL_PASSWORD: ROLES.repl.password };
    expect(env.SLOT).toBe('postgres_standby');
    const b = standbyScript('bootstrap', env);
    expect(b.stderr).toMatch(/standby data directory ready/);
    expect(b.status).toBe(0);
    expect(fs.existsSync(path.join(data, 'standby.signal'))).toBe(true);
    // A second run (the pod restarting) leaves the cluster alone.
    const again = standbyScript('bootstrap', env);
    expect(again.stderr).toMatch(/holds a cluster \(standby\); nothing to do/);

    standby = await startGenerated({ data, args: standbyArgs, hba, primaryPort: primary.port });
    expect(standby.psql('SELECT pg_is_in_recovery()')).toBe('t');
    primary.psql(`INSERT INTO orders (note) SELECT 'order ' || g FROM generate_series(1, 500) g`, { db });
    await eventually('rows replicated', () => standby.psql('SELECT count(*) FROM orders', { db }) === '500');
    expect(primary.psql(`SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY 1`)).toBe('postgres_standby:true');
    expect(primary.psql(`SELECT application_name || ':' || state FROM pg_stat_replication`)).toBe('postgres-standby:streaming');
    // Read-only: the standby refuses writes.
    const w = standby.psqlResult(`INSERT INTO orders (note) VALUES ('x')`, { db });
    expect(w.stderr).toMatch(/read-only transaction/);
  }, 120000);

  test('the real postgres_exporter, signed in as the monitoring role, reports replication from both servers', async () => {
    const scrape = async (target: GeneratedServer): Promise<string> => {
      const port = await freePort();
      const proc = cp.spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], {
        env: {
          ...process.env,
          DATA_SOURCE_URI: `127.0.0.1:${target.port}/${db}?sslmode=disable`,
          DATA_SOURCE_USER: ROLES.monitor.user,
          DATA_SOURCE_PASS: ROLES.monitor.password,
        },
        stdio: 'ignore',
      });
      try {
        let body = '';
        const end = Date.now() + 20000;
        while (Date.now() < end) {
          try {
            body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            if (/^pg_up 1/m.test(body)) break;
          } catch {
            /* not yet */
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        return body;
      } finally {
        proc.kill();
      }
    };
    primary.psql(`INSERT INTO orders (note) VALUES ('lag probe')`, { db });
    const onPrimary = await scrape(primary);
    expect(onPrimary).toMatch(/^pg_up 1/m);
    // Each standby's lag in bytes from pg_stat_replication (every exporter version reports it);
    // the `replication` collector's pg_replication_lag_seconds is checked below and live in exporters.test.ts.
    expect(onPrimary).toMatch(/^pg_stat_replication_pg_wal_lsn_diff\{[^}]*application_name="postgres-standby"[^}]*\} \d/m);
    const onStandby = await scrape(standby);
    expect(onStandby).toMatch(/^pg_up 1/m);
    // The shipped exporter release (the catalog's build) has the `replication` collector the lag alert reads.
    expect(onStandby).toMatch(/^pg_replication_is_replica(\{[^}]*\})? 1$/m);
    expect(onStandby).toMatch(/^pg_replication_lag_seconds(\{[^}]*\})? \d/m);
    // The query behind pg_replication_lag_seconds (postgres_exporter's replication collector),
    // run as the monitoring role on the standby: a real number of seconds.
    const lag = standby.psql(
      `SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE GREATEST(0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))) END, pg_is_in_recovery()::int`,
      { db, role: 'monitor' },
    );
    expect(lag).toMatch(/^\d+(\.\d+)?\|1$/);
  }, 60000);

  test('promote refuses the primary, promotes the standby; the old primary rejoins as a standby (pg_rewind)', async () => {
    const promoteEnv = (target: GeneratedServer) => ({ ...target.env('owner', db), PROMOTE_WAIT_SECONDS: '30' });
    const refused = standbyScript('promote', promoteEnv(primary));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/is not a standby/);

    const p = standbyScript('promote', promoteEnv(standby));
    expect(p.stderr).toMatch(/is the primary now/);
    expect(p.status).toBe(0);
    expect(standby.psql('SELECT pg_is_in_recovery()')).toBe('f');
    standby.psql(`INSERT INTO orders (note) SELECT 'after failover ' || g FROM generate_series(1, 100) g`, { db });
    // The old primary also took a write nobody will see (diverged): pg_rewind must undo it.
    primary.psql(`INSERT INTO orders (note) VALUES ('lost on the old primary')`, { db });
    const rebuildEnv = {
      PGDATA: primary.data,
      SLOT: 'postgres',
      PGHOST: '127.0.0.1',
      PGPORT: String(standby.port),
      PGDATABASE: 'postgres',
      PGUSER: ROLES.owner.user,
      PGPASSWORD: ROLES.owner.password,
      REPL_USER: ROLES.repl.user,
      REPL_PASSWORD: ROLES.repl.password,
    };
    // The fence did not hold (the old primary still runs): the rebuild changes nothing.
    const refusedRebuild = standbyScript('rebuild', rebuildEnv);
    expect(refusedRebuild.stderr).toMatch(/is in use: postmaster\.pid names PID \d+/);
    expect(refusedRebuild.status).not.toBe(0);
    expect(fs.existsSync(path.join(primary.data, 'PG_VERSION'))).toBe(true);
    expect(primary.psql('SELECT count(*) > 0 FROM orders', { db })).toBe('t');
    expect(standby.psql(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'postgres'`)).toBe('0');
    primary.stop('fast');

    const rebuild = standbyScript('rebuild', rebuildEnv);
    expect(rebuild.stderr).toMatch(/rewound; .* is a standby/);
    expect(rebuild.status).toBe(0);
    // The slot holds WAL from its creation on, before the rebuilt server ever connects.
    expect(standby.psql(`SELECT slot_type || ':' || (restart_lsn IS NOT NULL) FROM pg_replication_slots WHERE slot_name = 'postgres'`)).toBe('physical:true');
    const rejoined = await startGenerated({ data: primary.data, args: primaryArgs, hba, primaryPort: standby.port });
    try {
      expect(rejoined.psql('SELECT pg_is_in_recovery()')).toBe('t');
      standby.psql(`INSERT INTO orders (note) VALUES ('streamed back')`, { db });
      await eventually('the old primary follows the new one', () => rejoined.psql(`SELECT count(*) FROM orders WHERE note = 'streamed back'`, { db }) === '1').catch((e) => {
        throw new Error(`${e}\n${rejoined.log()}`);
      });
      expect(rejoined.psql(`SELECT count(*) FROM orders WHERE note = 'lost on the old primary'`, { db })).toBe('0');
      expect(rejoined.psql('SELECT count(*) FROM orders', { db })).toBe(standby.psql('SELECT count(*) FROM orders', { db }));
      expect(standby.psql(`SELECT slot_name || ':' || active FROM pg_replication_slots ORDER BY 1`)).toBe('postgres:true');
    } finally {
      rejoined.stop('immediate');
    }
  }, 120000);
});
