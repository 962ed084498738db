/**
 * The real tools accept what ships: `promtool check config` on each environment's
 * prometheus.yml, `promtool check rules` on the rule ConfigMap and on operator mode's
 * PrometheusRule, `amtool check-config` on alertmanager.yml, and every Grafana panel query
 * parsed by promtool (as a recording rule). Texts are taken from the synthesized objects.
 *
 * Checking the scrape config needs a promtool built with Kubernetes service discovery:
 * Debian's package strips it, so CI builds promtool at the catalog's Prometheus version.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import type { Manifest } from '../../constructs/lib/output';
import { find, findAll, parseYaml, realEnvironments, synth, synthEnvironments } from '../support/synth';
import { describeWith, which } from './lib/servers';

const GOBIN = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');

function run(bin: string, args: string[], files: Record<string, string>): { ok: boolean; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promtool-'));
  try {
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    const r = cp.spawnSync(bin, args, { cwd: dir, encoding: 'utf8' });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A promtool that understands `kubernetes_sd_configs` (not Debian's), or undefined. */
function promtoolWithKubernetesSd(): string | undefined {
  const probe = stringify({ scrape_configs: [{ job_name: 'p', kubernetes_sd_configs: [{ role: 'pod' }] }] });
  const candidates = [...new Set([which('promtool'), path.join(GOBIN, 'promtool')].filter((p): p is string => !!p && fs.existsSync(p)))];
  return candidates.find((bin) => run(bin, ['check', 'config', '--syntax-only', 'p.yml'], { 'p.yml': probe }).ok);
}

const envs = realEnvironments();
const { byFolder } = synthEnvironments(envs);
const manifestsOf = (name: string): Manifest[] => byFolder.get(name)!;

describeWith(['promtool'], 'promtool accepts the shipped Prometheus configuration and rules', () => {
  const promtool = promtoolWithKubernetesSd();
  const checkConfig = promtool || process.env.CI === 'true' ? test.each : test.skip.each;

  checkConfig(envs.map((e) => [e.name]))('%s: promtool check config (Kubernetes SD, kubelet, alerting)', (name) => {
    if (!promtool) throw new Error('no promtool with Kubernetes service discovery (Debian strips it); CI must build the pinned one');
    const text = find(manifestsOf(name), 'ConfigMap', 'prometheus-config').data['prometheus.yml'];
    // --syntax-only: the token and CA files exist only inside the pod.
    const r = run(promtool, ['check', 'config', '--syntax-only', 'prometheus.yml'], { 'prometheus.yml': text });
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.ok).toBe(true);
  });

  test.each(envs.map((e) => [e.name]))('%s: promtool check rules on the rule ConfigMap', (name) => {
    const cm = find(manifestsOf(name), 'ConfigMap', 'prometheus-rules');
    for (const [file, text] of Object.entries<string>(cm.data)) {
      const r = run(which('promtool')!, ['check', 'rules', file], { [file]: text });
      expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
      expect(r.ok).toBe(true);
      console.log(`promtool check rules (${name}/${file}): ${/SUCCESS: (\d+) rules found/.exec(r.out)![1]} rules`);
    }
  });

  test('operator mode: promtool check rules on the PrometheusRule spec', () => {
    const rule = find(synth({ monitoring: { mode: 'operator' } }), 'PrometheusRule', 'nextgen-alerts');
    const r = run(which('promtool')!, ['check', 'rules', 'rule.yaml'], { 'rule.yaml': stringify({ groups: rule.spec.groups }) });
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.ok).toBe(true);
  });

  test('an ill-typed expression is rejected (the check can fail)', () => {
    // rate() needs a range vector: the parser's type check, not only its grammar, must run.
    const r = run(which('promtool')!, ['check', 'rules', 'bad.yaml'], {
      'bad.yaml': stringify({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'rate(http_requests_total{status=~"5.."}) > 1' }] }] }),
    });
    expect(r.out).toMatch(/range vector/);
    expect(r.ok).toBe(false);
  });

  test.each(envs.map((e) => [e.name]))('%s: every Grafana panel query parses as PromQL', (name) => {
    const exprs = findAll(manifestsOf(name), 'ConfigMap')
      .filter((cm) => ['grafana-dashboards', 'nextgen-dashboards'].includes(cm.metadata.name))
      .flatMap((cm) => Object.values<string>(cm.data))
      .flatMap((json) => JSON.parse(json).panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string)));
    expect(exprs.length).toBeGreaterThan(15);
    const rules = exprs.map((expr, i) => ({ record: `nextgen_dashboard:query_${i}`, expr }));
    const r = run(which('promtool')!, ['check', 'rules', 'dashboards.yaml'], { 'dashboards.yaml': stringify({ groups: [{ name: 'dashboards', rules }] }) });
    expect(r.out).toMatch(new RegExp(`SUCCESS: ${exprs.length} rules found`));
    expect(r.ok).toBe(true);
    console.log(`dashboard queries parsed by promtool (${name}): ${exprs.length}`);
  });
});

describeWith(['amtool'], 'amtool accepts the shipped Alertmanager configuration', () => {
  const withAm = envs.filter((e) => e.monitoring.alertmanager.enabled && e.monitoring.mode === 'standalone');
  test.each(withAm.map((e) => [e.name]))('%s: amtool check-config', (name) => {
    const text = find(manifestsOf(name), 'ConfigMap', 'alertmanager-config').data['alertmanager.yml'];
    // The key files exist only in the pod; amtool reads only the config.
    const r = run(which('amtool')!, ['check-config', 'alertmanager.yml'], { 'alertmanager.yml': text });
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.ok).toBe(true);
    expect(parseYaml(text).receivers.length).toBeGreaterThan(1);
  });
});
