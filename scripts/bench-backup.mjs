// Backup and restore timing on real servers: generates a sample marketplace database of a
// stated size in a throwaway PostgreSQL, then times, on that same database:
//   - the shipped dump scripts exactly as the pods run them: backup.sh dump + upload (to MinIO
//     with SSE-S3), restore.sh fetch + load (single transaction) into a fresh database;
//   - a parallel dump and restore (directory format, pg_dump -j / pg_restore -j);
//   - the WAL archive path: wal-archive.sh receive + upload-once, base-backup.sh take + upload,
//     then pitr.sh fetch + restore (latest) into a fresh data directory from S3 alone;
// checks each restored copy matches, and prints throughputs (on-disk MiB per second) against
// constructs/lib/recovery.ts and the largest database each environment's RTO allows.
//
//   node scripts/bench-backup.mjs            # default: 2,000,000 order rows (~300 MB)
//   BENCH_ORDERS=500000 node scripts/bench-backup.mjs
import { createRequire } from 'module';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const require = createRequire(import.meta.url);
require('./register.cjs');
// The catalog's programs (PostgreSQL, aws-cli, MinIO at the shipped versions) first on PATH, as in the tests.
require('../test/support/programs.ts').putCatalogProgramsOnPath();
const { startMinio, startPostgres, which } = require('../test/integration/lib/servers.ts');
const { BACKUP_SCRIPT, RESTORE_SCRIPT, WAL_ARCHIVE_SCRIPT, BASE_BACKUP_SCRIPT, PITR_SCRIPT } = require('../constructs/postgres/scripts.ts');
const { runAs, spawnAs, ownedDir, pgBin } = require('../test/integration/lib/replication.ts');
const { MEASURED_THROUGHPUT_MIBPS, largestRestorableGiB, restoreThroughput } = require('../constructs/lib/recovery.ts');
const { loadAllEnvironments } = require('../environments/load.ts');

const missing = ['postgres', 'pg_dump', 'pg_restore', 'psql', 'pg_basebackup', 'pg_receivewal', 'aws', 'minio'].filter((p) => !which(p));
if (missing.length) {
  console.log(`bench-backup: SKIPPED (${missing.join(', ')} not installed; .ci/install installs them)`);
  process.exit(0);
}

const orders = Number(process.env.BENCH_ORDERS ?? 2_000_000);
const products = Math.max(1000, Math.round(orders / 20));
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const secs = (ms) => (ms / 1000).toFixed(2);

function timed(f) {
  const t = process.hrtime.bigint();
  const r = f();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  return [r, ms];
}

function run(script, phase, env) {
  const r = cp.spawnSync('bash', [script, phase], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(script)} ${phase} failed (${r.status}):\n${r.stderr}`);
  return r;
}

const [pg, s3] = await Promise.all([startPostgres(), startMinio({ kms: true })]);
const work = ownedDir('bench-backup-');
let receiver;
try {
  const mbr = cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, 's3', 'mb', 's3://bench'], { env: s3.env(), encoding: 'utf8' });
  if (mbr.status !== 0) throw new Error(mbr.stderr);

  pg.psql('create database shop');
  const [, genMs] = timed(() =>
    pg.psql(
      `create table vendors (id serial primary key, name text not null);
       create table products (id serial primary key, vendor_id int not null references vendors(id), title text not null,
                              description text, price numeric(10,2) not null, attrs jsonb);
       create table orders (id bigserial primary key, product_id int not null references products(id), qty int not null,
                            customer text not null, placed_at timestamptz not null);
       insert into vendors(name) select 'vendor ' || g from generate_series(1, 500) g;
       insert into products(vendor_id, title, description, price, attrs)
         select 1 + g % 500, 'product ' || g, repeat(md5(g::text), 4), (g % 10000) / 7.0, jsonb_build_object('g', g, 'tags', array['a', 'b'])
         from generate_series(1, ${products}) g;
       insert into orders(product_id, qty, customer, placed_at)
         select 1 + g % ${products}, 1 + g % 9, 'customer-' || (g % 100000) || '@example.com',
                timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
         from generate_series(1, ${orders}) g;
       create index on orders(product_id); create index on orders(placed_at);
       analyze;`,
      { db: 'shop' },
    ),
  );
  const dbBytes = Number(pg.psql(`select pg_database_size('shop')`).trim());

  const common = { ...s3.env(), PATH: pg.env().PATH, S3_BUCKET: 'bench', S3_PREFIX: 'bench', S3_ENDPOINT: s3.endpoint };
  const backupDir = path.join(work, 'backups');
  const benv = { ...pg.env({ PGDATABASE: 'shop' }), ...common, BACKUP_DIR: backupDir, LOCAL_RETENTION_DAYS: '7', REMOTE_RETENTION_DAYS: '90' };
  const [, dumpMs] = timed(() => run(BACKUP_SCRIPT, 'dump', benv));
  const dumpFile = fs.readdirSync(backupDir).find((f) => f.endsWith('.dump'));
  const dumpBytes = fs.statSync(path.join(backupDir, dumpFile)).size;
  const [, uploadMs] = timed(() => run(BACKUP_SCRIPT, 'upload', benv));

  pg.psql('create database shop_restored');
  const renv = { ...pg.env({ PGDATABASE: 'shop_restored' }), ...common, RESTORE_DIR: path.join(work, 'restore'), BACKUP_KEY: 'latest' };
  const [, fetchMs] = timed(() => run(RESTORE_SCRIPT, 'fetch', renv));
  const [, loadMs] = timed(() => run(RESTORE_SCRIPT, 'load', renv));

  const check = (db, server = pg) =>
    server.psql(
      `select string_agg(t || '=' || n, ' ') from (
         select 'orders' t, count(*) || ':' || sum(qty) || ':' || max(placed_at) n from orders
         union all select 'products', count(*) || ':' || sum(price) from products
         union all select 'vendors', count(*)::text from vendors) x`,
      { db },
    ).trim();
  const source = check('shop');
  const same = source === check('shop_restored');

  // Parallel dump and restore: directory format, one job per CPU.
  const jobs = String(Math.max(2, os.cpus().length));
  const dirDump = path.join(work, 'shop.dir');
  const pdEnv = pg.env({ PGDATABASE: 'shop' });
  const sh = (cmd, args, env) => {
    const r = cp.spawnSync(cmd, args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  };
  const [, pDumpMs] = timed(() => sh(pgBin('pg_dump'), ['-Fd', '-j', jobs, '--compress=6', '--no-owner', '--no-acl', '-f', dirDump], pdEnv));
  pg.psql('create database shop_parallel');
  const [, pRestoreMs] = timed(() => {
    sh(pgBin('pg_restore'), ['-j', jobs, '--no-owner', '--no-acl', '--exit-on-error', '-d', 'shop_parallel', dirDump], pg.env({ PGDATABASE: 'shop_parallel' }));
    pg.psql('analyze', { db: 'shop_parallel' });
  });
  const parallelSame = source === check('shop_parallel');

  // The WAL archive path: stream WAL, take a base backup, write more, restore the latest point.
  const walDir = path.join(work, 'wal');
  const baseDir = path.join(work, 'base');
  for (const d of [walDir, baseDir]) {
    fs.mkdirSync(d);
    if (process.getuid?.() === 0) cp.execFileSync('chown', ['postgres:postgres', d]);
  }
  const repl = { PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres', PGPASSWORD: pg.password };
  const walEnv = { ...common, S3_PREFIX: 'bench-pitr', S3_SSE: 'AES256' };
  receiver = spawnAs('bash', [WAL_ARCHIVE_SCRIPT, 'receive'], { ...repl, WAL_DIR: walDir, SLOT: 'bench' }, path.join(work, 'receive.log'));
  // The two containers of the CronJob's pod, timed apart: take (pg_basebackup + zstd + verify), upload (+ retention).
  const [, takeMs] = timed(() => {
    const t = runAs('bash', [BASE_BACKUP_SCRIPT, 'take'], { ...repl, BASE_DIR: baseDir }, { timeout: 1800000 });
    if (t.status !== 0) throw new Error(`base-backup.sh take failed:\n${t.stderr}`);
  });
  const [, baseUploadMs] = timed(() => run(BASE_BACKUP_SCRIPT, 'upload', { ...walEnv, BASE_DIR: baseDir, RETENTION_DAYS: '7' }));
  const baseMs = takeMs + baseUploadMs;
  // WAL to replay: a tenth of the orders change after the base backup.
  pg.psql(`update orders set qty = qty + 1 where id % 10 = 0`, { db: 'shop' });
  // One byte back: a no-op switch returns a segment boundary, which names the open segment (test/integration/lib/replication.ts SWITCH_WAL_SQL).
  const lastSeg = pg.psql('select pg_walfile_name(pg_switch_wal() - 1)').trim();
  const waitEnd = Date.now() + 120000;
  while (!fs.existsSync(path.join(walDir, `${lastSeg}.gz`)) && Date.now() < waitEnd) await new Promise((r) => setTimeout(r, 200));
  run(WAL_ARCHIVE_SCRIPT, 'upload-once', { ...walEnv, WAL_DIR: walDir });
  const walBytes = Number(pg.psql(`select sum(size) from pg_ls_waldir()`).trim());
  const afterUpdate = check('shop');
  const pitrDir = ownedDir('bench-pitr-');
  const penv = { ...walEnv, TARGET_TIME: 'latest', RESTORE_DIR: path.join(pitrDir, 'restore') };
  const [, pitrMs] = timed(() => {
    run(PITR_SCRIPT, 'fetch', penv);
    if (process.getuid?.() === 0) cp.execFileSync('chown', ['-R', 'postgres:postgres', pitrDir]);
    const r = runAs('bash', [PITR_SCRIPT, 'restore'], { TARGET_TIME: 'latest', RESTORE_DIR: penv.RESTORE_DIR, PGDATA: path.join(pitrDir, 'pgdata'), PGUSER: 'postgres' }, { timeout: 1800000 });
    if (r.status !== 0) throw new Error(`pitr.sh restore failed:\n${r.stderr}`);
  });
  // Start the restored directory once to compare it with the source.
  const port = String(pg.port + 1);
  const started = runAs(pgBin('pg_ctl'), ['-D', path.join(pitrDir, 'pgdata'), '-w', '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pitrDir}`, '-l', path.join(pitrDir, 'log'), 'start'], {});
  let pitrSame = false;
  if (started.status === 0) {
    const r = cp.spawnSync(pgBin('psql'), ['-X', '-At', '-d', 'shop', '-c',
      `select string_agg(t || '=' || n, ' ') from (select 'orders' t, count(*) || ':' || sum(qty) || ':' || max(placed_at) n from orders
       union all select 'products', count(*) || ':' || sum(price) from products union all select 'vendors', count(*)::text from vendors) x`],
      { env: { ...pg.env({ PGDATABASE: 'shop' }), PGPORT: port }, encoding: 'utf8' });
    pitrSame = r.stdout.trim() === afterUpdate;
    runAs(pgBin('pg_ctl'), ['-D', path.join(pitrDir, 'pgdata'), '-m', 'fast', '-w', 'stop'], {});
  }
  fs.rmSync(pitrDir, { recursive: true, force: true });

  const mibps = (ms) => dbBytes / 1024 / 1024 / (ms / 1000);
  const rate = (ms) => `${mibps(ms).toFixed(0).padStart(4)} MiB/s`;
  console.log(`bench-backup: sample database ${mb(dbBytes)} MiB on disk (${orders.toLocaleString('en')} orders, ${products.toLocaleString('en')} products, 500 vendors), generated in ${secs(genMs)} s`);
  console.log(`  dump backup        ${secs(dumpMs + uploadMs).padStart(7)} s  ${rate(dumpMs + uploadMs)}  (pg_dump -Fc + verify ${secs(dumpMs)} s -> ${mb(dumpBytes)} MiB; upload with SSE + retention ${secs(uploadMs)} s)`);
  console.log(`  dump restore       ${secs(fetchMs + loadMs).padStart(7)} s  ${rate(fetchMs + loadMs)}  (download ${secs(fetchMs)} s; verify + pg_restore --single-transaction + ANALYZE ${secs(loadMs)} s)`);
  console.log(`  parallel dump      ${secs(pDumpMs).padStart(7)} s  ${rate(pDumpMs)}  (pg_dump -Fd -j ${jobs})`);
  console.log(`  parallel restore   ${secs(pRestoreMs).padStart(7)} s  ${rate(pRestoreMs)}  (pg_restore -j ${jobs} + ANALYZE; ${(loadMs / pRestoreMs).toFixed(1)}x the single-transaction load)`);
  console.log(`  base backup        ${secs(baseMs).padStart(7)} s  ${rate(baseMs)}  (take: pg_basebackup -Ft client-zstd + -X stream + verify ${secs(takeMs)} s; upload with SSE + retention ${secs(baseUploadMs)} s)`);
  console.log(`  point-in-time      ${secs(pitrMs).padStart(7)} s  ${rate(pitrMs)}  (download base + WAL, unpack, replay the WAL of an update of 10% of orders (pg_wal held ${mb(walBytes)} MiB), verify)`);
  console.log(`  restored data: dump ${same ? 'matches' : 'DIFFERS'}, parallel ${parallelSame ? 'matches' : 'DIFFERS'}, point-in-time ${pitrSame ? 'matches' : 'DIFFERS'} (row counts and sums per table)`);
  console.log(`  machine: ${os.cpus().length} CPUs, loopback PostgreSQL ${pg.psql('show server_version').trim()} and MinIO; a cluster adds network and volume latency`);
  console.log(`  constants in constructs/lib/recovery.ts (MiB/s): ${Object.entries(MEASURED_THROUGHPUT_MIBPS).map(([k, v]) => `${k} ${v}`).join(', ')}; measured now: dumpRestore ${mibps(fetchMs + loadMs).toFixed(0)}, parallelDumpRestore ${mibps(fetchMs + pRestoreMs).toFixed(0)}, pitrRestore ${mibps(pitrMs).toFixed(0)}`);
  console.log("  largest database each environment's RTO allows (worst-case restore with margin and start-up):");
  for (const env of loadAllEnvironments(path.resolve(path.dirname(new URL(import.meta.url).pathname), '..'))) {
    const tput = restoreThroughput(env.restore);
    const standby = env.postgres.standby.enabled ?? env.tier === 'production';
    console.log(
      `    ${env.name.padEnd(8)} RTO ${env.restore.rtoMinutes} min at ${tput} MiB/s: ${String(largestRestorableGiB(env.restore.rtoMinutes, tput)).padStart(4)} GiB by restore; volume ${env.postgres.storage.sizeGiB} GiB` +
        (standby ? `; standby: failover in ${env.postgres.standby.promotionSeconds} s carries the RTO` : ''),
    );
  }
  if (!same || !parallelSame || !pitrSame) process.exitCode = 1;
} finally {
  receiver?.kill('SIGTERM');
  await Promise.all([pg.stop(), s3.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
}
