/**
 * Our postgres_exporter queries (ConfigMap `postgres-exporter-queries`, mounted as the shipped
 * exporter's PG_EXPORTER_EXTEND_QUERY_PATH) run in the real exporter, signed in as the
 * monitoring role, against a real primary and a real standby started from the generated
 * configuration (bootstrapped by the shipped standby.sh). They must tell what
 * `pg_replication_lag_seconds` cannot: a standby that is disconnected (slot inactive, WAL
 * receiver not streaming) and one whose replay has stopped (WAL waits, position frozen).
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { EXPORTER_QUERIES_FILE } from '../../constructs/postgres/exporter-queries';
import { M } from '../../constructs/monitoring/catalog';
import { STANDBY_SCRIPT } from '../../constructs/postgres/scripts';
import { find, podSpec, synth } from '../support/synth';
import { GeneratedServer, ROLES, eventually, initCluster, ownedDir, runAs, runRolesScript, startGenerated } from './lib/replication';
import { describeWith, freePort } from './lib/servers';

const EXPORTER = 'postgres_exporter';

describeWith(['postgres', 'psql', 'pg_basebackup', EXPORTER], 'replication metrics from our exporter queries, on a real primary and standby', () => {
  const manifests = synth({ tier: 'production' });
  const server = (sts: string) => podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'postgres');
  const exporter = podSpec(find(manifests, 'StatefulSet', 'postgres')).containers.find((c: any) => c.name === 'exporter');
  const queries: string = find(manifests, 'ConfigMap', 'postgres-exporter-queries').data[EXPORTER_QUERIES_FILE];
  const hba: string = find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE];
  const roles: string = find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE];
  const bootstrap = podSpec(find(manifests, 'StatefulSet', 'postgres-standby')).initContainers.find((c: any) => c.name === 'bootstrap');
  const db = 'marketplace';
  let primary: GeneratedServer;
  let standby: GeneratedServer;
  let root: string;
  const procs: cp.ChildProcess[] = [];
  const ports = new Map<GeneratedServer, number>();

  /** The exporter with the shipped container's query path, pointed at the file from the ConfigMap. */
  async function startExporter(target: GeneratedServer): Promise<void> {
    const shippedPath = exporter.env.find((e: any) => e.name === 'PG_EXPORTER_EXTEND_QUERY_PATH').value as string;
    expect(shippedPath.endsWith(`/${EXPORTER_QUERIES_FILE}`)).toBe(true);
    const mount = exporter.volumeMounts.find((m: any) => shippedPath.startsWith(`${m.mountPath}/`));
    expect(mount).toBeDefined();
    const file = path.join(root, EXPORTER_QUERIES_FILE);
    fs.writeFileSync(file, queries);
    const port = await freePort();
    const proc = cp.spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], {
      env: {
        PATH: process.env.PATH,
        DATA_SOURCE_URI: `127.0.0.1:${target.port}/${db}?sslmode=disable`,
        DATA_SOURCE_USER: ROLES.monitor.user,
        DATA_SOURCE_PASS: ROLES.monitor.password,
        PG_EXPORTER_EXTEND_QUERY_PATH: file,
      },
      stdio: 'ignore',
    });
    procs.push(proc);
    ports.set(target, port);
  }

  /** One sample of a metric (first series matching the label filter). */
  async function metric(target: GeneratedServer, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const body = await (await fetch(`http://127.0.0.1:${ports.get(target)}/metrics`)).text();
    for (const line of body.split('\n')) {
      const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
      if (m && Object.entries(labels).every(([k, v]) => (m[1] ?? '').includes(`${k}="${v}"`))) return Number(m[2]);
    }
    return undefined;
  }
  async function waitFor(what: string, target: GeneratedServer, name: string, labels: Record<string, string>, ok: (v: number) => boolean): Promise<void> {
    const end = Date.now() + 30000;
    let last: number | undefined;
    while (Date.now() < end) {
      try {
        last = await metric(target, name, labels);
        if (last !== undefined && ok(last)) return;
      } catch {
        /* the exporter is starting */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what}: ${name} is ${last}`);
  }

  beforeAll(async () => {
    root = ownedDir('repl-metrics-');
    const data = path.join(root, 'primary');
    initCluster(data);
    primary = await startGenerated({ data, args: server('postgres').args, hba });
    primary.psql(`CREATE DATABASE ${db}`);
    expect(runRolesScript(primary, roles, db).status).toBe(0);
    primary.psql('CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)', { db });
    const sdata = path.join(root, 'standby');
    const env = { PGDATA: sdata, SLOT: bootstrap.env.find((e: any) => e.name === 'SLOT').value, PGHOST: '127.0.0.1', PGPORT: String(primary.port), REPL_USER: ROLES.repl.user, REPL_PASSWORD: ROLES.repl.password };
    const b = runAs('bash', [STANDBY_SCRIPT, 'bootstrap'], env);
    expect(b.status).toBe(0);
    standby = await startGenerated({ data: sdata, args: server('postgres-standby').args, hba, primaryPort: primary.port });
    await startExporter(primary);
    await startExporter(standby);
  }, 180000);

  afterAll(() => {
    for (const p of procs) p.kill();
    standby?.stop('immediate');
    primary?.stop('immediate');
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('streaming: the slot is active on the primary, the standby receives and replays', async () => {
    await waitFor('slot active', primary, M.pgSlotActive.name, { slot_name: 'postgres_standby' }, (v) => v === 1);
    expect(await metric(primary, M.pgSlotLost.name, { slot_name: 'postgres_standby' })).toBe(0);
    expect(await metric(primary, M.pgSlotRetainedBytes.name, { slot_name: 'postgres_standby' })).toBeGreaterThanOrEqual(0);
    expect(await metric(primary, M.pgRecoveryInRecovery.name)).toBe(0);
    await waitFor('receiver streaming', standby, M.pgRecoveryStreaming.name, {}, (v) => v === 1);
    expect(await metric(standby, M.pgRecoveryInRecovery.name)).toBe(1);
    const before = (await metric(standby, M.pgRecoveryReplayedBytes.name))!;
    primary.psql(`INSERT INTO orders (note) SELECT 'o' || g FROM generate_series(1, 1000) g`, { db });
    await waitFor('replay moves', standby, M.pgRecoveryReplayedBytes.name, {}, (v) => v > before);
    await waitFor('caught up: lag 0', standby, M.pgRecoveryLag.name, {}, (v) => v === 0);
  }, 60000);

  test('replay stopped: received WAL waits, the replay position stays, lag grows', async () => {
    standby.psql('SELECT pg_wal_replay_pause()');
    await eventually('paused', () => standby.psql('SELECT pg_get_wal_replay_pause_state()') === 'paused');
    const frozen = (await metric(standby, M.pgRecoveryReplayedBytes.name))!;
    primary.psql(`INSERT INTO orders (note) SELECT 'p' || g FROM generate_series(1, 1000) g`, { db });
    await waitFor('WAL waits for replay', standby, M.pgRecoveryReplayBehindBytes.name, {}, (v) => v > 0);
    expect(await metric(standby, M.pgRecoveryReplayedBytes.name)).toBe(frozen);
    await new Promise((r) => setTimeout(r, 1500));
    await waitFor('lag counts', standby, M.pgRecoveryLag.name, {}, (v) => v > 0);
    standby.psql('SELECT pg_wal_replay_resume()');
    await waitFor('replay resumes', standby, M.pgRecoveryReplayBehindBytes.name, {}, (v) => v === 0);
  }, 60000);

  test('disconnected: the slot turns inactive on the primary and retains the WAL written since', async () => {
    standby.stop('fast');
    await waitFor('slot inactive', primary, M.pgSlotActive.name, { slot_name: 'postgres_standby' }, (v) => v === 0);
    const retained = (await metric(primary, M.pgSlotRetainedBytes.name, { slot_name: 'postgres_standby' }))!;
    primary.psql(`INSERT INTO orders (note) SELECT repeat('x', 200) FROM generate_series(1, 20000) g`, { db });
    await waitFor('retained WAL grows', primary, M.pgSlotRetainedBytes.name, { slot_name: 'postgres_standby' }, (v) => v > retained + 1_000_000);
    expect(await metric(primary, M.pgSlotLost.name, { slot_name: 'postgres_standby' })).toBe(0);
  }, 60000);
});
