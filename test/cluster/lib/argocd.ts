/**
 * Argo CD for real on the simulated cluster: its repo server and application controller (one
 * binary, `ARGOCD_BINARY_NAME` selects the component, as in its image), Debian's redis-server,
 * and this repository's committed HEAD served by `git daemon` on loopback. The cluster is
 * bootstrapped exactly as docs/operations.md tells an operator (`kubectl apply --server-side -k
 * dist/cluster`, then `-k dist/argocd`); the only difference from production, made in a commit
 * of the served copy and named here: the Applications' and AppProjects' `repoURL` points at the
 * local git daemon instead of the real remote.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import type { ArgoBinaries } from './binaries';
import { ROOT } from './binaries';
import { SimCluster, freePort } from './cluster';
import { HOOK, Manifest, readFolder, refOf, snapshot, waveOf } from './sync';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ArgoRig {
  readonly repoUrl: string;
  /** A work clone of the served repository: commit and push here to make a new revision. */
  readonly work: string;
  commit(message: string, edit: (work: string) => void): string;
}

function git(cwd: string, ...args: string[]): string {
  const r = cp.spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'sim', GIT_AUTHOR_EMAIL: 'sim@example.com', GIT_COMMITTER_NAME: 'sim', GIT_COMMITTER_EMAIL: 'sim@example.com' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Start git daemon, redis, the repo server and the application controller; install Argo CD's settings. */
export async function startArgo(cluster: SimCluster, bins: ArgoBinaries, opts: { originalRepoUrl: string; branch: string }): Promise<ArgoRig> {
  const dir = path.join(cluster.dir, 'argocd');
  const served = path.join(dir, 'served');
  fs.mkdirSync(served, { recursive: true });
  // The committed HEAD (never the work tree), as a bare repository with the branch Argo CD follows.
  const bare = path.join(served, 'marketplace-manifests.git');
  git(dir, 'clone', '--quiet', '--bare', '--no-local', ROOT, bare);
  const head = git(ROOT, 'rev-parse', 'HEAD');
  git(bare, 'update-ref', `refs/heads/${opts.branch}`, head);
  git(bare, 'symbolic-ref', 'HEAD', `refs/heads/${opts.branch}`);
  const gitPort = await freePort();
  cluster.startProcess('git-daemon', 'git', ['daemon', '--reuseaddr', '--export-all', '--enable=receive-pack', `--base-path=${served}`, '--listen=127.0.0.1', `--port=${gitPort}`, served]);
  const repoUrl = `git://127.0.0.1:${gitPort}/marketplace-manifests.git`;
  const work = path.join(dir, 'work');
  await cluster.waitFor('git daemon', 20_000, () => cp.spawnSync('git', ['ls-remote', repoUrl], { encoding: 'utf8' }).status === 0);
  git(dir, 'clone', '--quiet', repoUrl, work);
  git(work, 'checkout', '--quiet', opts.branch);
  const commit = (message: string, edit: (w: string) => void) => {
    edit(work);
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '-m', message);
    git(work, 'push', '--quiet', 'origin', `HEAD:${opts.branch}`);
    return git(work, 'rev-parse', 'HEAD');
  };
  commit('simulated cluster: repoURL points at the local git daemon', (w) => {
    const argo = path.join(w, 'dist', 'argocd');
    for (const f of fs.readdirSync(argo).filter((x) => x.endsWith('.yaml'))) {
      const p = path.join(argo, f);
      fs.writeFileSync(p, fs.readFileSync(p, 'utf8').split(opts.originalRepoUrl).join(repoUrl));
    }
  });

  // The application controller talks to its own cluster (`https://kubernetes.default.svc`)
  // through the in-cluster configuration, as in a pod: the service-account files at their fixed
  // path and KUBERNETES_SERVICE_HOST/PORT. They are laid on a tmpfs over /run inside this
  // scenario's private mount namespace (runScenario with mount isolation), never on the machine.
  // `unshare` execs the driver, so its parent (the test runner) is outside the namespaces.
  if (fs.readlinkSync('/proc/self/ns/mnt') === fs.readlinkSync(`/proc/${process.ppid}/ns/mnt`)) {
    throw new Error('refusing to mount: the Argo CD scenario must run in a private mount namespace (unshare --mount)');
  }
  const mounted = cp.spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=755', 'sim-run', '/run'], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mount tmpfs on /run: ${mounted.stderr}`);
  const sa = '/run/secrets/kubernetes.io/serviceaccount';
  fs.mkdirSync(sa, { recursive: true });
  fs.writeFileSync(path.join(sa, 'token'), cluster.token);
  fs.copyFileSync(path.join(cluster.dir, 'pki', 'ca.crt'), path.join(sa, 'ca.crt'));
  fs.writeFileSync(path.join(sa, 'namespace'), 'argocd');

  const redisPort = await freePort();
  cluster.startProcess('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']);
  // The repo server runs git, kustomize and (when GPG is on) git-verify-wrapper.sh, as in its image.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(bins.kustomize, path.join(bin, 'kustomize'));
  // What the wrapper does in Argo CD's image: report a commit's (or tag's) signature; an
  // unsigned revision is not an error (exit 0 with git's message); anything else is.
  fs.writeFileSync(
    path.join(bin, 'git-verify-wrapper.sh'),
    [
      '#!/bin/sh',
      '[ -n "$1" ] || { echo "usage: git-verify-wrapper.sh <revision>" >&2; exit 1; }',
      'if git describe --exact-match "$1" >/dev/null 2>&1; then out=$(git verify-tag "$1" 2>&1); else out=$(git verify-commit "$1" 2>&1); fi',
      'ret=$?',
      'case $ret in 0|1) echo "$out"; exit 0;; *) echo "$out" >&2; exit $ret;; esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: dir, TMPDIR: dir, ARGOCD_GPG_ENABLED: 'false', KUBECONFIG: cluster.kubeconfig, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(cluster.apiPort) };

  // Argo CD's own settings, as its install manifests create them. What we change, for a test that
  // waits seconds rather than minutes: a 10 s reconciliation and a 5 s cache of which commit a
  // branch points at (production learns of new commits from a webhook instead).
  const secretKey = cp.spawnSync('openssl', ['rand', '-base64', '32'], { encoding: 'utf8' }).stdout.trim();
  cluster.must(
    ['apply', '--server-side', '-f', '-'],
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'argocd' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cm', namespace: 'argocd', labels: { 'app.kubernetes.io/part-of': 'argocd', 'app.kubernetes.io/name': 'argocd-cm' } }, data: { 'timeout.reconciliation': '10s' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-rbac-cm', namespace: 'argocd', labels: { 'app.kubernetes.io/part-of': 'argocd', 'app.kubernetes.io/name': 'argocd-rbac-cm' } } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cmd-params-cm', namespace: 'argocd', labels: { 'app.kubernetes.io/part-of': 'argocd', 'app.kubernetes.io/name': 'argocd-cmd-params-cm' } } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'argocd-secret', namespace: 'argocd', labels: { 'app.kubernetes.io/part-of': 'argocd', 'app.kubernetes.io/name': 'argocd-secret' } }, stringData: { 'server.secretkey': secretKey } },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
  const repoPort = await freePort();
  const spawnArgo = (name: string, args: string[]) => cluster.startProcess(name, '/usr/bin/env', [...Object.entries(env).filter(([k]) => /^(PATH|HOME|TMPDIR|ARGOCD_GPG_ENABLED|KUBECONFIG|KUBERNETES_SERVICE_HOST|KUBERNETES_SERVICE_PORT)$/.test(k)).map(([k, v]) => `${k}=${v}`), `ARGOCD_BINARY_NAME=${name}`, bins.argocd, ...args]);
  // No TLS on loopback inside the cluster's own network namespace; no mTLS client CA either.
  spawnArgo('argocd-repo-server', ['--address=127.0.0.1', `--port=${repoPort}`, '--disable-tls', '--client-ca-path=', '--revision-cache-expiration=5s', `--redis=127.0.0.1:${redisPort}`, '--metrics-address=127.0.0.1', `--metrics-port=${await freePort()}`, '--loglevel=warn']);
  spawnArgo('argocd-application-controller', [
    `--kubeconfig=${cluster.kubeconfig}`,
    '--namespace=argocd',
    `--repo-server=127.0.0.1:${repoPort}`,
    '--repo-server-plaintext',
    `--redis=127.0.0.1:${redisPort}`,
    `--metrics-port=${await freePort()}`,
    '--app-resync=10',
    '--loglevel=warn',
  ]);
  await sleep(2000);
  return { repoUrl, work, commit };
}

export interface AppStatus {
  readonly name: string;
  readonly sync: string;
  readonly health: string;
  readonly revision?: string;
  readonly operationPhase?: string;
  readonly message?: string;
}

export function applications(cluster: SimCluster): AppStatus[] {
  const list = cluster.getJson(['-n', 'argocd', 'get', 'applications.argoproj.io']);
  return list.items.map((a: any) => ({
    name: a.metadata.name,
    sync: a.status?.sync?.status ?? 'Unknown',
    health: a.status?.health?.status ?? 'Unknown',
    revision: a.status?.sync?.revision,
    operationPhase: a.status?.operationState?.phase,
    message: [a.status?.operationState?.message, ...(a.status?.conditions ?? []).map((c: any) => `${c.type}: ${c.message}`)].filter(Boolean).join(' | ').slice(0, 500),
  }));
}

/**
 * Whether the sync applied our objects in wave order: every object of a wave was created no
 * later than any object of the next wave (creation times are whole seconds), read from the
 * live objects the sync created.
 */
export function waveOrderViolations(cluster: SimCluster, folder: string): string[] {
  const objects = readFolder(folder).filter((m) => !m.metadata.annotations?.[HOOK]);
  const snap = snapshot(cluster, objects);
  const created = (m: Manifest) => Date.parse(snap.get(refOf(m))?.metadata.creationTimestamp ?? '');
  const waves = [...new Set(objects.map(waveOf))].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 1; i < waves.length; i++) {
    const before = objects.filter((m) => waveOf(m) === waves[i - 1]);
    const after = objects.filter((m) => waveOf(m) === waves[i]);
    const lastBefore = Math.max(...before.map(created));
    for (const m of after) if (created(m) < lastBefore) out.push(`${refOf(m)} (wave ${waves[i]}) created before wave ${waves[i - 1]} finished`);
  }
  return out;
}

/** Sync windows of an AppProject that allow automated syncs now (cron evaluated in UTC). */
export function projectWindows(folder: string): Array<{ schedule: string; duration: string; kind: string; applications: string[]; manualSync?: boolean }> {
  const projects = readFolder(folder).filter((m) => m.kind === 'AppProject');
  return projects.flatMap((p) => (p.spec.syncWindows ?? []) as any[]);
}

export function readYaml(file: string): any {
  return parse(fs.readFileSync(file, 'utf8'));
}
