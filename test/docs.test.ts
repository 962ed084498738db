/**
 * The monitoring documentation matches the code: README's alert table is the one generated
 * from the rules every environment ships, and every alert has a runbook section in
 * docs/alerts.md (where its `runbook_url` points).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ALERT_TABLE_MARKERS, alertTable } from '../constructs/monitoring/alert-table';
import { ROOT, realEnvironments, synthEnvironments } from './support/synth';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const runbooks = fs.readFileSync(path.join(ROOT, 'docs', 'alerts.md'), 'utf8');
const { built } = synthEnvironments(realEnvironments());
const envs = built.environments.map((c) => ({ name: c.env.name, groups: c.monitoring.groups }));
const alerts = [...new Set(envs.flatMap((e) => e.groups.flatMap((g) => g.rules.map((r) => r.alert))))];

describe('monitoring documentation', () => {
  test('README lists every alert with its threshold and `for:` per environment, as the rules say', () => {
    const begin = readme.indexOf(ALERT_TABLE_MARKERS.begin);
    const end = readme.indexOf(ALERT_TABLE_MARKERS.end);
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const shipped = readme.slice(begin + ALERT_TABLE_MARKERS.begin.length, end).trim();
    // On failure, paste the expected text between the markers.
    expect(shipped).toBe(alertTable(envs));
    for (const a of alerts) expect(shipped).toContain(`[${a}]`);
  });

  test('every alert has a runbook section in docs/alerts.md', () => {
    const headings = [...runbooks.matchAll(/^## (\w+)$/gm)].map((m) => m[1]);
    expect(alerts.filter((a) => !headings.includes(a))).toEqual([]);
    // No section for an alert that no longer exists.
    const sections = headings.filter((h) => /^[A-Z][a-z]+[A-Z]/.test(h));
    expect(sections.filter((h) => !alerts.includes(h))).toEqual([]);
  });

  test('the table changes when a threshold does (it is not a fixed text)', () => {
    const changed = envs.map((e) => ({ ...e, groups: e.groups.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, threshold: `${r.threshold}!` })) })) }));
    expect(alertTable(changed)).not.toBe(alertTable(envs));
  });
});
