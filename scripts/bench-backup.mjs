// Backup and restore timing on real servers: generates a sample marketplace database of a
// stated size in a throwaway PostgreSQL, then times the shipped scripts exactly as the pods
// run them: backup.sh dump + upload (to MinIO with SSE-S3), restore.sh fetch + load (into a
// fresh database), and checks the restored data matches.
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
const { startMinio, startPostgres, which } = require('../test/integration/lib/servers.ts');
const { BACKUP_SCRIPT, RESTORE_SCRIPT } = require('../constructs/scripts/index.ts');

const missing = ['postgres', 'pg_dump', 'pg_restore', 'psql', 'aws', 'minio'].filter((p) => !which(p));
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
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-backup-'));
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

  const check = (db) =>
    pg.psql(
      `select string_agg(t || '=' || n, ' ') from (
         select 'orders' t, count(*) || ':' || sum(qty) || ':' || max(placed_at) n from orders
         union all select 'products', count(*) || ':' || sum(price) from products
         union all select 'vendors', count(*)::text from vendors) x`,
      { db },
    ).trim();
  const same = check('shop') === check('shop_restored');

  console.log(`bench-backup: sample database ${mb(dbBytes)} MiB on disk (${orders.toLocaleString('en')} orders, ${products.toLocaleString('en')} products, 500 vendors), generated in ${secs(genMs)} s`);
  console.log(`  backup   ${secs(dumpMs + uploadMs).padStart(7)} s  (pg_dump -Fc + verify ${secs(dumpMs)} s -> ${mb(dumpBytes)} MiB; upload with SSE + retention ${secs(uploadMs)} s)`);
  console.log(`  restore  ${secs(fetchMs + loadMs).padStart(7)} s  (download ${secs(fetchMs)} s; verify + pg_restore --single-transaction + ANALYZE ${secs(loadMs)} s)`);
  console.log(`  restored data ${same ? 'matches' : 'DIFFERS from'} the source (row counts and sums per table)`);
  console.log(`  machine: ${os.cpus().length} CPUs, loopback PostgreSQL ${pg.psql('show server_version').trim()} and MinIO; a cluster adds network and volume latency`);
  if (!same) process.exitCode = 1;
} finally {
  await Promise.all([pg.stop(), s3.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
}
