/**
 * The shipped backup and restore scripts (constructs/postgres/*.sh, the exact text the
 * ConfigMaps carry) against a real PostgreSQL holding sample data and a real S3-compatible
 * server (MinIO with SSE-S3). Each phase runs as its container would: `backup.sh dump`, then
 * `backup.sh upload`; `restore.sh fetch`, then `restore.sh load`.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWith, freePort, MinioServer, PostgresServer, startMinio, startPostgres } from './lib/servers';
import { BACKUP_SCRIPT, RESTORE_SCRIPT } from '../../constructs/postgres/scripts';

const BUCKET = 'nextgen-backups';
const PREFIX = 'itest';

/** UTC timestamp as used in backup names, `days` ago. */
function stampDaysAgo(days: number): string {
  return new Date(Date.now() - days * 86400e3).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

describeWith(['postgres', 'psql', 'pg_dump', 'pg_restore', 'aws', 'minio'], 'backup and restore scripts against real PostgreSQL and MinIO', () => {
  let pg: PostgresServer;
  let s3: MinioServer;
  let work: string;

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPostgres(), startMinio({ kms: true })]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-itest-'));
    fs.chmodSync(work, 0o777);
    const mb = aws(['s3', 'mb', `s3://${BUCKET}`]);
    expect(mb.stderr).toBe('');
    pg.psql('create database shop');
    pg.psql(
      `create table vendors (id serial primary key, name text not null unique);
       create table products (id serial primary key, vendor_id int not null references vendors(id), title text not null,
                              price numeric(10,2) not null, tags text[], attrs jsonb);
       create table orders (id bigserial primary key, product_id int not null references products(id), qty int not null,
                            placed_at timestamptz not null);
       create index on orders(product_id);
       create view product_totals as select product_id, sum(qty) as qty from orders group by product_id;
       insert into vendors(name) select 'vendor ' || g from generate_series(1, 50) g;
       insert into products(vendor_id, title, price, tags, attrs)
         select 1 + g % 50, 'product ' || g || ' ''quoted'' ü', (g * 1.37)::numeric(10,2), array['a' || g % 7, 'b'],
                jsonb_build_object('g', g, 'odd', g % 2 = 1)
         from generate_series(1, 2000) g;
       insert into orders(product_id, qty, placed_at)
         select 1 + g % 2000, 1 + g % 5, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
         from generate_series(1, 20000) g;`,
      { db: 'shop' },
    );
  }, 120000);

  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function aws(args: string[]): cp.SpawnSyncReturns<string> {
    return cp.spawnSync('aws', ['--endpoint-url', s3.endpoint, ...args], { env: s3.env(), encoding: 'utf8' });
  }
  function keys(): string[] {
    const r = aws(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--query', 'Contents[].Key', '--output', 'json']);
    expect(r.status).toBe(0);
    return (JSON.parse(r.stdout || 'null') ?? []).sort();
  }
  function run(script: string, phase: string, env: NodeJS.ProcessEnv): cp.SpawnSyncReturns<string> {
    return cp.spawnSync('bash', [script, phase], { env, encoding: 'utf8' });
  }
  /** What both scripts read: the database, the S3 server and where the objects go. */
  function scriptEnv(database: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      ...pg.env({ PGDATABASE: database }),
      ...s3.env(),
      PATH: pg.env().PATH,
      S3_BUCKET: BUCKET,
      S3_PREFIX: PREFIX,
      S3_ENDPOINT: s3.endpoint,
      ...extra,
    };
  }
  function backupEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return scriptEnv('shop', {
      BACKUP_DIR: dir,
      LOCAL_RETENTION_DAYS: '7',
      REMOTE_RETENTION_DAYS: '90',
      ...extra,
    });
  }
  function backup(dir: string, extra: Record<string, string> = {}) {
    const env = backupEnv(dir, extra);
    const dump = run(BACKUP_SCRIPT, 'dump', env);
    const upload = dump.status === 0 ? run(BACKUP_SCRIPT, 'upload', env) : undefined;
    return { dump, upload };
  }
  function fingerprint(db: string): Record<string, string> {
    const tables = pg.psql(`select tablename from pg_tables where schemaname = 'public' order by 1`, { db }).trim().split('\n');
    const out: Record<string, string> = {};
    for (const t of tables) {
      out[t] = pg.psql(`select count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '-') from ${t} x`, { db }).trim();
    }
    return out;
  }
  const freshDir = (name: string) => {
    const d = path.join(work, name);
    fs.mkdirSync(d);
    return d;
  };

  test('round trip: dump, verify, upload with SSE, restore into a fresh database gives identical data', () => {
    const dir = freshDir('roundtrip');
    const { dump, upload } = backup(dir);
    expect(dump.stderr).toMatch(/verified shop-\d{8}T\d{6}Z\.dump/);
    expect(dump.status).toBe(0);
    expect(upload!.status).toBe(0);

    const uploaded = keys().filter((k) => /^itest\/shop-\d{8}T\d{6}Z\.dump$/.test(k));
    expect(uploaded).toHaveLength(1);
    const head = aws(['s3api', 'head-object', '--bucket', BUCKET, '--key', uploaded[0]]);
    expect(JSON.parse(head.stdout).ServerSideEncryption).toBe('AES256');
    // The object key's timestamp is the UTC time of the dump (within the test's minute).
    const stamp = /(\d{8}T\d{6}Z)/.exec(uploaded[0])![1];
    const when = Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);
    expect(Math.abs(Date.now() - when)).toBeLessThan(5 * 60e3);

    pg.psql('create database shop_restored');
    const restoreDir = freshDir('restore');
    const env = scriptEnv('shop_restored', { RESTORE_DIR: restoreDir, BACKUP_KEY: 'latest' });
    const fetch = run(RESTORE_SCRIPT, 'fetch', env);
    expect(fetch.stderr).toContain(uploaded[0]);
    expect(fetch.status).toBe(0);
    const load = run(RESTORE_SCRIPT, 'load', env);
    expect(load.stderr).toMatch(/\(one transaction\)/);
    expect(load.stderr).toMatch(/done/);
    expect(load.status).toBe(0);

    const before = fingerprint('shop');
    expect(Object.keys(before).sort()).toEqual(['orders', 'products', 'vendors']);
    expect(before.orders).toMatch(/^20000 /);
    expect(fingerprint('shop_restored')).toEqual(before);
    expect(pg.psql('select sum(qty) from product_totals', { db: 'shop_restored' })).toBe(pg.psql('select sum(qty) from product_totals', { db: 'shop' }));
    // Sequences continue where they were, so new rows do not collide.
    expect(pg.psql(`select last_value from orders_id_seq`, { db: 'shop_restored' })).toBe(pg.psql(`select last_value from orders_id_seq`, { db: 'shop' }));
  });

  test('restoring a named object over a changed database brings it back exactly', () => {
    const named = keys().find((k) => /^itest\/shop-/.test(k))!;
    pg.psql('delete from orders where id % 3 = 0; update products set price = 0', { db: 'shop_restored' });
    expect(fingerprint('shop_restored')).not.toEqual(fingerprint('shop'));
    const env = scriptEnv('shop_restored', { RESTORE_DIR: freshDir('restore-named'), BACKUP_KEY: named });
    expect(run(RESTORE_SCRIPT, 'fetch', env).status).toBe(0);
    const load = run(RESTORE_SCRIPT, 'load', env);
    expect(load.stderr).toContain('done');
    expect(fingerprint('shop_restored')).toEqual(fingerprint('shop'));
  });

  test('a parallel restore (RESTORE_JOBS=2, pg_restore -j) of the same object gives identical data', () => {
    pg.psql('create database shop_parallel');
    const env = scriptEnv('shop_parallel', { RESTORE_DIR: freshDir('restore-parallel'), BACKUP_KEY: 'latest', RESTORE_JOBS: '2' });
    expect(run(RESTORE_SCRIPT, 'fetch', env).status).toBe(0);
    const load = run(RESTORE_SCRIPT, 'load', env);
    expect(load.stderr).toMatch(/into shop_parallel .* \(2 jobs\)/);
    expect(load.stderr).toContain('done');
    expect(load.status).toBe(0);
    expect(fingerprint('shop_parallel')).toEqual(fingerprint('shop'));
  });

  test('a wrong password makes the dump exit non-zero, keeps no file and uploads nothing', () => {
    const before = keys();
    const dir = freshDir('wrong-password');
    const { dump, upload } = backup(dir, { PGPASSWORD: 'wrong' });
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toMatch(/password authentication failed/);
    expect(upload).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
    // Even if the upload phase runs anyway, there is nothing verified to send.
    const forced = run(BACKUP_SCRIPT, 'upload', backupEnv(dir));
    expect(forced.status).not.toBe(0);
    expect(keys()).toEqual(before);
  });

  test('a server that is down makes the dump exit non-zero and uploads nothing', async () => {
    const before = keys();
    const dir = freshDir('server-down');
    const { dump } = backup(dir, { PGPORT: String(await freePort()) });
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toMatch(/pg_dump exited non-zero/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(run(BACKUP_SCRIPT, 'upload', backupEnv(dir)).status).not.toBe(0);
    expect(keys()).toEqual(before);
  });

  test('a corrupt dump fails verification, is discarded and uploads nothing', () => {
    const before = keys();
    const dir = freshDir('corrupt');
    // A pg_dump that "succeeds" but writes garbage, as a truncated or damaged dump would be.
    const fake = freshDir('fake-bin');
    fs.writeFileSync(
      path.join(fake, 'pg_dump'),
      '#!/bin/sh\nfor a in "$@"; do case "$a" in --file=*) f="${a#--file=}";; esac; done\nprintf "PGDMP garbage" > "$f"\n',
      { mode: 0o755 },
    );
    const { dump } = backup(dir, { PATH: `${fake}:${pg.env().PATH}` });
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toMatch(/corrupt/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(keys()).toEqual(before);
  });

  test('a dump damaged between the phases fails its checksum and uploads nothing', () => {
    const before = keys();
    const dir = freshDir('damaged');
    const env = backupEnv(dir);
    expect(run(BACKUP_SCRIPT, 'dump', env).status).toBe(0);
    const [file] = fs.readdirSync(dir).filter((f) => f.endsWith('.dump'));
    fs.appendFileSync(path.join(dir, file), 'x');
    const upload = run(BACKUP_SCRIPT, 'upload', env);
    expect(upload.status).not.toBe(0);
    expect(upload.stderr).toMatch(/does not match its checksum/);
    expect(keys()).toEqual(before);
  });

  test('retention deletes exactly the objects and local copies older than the window', () => {
    const dir = freshDir('retention');
    const body = path.join(work, 'body');
    fs.writeFileSync(body, 'old backup');
    const remote = {
      old: [`${PREFIX}/shop-${stampDaysAgo(400)}.dump`, `${PREFIX}/shop-${stampDaysAgo(90.05)}.dump`],
      kept: [
        `${PREFIX}/shop-${stampDaysAgo(89.95)}.dump`,
        `${PREFIX}/shop-${stampDaysAgo(30)}.dump`,
        `${PREFIX}/notes.txt`,
        `other-env/shop-${stampDaysAgo(400)}.dump`,
      ],
    };
    for (const k of [...remote.old, ...remote.kept]) expect(aws(['s3', 'cp', '--sse', 'AES256', body, `s3://${BUCKET}/${k}`]).status).toBe(0);
    const local = {
      old: [`shop-${stampDaysAgo(7.05)}.dump`, `shop-${stampDaysAgo(20)}.dump`],
      kept: [`shop-${stampDaysAgo(6.95)}.dump`],
    };
    for (const f of [...local.old, ...local.kept]) {
      fs.writeFileSync(path.join(dir, f), 'x');
      fs.writeFileSync(path.join(dir, `${f}.uploaded`), '');
    }
    // Old, but never reached S3: must not be deleted by local retention (it is uploaded now).
    const notUploaded = `shop-${stampDaysAgo(3)}.dump`;
    fs.writeFileSync(path.join(dir, notUploaded), 'y');
    cp.execSync(`sha256sum ${notUploaded} > ${notUploaded}.sha256`, { cwd: dir });

    const before = keys();
    const { dump, upload } = backup(dir);
    expect(dump.status).toBe(0);
    expect(upload!.stderr).toMatch(/removed 2 object\(s\)/);
    expect(upload!.status).toBe(0);

    const after = keys();
    for (const k of remote.old) expect(after).not.toContain(k);
    for (const k of remote.kept) expect(after).toContain(k);
    expect(after).toContain(`${PREFIX}/${notUploaded}`);
    // Nothing else changed: exactly the two old ones left, plus the new and the late uploads.
    const added = after.filter((k) => !before.includes(k));
    expect(added).toHaveLength(2);
    expect(added.filter((k) => k !== `${PREFIX}/${notUploaded}`)[0]).toMatch(/^itest\/shop-\d{8}T\d{6}Z\.dump$/);
    expect(before.filter((k) => !after.includes(k)).sort()).toEqual([...remote.old].sort());

    const files = fs.readdirSync(dir);
    for (const f of local.old) expect(files).not.toContain(f);
    for (const f of [...local.kept, notUploaded]) expect(files).toContain(f);
  });
});
