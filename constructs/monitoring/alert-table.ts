/**
 * The README's alert table, generated from the rules each environment ships: one row per
 * alert, one column per environment with its threshold and `for:` there. `test/docs.test.ts`
 * fails when the README's copy differs (and prints the fresh table).
 */
import { AlertGroup, humanDuration, runbookAnchor } from './rule-model';

export { humanDuration, runbookAnchor };


export const ALERT_TABLE_MARKERS = { begin: '<!-- alert-table:begin (generated from the rules; test/docs.test.ts) -->', end: '<!-- alert-table:end -->' } as const;


export function alertTable(envs: ReadonlyArray<{ name: string; groups: readonly AlertGroup[] }>): string {
  const names: string[] = [];
  const severity = new Map<string, string>();
  for (const e of envs) {
    for (const r of e.groups.flatMap((g) => g.rules)) {
      if (!names.includes(r.alert)) names.push(r.alert);
      severity.set(r.alert, r.severity);
    }
  }
  const cell = (env: (typeof envs)[number], alert: string) => {
    const rules = env.groups.flatMap((g) => g.rules).filter((r) => r.alert === alert);
    return rules.length ? rules.map((r) => `${r.threshold}, for ${humanDuration(r.forSeconds)}`).join('; ') : 'not deployed';
  };
  const lines = [
    `| alert | severity | ${envs.map((e) => e.name).join(' | ')} |`,
    `|---|---|${envs.map(() => '---|').join('')}`,
    ...names.map((a) => `| [${a}](${runbookAnchor(a)}) | ${severity.get(a)} | ${envs.map((e) => cell(e, a).replace(/\|/g, '\\|')).join(' | ')} |`),
  ];
  return lines.join('\n');
}
