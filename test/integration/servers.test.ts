/** The server helpers themselves work (so a later failure is about our code, not the harness). */
import { describeWith, startMinio, startPostgres, startRedis } from './lib/servers';

describeWith(['postgres', 'psql'], 'PostgreSQL harness', () => {
  test('starts with password auth and answers a query', async () => {
    const pg = await startPostgres();
    try {
      expect(pg.psql('select 1+1').trim()).toBe('2');
      expect(pg.psqlResult('select 1', { password: 'wrong' }).status).not.toBe(0);
    } finally {
      await pg.stop();
    }
  });
});

describeWith(['redis-server', 'redis-cli'], 'Redis harness', () => {
  test('starts with a given config', async () => {
    const r = await startRedis('requirepass harness-pw', 'harness-pw');
    try {
      expect(r.cli(['ping'], 'harness-pw').stdout.trim()).toBe('PONG');
    } finally {
      await r.stop();
    }
  });
});

describeWith(['minio', 'mc'], 'MinIO harness', () => {
  test('starts and accepts mc commands', async () => {
    const m = await startMinio({ kms: true });
    try {
      const cp = await import('child_process');
      const r = cp.spawnSync('mc', ['mb', 'local/harness'], { env: m.env(), encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      await m.stop();
    }
  });
});
