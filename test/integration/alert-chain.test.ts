/**
 * The whole alert chain, live, on the real programs at the shipped versions: a real primary and
 * standby (started from the generated configuration, the standby bootstrapped by the shipped
 * standby.sh), the real postgres_exporter with our queries as the shipped container runs it,
 * the shipped WAL uploader loop pushing its rounds to a real Pushgateway, a real Prometheus
 * with the generated scrape jobs (Kubernetes discovery swapped for loopback targets) and the
 * generated rules, and a real Alertmanager with the generated routing and inhibition, whose
 * receivers deliver to local sinks: an HTTP sink for Slack and PagerDuty, an SMTP sink for
 * e-mail.
 *
 * Healthy, nothing fires. Then the two failures the guide's operators meet: the standby stops
 * (its slot turns inactive) and the WAL uploader stops. Each alert must reach every receiver its
 * severity routes to, not held back by the other, within a bound derived from the settings.
 *
 * The environment is prod's data with `for:` at 1 minute and an RPO of 2 minutes, so the test
 * waits about two minutes instead of five; rules, routing and inhibition are what the
 * constructs generate for it. Differences from a cluster, all at the edges: loopback addresses,
 * scrape and evaluation every 2 s, the SMTP sink without TLS (`smtp_require_tls: false`) and
 * the PagerDuty API URL pointing at the HTTP sink.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { stringify } from 'yaml';
import { Alertmanager } from '../../constructs/monitoring/alertmanager';
import { Pushgateway } from '../../constructs/monitoring/pushgateway';
import { APP_ROLE_SQL_FILE, HBA_FILE } from '../../constructs/postgres/config';
import { EXPORTER_QUERIES_FILE } from '../../constructs/postgres/exporter-queries';
import { STANDBY_SCRIPT, WAL_ARCHIVE_SCRIPT } from '../../constructs/postgres/scripts';
import { find, parseYaml, podSpec, synthEnvironments, testEnvironment } from '../support/synth';
import { GeneratedServer, ROLES, initCluster, ownedDir, runAs, runRolesScript, startGenerated } from './lib/replication';
import { describeWith, freePort, waitForValue, which } from './lib/servers';

const EXPORTER = 'postgres_exporter';
const STEP = 2; // seconds between scrapes and rule evaluations

/** What the sinks received. */
interface Delivery {
  readonly receiver: 'slack' | 'pagerduty' | 'email';
  readonly at: number;
  readonly text: string;
}

/** An HTTP server taking Slack and PagerDuty posts. */
function httpSink(deliveries: Delivery[]): Promise<{ url: string; close: () => void }> {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        deliveries.push({ receiver: req.url?.startsWith('/pagerduty') ? 'pagerduty' : 'slack', at: Date.now(), text: body });
        res.writeHead(req.url?.startsWith('/pagerduty') ? 202 : 200, { 'content-type': 'application/json' });
        res.end(req.url?.startsWith('/pagerduty') ? '{"status":"success","message":"Event processed"}' : 'ok');
      });
    });
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() }));
  });
}

/** The smallest SMTP server Alertmanager can deliver to: no TLS, no AUTH offered. */
function smtpSink(deliveries: Delivery[]): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      let buffer = '';
      let inData = false;
      let message = '';
      socket.write('220 sink ESMTP\r\n');
      socket.on('data', (chunk) => {
        buffer += chunk.toString('utf8');
        let i: number;
        while ((i = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              deliveries.push({ receiver: 'email', at: Date.now(), text: message });
              message = '';
              socket.write('250 queued\r\n');
            } else message += `${line.startsWith('..') ? line.slice(1) : line}\n`;
            continue;
          }
          const verb = line.split(' ')[0].toUpperCase();
          if (verb === 'EHLO') socket.write('250-sink\r\n250 8BITMIME\r\n');
          else if (verb === 'HELO' || verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') socket.write('250 ok\r\n');
          else if (verb === 'DATA') {
            inData = true;
            socket.write('354 go ahead\r\n');
          } else if (verb === 'QUIT') {
            socket.write('221 bye\r\n');
            socket.end();
          } else socket.write('502 not implemented\r\n');
        }
      });
      socket.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() }));
  });
}

describeWith(['postgres', 'psql', 'pg_basebackup', EXPORTER, 'pushgateway', 'prometheus', 'alertmanager'], 'the alert chain, live: exporters, Prometheus, Alertmanager, receivers', () => {
  const env = testEnvironment({ backup: { rpoMinutes: 2 }, monitoring: { thresholds: { forMinutes: 1 } } });
  const { built, byFolder } = synthEnvironments([env]);
  const manifests = byFolder.get(env.name)!;
  const chart = built.environments[0];
  const ns = env.namespace;
  const server = (sts: string) => podSpec(find(manifests, 'StatefulSet', sts)).containers.find((c: any) => c.name === 'postgres');
  const exporter = podSpec(find(manifests, 'StatefulSet', 'postgres')).containers.find((c: any) => c.name === 'exporter');
  const uploader = podSpec(find(manifests, 'Deployment', 'postgres-wal-archive')).containers.find((c: any) => c.name === 'upload');
  const bootstrap = podSpec(find(manifests, 'StatefulSet', 'postgres-standby')).initContainers.find((c: any) => c.name === 'bootstrap');
  const generated = parseYaml(find(manifests, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
  const rulesText: string = find(manifests, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
  const amConfig = parseYaml(find(manifests, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml']);
  const rules: any[] = parseYaml(rulesText).groups.flatMap((g: any) => g.rules);
  const value = (c: any, name: string) => c.env.find((e: any) => e.name === name)?.value as string;
  const db = 'marketplace';

  const deliveries: Delivery[] = [];
  const procs: cp.ChildProcess[] = [];
  const closers: Array<() => void> = [];
  let primary: GeneratedServer;
  let standby: GeneratedServer;
  let root: string;
  let promUrl = '';
  let amUrl = '';
  let uploadLoop: cp.ChildProcess;

  const spawn = (bin: string, args: string[], envVars: NodeJS.ProcessEnv, log: string) => {
    const out = fs.openSync(path.join(root, log), 'w');
    const p = cp.spawn(bin, args, { env: envVars, stdio: ['ignore', out, out] });
    procs.push(p);
    return p;
  };
  const query = async (q: string): Promise<any[]> => {
    const body: any = await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json();
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result;
  };
  const firing = async () => (await query('ALERTS{alertstate="firing"}')).map((r) => r.metric.alertname as string).sort();

  beforeAll(async () => {
    root = ownedDir('alert-chain-');
    fs.chmodSync(root, 0o777);
    // PostgreSQL: a primary with the app roles, and a standby streaming through its slot.
    const data = path.join(root, 'primary');
    initCluster(data);
    primary = await startGenerated({ data, args: server('postgres').args, hba: find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE] });
    primary.psql(`CREATE DATABASE ${db}`);
    expect(runRolesScript(primary, find(manifests, 'ConfigMap', 'postgres-init').data[APP_ROLE_SQL_FILE], db).status).toBe(0);
    const sdata = path.join(root, 'standby');
    const b = runAs('bash', [STANDBY_SCRIPT, 'bootstrap'], {
      PGDATA: sdata,
      SLOT: value(bootstrap, 'SLOT'),
      PGHOST: '127.0.0.1',
      PGPORT: String(primary.port),
      REPL_USER: ROLES.repl.user,
      REPL_PASSWORD: ROLES.repl.password,
    });
    expect(b.status).toBe(0);
    standby = await startGenerated({ data: sdata, args: server('postgres-standby').args, hba: find(manifests, 'ConfigMap', 'postgres-hba').data[HBA_FILE], primaryPort: primary.port });

    // The primary's exporter sidecar: our queries at the shipped path's file name, the monitoring role.
    const queries = path.join(root, EXPORTER_QUERIES_FILE);
    expect(value(exporter, 'PG_EXPORTER_EXTEND_QUERY_PATH').endsWith(`/${EXPORTER_QUERIES_FILE}`)).toBe(true);
    fs.writeFileSync(queries, find(manifests, 'ConfigMap', 'postgres-exporter-queries').data[EXPORTER_QUERIES_FILE]);
    const exporterPort = await freePort();
    spawn(which(EXPORTER)!, [`--web.listen-address=127.0.0.1:${exporterPort}`], {
      PATH: process.env.PATH,
      DATA_SOURCE_URI: `127.0.0.1:${primary.port}/${db}?sslmode=disable`,
      DATA_SOURCE_USER: ROLES.monitor.user,
      DATA_SOURCE_PASS: ROLES.monitor.password,
      PG_EXPORTER_EXTEND_QUERY_PATH: queries,
    }, 'exporter.log');

    // The Pushgateway, and the shipped WAL uploader loop reporting each round to it.
    const gatewayPort = await freePort();
    spawn(which('pushgateway')!, [`--web.listen-address=127.0.0.1:${gatewayPort}`], { PATH: process.env.PATH }, 'pushgateway.log');
    await waitForValue('pushgateway ready', async () => ((await fetch(`http://127.0.0.1:${gatewayPort}/-/ready`).catch(() => undefined))?.ok ? true : undefined));
    const walDir = path.join(root, 'wal');
    fs.mkdirSync(walDir);
    uploadLoop = spawn('bash', [WAL_ARCHIVE_SCRIPT, 'upload'], {
      PATH: process.env.PATH,
      WAL_DIR: walDir,
      TMPDIR: root,
      S3_BUCKET: value(uploader, 'S3_BUCKET'),
      S3_PREFIX: value(uploader, 'S3_PREFIX'),
      UPLOAD_INTERVAL_SECONDS: value(uploader, 'UPLOAD_INTERVAL_SECONDS'),
      [Pushgateway.URL_ENV]: value(uploader, Pushgateway.URL_ENV).replace(/\/\/[^/]+/, `//127.0.0.1:${gatewayPort}`),
      [Pushgateway.JOB_ENV]: value(uploader, Pushgateway.JOB_ENV),
    }, 'upload.log');

    // Receivers: the generated Alertmanager configuration, its secret files written here.
    const httpRx = await httpSink(deliveries);
    const smtpRx = await smtpSink(deliveries);
    closers.push(httpRx.close, smtpRx.close);
    const secrets = path.join(root, 'am-secrets');
    fs.mkdirSync(secrets);
    fs.writeFileSync(path.join(secrets, Alertmanager.KEYS.slack), `${httpRx.url}/slack`);
    fs.writeFileSync(path.join(secrets, Alertmanager.KEYS.pagerduty), 'routing-key');
    fs.writeFileSync(path.join(secrets, Alertmanager.KEYS.smtpPassword), 'smtp-password');
    const am = JSON.parse(JSON.stringify(amConfig).split(Alertmanager.SECRET_DIR).join(secrets));
    am.global = { ...am.global, smtp_smarthost: `127.0.0.1:${smtpRx.port}`, smtp_require_tls: false, pagerduty_url: `${httpRx.url}/pagerduty` };
    fs.writeFileSync(path.join(root, 'alertmanager.yml'), stringify(am));
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    spawn(which('alertmanager')!, [`--config.file=${path.join(root, 'alertmanager.yml')}`, `--storage.path=${path.join(root, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { PATH: process.env.PATH }, 'alertmanager.log');
    await waitForValue('alertmanager ready', async () => ((await fetch(`${amUrl}/-/ready`).catch(() => undefined))?.ok ? true : undefined));

    // Prometheus: the generated jobs of the primary's exporter and the Pushgateway, the
    // generated rules, alerts to the Alertmanager above.
    const targets: Record<string, number> = { [chart.topology.metrics.find((m) => m.peer.name === 'postgres')!.job]: exporterPort, pushgateway: gatewayPort };
    const jobs = generated.scrape_configs
      .filter((j: any) => j.job_name in targets)
      .map(({ kubernetes_sd_configs: _sd, relabel_configs: _rl, ...j }: any) => ({ ...j, static_configs: [{ targets: [`127.0.0.1:${targets[j.job_name]}`], labels: { namespace: ns } }] }));
    expect(jobs.map((j: any) => j.job_name).sort()).toEqual(Object.keys(targets).sort());
    fs.writeFileSync(path.join(root, 'nextgen.rules.yaml'), rulesText);
    fs.writeFileSync(
      path.join(root, 'prometheus.yml'),
      stringify({
        global: { ...generated.global, scrape_interval: `${STEP}s`, evaluation_interval: `${STEP}s` },
        rule_files: [path.join(root, 'nextgen.rules.yaml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: jobs,
      }),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    spawn(which('prometheus')!, [`--config.file=${path.join(root, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(root, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { PATH: process.env.PATH }, 'prometheus.log');
    await waitForValue('the standby streams and both targets are scraped', async () => {
      const active = await query(`nextgen_pg_slot_active{namespace="${ns}",slot_name="postgres_standby"} == 1`).catch(() => []);
      const wal = await query(`nextgen_wal_upload_last_success_timestamp_seconds{namespace="${ns}",job="postgres-wal-archive"}`).catch(() => []);
      return active.length && wal.length ? true : undefined;
    }, 90000, 500);
  }, 240000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    for (const c of closers) c();
    standby?.stop('immediate');
    primary?.stop('immediate');
    if (root && !process.env.ALERT_CHAIN_KEEP) fs.rmSync(root, { recursive: true, force: true });
  });

  test('healthy: the standby streams, the uploader reports, no alert fires over several evaluations', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await firing()).toEqual([]);
      await new Promise((r) => setTimeout(r, STEP * 1000));
    }
    expect(deliveries).toEqual([]);
  }, 60000);

  test('the standby and the WAL uploader stop: both alerts reach Slack, PagerDuty and e-mail within their bounds, neither inhibited', async () => {
    const t0 = Date.now();
    standby.stop('fast');
    uploadLoop.kill('SIGTERM');
    const slotRule = rules.find((r) => r.alert === 'PostgresReplicationSlotInactive');
    const walRule = rules.find((r) => r.alert === 'WalArchiveUploadStale' && !r.labels.reported);
    const seconds = (d: string) => Number(/^(\d+)([smh])$/.exec(d)![1]) * { s: 1, m: 60, h: 3600 }[/^(\d+)([smh])$/.exec(d)![2] as 's' | 'm' | 'h'];
    const groupWait = seconds(amConfig.route.group_wait);
    // Bounds from the settings: the condition becomes true within a few scrapes (the slot on
    // the next one; the upload age once past the stale limit after the last round), stays true
    // for `for:`, then Alertmanager waits group_wait; 30 s for scrapes, evaluations and sending
    // on a loaded machine (a quiet one needs about 2).
    const lastRound = Number((await query(`nextgen_wal_upload_last_success_timestamp_seconds{namespace="${ns}"}`))[0].value[1]) * 1000;
    // The stale limit the rule was generated with (RPO less the archive's own share).
    const stale = Number(/> (\d+)$/.exec(walRule.expr.trim())![1]);
    const bounds: Record<string, number> = {
      PostgresReplicationSlotInactive: t0 + (seconds(slotRule.for) + groupWait + 30) * 1000,
      WalArchiveUploadStale: lastRound + (stale + seconds(walRule.for) + groupWait + 30) * 1000,
    };
    expect(stale).toBeLessThan(env.backup.rpoMinutes * 60);
    const routed = ['slack', 'pagerduty', 'email'] as const; // critical: every receiver of prod's routing
    const arrived = (alert: string, receiver: string) => deliveries.find((d) => d.receiver === receiver && d.text.includes(alert) && /firing/i.test(d.text));
    const deadline = Math.max(...Object.values(bounds)) + 5000;
    while (Date.now() < deadline && !Object.keys(bounds).every((a) => routed.every((r) => arrived(a, r)))) await new Promise((r) => setTimeout(r, 1000));

    const report: string[] = [];
    for (const [alert, bound] of Object.entries(bounds)) {
      for (const receiver of routed) {
        const d = arrived(alert, receiver);
        expect({ alert, receiver, delivered: Boolean(d) }).toEqual({ alert, receiver, delivered: true });
        expect({ alert, receiver, inBound: d!.at <= bound }).toEqual({ alert, receiver, inBound: true });
        report.push(`${alert} -> ${receiver} after ${((d!.at - t0) / 1000).toFixed(0)} s (bound ${((bound - t0) / 1000).toFixed(0)} s)`);
      }
    }
    // As Alertmanager holds them: active, not suppressed by an inhibition rule.
    const held = (await (await fetch(`${amUrl}/api/v2/alerts`)).json()) as any[];
    for (const alert of Object.keys(bounds)) {
      const a = held.find((x) => x.labels.alertname === alert);
      expect({ alert, state: a?.status.state, inhibitedBy: a?.status.inhibitedBy }).toEqual({ alert, state: 'active', inhibitedBy: [] });
    }
    // The e-mail carries the subject the configuration sets and the runbook link.
    const mail = arrived('PostgresReplicationSlotInactive', 'email')!.text;
    expect(mail).toMatch(/^Subject: \[FIRING(:\d+)?\] PostgresReplicationSlotInactive/m);
    console.log(`alert chain, live: ${report.join('; ')}`);
  }, 360000);
});
