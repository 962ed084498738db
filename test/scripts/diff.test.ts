/**
 * `npm run diff` (scripts/diff.mjs around scripts/lib/tree-diff.ts): a change to the config
 * prints exactly the resources and fields it changes in dist/. The command itself, run for real:
 * diff.int.test.ts.
 */
import { renderCharts } from '../../constructs/lib/output';
import { buildApp } from '../../main';
import { diffFields, diffTrees, formatDiff } from '../../scripts/lib/tree-diff';
import { testEnvironment } from '../support/synth';

type Overrides = Parameters<typeof testEnvironment>[0];
const render = (overrides: Overrides = {}) => renderCharts(buildApp([testEnvironment(overrides)]).charts);

describe('diffing two rendered trees', () => {
  const base = render({ api: { logLevel: 'info' } });

  test('a one-line config change (api.logLevel) prints exactly that field and the checksum that rolls its readers', () => {
    const diffs = diffTrees(base, render({ api: { logLevel: 'debug' } }));
    expect(formatDiff(diffs)).toMatch(
      new RegExp(
        [
          'dist/test: 2 changed',
          '  ~ ConfigMap nextgen-api-config',
          '      data.LOG_LEVEL: "info" → "debug"',
          '  ~ Deployment nextgen-api',
          '      spec.template.metadata.annotations\\["nextgen.example.com/config-checksum"\\]: "[0-9a-f]{16}" → "[0-9a-f]{16}"',
          '',
          '2 resource\\(s\\) differ in 1 folder\\(s\\) \\(test\\).',
          '',
        ].join('\n') + '$',
      ),
    );
  });

  test('an unchanged tree prints "No changes"', () => {
    expect(diffTrees(base, render({ api: { logLevel: 'info' } }))).toEqual([]);
    expect(formatDiff([], { baseLabel: 'HEAD:dist/' })).toBe('No changes to dist/ compared with HEAD:dist/.\n');
  });

  test('a removed resource is listed by kind, name and file, without field noise', () => {
    const diffs = diffTrees(base, render({ api: { logLevel: 'info', loadBalancer: false } }));
    expect(diffs.map((d) => d.folder)).toEqual(['test']);
    // (Resources derived from it, such as a quota on load balancers, show as changed.)
    expect(diffs[0].resources.filter((r) => r.change !== 'changed')).toEqual([
      { file: 'service-nextgen-api-lb.yaml', kind: 'Service', name: 'nextgen-api-lb', change: 'removed', fields: [] },
    ]);
    expect(diffs[0].applyOrder).toBeUndefined(); // the kustomization only lost that entry
    expect(formatDiff(diffs)).toContain('  - Service nextgen-api-lb  (service-nextgen-api-lb.yaml)\n');
  });

  test('the markdown form is one fenced block under a heading, without colours', () => {
    const text = formatDiff(diffTrees(base, render({ api: { logLevel: 'debug' } })), { markdown: true });
    expect(text).toMatch(/^#### Changes to `dist\/`\n\n```text\n/);
    expect(text.trimEnd().endsWith('```')).toBe(true);
  });
});

describe('field paths', () => {
  test('lists of named objects are keyed by name, so an insertion does not renumber the rest', () => {
    const before = { spec: { containers: [{ name: 'api', env: [{ name: 'A', value: '1' }, { name: 'C', value: '3' }] }] } };
    const after = { spec: { containers: [{ name: 'api', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }, { name: 'C', value: '3' }] }] } };
    expect(diffFields(before, after)).toEqual([
      { path: 'spec.containers[name=api].env[name=B].name', change: 'added', after: 'B' },
      { path: 'spec.containers[name=api].env[name=B].value', change: 'added', after: '2' },
    ]);
  });

  test('keys that are not identifiers are quoted; removed fields come last', () => {
    const before = { metadata: { annotations: { 'argocd.argoproj.io/sync-wave': '0' }, labels: { old: 'x' } } };
    const after = { metadata: { annotations: { 'argocd.argoproj.io/sync-wave': '2' } } };
    expect(diffFields(before, after)).toEqual([
      { path: 'metadata.annotations["argocd.argoproj.io/sync-wave"]', change: 'changed', before: '0', after: '2' },
      { path: 'metadata.labels.old', change: 'removed', before: 'x' },
    ]);
  });

  test('a changed multi-line value (a config file) prints a line diff', () => {
    const doc = (conf: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  app.conf: |\n${conf}`;
    const diffs = diffTrees(new Map([['x/c.yaml', doc('    a\n    b\n    c\n')]]), new Map([['x/c.yaml', doc('    a\n    B\n    c\n')]]));
    const text = formatDiff(diffs);
    expect(text).toContain('      data["app.conf"]:\n        @@ -1,3 +1,3 @@\n         a\n        -b\n        +B\n         c\n');
  });

  test('a reordered kustomization is reported as an apply-order change', () => {
    const kust = (...r: string[]) => `kind: Kustomization\nresources:\n${r.map((x) => `  - ${x}`).join('\n')}\n`;
    const diffs = diffTrees(new Map([['p/kustomization.yaml', kust('a.yaml', 'b.yaml')]]), new Map([['p/kustomization.yaml', kust('b.yaml', 'a.yaml', 'c.yaml')]]));
    expect(diffs[0].applyOrder).toEqual({ before: ['a.yaml', 'b.yaml'], after: ['b.yaml', 'a.yaml'] });
  });
});
