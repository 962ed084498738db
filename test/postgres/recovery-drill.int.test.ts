/**
 * The failover and point-in-time restore runbooks of docs/operations.md, run command by
 * command against what we generate (the Applications of dist/argocd with the root
 * app-of-apps, self-heal and prune as shipped; the objects of dist/<env> and the runbook
 * objects of dist/<env>/runbooks), with the Argo CD model of test/support/argocd-model.ts and
 * a model of the two servers (which one is a writable primary, which one runs).
 *
 * After every command the controllers reconcile, and then two forced syncs (with prune) of
 * the root and of the environment Application run, as an operator might press Sync by mistake.
 * After each of those: a fenced primary that was not rebuilt never runs, at most one writable
 * primary runs, once switched the `postgres` Service selects exactly the one writable primary,
 * and no runbook object or restored claim was pruned.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderCharts } from '../../constructs/lib/output';
import type { Environment } from '../../environments/schema';
import { loadEnvironment } from '../../environments/load';
import { buildApp } from '../../main';
import { GitopsModel, clone, key } from '../support/argocd-model';
import { ROOT, parseYaml, realEnvironments, testEnvironmentInput } from '../support/synth';

const envs = realEnvironments();
const render = (list: Environment[]) => renderCharts(buildApp(list).charts);
const tree = render(envs);

/** The tree after `postgres.standby.promoted` was flipped in environments/<env>.ts. */
function flipped(env: string): Map<string, string> {
  return render(envs.map((e) => (e.name === env ? { ...e, postgres: { ...e.postgres, standby: { ...e.postgres.standby, promoted: !e.postgres.standby.promoted } } } : e)));
}

const ops = fs.readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
function block(title: string): string[] {
  const start = ops.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`docs/operations.md has no section '${title}'`);
  const section = ops.slice(start, ops.indexOf('\n## ', start + 1));
  return /```bash\n([\s\S]*?)```/.exec(section)![1].split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

interface Server {
  /** StatefulSet name. */
  readonly name: string;
  role: 'primary' | 'standby' | 'fenced' | 'stale';
}

class Drill {
  readonly servers: Record<string, Server>;
  readonly violations: string[] = [];
  switched = false;
  readonly created = new Set<string>();
  readonly ns: string;

  constructor(readonly model: GitopsModel, readonly e: Environment) {
    this.ns = e.namespace;
    const promoted = e.postgres.standby.promoted;
    this.servers = {
      postgres: { name: 'postgres', role: promoted ? 'standby' : 'primary' },
      'postgres-standby': { name: 'postgres-standby', role: promoted ? 'primary' : 'standby' },
    };
  }
  running(s: Server): boolean {
    return (this.model.get(this.ns, 'StatefulSet', s.name)?.spec.replicas ?? 0) > 0;
  }
  /** StatefulSets whose pods a Service selects. */
  selected(service: string): Server[] {
    const sel = this.model.get(this.ns, 'Service', service).spec.selector;
    return Object.values(this.servers).filter((s) => {
      const labels = this.model.get(this.ns, 'StatefulSet', s.name)?.spec.template.metadata.labels ?? {};
      return Object.entries(sel).every(([k, v]) => labels[k] === v);
    });
  }
  check(when: string): void {
    const v = (m: string) => this.violations.push(`${when}: ${m}`);
    for (const s of Object.values(this.servers)) if ((s.role === 'fenced' || s.role === 'stale') && this.running(s)) v(`${s.name} (${s.role}) runs and may accept writes`);
    const writable = Object.values(this.servers).filter((s) => s.role === 'primary' && this.running(s));
    if (writable.length > 1) v(`two writable primaries: ${writable.map((s) => s.name)}`);
    if (this.switched) {
      const rw = this.selected('postgres');
      if (rw.length !== 1 || rw[0].role !== 'primary') v(`Service postgres selects ${rw.map((s) => `${s.name} (${s.role})`).join(', ') || 'nothing'}`);
    }
    for (const k of this.created) if (!this.model.objects.has(k)) v(`${k} was deleted`);
    for (const l of this.model.log.filter((x) => x.includes(' pruned '))) v(l);
  }
  /** The controllers run, then two forced syncs with prune; check after each. */
  settle(step: string): void {
    this.model.reconcile();
    this.check(step);
    const env = `nextgen-${this.e.name}`;
    for (const i of [1, 2]) {
      this.model.syncNow('nextgen-argocd', { prune: true });
      this.model.syncNow(env, { prune: true });
      this.model.reconcile();
      this.check(`${step} + forced sync ${i}`);
    }
  }
  create(o: any): void {
    if (this.model.objects.has(key(o))) throw new Error(`${key(o)}: AlreadyExists`);
    this.model.objects.set(key(o), clone(o));
    this.created.add(key(o));
  }
  file(p: string): any {
    const text = this.model.file(p.replace(/^dist\//, ''));
    if (!text) throw new Error(`no such file in dist/: ${p}`);
    return parseYaml(text);
  }
  /** What a Job does when it completes; it refuses what the real script refuses. */
  complete(job: string): void {
    const live = this.model.get(this.ns, 'Job', job);
    if (!live) throw new Error(`job/${job} does not exist (pruned?)`);
    const [current, next] = this.servers.postgres.role === 'primary' || this.servers.postgres.role === 'fenced'
      ? [this.servers.postgres, this.servers['postgres-standby']]
      : [this.servers['postgres-standby'], this.servers.postgres];
    if (job === 'postgres-promote') {
      if (next.role !== 'standby' || !this.running(next)) throw new Error('promote: no running standby behind postgres-ro');
      if (current.role === 'primary') current.role = 'fenced';
      next.role = 'primary';
    } else if (job === 'postgres-switch') {
      // The patches exactly as the Job's containers apply them.
      const spec = live.spec.template.spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const svc = c.command[3];
        const patch = JSON.parse(c.command.find((a: string) => a.startsWith('--patch=')).slice('--patch='.length));
        const o = this.model.get(this.ns, 'Service', svc);
        o.spec.selector = patch.spec.selector;
      }
      this.switched = true;
    } else if (job === 'postgres-rebuild') {
      const claim = live.spec.template.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName;
      const target = Object.values(this.servers).find((s) => claim === `data-${s.name}-0`)!;
      if (this.running(target)) throw new Error(`rebuild: ${target.name} still runs (standby.sh refuses a data directory in use)`);
      if (target.role === 'primary') throw new Error(`rebuild: ${target.name} is the primary`);
      target.role = 'standby';
    } else if (job === 'postgres-pitr') {
      if (this.running(this.servers.postgres)) throw new Error('pitr: postgres still runs');
      this.servers.postgres.role = 'primary';
      // The standby followed the old timeline: it must be rebuilt before it runs again.
      this.servers['postgres-standby'].role = 'stale';
      this.switched = true;
    } else if (job === 'postgres-verify') {
      const rw = this.selected('postgres');
      if (rw.length !== 1 || rw[0].role !== 'primary' || !this.running(rw[0])) throw new Error('verify: postgres does not reach one running writable primary');
    } else throw new Error(`the drill model does not know job ${job}`);
  }

  run(cmds: string[], vars: Record<string, string>): void {
    const ns = this.ns;
    const sub = (c: string) => c.replace(/\$([A-Z_]+)/g, (_m, v) => {
      if (!(v in vars)) throw new Error(`unknown variable $${v} in: ${c}`);
      return vars[v];
    });
    for (const raw of cmds) {
      const c = sub(raw);
      let m: RegExpExecArray | null;
      if ((m = /^argocd app set (\S+) --sync-policy none$/.exec(c))) delete this.model.app(m[1]).spec.syncPolicy.automated;
      else if ((m = /^argocd app set (\S+) --sync-policy automated((?: --auto-prune| --self-heal)*)$/.exec(c))) {
        this.model.app(m[1]).spec.syncPolicy.automated = { prune: m[2].includes('--auto-prune'), selfHeal: m[2].includes('--self-heal') };
      } else if ((m = /^argocd app sync (\S+)$/.exec(c))) this.model.syncNow(m[1], { prune: false });
      else if ((m = new RegExp(`^kubectl -n ${ns} scale (statefulset|deploy)/(\\S+) --replicas=(\\d+)$`).exec(c))) {
        const o = this.model.get(ns, m[1] === 'deploy' ? 'Deployment' : 'StatefulSet', m[2]);
        if (!o) throw new Error(`${c}: not found`);
        o.spec.replicas = Number(m[3]);
        // A claim the StatefulSet needs is created from its template when it starts (a fresh, empty volume: the standby bootstraps).
        if (m[1] === 'statefulset' && Number(m[3]) > 0 && this.servers[m[2]]?.role === 'stale' && !this.model.objects.has(`${ns}/PersistentVolumeClaim/data-${m[2]}-0`)) {
          this.servers[m[2]].role = 'standby';
        }
      } else if ((m = new RegExp(`^kubectl -n ${ns} wait --for=delete pod/(\\S+)-0 .*$`).exec(c))) {
        if (this.running(this.servers[m[1]])) throw new Error(`${c}: never returns, ${m[1]} still has replicas`);
      } else if ((m = new RegExp(`^kubectl -n ${ns} delete job ((?:[a-z][a-z0-9-]* ?)+?)( --ignore-not-found)?$`).exec(c))) {
        for (const j of m[1].trim().split(' ')) {
          if (!this.model.get(ns, 'Job', j) && !m[2]) throw new Error(`${c}: job ${j} not found`);
          this.model.objects.delete(`${ns}/Job/${j}`);
          this.created.delete(`${ns}/Job/${j}`);
        }
      } else if ((m = new RegExp(`^kubectl -n ${ns} delete pvc (\\S+)$`).exec(c))) {
        this.model.objects.delete(`${ns}/PersistentVolumeClaim/${m[1]}`);
        this.created.delete(`${ns}/PersistentVolumeClaim/${m[1]}`);
      } else if ((m = /^kubectl create -f (dist\/\S+)$/.exec(c))) this.create(this.file(m[1]));
      else if ((m = /^kubectl set env --local -f (dist\/\S+) ([A-Z_]+)=(\S+) -o yaml \| kubectl create -f -$/.exec(c))) {
        const o = this.file(m[1]);
        for (const ctr of [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers]) {
          const env = ctr.env.find((x: any) => x.name === m![2]);
          if (env) env.value = m[3];
        }
        this.create(o);
      } else if ((m = /^kubectl apply --server-side((?: -f dist\/\S+)+)$/.exec(c))) {
        for (const f of m[1].trim().split(/\s*-f\s+/).filter(Boolean)) {
          const o = this.file(f);
          this.model.objects.set(key(o), clone(o));
          this.created.add(key(o));
        }
      } else if ((m = new RegExp(`^kubectl -n ${ns} wait --for=condition=complete job/(\\S+) .*$`).exec(c))) this.complete(m[1]);
      else if ((m = /^git commit -am "(\S+): postgres\.standby\.promoted = true.*"$/.exec(c))) this.model.commit(flipped(m[1]));
      else if (/^kubectl patch pv \$\(kubectl -n \S+ get pvc \S+ -o jsonpath='\{\.spec\.volumeName\}'\) -p '.*'$/.test(c)) {
        // the old disk is kept: nothing the model tracks
      } else if (new RegExp(`^kubectl -n ${ns} (logs|rollout status) `).test(c) || /^curl -fsS https:\/\/\S+\/api\/v3\/health$/.test(c)) {
        // reads only
      } else throw new Error(`the drill model does not know this command (teach it, or fix the docs): ${c}`);
      this.settle(c);
    }
  }
}

function variablesFor(e: Environment, header: Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {
    ENV: e.name,
    NS: e.namespace,
    RB: `dist/${e.name}/runbooks`,
    API_HOST: e.hosts.api,
    REPLICAS: String(e.api.autoscaling.enabled ? e.api.autoscaling.minReplicas : e.api.replicas),
  };
  return { ...header, ...vars };
}
const headerOf = (line: string) => Object.fromEntries(line.split(/\s+/).map((a) => a.split('=') as [string, string]));

const withStandby = envs.filter((e) => e.postgres.standby.enabled ?? e.tier === 'production');

describe('the failover runbook in docs/operations.md, under Argo CD as shipped', () => {
  const lines = block('Fail over to the standby');
  const header = headerOf(lines[0]);

  test('its first line holds prod\'s values', () => {
    const prod = variablesFor(envs.find((e) => e.name === 'prod')!, {});
    expect(Object.keys(header).length).toBeGreaterThan(2);
    for (const [k, v] of Object.entries(header)) expect([k, v]).toEqual([k, prod[k]]);
  });

  describe.each(withStandby.map((e) => [e.name, e] as const))('%s', (_n, e) => {
    let drill: Drill;
    beforeAll(() => {
      drill = new Drill(new GitopsModel(tree), e);
      drill.run(lines.slice(1), variablesFor(e, header));
    });

    test('after every step and two forced syncs: no fenced primary runs, one writable primary behind postgres, nothing pruned', () => {
      expect(drill.violations).toEqual([]);
    });

    test('at the end: the old primary is a running standby, git agrees, every Application is Synced and automated', () => {
      expect(drill.servers.postgres.role).toBe('standby');
      expect(drill.running(drill.servers.postgres)).toBe(true);
      expect(drill.selected('postgres').map((s) => s.name)).toEqual(['postgres-standby']);
      expect(drill.selected('postgres-ro').map((s) => s.name)).toEqual(['postgres']);
      for (const a of drill.model.applications()) {
        expect([a.metadata.name, drill.model.outOfSync(a)]).toEqual([a.metadata.name, false]);
        expect(a.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
      }
      expect(drill.model.get(e.namespace, 'Job', 'postgres-rebuild')).toBeUndefined();
    });
  });

  test('the check can fail: without the fields Argo CD leaves to the runbooks, a forced sync restarts the fenced primary and reverts the switch', () => {
    const e = withStandby[0];
    const model = new GitopsModel(tree);
    for (const a of model.applications()) {
      delete a.spec.ignoreDifferences;
      a.spec.syncPolicy.syncOptions = a.spec.syncPolicy.syncOptions.filter((o: string) => o !== 'RespectIgnoreDifferences=true');
    }
    // The root would restore them from git: model a root that ships the old Applications.
    const old = new Map(tree);
    for (const [f, text] of tree) {
      if (!f.startsWith('argocd/application-')) continue;
      const o = parseYaml(text);
      delete o.spec.ignoreDifferences;
      o.spec.syncPolicy.syncOptions = o.spec.syncPolicy.syncOptions.filter((x: string) => x !== 'RespectIgnoreDifferences=true');
      old.set(f, JSON.stringify(o));
    }
    model.commit(old);
    const drill = new Drill(model, e);
    let failure = '';
    try {
      drill.run(lines.slice(1), variablesFor(e, header));
    } catch (err) {
      failure = String(err);
    }
    expect([failure, ...drill.violations].join('\n')).toMatch(/postgres still has replicas|postgres \(fenced\) runs/);
  });

  test('the check can fail: the old order (resume Argo CD and start the old primary before the rebuild) lets the fenced primary run', () => {
    const e = withStandby[0];
    const i = lines.findIndex((l) => l.includes('job-postgres-rebuild.yaml'));
    const start = lines.findIndex((l) => l.startsWith('kubectl -n $NS scale statefulset/postgres --replicas=1'));
    const reordered = [...lines.slice(1, i), lines[start], ...lines.slice(i, start), ...lines.slice(start + 1)];
    const drill = new Drill(new GitopsModel(tree), e);
    expect(() => drill.run(reordered, variablesFor(e, header))).toThrow(/rebuild: postgres still runs/);
    expect(drill.violations.join('\n')).toMatch(/postgres \(fenced\) runs/);
  });
});

describe('the point-in-time restore runbook in docs/operations.md, under Argo CD as shipped', () => {
  const lines = block('Restore to a point in time');
  const header = headerOf(lines[0]);

  describe.each(withStandby.map((e) => [e.name, e] as const))('%s', (_n, e) => {
    let drill: Drill;
    beforeAll(() => {
      drill = new Drill(new GitopsModel(tree), e);
      drill.run(lines.slice(1), variablesFor(e, header));
    });

    test('after every step and two forced syncs: the stopped servers stay stopped, the fresh claim and the Jobs stay, one writable primary', () => {
      expect(drill.violations).toEqual([]);
    });

    test('at the end: the restored primary runs behind postgres, the standby was rebuilt, everything is Synced and automated', () => {
      expect(drill.servers.postgres.role).toBe('primary');
      expect(drill.servers['postgres-standby'].role).toBe('standby');
      expect(drill.running(drill.servers['postgres-standby'])).toBe(true);
      expect(drill.model.get(e.namespace, 'Deployment', 'postgres-wal-archive').spec.replicas).toBe(1);
      for (const a of drill.model.applications()) expect([a.metadata.name, drill.model.outOfSync(a)]).toEqual([a.metadata.name, false]);
    });
  });
});

describe('every object a runbook creates survives Argo CD', () => {
  const runbookFiles = [...tree.keys()].filter((f) => /^[^/]+\/runbooks\/[^/]+\.yaml$/.test(f));

  test('every object under dist/*/runbooks/ carries Prune=false and IgnoreExtraneous', () => {
    expect(runbookFiles.length).toBeGreaterThanOrEqual(10);
    const missing = runbookFiles.filter((f) => {
      const a = parseYaml(tree.get(f)!).metadata.annotations ?? {};
      return !String(a['argocd.argoproj.io/sync-options'] ?? '').includes('Prune=false') || !String(a['argocd.argoproj.io/compare-options'] ?? '').includes('IgnoreExtraneous');
    });
    expect(missing).toEqual([]);
  });

  test('every file the runbooks of docs/operations.md create or apply is one of them', () => {
    const used = [...ops.matchAll(/(?:kubectl (?:create|apply[^\n]*?)|--local) -f (\$RB|dist\/\$ENV\/runbooks|dist\/[a-z]+\/runbooks)\/([a-z0-9.-]+\.yaml)/g)].map((m) => m[2]);
    expect(used.length).toBeGreaterThan(5);
    for (const f of used) expect(runbookFiles.some((r) => r.endsWith(`/runbooks/${f}`))).toBe(true);
  });

  test('the environment Applications leave the fields the runbooks own to them, and a sync respects that', () => {
    const app = parseYaml(tree.get('argocd/application-nextgen-prod.yaml')!);
    expect(app.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
    const owned = app.spec.ignoreDifferences.map((d: any) => `${d.kind}/${d.name}${d.jsonPointers}`);
    expect(owned).toEqual(expect.arrayContaining(['CronJob/postgres-backup/spec/suspend', 'StatefulSet/postgres/spec/replicas', 'Service/postgres/spec/selector', 'Service/postgres-ro/spec/selector', 'Deployment/postgres-wal-archive/spec/replicas']));
  });
});

// The flip of `promoted` must be the only difference git sees after the failover: a test
// environment with it set renders the Services the switch Job applied.
test('an environment with promoted: true loads (the commit of step 7 is valid data)', () => {
  expect(() => loadEnvironment('environments/test.ts', testEnvironmentInput({ postgres: { standby: { promoted: true } } }))).not.toThrow();
});
