/**
 * The generated redis.conf, loaded by a real redis-server exactly as shipped in ConfigMap
 * `redis-config`, with the password given the way the pod gives it: the init container's script
 * writes it into a file that redis.conf includes.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { find, podSpec, synth } from '../support/synth';
import { DISABLED_COMMANDS } from '../../constructs/redis/config';
import { RedisServer, describeWith, startRedis } from './lib/servers';

const manifests = synth({ redis: { maxmemoryMiB: 100, maxmemoryPolicy: 'allkeys-lfu', maxclients: 321 } });
const shipped: string = find(manifests, 'ConfigMap', 'redis-config').data['redis.conf'];
const container = podSpec(find(manifests, 'StatefulSet', 'redis')).containers.find((c: any) => c.name === 'redis');
const command: string[] = container.command;
const init = podSpec(find(manifests, 'StatefulSet', 'redis')).initContainers.find((c: any) => c.name === 'auth');

describeWith(['redis-server', 'redis-cli'], 'redis.conf on a real redis-server', () => {
  const password = 'redis-test-pw';
  let redis: RedisServer;

  beforeAll(async () => {
    // The init container's script writes the password file; the shipped redis.conf includes it.
    expect(command.slice(2)).toEqual([]);
    const authFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'redis-auth-')), 'requirepass.conf');
    const r = cp.spawnSync(init.command[0], init.command.slice(1), { env: { PATH: process.env.PATH, REDIS_PASSWORD: password, AUTH_FILE: authFile } });
    expect(r.status).toBe(0);
    const included = init.env.find((e: any) => e.name === 'AUTH_FILE').value;
    expect(shipped).toContain(`include ${included}\n`);
    redis = await startRedis(shipped.replace(`include ${included}`, `include ${authFile}`), password);
  });
  afterAll(async () => redis?.stop());

  const authed = (...args: string[]) => redis.cli(args, password);

  test('unauthenticated commands are refused', () => {
    const r = redis.cli(['set', 'k', 'v']);
    expect(`${r.stdout}${r.stderr}`).toMatch(/NOAUTH/);
    expect(redis.cli(['ping']).stdout).not.toMatch(/PONG/);
    expect(redis.cli(['ping'], 'wrong-password').stdout).not.toMatch(/PONG/);
  });

  test('authenticated clients work', () => {
    expect(authed('set', 'k', 'v').stdout.trim()).toBe('OK');
    expect(authed('get', 'k').stdout.trim()).toBe('v');
  });

  test('AOF persistence is on', () => {
    expect(authed('info', 'persistence').stdout).toMatch(/aof_enabled:1/);
  });

  test('maxmemory, eviction policy and maxclients are the environment values', () => {
    const info = authed('info', 'memory').stdout + authed('info', 'clients').stdout;
    expect(info).toMatch(new RegExp(`maxmemory:${100 * 1024 * 1024}\\r?\\n`));
    expect(info).toMatch(/maxmemory_policy:allkeys-lfu/);
    expect(info).toMatch(/maxclients:321/);
  });

  test.each(DISABLED_COMMANDS.map((c) => [c]))('%s is disabled', (cmd) => {
    const r = authed(cmd.toLowerCase());
    expect(r.stdout + r.stderr).toMatch(/unknown command/i);
  });

  test('the readiness probe passes only when it authenticates (REDISCLI_AUTH from the Secret)', () => {
    const probe: string[] = container.readinessProbe.exec.command;
    const secretEnv = container.env.find((e: any) => e.name === 'REDISCLI_AUTH');
    expect(secretEnv.valueFrom.secretKeyRef).toEqual({ name: 'redis', key: 'password' });
    // Same command, pointed at the test server's port.
    const atTestPort = probe.map((a) => a.replace('-p 6379', `-p ${redis.port}`));
    const run = (auth?: string) =>
      cp.spawnSync(atTestPort[0], atTestPort.slice(1), { env: { ...process.env, REDISCLI_AUTH: auth } }).status;
    expect(run(password)).toBe(0);
    expect(run('wrong-password')).not.toBe(0);
    expect(run(undefined)).not.toBe(0);
  });

  test('the data survives FLUSHALL attempts', () => {
    authed('flushall');
    expect(authed('get', 'k').stdout.trim()).toBe('v');
  });
});
