/**
 * The restore drill of docs/operations.md, run command by command against what we generate:
 * the Argo CD Applications of dist/argocd (the root app-of-apps included), the objects of
 * dist/<env> and the runbook Job of dist/<env>/runbooks, with the small model of Argo CD in
 * test/support/argocd-model.ts (self-heal, the root app-of-apps, label tracking and prune).
 *
 * After every command the model reconciles (time passes). The drill must keep the CronJob
 * suspended, the API stopped and the restore Job alive until the restore completed, and leave
 * everything as git says (plus the API back at its replicas) at the end.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Environment } from '../../environments/schema';
import { ROOT, parseYaml, realEnvironments, realTree } from '../support/synth';
import { GitopsModel, INSTANCE, apply, clone, key } from '../support/argocd-model';

const envs = realEnvironments();
const tree = realTree();
class Cluster extends GitopsModel {
  constructor(ns: string) {
    super(tree, ns);
  }
}
const gitObjects = (folder: string) => new GitopsModel(tree).gitObjects(folder);

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
  /** Whether the environment's Application syncs by itself (the drill paused it). */
  envAutomated: boolean;
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
        envAutomated: Boolean(cluster.app(`nextgen-${vars.ENV}`).spec.syncPolicy.automated),
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
      expect(during).toEqual([expect.objectContaining({ envAutomated: false, cronJobSuspended: true, apiReplicas: 0, restoreJob: true })]);
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

  test("the model catches the old drill: pausing only the environment is undone by the root's self-heal, which re-enables the environment's own sync mid-restore", () => {
    const old = commands.filter((c) => !c.startsWith('argocd app set nextgen-argocd'));
    const during = runDrill(old, variablesFor(staging), new Cluster('argocd'));
    expect(during[0].envAutomated).toBe(true);
  });

  test('the model catches a drill that leaves the backups suspended: the CronJob stays suspended through every sync', () => {
    const forgetful = commands.filter((c) => !/patch cronjob postgres-backup .*"suspend":false/.test(c));
    expect(forgetful.length).toBe(commands.length - 1);
    const cluster = new Cluster('argocd');
    runDrill(forgetful, variablesFor(staging), cluster);
    expect(cluster.get(staging.namespace, 'CronJob', 'postgres-backup').spec.suspend).toBe(true);
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
