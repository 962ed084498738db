/**
 * Alerts that never cry wolf and never go blind, on the real promtool with the shipped rules
 * (the synthesized `prometheus-rules` ConfigMap) and the shipped Alertmanager routing, for
 * every environment that runs its own Prometheus (dev, staging and prod):
 *   - a normal week of the environment (test/support/week.ts) in which no alert fires at any
 *     evaluation point;
 *   - every failure mode broken inside that week: its alert fires within a bound derived from
 *     the settings, with its severity, reaches the receiver that severity routes to (amtool on
 *     the shipped alertmanager.yml), and is not held back by another alert the failure raises
 *     (the shipped inhibition rules); without an Alertmanager (dev), up to Prometheus.
 * Both are generated from the metric catalog and the rules: a rule reading a metric without a
 * normal-week series, or an alert without a failure case, fails here.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { M } from '../../constructs/monitoring/catalog';
import { find, parseYaml, realEnvironments, synthEnvironments } from '../support/synth';
import { BoundContext, DAY, Failure, WEEK, broken, failures, normalWeek, promtoolValues } from '../support/week';
import { which } from '../integration/lib/servers';

for (const env of realEnvironments().filter((e) => e.monitoring.mode === 'standalone')) {
  describe(env.name, () => {
    const manifests = synthEnvironments([env]).byFolder.get(env.name)!;
    const rulesText: string = find(manifests, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    const promConfig = parseYaml(find(manifests, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
    // Without an Alertmanager (dev) the alerts are checked up to Prometheus: no routing, no inhibition.
    const amText: string | undefined = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'alertmanager-config') ? find(manifests, 'ConfigMap', 'alertmanager-config').data['alertmanager.yml'] : undefined;
    const rules: any[] = parseYaml(rulesText).groups.flatMap((g: any) => g.rules);
    const alerts = rules.filter((r) => r.alert);
    const seconds = (d: string) => Number(/^(\d+)([smh])$/.exec(d)![1]) * { s: 1, m: 60, h: 3600 }[/^(\d+)([smh])$/.exec(d)![2] as 's' | 'm' | 'h'];
    // One sample and one evaluation a minute (or the shipped intervals when longer): a week of
    // 30 s evaluations costs promtool minutes of CPU on a shared CI machine.
    const step = Math.max(60, seconds(promConfig.global.scrape_interval));
    const evaluation = Math.max(60, seconds(promConfig.global.evaluation_interval));
    const ns = env.namespace;
    const promtool = which('promtool');
    const describeIf = promtool ? describe : describe.skip;

    const ctx: BoundContext = {
      env,
      step,
      evaluation,
      forOf: (alert, labels = {}) => {
        const fors = alerts
          .filter((r) => r.alert === alert && Object.entries(labels).every(([k, v]) => r.labels?.[k] === v))
          .map((r) => (r.for ? seconds(r.for) : 0));
        if (!fors.length) throw new Error(`no shipped rule for alert ${alert}`);
        return Math.max(...fors);
      },
      rateWindow: Math.max(300, 4 * step),
    };

    function testFile(series: ReturnType<typeof normalWeek>, end: number, exprs: Array<{ expr: string }>): string {
      return stringify({
        rule_files: ['rules.yaml'],
        evaluation_interval: `${evaluation}s`,
        tests: [
          {
            interval: `${step}s`,
            input_series: series.map((s) => {
              const { __name__, ...rest } = s.labels;
              const body = Object.entries(rest)
                .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                .join(',');
              return { series: `${__name__}{${body}}`, values: promtoolValues(s.value, step, end) };
            }),
            promql_expr_test: exprs.map((e) => ({ expr: e.expr, eval_time: `${end}s`, exp_samples: [] })),
          },
        ],
      });
    }

    function runPromtool(files: Record<string, string>): string {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'week-'));
      try {
        for (const [f, t] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), t);
        // WEEK_DEBUG_DIR=<folder> keeps the generated files for a look with promtool by hand.
        if (process.env.WEEK_DEBUG_DIR) for (const [f, t] of Object.entries(files)) fs.writeFileSync(path.join(process.env.WEEK_DEBUG_DIR, f), t);
        const r = cp.spawnSync(promtool!, ['test', 'rules', ...Object.keys(files).filter((f) => f !== 'rules.yaml')], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
        return `${r.stdout}${r.stderr}`;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    /** `{a="b", c="d"} 1.5E+02` items of promtool's `got:` lines. */
    function parseGot(out: string): Array<{ labels: Record<string, string>; value: number }> {
      const items: Array<{ labels: Record<string, string>; value: number }> = [];
      for (const line of out.split('\n').filter((l) => /^\s*got:/.test(l))) {
        for (const m of line.matchAll(/\{([^}]*)\} (-?[0-9.eE+]+)/g)) {
          const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
          items.push({ labels, value: Number(m[2]) });
        }
      }
      return items;
    }

    /** Metrics the shipped rules read (names in the expressions that the catalog knows). */
    function metricsRead(): string[] {
      const names = new Set<string>();
      const known = Object.values(M).map((m) => m.name);
      for (const r of rules) for (const n of known) if (new RegExp(`\\b${n}\\b`).test(r.expr)) names.add(n);
      return [...names].sort();
    }

    /** Does a matcher list (`a="x"`, `a=~"x|y"`) match these labels? */
    function matchesAll(matchers: string[], labels: Record<string, string>): boolean {
      return matchers.every((m) => {
        const x = /^(\w+)(=~|!=|=)"(.*)"$/.exec(m)!;
        const v = labels[x[1]] ?? '';
        if (x[2] === '=') return v === x[3];
        if (x[2] === '!=') return v !== x[3];
        return new RegExp(`^(?:${x[3]})$`).test(v);
      });
    }

    /** Alertmanager's inhibition: is `target` held back by one of `firing`? */
    function inhibitedBy(target: Record<string, string>, firing: Array<Record<string, string>>): Record<string, string> | undefined {
      const am = parseYaml(amText!);
      for (const r of am.inhibit_rules ?? []) {
        if (!matchesAll(r.target_matchers, target)) continue;
        for (const src of firing) {
          if (src === target || !matchesAll(r.source_matchers, src)) continue;
          // An alert matching both sides is not inhibited by one that does too (Alertmanager).
          if (matchesAll(r.source_matchers, target)) continue;
          if ((r.equal ?? []).every((l: string) => (src[l] ?? '') === (target[l] ?? ''))) return src;
        }
      }
      return undefined;
    }

    function receiversOf(labels: Record<string, string>): string[] {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amtool-'));
      try {
        fs.writeFileSync(path.join(dir, 'am.yml'), amText!);
        const args = ['config', 'routes', 'test', '--config.file=am.yml', ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
        const r = cp.spawnSync(which('amtool')!, args, { cwd: dir, encoding: 'utf8' });
        return r.stdout.trim().split(',').filter(Boolean);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    describe('the week is generated from the catalog and the rules', () => {
      const normal = normalWeek({ env, ns, step });
      test('every metric a shipped rule reads has a normal-week series', () => {
        const have = new Set(normal.map((s) => s.labels.__name__));
        expect(metricsRead().filter((m) => !have.has(m))).toEqual([]);
      });
      test('every shipped alert has a failure case, and every case a shipped alert', () => {
        const cases = new Set(failures(env).map((f) => f.alert));
        const names = [...new Set(alerts.map((a) => a.alert as string))];
        expect(names.filter((a) => !cases.has(a))).toEqual([]);
        // Production ships every alert: there, every case names a shipped alert.
        if (env.name === 'prod') expect([...cases].filter((a) => !names.includes(a))).toEqual([]);
      });
    });

    describeIf('promtool: a normal week is silent, every failure fires within its bound', () => {
      test(`a normal week of ${env.name}: no alert fires at any evaluation point`, () => {
        const series = normalWeek({ env, ns, step });
        const out = runPromtool({
          'rules.yaml': rulesText,
          'week.yaml': testFile(series, WEEK, [{ expr: `count_over_time(ALERTS{alertstate="firing"}[${WEEK}s])` }]),
        });
        const fired = parseGot(out).map((g) => `${g.labels.alertname} (${g.value} evaluations)`);
        expect(fired).toEqual([]);
        expect(out).toMatch(/SUCCESS/);
        console.log(`normal week: ${series.length} series, ${WEEK / step} samples each, ${WEEK / evaluation} evaluations of ${rules.length} rules: no alert fired`);
      }, 600000);

      // The generator's cases for the alerts this environment ships (a development environment
      // has no standby, no paging on idle traffic, ...).
      const cases = failures(env).filter((f) => alerts.some((a) => a.alert === f.alert));
      const report: string[] = [];
      afterAll(() => {
        if (report.length) console.log(['alert | failure | bound | measured', ...report].join('\n'));
      });

      test.each(cases.map((f) => [`${f.alert}: ${f.name}`, f] as [string, Failure]))('%s', (_name, f) => {
        const bound = f.bound(ctx);
        const end = f.at + bound + 2 * step;
        const series = broken(normalWeek({ env, ns, step }), f, ns);
        const out = runPromtool({
          'rules.yaml': rulesText,
          'case.yaml': testFile(series, end, [{ expr: `min_over_time(timestamp(ALERTS{alertstate="firing"})[${end}s:${evaluation}s]) - ${f.at}` }]),
        });
        const got = parseGot(out);
        if (!/FAILED/.test(out) || /error|parse/i.test(out.split('got:')[0].replace(/exp: nil/g, ''))) {
          // No alert at all (promtool succeeds with nothing) or a test file promtool refused.
          expect({ out: out.slice(0, 2000) }).toEqual({ out: 'an alert firing' });
        }
        const early = got.filter((g) => g.value < 0).map((g) => `${g.labels.alertname} ${g.value}s before the break`);
        expect(early).toEqual([]);
        const intended = got.find((g) => g.labels.alertname === f.alert && Object.entries(f.labels ?? {}).every(([k, v]) => g.labels[k] === v));
        expect(intended ? 'fired' : `not fired; fired: ${got.map((g) => g.labels.alertname).join(', ') || 'none'}`).toBe('fired');
        const detection = intended!.value;
        expect(detection).toBeLessThanOrEqual(bound);
        const rule = alerts.find((r) => r.alert === f.alert && Object.entries(f.labels ?? {}).every(([k, v]) => !(k in (r.labels ?? {})) || r.labels[k] === v))!;
        expect(intended!.labels.severity).toBe(rule.labels.severity);
        // As Alertmanager sees it: the external `environment` label added, the state label gone.
        const asSent = (l: Record<string, string>) => {
          const { alertstate: _s, ...rest } = l;
          return { ...rest, environment: env.name };
        };
        const firing = got.filter((g) => g.value <= detection).map((g) => asSent(g.labels));
        const target = asSent(intended!.labels);
        let receivers: string[] = ['(no Alertmanager)'];
        if (amText) {
          const by = inhibitedBy(target, firing);
          expect(by ? `inhibited by ${by.alertname}` : 'delivered').toBe('delivered');
          receivers = receiversOf(target);
          const am = env.monitoring.alertmanager;
          if (am.pagerduty && intended!.labels.severity === 'critical') expect(receivers).toContain('pagerduty');
          else expect(receivers).not.toContain('pagerduty');
          if (am.slack) expect(receivers).toContain('slack');
          expect(receivers.filter((r) => r !== 'null').length).toBeGreaterThan(0);
        }
        const others = got.filter((g) => g !== intended).map((g) => `${g.labels.alertname}@${g.value}s`);
        report.push(`${f.alert} | ${f.name} | ${bound} s (${f.why}) | ${detection} s -> ${receivers.join('+')}${others.length ? `; also: ${others.join(', ')}` : ''}`);
      }, 300000);
    });
  });
}

export const _forDocs = { DAY };
