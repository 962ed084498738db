/**
 * A small model of the Argo CD behaviour the runbooks depend on, run against what we generate
 * (the Applications of dist/argocd, the root app-of-apps included, and the objects of
 * dist/<env>):
 *
 * - an Application with `automated.selfHeal` re-syncs whenever a live object differs from git
 *   in a field git sets (server-side apply: fields git leaves out are not compared);
 * - the root app-of-apps manages the Application objects themselves, so it reverts an
 *   `argocd app set` on an environment's Application;
 * - `ignoreDifferences` hides a field's drift, and with `RespectIgnoreDifferences=true` a sync
 *   (automated, manual or forced) leaves that field of an existing object alone;
 * - label tracking: a live object with `app.kubernetes.io/instance: <app>` that is not in git
 *   is extraneous: it turns the Application OutOfSync unless `compare-options:
 *   IgnoreExtraneous`, and a sync with prune deletes it unless `sync-options: Prune=false`;
 * - an HPA leaves a Deployment scaled to 0 alone; hooks are not tracked.
 *
 * Git is a map of files (dist/ as rendered); `commit()` replaces it, as a merged change would.
 */
import { parseYaml } from './synth';

export const INSTANCE = 'app.kubernetes.io/instance';
export const clone = <T>(x: T): T => (x === undefined ? x : JSON.parse(JSON.stringify(x)));
export const key = (o: any) => `${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`;
const isHook = (o: any) => Boolean(o.metadata.annotations?.['argocd.argoproj.io/hook']);
export const annotation = (o: any, k: string) => String(o.metadata.annotations?.[k] ?? '');

/** Does `live` differ from `desired` in a field `desired` sets? */
export function drifted(live: any, desired: any): boolean {
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired)) return JSON.stringify(live) !== JSON.stringify(desired);
  if (live === null || typeof live !== 'object') return true;
  return Object.keys(desired).some((k) => drifted(live[k], desired[k]));
}
/** Server-side apply of `desired`'s fields onto `live`. */
export function apply(live: any, desired: any): any {
  if (desired === null || typeof desired !== 'object' || Array.isArray(desired) || live === null || typeof live !== 'object') return clone(desired);
  const out = { ...live };
  for (const k of Object.keys(desired)) out[k] = apply(live[k], desired[k]);
  return out;
}

/** `desired` without the fields at `pointers` (JSON pointers such as `/spec/replicas`). */
function without(desired: any, pointers: string[]): any {
  const out = clone(desired);
  for (const p of pointers) {
    const parts = p.split('/').slice(1);
    let at = out;
    for (const part of parts.slice(0, -1)) at = at?.[part];
    if (at && typeof at === 'object') delete at[parts[parts.length - 1]];
  }
  return out;
}

export class GitopsModel {
  readonly objects = new Map<string, any>();
  readonly log: string[] = [];
  private git: Map<string, string>;
  private readonly parsed = new Map<string, any[]>();

  constructor(tree: Map<string, string>, readonly argocdNamespace = 'argocd') {
    this.git = tree;
    for (const o of this.gitObjects('argocd')) this.objects.set(key(o), clone(o));
    for (const app of this.applications()) this.syncNow(app.metadata.name, { prune: true });
  }

  /** A merged commit: git now renders `tree`. */
  commit(tree: Map<string, string>): void {
    this.git = tree;
    this.parsed.clear();
  }

  file(path: string): string | undefined {
    return this.git.get(path);
  }

  /** The objects of one folder (not its subfolders), as git has them. */
  gitObjects(folder: string): any[] {
    if (!this.parsed.has(folder)) {
      this.parsed.set(
        folder,
        [...this.git.entries()]
          .filter(([f]) => f.startsWith(`${folder}/`) && !f.slice(folder.length + 1).includes('/') && f.endsWith('.yaml') && !f.endsWith('/kustomization.yaml'))
          .map(([, text]) => parseYaml(text)),
      );
    }
    return this.parsed.get(folder)!;
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
    return this.gitObjects(folder).filter((o) => !isHook(o));
  }
  /** JSON pointers the Application ignores on `o`. */
  private ignored(app: any, o: any): string[] {
    return (app.spec.ignoreDifferences ?? [])
      .filter((d: any) => d.kind === o.kind && (d.name === undefined || d.name === o.metadata.name) && (d.namespace === undefined || d.namespace === o.metadata.namespace))
      .flatMap((d: any) => d.jsonPointers ?? []);
  }
  private respectsIgnored(app: any): boolean {
    return (app.spec.syncPolicy?.syncOptions ?? []).includes('RespectIgnoreDifferences=true');
  }
  /** Live objects Argo CD tracks for the app (label tracking) that git does not have. */
  private extraneous(app: any): any[] {
    const wanted = new Set(this.desiredOf(app).map(key));
    return [...this.objects.values()].filter((o) => o.metadata.labels?.[INSTANCE] === app.metadata.name && !wanted.has(key(o)) && !o.metadata.ownerReferences);
  }
  outOfSync(app: any): boolean {
    const drift = this.desiredOf(app).some((d) => {
      const live = this.objects.get(key(d));
      return !live || drifted(live, without(d, this.ignored(app, d)));
    });
    const extra = this.extraneous(app).some((o) => !annotation(o, 'argocd.argoproj.io/compare-options').includes('IgnoreExtraneous'));
    return drift || extra;
  }
  syncNow(name: string, opts: { prune: boolean }): void {
    const app = this.app(name);
    for (const d of this.desiredOf(app)) {
      const live = this.objects.get(key(d));
      const desired = live && this.respectsIgnored(app) ? without(d, this.ignored(app, d)) : d;
      this.objects.set(key(d), live ? apply(live, desired) : clone(d));
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
