/**
 * The NetworkPolicy enforcement check, as shipped in dist/<env>/runbooks/job-networkpolicy-check.yaml,
 * run with the real bash, getent and pg_isready against a real PostgreSQL. A cluster that does not
 * enforce policies is one where the probe reaches the database: the script must say FAIL (exit 1);
 * where the database does not answer but DNS does, OK (exit 0); with no working network at all,
 * INCONCLUSIVE (exit 2), never a false OK. (Which of these a real CNI produces cannot be shown
 * here: no CNI runs on this machine, and kwok's pods have no network.)
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { parse } from 'yaml';
import { ROOT } from '../support/synth';
import { PostgresServer, describeWith, freePort, startPostgres, which } from './lib/servers';

const job = parse(fs.readFileSync(path.join(ROOT, 'dist', 'prod', 'runbooks', 'job-networkpolicy-check.yaml'), 'utf8'));
const container = job.spec.template.spec.containers[0];
const shippedEnv: Record<string, string> = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));

describeWith(['postgres', 'pg_isready', 'bash', 'getent'], 'networkpolicy-check Job script (real bash, getent, pg_isready)', () => {
  let pg: PostgresServer;
  let dns: net.Server;
  let dnsPort: number;

  beforeAll(async () => {
    pg = await startPostgres();
    // Stands in for the cluster DNS's TCP port (the allowed control path).
    dns = net.createServer((s) => s.end());
    dnsPort = await freePort();
    await new Promise<void>((r) => dns.listen(dnsPort, '127.0.0.1', r));
  });
  afterAll(async () => {
    dns?.close();
    await pg?.stop();
  });

  const run = (over: Record<string, string>) => {
    expect(container.command.slice(0, 2)).toEqual(['bash', '-c']);
    return cp.spawnSync('bash', ['-c', container.command[2]], {
      encoding: 'utf8',
      env: { PATH: `${path.dirname(which('pg_isready')!)}:${process.env.PATH}`, ...shippedEnv, ...over },
      timeout: 30000,
    });
  };

  test('the shipped Job probes the database Service and the cluster DNS', () => {
    expect(shippedEnv).toMatchObject({ TARGET_HOST: 'postgres', TARGET_PORT: '5432', CONTROL_PORT: '53' });
  });

  test('a cluster that does not enforce NetworkPolicy (the database answers the probe): FAIL, exit 1', () => {
    const r = run({ TARGET_HOST: '127.0.0.1', TARGET_PORT: String(pg.port), CONTROL_HOST: '127.0.0.1', CONTROL_PORT: String(dnsPort) });
    expect(r.stdout).toMatch(/^FAIL: NetworkPolicy is NOT enforced/);
    expect(r.status).toBe(1);
  });

  test('a cluster that enforces it (no answer from the database, DNS answers): OK, exit 0', async () => {
    const closed = await freePort();
    const r = run({ TARGET_HOST: '127.0.0.1', TARGET_PORT: String(closed), CONTROL_HOST: '127.0.0.1', CONTROL_PORT: String(dnsPort) });
    expect(r.stdout).toMatch(/^OK: NetworkPolicy is enforced/);
    expect(r.status).toBe(0);
  });

  test('no network at all (the control fails too): INCONCLUSIVE, exit 2, never OK', async () => {
    const closed = await freePort();
    const r = run({ TARGET_HOST: '127.0.0.1', TARGET_PORT: String(closed), CONTROL_HOST: '127.0.0.1', CONTROL_PORT: String(closed) });
    expect(r.stdout).toMatch(/^INCONCLUSIVE/);
    expect(r.status).toBe(2);
    const unresolved = run({ TARGET_HOST: 'no-such-host.invalid', CONTROL_HOST: '127.0.0.1', CONTROL_PORT: String(dnsPort) });
    expect(unresolved.status).toBe(2);
  });
});
