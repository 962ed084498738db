/**
 * Alert rules: shape (runbooks, severities, thresholds and `for:` from the environment). Their
 * behaviour under the real `promtool test rules` is in alerts.int.test.ts.
 */
import { find, parseYaml, realEnvironments, synth, synthEnvironments } from '../support/synth';
import { runbookAnchor } from '../../constructs/monitoring/rule-model';
import { FIXTURES } from './alert-fixtures';

describe('alert rules', () => {
  const prod = synth();
  const shipped = parseYaml(find(prod, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']);
  const shippedRules = shipped.groups.flatMap((g: any) => g.rules).filter((r: any) => r.alert);

  test('one alert for each of the guide\'s key metrics areas, each with a fixture', () => {
    const names = [...new Set<string>(shippedRules.map((r: any) => r.alert))].sort();
    expect(names.filter((n) => !(n in FIXTURES))).toEqual([]);
    expect(new Set(shippedRules.map((r: any) => r.labels.area))).toEqual(
      new Set(['api', 'database', 'resources', 'cache', 'scraping', 'backup', 'kubernetes', 'platform']),
    );
  });

  test('every alert links its runbook and has a severity, summary and description', () => {
    for (const r of shippedRules) {
      expect(r.annotations.runbook_url).toBe(`https://runbooks.nextgen.example.com/${runbookAnchor(r.alert)}`);
      expect(['critical', 'warning']).toContain(r.labels.severity);
      expect(r.annotations.summary).toBeTruthy();
      expect(r.annotations.description).toBeTruthy();
    }
  });

  test('`for:` and thresholds come from the environment', () => {
    const changed = synth({ monitoring: { thresholds: { forMinutes: 12, errorRatePercent: 7, redisMemoryPercent: 66 } } });
    const rules = parseYaml(find(changed, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']).groups.flatMap((g: any) => g.rules);
    const byName = (n: string) => rules.find((r: any) => r.alert === n);
    expect(byName('NextgenApiHighErrorRate').for).toBe('12m');
    expect(byName('NextgenApiHighErrorRate').expr).toMatch(/\* 100 > 7$/);
    expect(byName('RedisMemoryHigh').expr).toMatch(/> 66$/);
    // Down alerts page quickly whatever the environment's `for:`.
    expect(byName('PostgresDown').for).toBe('1m');
    // The text says the same duration as the rule (not a number written once by hand).
    expect(byName('PostgresReplicationSlotInactive').for).toBe('12m');
    expect(byName('PostgresReplicationSlotInactive').annotations.description).toContain('for 12 min:');
  });

  test('the traffic assumption decides NextgenApiRequestRateLow: always = page, busy hours = ticket inside them, never = no alert', () => {
    const rateLow = (traffic: unknown) =>
      parseYaml(find(synth({ monitoring: { traffic: { busyHoursUtc: traffic as any } } }), 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml'])
        .groups.flatMap((g: any) => g.rules)
        .find((r: any) => r.alert === 'NextgenApiRequestRateLow');
    const always = rateLow('always');
    expect(always.labels.severity).toBe('critical');
    expect(always.expr).not.toMatch(/hour\(\)/);
    const hours = rateLow({ from: 7, to: 22 });
    expect(hours.labels.severity).toBe('warning');
    expect(hours.expr).toMatch(/and on\(\) \(hour\(\) >= 7 and hour\(\) < 22\)$/);
    // Busy hours across midnight (a market in another time zone).
    expect(rateLow({ from: 20, to: 4 }).expr).toMatch(/\(hour\(\) >= 20 or hour\(\) < 4\)$/);
    expect(rateLow('never')).toBeUndefined();
    // Production states its assumption: busy 07-22 UTC, quiet nights.
    const prodRules = parseYaml(find(synthEnvironments(realEnvironments().filter((e) => e.name === 'prod')).byFolder.get('prod')!, 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']);
    expect(prodRules.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'NextgenApiRequestRateLow').labels.severity).toBe('warning');
  });

  test('the p99 latency alert uses histogram_quantile over rate() of the _bucket series, by le', () => {
    const r = shippedRules.find((x: any) => x.alert === 'NextgenApiHighLatencyP99');
    expect(r.expr).toMatch(/^histogram_quantile\(0\.99, sum by \(le\) \(rate\(http_request_duration_seconds_bucket\{[^}]*\}\[5m\]\)\)\) > 1$/);
  });

  test('rules select this environment\'s namespace only (the node alert watches the kubelets it runs on)', () => {
    for (const r of shippedRules.filter((x: any) => x.alert !== 'NodeUnreachable')) expect(r.expr).toContain('namespace="nextgen-test"');
    const records = shipped.groups.flatMap((g: any) => g.rules).filter((r: any) => r.record);
    expect(records.length).toBeGreaterThan(1);
    for (const r of records) expect(r.expr).toContain('namespace="nextgen-test"');
  });
});
