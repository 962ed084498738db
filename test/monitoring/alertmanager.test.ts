/**
 * Alertmanager: receivers switched per environment with keys only from the Secret, e-mail
 * through SMTP settings with the password from the Secret, inhibition rules as data, and
 * silences plus the notification log on a volume. The real `amtool` and `alertmanager` run
 * the shipped configuration in test/integration/alertmanager.test.ts.
 */
import { inhibitRules } from '../../constructs/monitoring/alertmanager-config';
import { find, parseYaml, podSpec, synth } from '../support/synth';

const amConfig = (m: ReturnType<typeof synth>) => parseYaml(find(m, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml']);

describe('Alertmanager', () => {
  const prod = synth();

  test('prod: critical alerts page PagerDuty, alerts are e-mailed, and everything continues to Slack', () => {
    const cfg = amConfig(prod);
    expect(cfg.route.receiver).toBe('slack');
    // Slack is the last child route: after a matching child with `continue`, Alertmanager
    // tries the next sibling, never the root's receiver.
    expect(cfg.route.routes).toEqual([
      { receiver: 'pagerduty', matchers: ['severity="critical"'], continue: true },
      { receiver: 'email', matchers: ['severity=~"critical|warning"'], continue: true },
      { receiver: 'slack' },
    ]);
    expect(cfg.receivers.find((r: any) => r.name === 'slack').slack_configs[0].channel).toBe('#nextgen-prod-alerts');
  });

  test('keys are read from the mounted Secret alertmanager-receivers, never written', () => {
    const cfg = amConfig(prod);
    const pod = podSpec(find(prod, 'StatefulSet', 'alertmanager'));
    const vol = pod.volumes.find((v: any) => v.secret?.secretName === 'alertmanager-receivers');
    const mount = pod.containers[0].volumeMounts.find((x: any) => x.name === vol.name);
    expect(cfg.receivers.find((r: any) => r.name === 'slack').slack_configs[0].api_url_file).toBe(`${mount.mountPath}/slack-webhook-url`);
    expect(cfg.receivers.find((r: any) => r.name === 'pagerduty').pagerduty_configs[0].routing_key_file).toBe(`${mount.mountPath}/pagerduty-routing-key`);
    expect(cfg.global.smtp_auth_password_file).toBe(`${mount.mountPath}/smtp-password`);
    expect(find(prod, 'ExternalSecret', 'alertmanager-receivers').spec.data.map((d: any) => d.secretKey).sort()).toEqual([
      'pagerduty-routing-key',
      'slack-webhook-url',
      'smtp-password',
    ]);
    expect(JSON.stringify(cfg)).not.toMatch(/api_url"|routing_key"|hooks\.slack\.com|smtp_auth_password"/);
  });

  test('e-mail: SMTP server, sender and login from the environment, TLS required, recipients and severities per environment', () => {
    const cfg = amConfig(prod);
    expect(cfg.global).toMatchObject({
      smtp_smarthost: 'smtp.nextgen.example.com:587',
      smtp_from: 'alertmanager@nextgen.example.com',
      smtp_auth_username: 'alertmanager@nextgen.example.com',
      smtp_require_tls: true,
    });
    expect(cfg.receivers.find((r: any) => r.name === 'email').email_configs[0]).toMatchObject({ to: 'oncall@nextgen.example.com', send_resolved: true });
    const onlyCritical = amConfig(synth({ monitoring: { alertmanager: { email: { to: 'a@b.example.com', from: 'c@b.example.com', smarthost: 'mx.example.com:25', severities: ['critical'] } } } }));
    expect(onlyCritical.route.routes[1]).toEqual({ receiver: 'email', matchers: ['severity=~"critical"'], continue: true });
    const emailOnly = amConfig(synth({ tier: 'staging', monitoring: { alertmanager: { slack: false, pagerduty: false } } }));
    expect(emailOnly.route).toMatchObject({ receiver: 'null', routes: [{ receiver: 'email', matchers: ['severity=~"critical|warning"'], continue: false }] });
    expect(onlyCritical.global.smtp_smarthost).toBe('mx.example.com:25');
  });

  test('the SMTP port is opened to public addresses only when e-mail is on', () => {
    const egress = (m: ReturnType<typeof synth>) => find(m, 'NetworkPolicy', 'alertmanager').spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port));
    expect(egress(prod)).toContain(587);
    expect(egress(synth({ monitoring: { alertmanager: { email: undefined } } }))).not.toContain(587);
  });

  test('receivers switch per environment: Slack only declares only its key and has no routes', () => {
    const m = synth({ tier: 'staging', monitoring: { alertmanager: { pagerduty: false, email: undefined } } });
    const cfg = amConfig(m);
    expect(cfg.route.routes).toEqual([]);
    expect(cfg.global).toBeUndefined();
    expect(cfg.receivers.map((r: any) => r.name).sort()).toEqual(['null', 'slack']);
    expect(find(m, 'ExternalSecret', 'alertmanager-receivers').spec.data.map((d: any) => d.secretKey)).toEqual(['slack-webhook-url']);
  });

  test('silences and the notification log survive a restart: --storage.path on the StatefulSet\'s own volume', () => {
    const sts = find(prod, 'StatefulSet', 'alertmanager');
    const c = podSpec(sts).containers[0];
    expect(c.args).toContain('--storage.path=/alertmanager');
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/alertmanager' });
    expect(podSpec(sts).volumes.map((v: any) => v.name)).not.toContain('data');
    expect(sts.spec.volumeClaimTemplates[0]).toMatchObject({ metadata: { name: 'data' }, spec: { storageClassName: 'standard', resources: { requests: { storage: '1Gi' } } } });
    expect(sts.spec.serviceName).toBe('alertmanager-headless');
    expect(prod.some((x) => x.kind === 'Deployment' && x.metadata.name === 'alertmanager')).toBe(false);
  });

  test('inhibition: the node, database and cache outages and a failed backup Job hold back their consequences', () => {
    expect(amConfig(prod).inhibit_rules).toEqual(inhibitRules());
    const sources = inhibitRules().map((r: any) => r.source_matchers[0]);
    expect(sources).toEqual(['severity="critical"', 'alertname="NodeUnreachable"', 'alertname="PostgresDown"', 'alertname="PostgresDown"', 'alertname="RedisDown"', 'alertname="BackupJobFailed"']);
  });

  test('inhibition is scoped to what its source explains: the same node, the same server, the read-write server for the API', () => {
    const rules = inhibitRules('postgres') as any[];
    const node = rules.find((r) => r.source_matchers[0] === 'alertname="NodeUnreachable"');
    // Not the whole environment: only alerts carrying the lost node's label.
    expect(node.equal).toEqual(['node']);
    const db = rules.filter((r) => r.source_matchers[0] === 'alertname="PostgresDown"');
    expect(db.find((r) => r.target_matchers[0] === 'area="database"').equal).toEqual(['namespace', 'instance']);
    // The standby down (another job) never holds back the API.
    const api = db.find((r) => /api/.test(r.target_matchers[0]));
    expect(api.source_matchers).toEqual(['alertname="PostgresDown"', 'job="postgres"']);
    // A promoted standby serves writes: its job is the one that explains the API's errors.
    const promoted = parseYaml(find(synth({ tier: 'production', postgres: { standby: { enabled: true, promoted: true } } }), 'ConfigMap', 'alertmanager-config').data['alertmanager.yml']);
    expect(promoted.inhibit_rules.find((r: any) => /api/.test(r.target_matchers[0])).source_matchers).toEqual(['alertname="PostgresDown"', 'job="postgres-standby"']);
  });

  test('disabled: no Alertmanager and no alerting section in Prometheus', () => {
    const m = synth({ tier: 'development', monitoring: { alertmanager: { enabled: false } } });
    expect(m.some((x) => x.metadata.name === 'alertmanager')).toBe(false);
    expect(m.some((x) => x.metadata.name === 'alertmanager-receivers')).toBe(false);
    expect(parseYaml(find(m, 'ConfigMap', 'prometheus-config').data['prometheus.yml']).alerting).toBeUndefined();
  });

  test('Prometheus sends alerts to the alertmanager Service', () => {
    const svc = find(prod, 'Service', 'alertmanager');
    const targets = parseYaml(find(prod, 'ConfigMap', 'prometheus-config').data['prometheus.yml']).alerting.alertmanagers[0].static_configs[0].targets;
    expect(targets).toEqual([`${svc.metadata.name}:${svc.spec.ports[0].port}`]);
  });
});
