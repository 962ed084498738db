/**
 * The guide's "verify database connectivity" from inside the API pod, with the real `psql`:
 * the API container's environment, taken from the synthesized Deployment (Secrets filled with
 * test values, `$(VAR)` expanded as the kubelet does, the Service name resolved to the test
 * server as cluster DNS would), must let a bare `psql` reach the API's database as the API's
 * role; and the Prisma DATABASE_URL is shown to be what libpq refuses (why the README says to
 * type `psql` without it).
 */
import * as cp from 'child_process';
import { find, podSpec, synth } from '../support/synth';
import { PostgresServer, describeWith, startPostgres, which } from './lib/servers';

const deploy = find(synth(), 'Deployment', 'nextgen-api');
const api = podSpec(deploy).containers.find((c: any) => c.name === 'api');

/** The container's environment as the kubelet builds it, with Secrets and DNS stood in for. */
function containerEnv(secrets: Record<string, Record<string, string>>, service: { name: string; host: string; port: number }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of api.env as any[]) {
    let value: string;
    if (e.valueFrom?.secretKeyRef) value = secrets[e.valueFrom.secretKeyRef.name]?.[e.valueFrom.secretKeyRef.key] ?? '';
    else value = String(e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in env ? env[v] : m));
    env[e.name] = value;
  }
  // Cluster DNS: the Service name is the server; its port is the server's (loopback, free port).
  for (const [k, v] of Object.entries(env)) {
    env[k] = v.replace(`@${service.name}:5432/`, `@${service.host}:${service.port}/`);
    if (v === service.name) env[k] = service.host;
    if (v === '5432') env[k] = String(service.port);
  }
  return env;
}

describeWith(['postgres', 'psql'], "the API pod's psql (guide: Verify database connectivity)", () => {
  let pg: PostgresServer;
  const db = api.env.find((e: any) => e.name === 'DB_NAME').value;
  const secrets = { 'postgres-app': { username: 'app_user', password: 'app-test-pw_1.~' } };

  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql(`CREATE ROLE app_user LOGIN PASSWORD 'app-test-pw_1.~'; CREATE DATABASE ${db};`);
  });
  afterAll(async () => pg?.stop());

  const run = (args: string[], env: Record<string, string>) =>
    cp.spawnSync(which('psql')!, ['-X', '-At', ...args], {
      encoding: 'utf8',
      // Only the container's variables (and PATH): nothing of the test's own libpq settings.
      env: { PATH: process.env.PATH, HOME: pg.dir, ...env },
      timeout: 20000,
    });

  test('`psql -c ...` with no URL connects as the API role to the API database', () => {
    const env = containerEnv(secrets, { name: 'postgres', host: pg.host, port: pg.port });
    const r = run(['-c', 'SELECT current_user, current_database()'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`app_user|${db}`);
  });

  test('the Prisma DATABASE_URL is refused by libpq (its Prisma-only parameters), which is why it is not the command to type', () => {
    const env = containerEnv(secrets, { name: 'postgres', host: pg.host, port: pg.port });
    expect(env.DATABASE_URL).toContain('connection_limit=');
    const r = run([env.DATABASE_URL, '-c', 'SELECT 1'], env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/invalid URI query parameter/);
  });
});
