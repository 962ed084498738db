/**
 * The restore drill of docs/operations.md, run command by command against what we generate:
 * the Argo CD Applications of dist/argocd (the root app-of-apps included), the objects of
 * dist/<env> and the runbook Job of dist/<env>/runbooks, with a small model of the Argo CD
 * behaviour the drill depends on:
 *
 * - an Application with `automated.selfHeal` re-syncs whenever a live object differs from git
 *   in a field git sets (server-side apply: fields git leaves out are not compared);
 * - the root app-of-apps manages the Application objects themselves, so it reverts an
 *   `argocd app set` on an environment's Application;
 * - label tracking: a live object with `app.kubernetes.io/instance: <app>` that is not in git
 *   is extraneous: it turns the Application OutOfSync unless `compare-options:
 *   IgnoreExtraneous`, and a sync with prune deletes it unless `sync-options: Prune=false`;
 * - an HPA leaves a Deployment scaled to 0 alone; hooks are not tracked.
 *
 * After every command the model reconciles (time passes). The drill must keep the CronJob
 * suspended, the API stopped and the restore Job alive until the restore completed, and leave
 * everything as git says (plus the API back at its replicas) at the end.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Environment } from '../../environments/schema';
import { ROOT, parseYaml, realEnvironments, realTree } from '../support/synth';

const envs = realEnvironments();
const tree = realTree();
const INSTANCE = 'app.kubernetes.io/instance';
const clone = <T>(x: T): T => (x === undefined ? x : JSON.parse(JSON.stringify(x)));

const parsed = new Map<string, any[]>();
/** The objects of one folder (not its subfolders), as git has them (parsed once; never mutated). */
function gitObjects(folder: string): any[] {
  if (!parsed.has(folder)) {
    parsed.set(
      folder,
      [...tree.entries()]
        .filter(([f]) => f.startsWith(`${folder}/`) && !f.slice(folder.length + 1).includes('/') && f.endsWith('.yaml') && !f.endsWith('/kustomization.yaml'))
        .map(([, text]) => parseYaml(text)),
    );
  }
  return parsed.get(folder)!;
}

// ---------------------------------------------------------------- the model

const key = (o: any) => `${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`;
const isHook = (o: any) => Boolean(o.metadata.annotations?.['argocd.argoproj.io/hook']);
const annotation = (o: any, k: string) => String(o.metadata.annotations?.[k] ?? '');

/** Does `live` differ from `desired` in a field `desired` sets? */
function drifted(live: any, desired: any): boolean {
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired)) return JSON.stringify(live) !== JSON.stringify(desired);
  if (live === null || typeof live !== 'object') return true;
  return Object.keys(desired).some((k) => drifted(live[k], desired[k]));
}
/** Server-side apply of `desired`'s fields onto `live`. */
function apply(live: any, desired: any): any {
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired) || live === null || typeof live !== 'object') return clone(desired);
  const out = { ...live };
  for (const k of Object.keys(desired)) out[k] = apply(live[k], desired[k]);
  return out;
}

class Cluster {
  readonly objects = new Map<string, any>();
  readonly log: string[] = [];
  constructor(readonly argocdNamespace: string) {
    for (const o of gitObjects('argocd')) this.objects.set(key(o), clone(o));
    for (const app of this.applications()) this.syncNow(app.metadata.name, { prune: true });
  }
  applications(): any[] {
    return [...this.objects.values()].filter((o) => o.kind === 'Application');
  }
  app(name: string): any {
    const a = this.objects.get(`${this.argocdNamespace}/Application/${name}`);
    if (!a) throw new Error(`no Application ${name}`);
    return a;
  }
  private desiredOf(app: any): any[] {
    const folder = app.spec.source.path.replace(/^dist\//, '');
    return gitObjects(folder).filter((o) => !isHook(o));
  }
  /** Live objects Argo CD tracks for the app (label tracking) that git does not have. */
  private extraneous(app: any): any[] {
    const wanted = new Set(this.desiredOf(app).map(key));
    return [...this.objects.values()].filter((o) => o.metadata.labels?.[INSTANCE] === app.metadata.name && !wanted.has(key(o)) && !o.metadata.ownerReferences);
  }
  outOfSync(app: any): boolean {
    const drift = this.desiredOf(app).some((d) => {
      const live = this.objects.get(key(d));
      return !live || drifted(live, d);
    });
    const extra = this.extraneous(app).some((o) => !annotation(o, 'argocd.argoproj.io/compare-options').includes('IgnoreExtraneous'));
    return drift || extra;
  }
  syncNow(name: string, opts: { prune: boolean }): void {
    const app = this.app(name);
    for (const d of this.desiredOf(app)) {
      const live = this.objects.get(key(d));
      this.objects.set(key(d), live ? apply(live, d) : clone(d));
    }
    if (opts.prune) {
      for (const o of this.extraneous(app)) {
        if (annotation(o, 'argocd.argoproj.io/sync-options').includes('Prune=false')) continue;
        this.objects.delete(key(o));
        this.log.push(`${name} pruned ${key(o)}`);
      }
    }
  }
  /** Argo CD's controller, run until nothing changes: automated Applications heal their drift. */
  reconcile(): void {
    for (let round = 0; round < 10; round++) {
      const due = this.applications().filter((a) => a.spec.syncPolicy?.automated?.selfHeal && this.outOfSync(a));
      if (!due.length) return;
      for (const a of due) {
        this.log.push(`${a.metadata.name} self-healed`);
        this.syncNow(a.metadata.name, { prune: Boolean(a.spec.syncPolicy.automated.prune) });
      }
    }
    throw new Error('Argo CD model did not settle');
  }
  get(ns: string, kind: string, name: string): any {
    return this.objects.get(`${ns}/${kind}/${name}`);
  }
}

// ---------------------------------------------------------------- the drill, as written

const ops = fs.readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
const section = ops.slice(ops.indexOf('## Run a restore drill'), ops.indexOf('\n## ', ops.indexOf('## Run a restore drill') + 1));
const block = /```bash\n([\s\S]*?)```/.exec(section)![1];
const lines = block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const header = Object.fromEntries(lines[0].split(/\s+/).map((a) => a.split('=') as [string, string]));
const commands = lines.slice(1);

/** The first line's variables for an environment, from its data. */
function variablesFor(e: Environment): Record<string, string> {
  return {
    ENV: e.name,
    NS: e.namespace,
    REPLICAS: String(e.api.autoscaling.enabled ? e.api.autoscaling.minReplicas : e.api.replicas),
    API_HOST: e.hosts.api,
  };
}

interface Checkpoint {
  step: string;
  cronJobSuspended: boolean;
  apiReplicas: number | undefined;
  restoreJob: boolean;
}

/** Run `cmds` with `vars`; return what the cluster looked like while the restore ran. */
function runDrill(cmds: string[], vars: Record<string, string>, cluster: Cluster): Checkpoint[] {
  const seen: Checkpoint[] = [];
  const ns = vars.NS;
  const sub = (c: string) => c.replace(/\$\{?([A-Z_]+)\}?/g, (_m, v) => {
    if (!(v in vars)) throw new Error(`unknown variable $${v} in: ${c}`);
    return vars[v];
  });
  for (const raw of cmds) {
    const c = sub(raw);
    let m: RegExpExecArray | null;
    if ((m = /^argocd app set (\S+) --sync-policy none$/.exec(c))) delete cluster.app(m[1]).spec.syncPolicy.automated;
    else if ((m = /^argocd app set (\S+) --sync-policy automated((?: --auto-prune| --self-heal)*)$/.exec(c))) {
      cluster.app(m[1]).spec.syncPolicy.automated = { prune: m[2].includes('--auto-prune'), selfHeal: m[2].includes('--self-heal') };
    } else if ((m = /^argocd app sync (\S+)( --prune)?$/.exec(c))) cluster.syncNow(m[1], { prune: Boolean(m[2]) });
    else if ((m = new RegExp(`^kubectl -n ${ns} scale deploy/(\\S+) --replicas=(\\d+)$`).exec(c))) cluster.get(ns, 'Deployment', m[1]).spec.replicas = Number(m[2]);
    else if ((m = new RegExp(`^kubectl -n ${ns} patch cronjob (\\S+) -p '(.*)'$`).exec(c))) {
      const cj = cluster.get(ns, 'CronJob', m[1]);
      cluster.objects.set(key(cj), apply(cj, JSON.parse(m[2])));
    } else if ((m = new RegExp(`^kubectl -n ${ns} delete job (\\S+)( --ignore-not-found)?$`).exec(c))) {
      if (!cluster.get(ns, 'Job', m[1]) && !m[2]) throw new Error(`${c}: not found`);
      cluster.objects.delete(`${ns}/Job/${m[1]}`);
    } else if ((m = /^kubectl create -f (dist\/\S+)$/.exec(c))) {
      const file = m[1].replace(/^dist\//, '');
      if (!tree.has(file)) throw new Error(`${c}: no such file in dist/`);
      const o = parseYaml(tree.get(file)!);
      if (cluster.objects.has(key(o))) throw new Error(`${c}: AlreadyExists`);
      cluster.objects.set(key(o), o);
    } else if ((m = new RegExp(`^kubectl -n ${ns} wait --for=condition=complete job/(\\S+) .*$`).exec(c))) {
      // The restore runs while we wait: this is the moment that must be undisturbed.
      seen.push({
        step: c,
        cronJobSuspended: Boolean(cluster.get(ns, 'CronJob', 'postgres-backup')?.spec.suspend),
        apiReplicas: cluster.get(ns, 'Deployment', 'nextgen-api')?.spec.replicas,
        restoreJob: Boolean(cluster.get(ns, 'Job', m[1])),
      });
    } else if (new RegExp(`^kubectl -n ${ns} (get|logs|rollout status) `).test(c) || /^curl -fsS https:\/\/\S+\/api\/v3\/health$/.test(c)) {
      // reads only
    } else throw new Error(`the drill model does not know this command (teach it, or fix the docs): ${c}`);
    cluster.reconcile();
  }
  return seen;
}

describe('the restore drill in docs/operations.md', () => {
  const staging = envs.find((e) => e.name === 'staging')!;

  test('its first line holds staging\'s values (the environment the guide starts with)', () => {
    expect(header).toEqual(variablesFor(staging));
  });

  describe.each(envs.map((e) => [e.name, e] as const))('walked against the generated Argo CD objects for %s', (_name, e) => {
    const ns = e.namespace;
    let cluster: Cluster;
    let during: Checkpoint[];
    beforeAll(() => {
      cluster = new Cluster('argocd');
      during = runDrill(commands, variablesFor(e), cluster);
    });

    test('while the restore runs: the backup CronJob is suspended, the API stopped, the restore Job alive', () => {
      expect(during).toEqual([expect.objectContaining({ cronJobSuspended: true, apiReplicas: 0, restoreJob: true })]);
      expect(cluster.log.filter((l) => l.includes('/Job/postgres-restore'))).toEqual([]);
    });

    test('afterwards: every Application is as git says, the CronJob runs again, the API is back, nothing is left', () => {
      for (const a of gitObjects('argocd').filter((o) => o.kind === 'Application')) expect(cluster.app(a.metadata.name).spec).toEqual(a.spec);
      expect(cluster.get(ns, 'CronJob', 'postgres-backup').spec.suspend).toBe(false);
      expect(cluster.get(ns, 'Deployment', 'nextgen-api').spec.replicas).toBe(Number(variablesFor(e).REPLICAS));
      expect(cluster.get(ns, 'Job', 'postgres-restore')).toBeUndefined();
      for (const a of cluster.applications()) expect([a.metadata.name, cluster.outOfSync(a)]).toEqual([a.metadata.name, false]);
    });
  });

  test("the model catches the old drill: pausing only the environment is undone by the root's self-heal, which resumes the CronJob mid-restore", () => {
    const old = commands.filter((c) => !c.startsWith('argocd app set nextgen-argocd'));
    const during = runDrill(old, variablesFor(staging), new Cluster('argocd'));
    expect(during[0].cronJobSuspended).toBe(false);
  });
});

describe('the restore Job under Argo CD', () => {
  const e = envs.find((x) => x.name === 'prod')!;
  const job = parseYaml(tree.get(`${e.name}/runbooks/job-postgres-restore.yaml`)!);

  test('carries the environment instance label (its pods must match the NetworkPolicies), so label tracking sees it', () => {
    expect(job.metadata.labels[INSTANCE]).toBe(`nextgen-${e.name}`);
  });

  test('an automated sync during the restore (nobody paused Argo CD) neither prunes it nor is triggered by it', () => {
    const cluster = new Cluster('argocd');
    cluster.objects.set(key(job), clone(job));
    expect(cluster.outOfSync(cluster.app(`nextgen-${e.name}`))).toBe(false);
    cluster.syncNow(`nextgen-${e.name}`, { prune: true });
    expect(cluster.get(e.namespace, 'Job', 'postgres-restore')).toBeDefined();
  });

  test('the model prunes a hand-made object without the annotations (the check can fail)', () => {
    const cluster = new Cluster('argocd');
    const bare = clone(job);
    delete bare.metadata.annotations['argocd.argoproj.io/sync-options'];
    delete bare.metadata.annotations['argocd.argoproj.io/compare-options'];
    cluster.objects.set(key(bare), bare);
    expect(cluster.outOfSync(cluster.app(`nextgen-${e.name}`))).toBe(true);
    cluster.reconcile();
    expect(cluster.get(e.namespace, 'Job', 'postgres-restore')).toBeUndefined();
  });
});
