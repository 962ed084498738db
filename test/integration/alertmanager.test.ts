/**
 * The shipped alertmanager.yml in the real tools: `amtool config routes test` sends a test
 * alert to each receiver, and a real Alertmanager (built at the catalog's version) given
 * alerts of an outage holds back its consequences with the generated inhibition rules (as
 * its API reports them: `suppressed`, `inhibitedBy`).
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Alertmanager } from '../../constructs/monitoring/alertmanager';
import { find, parseYaml, realEnvironments, synthEnvironments, testEnvironment } from '../support/synth';
import { describeWith, freePort, which } from './lib/servers';

const envs = realEnvironments().filter((e) => e.monitoring.mode === 'standalone' && e.monitoring.alertmanager.enabled);
const { byFolder } = synthEnvironments(envs);
const configOf = (name: string): string => find(byFolder.get(name)!, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml'];

function routesTest(config: string, labels: Record<string, string>): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amtool-'));
  try {
    fs.writeFileSync(path.join(dir, 'alertmanager.yml'), config);
    const args = ['config', 'routes', 'test', '--config.file=alertmanager.yml', ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
    const r = cp.spawnSync(which('amtool')!, args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`amtool ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim().split(',').sort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describeWith(['amtool'], 'amtool routes test alerts through the shipped configuration', () => {
  test.each(envs.map((e) => [e.name, e] as const))('%s: every receiver gets a test alert, with the severity routing the environment asks for', (name, env) => {
    const config = configOf(name);
    const am = env.monitoring.alertmanager;
    const critical = routesTest(config, { alertname: 'PostgresDown', severity: 'critical', namespace: env.namespace });
    const warning = routesTest(config, { alertname: 'KubeJobFailed', severity: 'warning', namespace: env.namespace });
    const expected = (severity: 'critical' | 'warning') =>
      [
        ...(am.pagerduty && severity === 'critical' ? ['pagerduty'] : []),
        ...(am.email?.severities.includes(severity) ? ['email'] : []),
        ...(am.slack ? ['slack'] : []),
      ].sort();
    expect(critical).toEqual(expected('critical'));
    expect(warning).toEqual(expected('warning').length ? expected('warning') : ['null']);
    const declared = parseYaml(config).receivers.map((r: any) => r.name).filter((n: string) => n !== 'null');
    expect(new Set([...critical, ...warning])).toEqual(new Set(declared));
    console.log(`amtool config routes test (${name}): critical -> ${critical.join(',')}; warning -> ${warning.join(',')}`);
  });
});

describeWith(['amtool'], 'amtool check-config accepts the shipped configuration', () => {
  function checkConfig(config: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amtool-'));
    try {
      fs.writeFileSync(path.join(dir, 'alertmanager.yml'), config);
      return cp.spawnSync(which('amtool')!, ['check-config', 'alertmanager.yml'], { cwd: dir, encoding: 'utf8' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  test.each(envs.map((e) => [e.name] as const))('%s', (name) => {
    const r = checkConfig(configOf(name));
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
  test('an e-mail `to:` of several addresses, one with a display name, as the schema accepts it', () => {
    const to = 'oncall@nextgen.example.com, Platform Team <platform@nextgen.example.com>';
    const env = testEnvironment({ monitoring: { alertmanager: { email: { to, from: 'am@nextgen.example.com', smarthost: 'smtp.nextgen.example.com:587' } } } });
    const config = find(synthEnvironments([env]).byFolder.get(env.name)!, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml'];
    expect(parseYaml(config).receivers.find((r: any) => r.name === 'email').email_configs[0].to).toBe(to);
    const r = checkConfig(config);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    // (check-config does not parse `to` itself: Alertmanager reads the address list when it
    // sends, so the schema is where a bad address is caught.)
  });
});

describeWith(['alertmanager'], 'a real Alertmanager applies the shipped inhibition rules', () => {
  let proc: cp.ChildProcess;
  let dir: string;
  let url = '';

  const start = async () => {
    const log = fs.openSync(path.join(dir, 'log'), 'a');
    proc = cp.spawn(
      which('alertmanager')!,
      [`--config.file=${path.join(dir, 'alertmanager.yml')}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=${url.replace('http://', '')}`, '--cluster.listen-address='],
      { stdio: ['ignore', log, log] },
    );
    const end = Date.now() + 30000;
    for (;;) {
      try {
        if ((await fetch(`${url}/-/ready`)).ok) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > end) throw new Error(`alertmanager did not start: ${fs.readFileSync(path.join(dir, 'log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alertmanager-'));
    // The key files exist only in the pod: point the config at test values.
    const secrets = path.join(dir, 'secrets');
    fs.mkdirSync(secrets);
    for (const key of Object.values(Alertmanager.KEYS)) fs.writeFileSync(path.join(secrets, key), key === Alertmanager.KEYS.slack ? 'http://127.0.0.1:1/slack' : 'test');
    fs.writeFileSync(path.join(dir, 'alertmanager.yml'), configOf('prod').split(Alertmanager.SECRET_DIR).join(secrets));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await start();
  }, 60000);

  afterAll(async () => {
    await stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Post alerts (each scenario in its own environment/namespace), return name -> state. */
  async function scenario(env: string, alerts: Array<Record<string, string>>): Promise<Record<string, string>> {
    const body = alerts.map((labels) => ({ labels: { environment: env, ...labels }, annotations: { summary: 'test' }, startsAt: new Date().toISOString() }));
    const post = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(post.ok).toBe(true);
    const got = (await (await fetch(`${url}/api/v2/alerts?filter=${encodeURIComponent(`environment="${env}"`)}`)).json()) as any[];
    expect(got).toHaveLength(alerts.length);
    return Object.fromEntries(got.map((a) => [a.labels.id ?? a.labels.alertname, a.status.state]));
  }

  test("a database outage pages once: the read-write server's PostgresDown holds back the API, its own database and backup alerts, not the cache", async () => {
    const ns = 'nextgen-a';
    const states = await scenario('a', [
      { alertname: 'PostgresDown', severity: 'critical', area: 'database', namespace: ns, job: 'postgres', instance: '10.1.0.5:9187' },
      { alertname: 'PostgresConnectionsHigh', severity: 'warning', area: 'database', namespace: ns, job: 'postgres', instance: '10.1.0.5:9187' },
      { alertname: 'NextgenApiHighErrorRate', severity: 'critical', area: 'api', namespace: ns },
      { alertname: 'BackupJobFailed', severity: 'warning', area: 'backup', namespace: ns, job_name: 'postgres-backup-1', backup: 'postgres-backup' },
      { alertname: 'RedisHitRateLow', severity: 'warning', area: 'cache', namespace: ns, instance: '10.1.0.7:9121' },
    ]);
    expect(states).toEqual({
      PostgresDown: 'active',
      PostgresConnectionsHigh: 'suppressed',
      NextgenApiHighErrorRate: 'suppressed',
      BackupJobFailed: 'suppressed',
      RedisHitRateLow: 'active',
    });
  });

  test('the standby down explains neither the API nor the primary: both still page', async () => {
    const ns = 'nextgen-s';
    const states = await scenario('s', [
      { alertname: 'PostgresDown', severity: 'critical', area: 'database', namespace: ns, job: 'postgres-standby', instance: '10.1.0.6:9187' },
      { alertname: 'NextgenApiHighErrorRate', severity: 'critical', area: 'api', namespace: ns },
      { alertname: 'PostgresReplicationSlotInactive', severity: 'critical', area: 'database', namespace: ns, job: 'postgres', instance: '10.1.0.5:9187', slot_name: 'postgres_standby' },
    ]);
    expect(states).toEqual({ PostgresDown: 'active', NextgenApiHighErrorRate: 'active', PostgresReplicationSlotInactive: 'active' });
  });

  test("a node outage holds back only what carries that node's label; a database or cache outage elsewhere still pages", async () => {
    const ns = 'nextgen-b';
    const states = await scenario('b', [
      { id: 'node-a', alertname: 'NodeUnreachable', severity: 'critical', area: 'scraping', job: 'kubelet', node: 'node-a', instance: '10.0.1.10:10250' },
      { id: 'node-b', alertname: 'NodeUnreachable', severity: 'critical', area: 'scraping', job: 'kubelet', node: 'node-b', instance: '10.0.1.11:10250' },
      { alertname: 'VolumeSpaceLow', severity: 'warning', area: 'resources', namespace: ns, job: 'kubelet', node: 'node-a', persistentvolumeclaim: 'data-redis-0' },
      { alertname: 'RedisDown', severity: 'critical', area: 'cache', namespace: ns, instance: '10.1.0.7:9121' },
      { alertname: 'PostgresDown', severity: 'critical', area: 'database', namespace: ns, job: 'postgres', instance: '10.1.0.5:9187' },
    ]);
    expect(states).toEqual({ 'node-a': 'active', 'node-b': 'active', VolumeSpaceLow: 'suppressed', RedisDown: 'active', PostgresDown: 'active' });
  });

  test('a failed backup Job explains that backup being old, not another backup; without it the old backup pages', async () => {
    const failed = await scenario('c', [
      { alertname: 'BackupJobFailed', severity: 'critical', area: 'backup', namespace: 'nextgen-c', job_name: 'postgres-backup-1', backup: 'postgres-backup' },
      { id: 'dump', alertname: 'BackupTooOld', severity: 'critical', area: 'backup', namespace: 'nextgen-c', job: 'postgres-backup', backup: 'postgres-backup' },
      { id: 'base', alertname: 'BackupTooOld', severity: 'warning', area: 'backup', namespace: 'nextgen-c', job: 'postgres-base-backup', backup: 'postgres-base-backup' },
    ]);
    expect(failed).toEqual({ BackupJobFailed: 'active', dump: 'suppressed', base: 'active' });
    const alone = await scenario('d', [{ alertname: 'BackupTooOld', severity: 'critical', area: 'backup', namespace: 'nextgen-d', job: 'postgres-backup', backup: 'postgres-backup' }]);
    expect(alone).toEqual({ BackupTooOld: 'active' });
  });

  test('outages do not cross environments: PostgresDown in one namespace holds back nothing in another', async () => {
    await scenario('e', [{ alertname: 'PostgresDown', severity: 'critical', area: 'database', namespace: 'nextgen-e', job: 'postgres', instance: '10.1.0.5:9187' }]);
    const other = await scenario('f', [{ alertname: 'NextgenApiHighErrorRate', severity: 'critical', area: 'api', namespace: 'nextgen-f' }]);
    expect(other).toEqual({ NextgenApiHighErrorRate: 'active' });
  });

  test('a silence survives a restart on the same --storage.path (the StatefulSet\'s volume)', async () => {
    const now = Date.now();
    const silence = {
      matchers: [{ name: 'alertname', value: 'KubeJobFailed', isRegex: false, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3600e3).toISOString(),
      createdBy: 'itest',
      comment: 'restart test',
    };
    const created = (await (await fetch(`${url}/api/v2/silences`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(silence) })).json()) as any;
    expect(created.silenceID).toBeTruthy();
    await stop();
    await start();
    const silences = (await (await fetch(`${url}/api/v2/silences`)).json()) as any[];
    expect(silences.find((x) => x.id === created.silenceID)).toMatchObject({ comment: 'restart test', status: { state: 'active' } });
  }, 60000);
});
