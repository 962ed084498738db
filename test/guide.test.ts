/**
 * The deployment guide's kubectl lines, run against what we ship. Each line of the vendored
 * excerpt (test/fixtures/guide/kubectl-lines.tsv) is parsed and mapped to the objects of
 * `dist/` it would touch (namespace `nextgen-prod` is `dist/prod/`); the README's table "The
 * guide's commands" must list every line with exactly what it finds, or, where it finds nothing,
 * why and what to type instead. A selector that matches no pod template, a `deployment/<name>`
 * that is a StatefulSet, a Service that does not exist: each shows up as a difference here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, WORKLOAD_KINDS, parseYamlDocuments, readTree } from './support/synth';

interface GuideLine {
  readonly line: number;
  readonly section: string;
  readonly command: string;
  /** Objects of a `kubectl apply -f - << 'EOF'` here-document. */
  readonly heredoc: string[];
}

export function guideLines(): GuideLine[] {
  const text = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'guide', 'kubectl-lines.tsv'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [line, section, command, heredoc] = l.split('\t');
      return { line: Number(line), section, command, heredoc: heredoc ? heredoc.split(' ') : [] };
    });
}

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any };

/** Every object of dist/ by folder (runbooks included: an operator can create them). */
export function distObjects(): Map<string, Obj[]> {
  const byFolder = new Map<string, Obj[]>();
  for (const [file, text] of readTree(path.join(ROOT, 'dist'))) {
    if (!file.endsWith('.yaml') || file.endsWith('kustomization.yaml')) continue;
    const folder = file.split('/')[0];
    const objs = (parseYamlDocuments(text) as Obj[]).filter((o) => o?.kind);
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), ...objs]);
  }
  return byFolder;
}

function podTemplate(o: Obj): any {
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template;
  return WORKLOAD_KINDS.includes(o.kind as never) || o.kind === 'Job' ? o.spec?.template : undefined;
}

/** Split a shell line into words (quotes kept together, `$(...)` kept as one word). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let depth = 0;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = '';
      else cur += ch;
    } else if (depth > 0) {
      cur += ch;
      if (ch === '(') depth++;
      if (ch === ')') depth--;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(' && cur.endsWith('$')) {
      cur += ch;
      depth = 1;
    } else if (ch === ' ') {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

const PLURAL: Record<string, string> = {
  deployments: 'Deployment',
  deployment: 'Deployment',
  pods: 'Pod',
  pod: 'Pod',
  pvc: 'PersistentVolumeClaim',
  hpa: 'HorizontalPodAutoscaler',
  svc: 'Service',
  statefulset: 'StatefulSet',
  events: 'Event',
};

/**
 * What a kubectl line finds in dist/: `Kind/name` of each object (pods are named after the
 * workload whose template they come from: `pods of Deployment/nextgen-api`), or a phrase for
 * placeholders and listings (`every Deployment`). Empty: it finds nothing we ship.
 */
export function resolve(g: GuideLine, dist: Map<string, Obj[]>): string[] {
  const w = words(g.command);
  const flag = (name: string) => {
    const i = w.findIndex((x) => x === name);
    return i >= 0 ? w[i + 1] : undefined;
  };
  const ns = flag('-n');
  const folder = [...dist.entries()].find(([, objs]) => objs.some((o) => o.kind === 'Namespace' && o.metadata.name === ns))?.[0];
  const objs = folder ? dist.get(folder)! : [];
  const all = [...dist.values()].flat();
  const workloads = objs.filter((o) => podTemplate(o) && !o.metadata.name.match(/-[0-9a-f]{8}$/));
  const verb = w[1];
  const found = new Set<string>();

  // A nested `$(kubectl ...)` is a line of its own: what it finds, the outer command touches.
  for (const inner of w.filter((x) => x.startsWith('$(kubectl '))) {
    for (const r of resolve({ ...g, command: inner.slice(2, -1) }, dist)) found.add(r);
    if (!found.size) return [];
  }
  const selector = flag('-l');
  if (selector) {
    const [key, value] = selector.split('=');
    if (value === '[app_name]') {
      // The guide's placeholder: every workload's pods must carry `app` = their app.kubernetes.io/name,
      // which is the Deployment's or StatefulSet's own name (runbook Jobs share the name of the
      // workload whose network policy they use).
      const labelled = (o: Obj) => {
        const labels = podTemplate(o).metadata?.labels ?? {};
        return labels[key] === labels['app.kubernetes.io/name'] && (!['Deployment', 'StatefulSet'].includes(o.kind) || labels[key] === o.metadata.name);
      };
      return workloads.length && workloads.every(labelled) ? ['pods of every workload'] : [];
    }
    return workloads.filter((o) => podTemplate(o).metadata?.labels?.[key] === value).map((o) => `pods of ${o.kind}/${o.metadata.name}`);
  }
  if (verb === 'apply') {
    if (flag('-f') !== '-') return [];
    // A here-document: the object we ship instead, if it exists under that kind and name.
    return g.heredoc.filter((ref) => all.some((o) => `${o.kind}/${o.metadata.name}` === ref));
  }
  if (verb === 'create' && w[2] === 'namespace') return all.some((o) => o.kind === 'Namespace' && o.metadata.name === w[3]) ? [`Namespace/${w[3]}`] : [];
  if (verb === 'create' && w[2] === 'secret') {
    const name = w[4];
    return objs.filter((o) => ['ExternalSecret', 'SealedSecret', 'Secret'].includes(o.kind) && o.metadata.name === name).map((o) => `${o.kind}/${name}`);
  }
  // `kubectl get <kind>`, `kubectl scale deployment <name>`, `deployment/<name>`, `svc/<name>`.
  const ref = w.slice(2).find((x) => !x.startsWith('-') && x !== ns && (PLURAL[x] || PLURAL[x.split('/')[0]]));
  if (!ref) return [...found];
  const [kindWord, nameInRef] = ref.split('/');
  const kind = PLURAL[kindWord];
  const name = nameInRef ?? (verb === 'scale' ? w[w.indexOf(ref) + 1] : undefined);
  if (kind === 'Event') return []; // made by the cluster at run time, never shipped
  if (name === '[name]') return objs.some((o) => o.kind === kind) ? [`every ${kind}`] : [];
  if (name) return objs.some((o) => o.kind === kind && o.metadata.name === name) ? [`${kind}/${name}`] : [];
  if (kind === 'Pod') return found.size ? [...found] : workloads.length ? ['every pod'] : [];
  if (kind === 'PersistentVolumeClaim') {
    const claims = objs.some((o) => o.kind === kind) || workloads.some((o) => o.spec?.volumeClaimTemplates?.length);
    return claims ? ['every PersistentVolumeClaim'] : [];
  }
  const some = objs.filter((o) => o.kind === kind).map((o) => `${kind}/${o.metadata.name}`);
  return kind === 'Deployment' ? (some.length ? ['every Deployment'] : []) : some;
}

/** The README's table between the markers: line -> { command, finds, note }. */
export function readmeTable(readme: string): Map<number, { command: string; finds: string[]; note: string }> {
  const begin = readme.indexOf('<!-- guide-commands:begin -->');
  const end = readme.indexOf('<!-- guide-commands:end -->');
  if (begin < 0 || end < begin) return new Map();
  const rows = new Map<number, { command: string; finds: string[]; note: string }>();
  for (const row of readme.slice(begin, end).split('\n').filter((l) => /^\| *\d+ *\|/.test(l))) {
    const cells = row.split(' | ').map((c) => c.replace(/^\| */, '').replace(/ *\|$/, '').trim());
    const [line, command, finds, note] = cells;
    rows.set(Number(line), {
      command: command.replace(/^`|`$/g, ''),
      finds: finds === '—' ? [] : finds.split(', ').map((f) => f.replace(/`/g, '')),
      note: note ?? '',
    });
  }
  return rows;
}

describe("the guide's kubectl lines against dist/", () => {
  const lines = guideLines();
  const dist = distObjects();
  const table = readmeTable(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

  test('the excerpt is the guide as vendored (every Kubernetes section, 26 lines)', () => {
    expect(lines).toHaveLength(26);
    expect(lines.every((l) => l.command.startsWith('kubectl '))).toBe(true);
  });

  test.each(lines.map((l) => [l.line, l.command, l] as const))('guide line %i: `%s` finds what the README says', (_n, _c, g) => {
    const row = table.get(g.line);
    expect(row?.command).toBe(g.command);
    const finds = resolve(g, dist);
    expect(row!.finds).toEqual(finds);
    // Nothing found: the README says why, and what to type instead.
    if (!finds.length) expect(row!.note.length).toBeGreaterThan(20);
  });

  test("the guide's selectors find our pods (`-l app=nextgen-api`, `-l app=postgres`)", () => {
    const byCommand = (c: string) => lines.find((l) => l.command.includes(c))!;
    expect(resolve(byCommand('-l app=nextgen-api -f'), dist)).toEqual(['pods of Deployment/nextgen-api']);
    expect(resolve(byCommand('-l app=postgres'), dist)).toEqual(['pods of StatefulSet/postgres']);
    expect(resolve(byCommand('-l app=[app_name]'), dist)).toEqual(['pods of every workload']);
  });

  test('the resolver finds nothing for what does not exist (it can fail)', () => {
    const g = (command: string): GuideLine => ({ line: 0, section: '', command, heredoc: [] });
    expect(resolve(g('kubectl logs -n nextgen-prod -l app=no-such-app -f'), dist)).toEqual([]);
    expect(resolve(g('kubectl logs -n nextgen-prod deployment/postgres'), dist)).toEqual([]);
    expect(resolve(g('kubectl get pods -n no-such-namespace'), dist)).toEqual([]);
    // A pod template without the `app` label (the old output) is not found by the selector.
    const stripped = new Map([...dist].map(([f, objs]) => [f, objs.map((o) => {
      const copy = JSON.parse(JSON.stringify(o));
      const t = podTemplate(copy);
      if (t?.metadata?.labels) delete t.metadata.labels.app;
      return copy;
    })]));
    expect(resolve(g('kubectl logs -n nextgen-prod -l app=nextgen-api -f'), stripped)).toEqual([]);
  });

  test('every pod template in every folder carries `app` = its app.kubernetes.io/name; no selector uses it', () => {
    for (const [folder, objs] of dist) {
      for (const o of objs) {
        const t = podTemplate(o);
        if (!t) continue;
        expect({ folder, name: o.metadata.name, app: t.metadata.labels.app }).toEqual({ folder, name: o.metadata.name, app: t.metadata.labels['app.kubernetes.io/name'] });
        // Selectors are immutable on Deployments and StatefulSets: they keep the recommended pair.
        expect(Object.keys(o.spec?.selector?.matchLabels ?? {})).not.toContain('app');
      }
    }
  });
});

describe('docs/operations.md: the admin UIs reached by port-forward', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Reach the admin UIs'), doc.indexOf('\n## ', doc.indexOf('## Reach the admin UIs') + 3));
  const forwards = [...section.matchAll(/kubectl -n \$NS port-forward svc\/([a-z0-9-]+) \d+:(\d+)/g)].map((m) => ({ service: m[1], port: Number(m[2]) }));
  const prod = distObjects().get('prod')!;

  test('Grafana, the MinIO console, Prometheus and Alertmanager each have a line, and Argo CD is documented', () => {
    expect(forwards.map((f) => f.service).sort()).toEqual(['alertmanager', 'grafana', 'minio-console', 'prometheus']);
    expect(section).toContain('port-forward svc/argocd-server');
  });

  test.each(forwards.map((f) => [f.service, f.port]))('svc/%s has port %i in dist/prod', (service, port) => {
    const svc = prod.find((o) => o.kind === 'Service' && o.metadata.name === service);
    expect(svc?.spec.ports.map((p: any) => p.port)).toContain(port);
  });
});
