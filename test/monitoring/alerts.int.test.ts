/**
 * Alert rules under the real `promtool test rules` (the shipped version, from the catalog):
 * every alert fires on synthetic series that cross its threshold and stays quiet on series
 * below it, for every real environment.
 */
import { longestGapSeconds } from '../../constructs/lib/schedule';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import type { Environment } from '../../environments/schema';
import type { AlertRule } from '../../constructs/monitoring/alerts';
import { find, realEnvironments, synthEnvironments } from '../support/synth';
import { describeWith, which } from '../integration/lib/servers';
import { STEP, FIXTURES } from './alert-fixtures';

/** `promtool test rules` with the shipped rule file and `tests`; returns the combined output. */
function promtoolTest(rulesText: string, tests: unknown[]): { ok: boolean; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
  try {
    fs.writeFileSync(path.join(dir, 'nextgen.rules.yaml'), rulesText);
    fs.writeFileSync(path.join(dir, 'tests.yaml'), stringify({ rule_files: ['nextgen.rules.yaml'], evaluation_interval: `${STEP}s`, tests }));
    const r = cp.spawnSync(which('promtool')!, ['test', 'rules', 'tests.yaml'], { cwd: dir, encoding: 'utf8' });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const count = (alert: string, state: 'firing' | 'pending', at: number, expected: number, labels: Readonly<Record<string, string>> = {}) => ({
  // The rule's own labels (`backup`) tell apart two rules of one alert name.
  expr: `count(ALERTS{alertname="${alert}",alertstate="${state}"${Object.entries(labels).map(([k, v]) => `,${k}="${v}"`).join('')}}) or vector(0)`,
  eval_time: `${at}s`,
  exp_samples: [{ labels: '{}', value: expected }],
});

describeWith(['promtool'], 'alert rules under `promtool test rules`', () => {
  const envs = realEnvironments();
  const { built, byFolder } = synthEnvironments(envs);
  const rulesOf = (env: Environment): AlertRule[] => built.environments.find((c) => c.env.name === env.name)!.monitoring.groups.flatMap((g) => g.rules);

  test.each(envs.map((e) => [e.name, e] as const))('%s: each alert fires above its threshold (only after its `for:`) and stays quiet below it', (_name, env) => {
    const rulesText = find(byFolder.get(env.name)!, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    // Rules bound to the hour of day (the traffic assumption) are tried in busy hours and at
    // night by test/monitoring/week.int.test.ts; promtool's clock starts at midnight here.
    const tests = rulesOf(env).filter((rule) => !/hour\(\)/.test(rule.expr.text)).flatMap((rule) => {
      const evalSeconds = rule.forSeconds + 600;
      const n = (evalSeconds + 300) / STEP;
      // The condition holds from the first samples, so one step before `for:` has elapsed the
      // alert must not fire yet (it may be pending, or still inactive while a rate window fills).
      const before = rule.forSeconds - STEP;
      const fixture = FIXTURES[rule.alert];
      const t = env.monitoring.thresholds;
      return [
        {
          name: `${rule.alert} fires`,
          interval: `${STEP}s`,
          input_series: fixture.fire(t, env.namespace, n, env, rule),
          // Without `for:` (the backup-age thresholds already hold a run's grace) it fires at once.
          promql_expr_test: [...(rule.forSeconds > 0 ? [count(rule.alert, 'firing', before, 0, rule.labels)] : []), count(rule.alert, 'firing', evalSeconds, 1, rule.labels)],
        },
        {
          name: `${rule.alert} quiet`,
          interval: `${STEP}s`,
          input_series: fixture.quiet(t, env.namespace, n, env, rule),
          promql_expr_test: [count(rule.alert, 'pending', evalSeconds, 0, rule.labels), count(rule.alert, 'firing', evalSeconds, 0, rule.labels)],
        },
      ];
    });
    const r = promtoolTest(rulesText, tests);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.ok).toBe(true);
    console.log(`promtool test rules (${env.name}): ${tests.length} cases (${tests.length / 2} alerts x fire/quiet, \`for:\` checked) passed`);
  });

  test('gauge conditions are pending while `for:` runs, then fire (BackupMissing of the dump, prod)', () => {
    const env = envs.find((e) => e.name === 'prod')!;
    const rule = rulesOf(env).find((r) => r.alert === 'BackupMissing' && r.labels?.backup === 'postgres-backup')!;
    expect(rule.forSeconds).toBe(longestGapSeconds(env.backup.schedule, env.backup.timeZone) + env.backup.activeDeadlineSeconds);
    const rulesText = find(byFolder.get('prod')!, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    const r = promtoolTest(rulesText, [
      {
        interval: `${STEP}s`,
        input_series: FIXTURES.BackupMissing.fire(env.monitoring.thresholds, env.namespace, (rule.forSeconds + 120) / STEP, env, rule),
        promql_expr_test: [
          count('BackupMissing', 'pending', rule.forSeconds - STEP, 2),
          count('BackupMissing', 'firing', rule.forSeconds - STEP, 0),
          count('BackupMissing', 'firing', rule.forSeconds, 1),
        ],
      },
    ]);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.ok).toBe(true);
  });

  test('a failed backup Job raises BackupJobFailed, not also the generic KubeJobFailed', () => {
    const env = envs.find((e) => e.name === 'prod')!;
    const rulesText = find(byFolder.get('prod')!, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    const r = promtoolTest(rulesText, [
      {
        interval: `${STEP}s`,
        input_series: FIXTURES.BackupJobFailed.fire(env.monitoring.thresholds, env.namespace, 60, env, rulesOf(env).find((r) => r.alert === 'BackupJobFailed')!),
        promql_expr_test: [count('BackupJobFailed', 'firing', 900, 1), count('KubeJobFailed', 'firing', 900, 0)],
      },
    ]);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.ok).toBe(true);
  });

  test('the check can fail: a fixture below the threshold does not satisfy "fires"', () => {
    const env = envs.find((e) => e.name === 'prod')!;
    const rulesText = find(byFolder.get('prod')!, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'];
    const r = promtoolTest(rulesText, [
      {
        interval: `${STEP}s`,
        input_series: FIXTURES.KubeQuotaAlmostFull.quiet(env.monitoring.thresholds, env.namespace, 60, env, rulesOf(env).find((r) => r.alert === 'KubeQuotaAlmostFull')!),
        promql_expr_test: [count('KubeQuotaAlmostFull', 'firing', 900, 1)],
      },
    ]);
    expect(r.out).toMatch(/FAILED/);
    expect(r.ok).toBe(false);
  });
});
