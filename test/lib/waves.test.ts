/**
 * Apply order, over every folder of the real tree: every resource carries an Argo CD sync
 * wave, each kustomization.yaml lists resources in non-decreasing wave (so `kubectl apply -k`
 * and Argo CD agree), and the waves put namespace, guard rails and secrets first, then data
 * stores, then one-shot jobs, then the API, then monitoring.
 */
import * as fs from 'fs';
import * as path from 'path';
import { waveTable, withWaveTable } from '../../scripts/lib/waves';
import { LABEL, SYNC_WAVE, Wave } from '../../constructs/lib/identity';
import { buildApp } from '../../main';
import { ROOT, parseYaml, realEnvironments, realTree } from '../support/synth';

const tree = realTree();
const folderOf = (file: string) => file.slice(0, file.lastIndexOf('/'));
const isResource = (file: string) => /\.ya?ml$/.test(file) && !file.endsWith('/kustomization.yaml');

const folders = [...new Set([...tree.keys()].map(folderOf))].sort();
const applied = folders.filter((f) => tree.has(`${f}/kustomization.yaml`));
const WAVES = Object.values(Wave).filter((v): v is number => typeof v === 'number');

interface Item {
  file: string;
  kind: string;
  name: string;
  component?: string;
  wave: number;
}

/** The folder's resources in kustomization order. */
function inApplyOrder(folder: string): Item[] {
  const listed: string[] = parseYaml(tree.get(`${folder}/kustomization.yaml`)!).resources;
  return listed.map((file) => {
    const m = parseYaml(tree.get(`${folder}/${file}`)!);
    return { file, kind: m.kind, name: m.metadata.name, component: m.metadata.labels?.[LABEL.component], wave: Number(m.metadata.annotations?.[SYNC_WAVE]) };
  });
}

const waves = (items: Item[], pick: (i: Item) => boolean) => items.filter(pick).map((i) => i.wave);

describe('every folder', () => {
  test('there are applied folders for every environment, the cluster and Argo CD', () => {
    expect(applied).toEqual(expect.arrayContaining(['argocd', 'cluster', ...realEnvironments().map((e) => e.name)]));
  });

  test.each(folders)('every resource in %s has a sync wave from the Wave enum', (folder) => {
    const missing = [...tree.keys()]
      .filter((f) => folderOf(f) === folder && isResource(f))
      .map((f) => ({ f, wave: parseYaml(tree.get(f)!).metadata.annotations?.[SYNC_WAVE] }))
      .filter(({ wave }) => wave === undefined || !WAVES.includes(Number(wave)));
    expect(missing).toEqual([]);
  });
});

describe.each(applied)('dist/%s/kustomization.yaml', (folder) => {
  const items = inApplyOrder(folder);

  test('lists every resource file of the folder exactly once', () => {
    const files = [...tree.keys()].filter((f) => folderOf(f) === folder && isResource(f)).map((f) => f.slice(folder.length + 1));
    expect(items.map((i) => i.file).sort()).toEqual(files.sort());
  });

  test('is in non-decreasing sync wave, and the README table shows the same order', () => {
    const order = items.map((i) => i.wave);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const readmeFiles = [...tree.get(`${folder}/README.md`)!.matchAll(/^\| \d+ \| (\S+) \|/gm)].map((m) => m[1]);
    expect(readmeFiles).toEqual(items.map((i) => i.file));
  });

  test('a Namespace comes first, at the lowest wave', () => {
    const ns = items.filter((i) => i.kind === 'Namespace');
    if (!ns.length) return; // folders without their own namespace (cluster, argocd)
    expect(items.slice(0, ns.length).map((i) => i.kind)).toEqual(ns.map(() => 'Namespace'));
    expect(ns.every((n) => n.wave === Wave.NAMESPACE && n.wave === items[0].wave)).toBe(true);
  });

  test('quotas and secrets come before every workload', () => {
    const first = waves(items, (i) => ['ResourceQuota', 'LimitRange', 'Secret', 'ExternalSecret', 'SealedSecret', 'SecretStore'].includes(i.kind));
    const workloads = waves(items, (i) => ['StatefulSet', 'Deployment', 'DaemonSet', 'Job', 'CronJob'].includes(i.kind));
    if (first.length && workloads.length) expect(Math.max(...first)).toBeLessThan(Math.min(...workloads));
  });

  test('data stores < one-shot jobs (migrations, setup) < API < monitoring, for those present', () => {
    const span = (pick: (i: Item) => boolean) => {
      const w = waves(items, pick);
      return w.length ? { min: Math.min(...w), max: Math.max(...w) } : undefined;
    };
    // The stores themselves; a data component's setup Job (and its ServiceAccount) is a one-shot job.
    const data = span((i) => ['database', 'cache', 'object-store'].includes(i.component ?? '') && ['StatefulSet', 'Deployment'].includes(i.kind));
    const jobs = span((i) => i.kind === 'Job');
    // Migrations gate the API; a follow-up Job (the dev seed) may run beside it, never after it.
    const migrations = span((i) => i.kind === 'Job' && /migrat/.test(i.name));
    const api = span((i) => i.component === 'api');
    const monitoring = span((i) => i.component === 'monitoring');
    const checks: Array<[string, ReturnType<typeof span>, string, ReturnType<typeof span>, boolean]> = [
      ['data stores', data, 'jobs', jobs, true],
      ['migration jobs', migrations, 'api', api, true],
      ['jobs', jobs, 'api', api, false],
      ['data stores', data, 'api', api, true],
      ['api', api, 'monitoring', monitoring, true],
    ];
    const violations = checks.flatMap(([a, sa, b, sb, strict]) =>
      !sa || !sb || (strict ? sa.max < sb.min : sa.max <= sb.min) ? [] : [`${a} (max wave ${sa.max}) must be ${strict ? '<' : '<='} ${b} (min wave ${sb.min})`],
    );
    expect(violations).toEqual([]);
  });
});

test('the stages map onto the Wave enum in that order', () => {
  expect([Wave.NAMESPACE, Wave.PLATFORM, Wave.DATA, Wave.JOBS, Wave.API, Wave.MONITORING]).toEqual([...WAVES].sort((a, b) => a - b));
});

describe('the docs say what dist/ does about waves', () => {
  const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
  const envs = realEnvironments();

  test("docs/operations.md's sync-wave table is the one generated from the code (run `npm run diagram` if this fails)", () => {
    const doc = read('docs/operations.md');
    const fresh = withWaveTable(doc, waveTable(buildApp(envs).charts, envs.map((e) => e.name)));
    expect(doc).toBe(fresh);
  });

  test('the table matches the rendered files: each wave row lists the kinds found in that wave', () => {
    const doc = read('docs/operations.md');
    const rows = new Map([...doc.matchAll(/^\| (-?\d+) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]]));
    for (const e of envs) {
      for (const item of inApplyOrder(e.name)) expect([item.file, rows.get(item.wave) ?? '']).toEqual([item.file, expect.stringContaining(item.kind)]);
    }
  });

  test('README and the guides state no environment wave numbers of their own (they point at the table)', () => {
    for (const f of ['README.md', 'docs/operations.md', 'docs/gitops.md']) {
      expect([f, read(f).match(/`-?\d` (namespace|quota|secrets|PostgreSQL|migrations|the API|monitoring)/g)]).toEqual([f, null]);
    }
  });

  test("docs/gitops.md's and the bootstrap step's waves for dist/argocd are those of the files", () => {
    const items = inApplyOrder('argocd');
    const waveOf = (kind: string) => [...new Set(items.filter((i) => i.kind === kind).map((i) => i.wave))];
    const m = /AppProjects are in wave (-?\d+) and the Applications in wave (-?\d+)/.exec(read('docs/gitops.md'))!;
    expect([waveOf('AppProject'), waveOf('Application')]).toEqual([[Number(m[1])], [Number(m[2])]]);
    const b = /AppProjects first \(wave (-?\d+)\), then the Applications \(wave (-?\d+)\)/.exec(read('docs/operations.md'))!;
    expect([Number(b[1]), Number(b[2])]).toEqual([Number(m[1]), Number(m[2])]);
  });
});
