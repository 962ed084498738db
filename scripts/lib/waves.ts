/**
 * The sync-wave table of docs/operations.md, generated from the charts (the same objects
 * `npm run synth` writes), so the docs cannot drift from dist/: `npm run diagram` rewrites the
 * block between the markers, `--check` and test/lib/waves.test.ts fail when it is stale.
 */
import type { Chart } from 'cdk8s';
import { LABEL, SYNC_WAVE } from '../../constructs/lib/identity';
import type { OutputFolder } from '../../constructs/lib/output';

export const WAVES_BEGIN = '<!-- sync-wave table: generated from the code by `npm run diagram`; do not edit -->';
export const WAVES_END = '<!-- end of the sync-wave table -->';

/** Markdown table: per wave, the components (`app.kubernetes.io/component`) and their kinds, over every environment folder. */
export function waveTable(charts: ReadonlyArray<Chart & OutputFolder>, environmentFolders: readonly string[]): string {
  const byWave = new Map<number, Map<string, Set<string>>>();
  for (const chart of charts.filter((c) => environmentFolders.includes(c.folder))) {
    for (const o of chart.toJson() as any[]) {
      const wave = Number(o.metadata?.annotations?.[SYNC_WAVE]);
      const component = o.metadata?.labels?.[LABEL.component] ?? '(none)';
      const components = byWave.get(wave) ?? new Map<string, Set<string>>();
      byWave.set(wave, components);
      const kinds = components.get(component) ?? new Set<string>();
      components.set(component, kinds);
      kinds.add(o.kind);
    }
  }
  const rows = [...byWave.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wave, components]) => {
      const what = [...components.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([component, kinds]) => `${component} (${[...kinds].sort().join(', ')})`)
        .join('; ');
      return `| ${wave} | ${what} |`;
    });
  return ['| wave | component (kinds), across the environment folders |', '|---|---|', ...rows].join('\n');
}

/** `doc` with the block between the markers replaced by `table`; throws if the markers are missing. */
export function withWaveTable(doc: string, table: string): string {
  const a = doc.indexOf(WAVES_BEGIN);
  const b = doc.indexOf(WAVES_END);
  if (a < 0 || b < a) throw new Error(`the sync-wave markers are missing (${WAVES_BEGIN} ... ${WAVES_END})`);
  return `${doc.slice(0, a)}${WAVES_BEGIN}\n${table}\n${doc.slice(b)}`;
}
