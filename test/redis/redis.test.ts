import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DISABLED_COMMANDS, redisConf } from '../../constructs/redis/config';
import { K8S_VERSIONS, kubernetesValidator } from '../support/schema';
import { find, podSpec, realManifests, synth, synthEnvironments, testEnvironment } from '../support/synth';

const { built, byFolder } = synthEnvironments([testEnvironment()]);
const prod = byFolder.get('test')!;
const chart = built.environments[0];
const sts = find(prod, 'StatefulSet', 'redis');
const pod = podSpec(sts);
const server = pod.containers.find((c: any) => c.name === 'redis');
const exporter = pod.containers.find((c: any) => c.name === 'exporter');
const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name);
const conf = (m = prod): string => find(m, 'ConfigMap', 'redis-config').data['redis.conf'];
const directive = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));

describe('Redis', () => {
  test('redis-server loads the mounted redis.conf; the password is a Secret reference, not in the ConfigMap', () => {
    const [bin, file, ...rest] = server.command;
    expect(bin).toBe('redis-server');
    expect(rest).toEqual([]);
    const mount = server.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
    expect(pod.volumes.find((v: any) => v.name === mount.name).configMap.name).toBe('redis-config');
    expect(directive(conf(), 'requirepass')).toEqual([]);
    expect(prod.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  test('the password reaches redis-server through a file an init container writes from the Secret into memory, never its command line', () => {
    const init = pod.initContainers.find((c: any) => c.name === 'auth');
    expect(envOf(init, 'REDIS_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'redis', key: 'password' });
    const file = envOf(init, 'AUTH_FILE').value;
    // redis.conf includes exactly that file, from the same memory-backed emptyDir.
    expect(directive(conf(), 'include')).toEqual([file]);
    const dirOf = (c: any) => c.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
    expect(dirOf(init).name).toBe(dirOf(server).name);
    expect(dirOf(server).readOnly).toBe(true);
    expect(pod.volumes.find((v: any) => v.name === dirOf(server).name).emptyDir).toMatchObject({ medium: 'Memory' });
    expect(server.env.map((e: any) => e.name)).not.toContain('REDIS_PASSWORD');
    // Run the init container's script for real: it writes one requirepass line, owner-only.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-auth-'));
    const out = path.join(dir, 'requirepass.conf');
    const r = cp.spawnSync(init.command[0], init.command.slice(1), { env: { PATH: process.env.PATH, REDIS_PASSWORD: 'pw-1.2_3~x', AUTH_FILE: out }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('requirepass pw-1.2_3~x\n');
    expect(fs.statSync(out).mode & 0o077).toBe(0);
  });

  test('AOF persistence on a claim from the environment storage class, in the working directory', () => {
    expect(directive(conf(), 'appendonly')).toEqual(['yes']);
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '10Gi' } } });
    const data = server.volumeMounts.find((m: any) => m.name === sts.spec.volumeClaimTemplates[0].metadata.name);
    expect(data.mountPath).toBe(server.workingDir);
  });

  test('maxmemory, eviction policy and maxclients come from the environment', () => {
    const c = conf(synth({ redis: { maxmemoryMiB: 300, maxmemoryPolicy: 'volatile-ttl', maxclients: 42 } }));
    expect([directive(c, 'maxmemory'), directive(c, 'maxmemory-policy'), directive(c, 'maxclients')]).toEqual([['300mb'], ['volatile-ttl'], ['42']]);
  });

  test('maxmemory must leave headroom under the memory limit', () => {
    expect(() => synth({ redis: { maxmemoryMiB: 1000 } })).toThrow(/redis.maxmemoryMiB.*80% of resources.limits.memoryMiB/);
  });

  test('dangerous commands are renamed to nothing', () => {
    const renamed = directive(conf(), 'rename-command').map((l) => l.split(' ')[0]);
    expect(renamed).toEqual([...DISABLED_COMMANDS]);
    expect(renamed).toEqual(expect.arrayContaining(['FLUSHALL', 'FLUSHDB', 'CONFIG', 'DEBUG']));
    for (const l of directive(conf(), 'rename-command')) expect(l).toMatch(/ ""$/);
  });

  test.each(['startupProbe', 'readinessProbe', 'livenessProbe'])('%s pings with redis-cli, authenticated via REDISCLI_AUTH, never -a', (probe) => {
    expect(server[probe].exec.command.join(' ')).toMatch(/redis-cli .*ping/);
    expect(server[probe].exec.command.join(' ')).not.toMatch(/ -a /);
    expect(envOf(server, 'REDISCLI_AUTH').valueFrom.secretKeyRef).toEqual({ name: 'redis', key: 'password' });
  });

  // The probes run for real against a stand-in redis-cli that answers what a server would.
  const probeExit = (probe: string, reply: string): number | null => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-cli-'));
    fs.writeFileSync(path.join(bin, 'redis-cli'), `#!/bin/sh\nprintf '%s\\n' '${reply}'\n`, { mode: 0o755 });
    const cmd: string[] = server[probe].exec.command;
    return cp.spawnSync(cmd[0], cmd.slice(1), { env: { PATH: `${bin}:${process.env.PATH}` } }).status;
  };
  test.each([
    ['PONG', 0, 0],
    ['LOADING Redis is loading the dataset in memory', 0, 1],
    ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.', 0, 1],
    ['NOAUTH Authentication required.', 1, 1],
    ['Could not connect to Redis at 127.0.0.1:6379: Connection refused', 1, 1],
  ])('reply %j: startup and liveness exit %d (alive), readiness exits %d', (reply, alive, ready) => {
    expect([probeExit('startupProbe', reply), probeExit('livenessProbe', reply), probeExit('readinessProbe', reply)]).toEqual([alive, alive, ready]);
  });

  test('restricted: uid 999, read-only root, every container non-root', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
  });

  test('redis_exporter sidecar on 9121, authenticated, declared for scraping', () => {
    expect(exporter.ports).toEqual([{ containerPort: 9121, name: 'metrics' }]);
    expect(envOf(exporter, 'REDIS_PASSWORD').valueFrom.secretKeyRef.name).toBe('redis');
    expect(chart.topology.metrics).toContainEqual(expect.objectContaining({ job: 'redis', port: 9121, portName: 'metrics' }));
  });

  test('Services: client redis:6379 and the headless governing Service select the pods', () => {
    const client = find(prod, 'Service', 'redis');
    expect(client.spec.ports).toContainEqual({ name: 'redis', port: 6379, targetPort: 6379 });
    const headless = find(prod, 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    for (const s of [client, headless]) expect(s.spec.selector).toEqual(sts.spec.selector.matchLabels);
  });

  test('the API gets REDIS_HOST/PORT/PASSWORD and a REDIS_URL built from them', () => {
    const api = podSpec(find(prod, 'Deployment', 'nextgen-api')).containers[0];
    const names = api.env.map((e: any) => e.name);
    expect(envOf(api, 'REDIS_HOST').value).toBe(chart.redis.target.serviceName);
    expect(envOf(api, 'REDIS_PORT').value).toBe(String(chart.redis.target.port));
    expect(envOf(api, 'REDIS_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'redis', key: 'password' });
    expect(envOf(api, 'REDIS_URL').value).toBe('redis://:$(REDIS_PASSWORD)@redis:6379');
    expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
    expect(chart.topology.connections).toContainEqual(expect.objectContaining({ from: chart.api.peer, to: chart.redis.endpoint }));
  });

  test('contract: CacheTarget with Secret redis/password and maxclients', () => {
    const t = chart.redis.target;
    expect([t.serviceName, t.port, t.passwordSecret.name, t.maxclients]).toEqual(['redis', 6379, 'redis', 1000]);
    expect(() => t.passwordSecret.assertKey('password')).not.toThrow();
  });

  test('the generator is a pure function of its input', () => {
    const input = { port: 1, maxmemoryMiB: 2, maxmemoryPolicy: 'noeviction' as const, maxclients: 3 };
    expect(redisConf(input)).toBe(redisConf({ ...input }));
    expect(redisConf(input)).toMatch(/^maxmemory-policy noeviction$/m);
  });

  describe.each(K8S_VERSIONS)('strict schema validation against Kubernetes %s', (version) => {
    const validator = kubernetesValidator(version);
    const mine = prod.filter((m) => m.metadata.labels?.['app.kubernetes.io/name'] === 'redis' && m.kind !== 'NetworkPolicy');
    test.each(mine.map((m) => [`${m.kind}/${m.metadata.name}`, m]))('%s', (_n, m) => expect(validator.validate(m)).toEqual([]));
  });
});

describe('no Secret value on a command line, in any pod of any environment', () => {
  // `$(VAR)` in command or args is expanded by the kubelet into the process's arguments, which
  // every user of the node can list (`ps`). Secret-backed variables must stay in the environment.
  const byFolder = realManifests();
  test.each([...byFolder.keys()])('%s', (folder) => {
    const leaks: string[] = [];
    for (const m of byFolder.get(folder)!.filter((x: any) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(x.kind))) {
      const spec = podSpec(m);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const secretVars = (c.env ?? []).filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.name);
        const argv = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
        for (const v of secretVars) if (argv.includes(`$(${v})`)) leaks.push(`${m.kind}/${m.metadata.name} ${c.name}: $(${v})`);
        if (/(^| )(-a|--requirepass|--pass(word)?)( |=)/.test(argv)) leaks.push(`${m.kind}/${m.metadata.name} ${c.name}: ${argv}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
