/**
 * Argo CD delivery (constructs/platform/gitops.ts, dist/argocd/): Applications point at folders that
 * exist, the AppProject allows exactly our repository, namespaces and cluster-scoped kinds,
 * and each environment's sync policy is what its data says (prod: automated, inside windows).
 */
import { Testing } from 'cdk8s';
import { GitopsChart, goDuration } from '../../constructs/platform/gitops';
import { ConfigError, loadEnvironment } from '../../environments/load';
import { gitopsRepository as repo } from '../../environments/shared/gitops';
import { buildApp } from '../../main';
import { parseYaml, realEnvironments, realTree, testEnvironment, testEnvironmentInput } from '../support/synth';

const envs = realEnvironments();
const tree = realTree();
const docsIn = (folder: string) =>
  [...tree.entries()]
    .filter(([f]) => f.startsWith(`${folder}/`) && f.split('/').length === 2 && f.endsWith('.yaml') && !f.endsWith('/kustomization.yaml'))
    .map(([, text]) => parseYaml(text));
const argocd = docsIn('argocd');
const applications = argocd.filter((d) => d.kind === 'Application');
const app = (name: string) => applications.find((a) => a.metadata.name === name);
const project = argocd.find((d) => d.kind === 'AppProject' && d.metadata.name === repo.project);
const bootstrap = argocd.find((d) => d.kind === 'AppProject' && d.metadata.name === repo.bootstrapProject);
const folderOf = (a: any): string => a.spec.source.path.slice(`${repo.distPath}/`.length);
const envApps = applications.filter((a) => a.spec.project === repo.project);

describe('dist/argocd', () => {
  test('every Application points at a folder of the rendered tree that has a kustomization.yaml', () => {
    expect(applications.length).toBeGreaterThan(0);
    for (const a of applications) {
      expect(a.spec.source).toEqual({ repoURL: repo.repoURL, targetRevision: repo.targetRevision, path: expect.stringMatching(new RegExp(`^${repo.distPath}/`)) });
      expect({ app: a.metadata.name, kustomization: tree.has(`${folderOf(a)}/kustomization.yaml`) }).toEqual({ app: a.metadata.name, kustomization: true });
    }
  });

  test('each environment has one Application, named like its instance label, deploying dist/<env> into its namespace', () => {
    expect(envApps.map((a) => a.metadata.name).sort()).toEqual(envs.map((e) => `nextgen-${e.name}`).sort());
    for (const e of envs) {
      const a = app(`nextgen-${e.name}`);
      expect(a.metadata.namespace).toBe(repo.argocdNamespace);
      expect(a.spec.destination).toEqual({ server: repo.destinationServer, namespace: e.namespace });
      expect(folderOf(a)).toBe(e.name);
      // With label tracking, Argo CD sets this label to the Application name: they agree.
      const instances = new Set(docsIn(e.name).map((d) => d.metadata.labels?.['app.kubernetes.io/instance']));
      expect([...instances]).toEqual([a.metadata.name]);
    }
  });

  test('every applied folder is delivered: by an Application, or (cluster/) at bootstrap by hand', () => {
    const applied = [...tree.keys()].filter((f) => f.endsWith('/kustomization.yaml')).map((f) => f.split('/').slice(0, -1).join('/'));
    expect(applied.filter((f) => f !== 'cluster').sort()).toEqual(applications.map(folderOf).sort());
  });

  test('the root app-of-apps syncs dist/argocd itself, in a project limited to Argo CD objects in the argocd namespace', () => {
    const root = applications.filter((a) => folderOf(a) === 'argocd');
    expect(root.map((a) => a.spec.project)).toEqual([repo.bootstrapProject]);
    expect(root[0].spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(bootstrap.spec.destinations).toEqual([{ server: repo.destinationServer, namespace: repo.argocdNamespace }]);
    expect(bootstrap.spec.clusterResourceWhitelist).toEqual([]);
    const allowed = bootstrap.spec.namespaceResourceWhitelist.map((k: any) => `${k.group}/${k.kind}`);
    for (const d of argocd) {
      expect(allowed).toContain(`${d.apiVersion.split('/')[0]}/${d.kind}`);
      expect(d.metadata.namespace).toBe(repo.argocdNamespace);
    }
  });

  test('AppProjects are applied before the Applications that use them', () => {
    const wave = (d: any) => Number(d.metadata.annotations['argocd.argoproj.io/sync-wave']);
    const projects = argocd.filter((d) => d.kind === 'AppProject').map(wave);
    expect(Math.max(...projects)).toBeLessThan(Math.min(...applications.map(wave)));
  });
});

describe('AppProject nextgen-marketplace', () => {
  test('allows only our repository as a source', () => {
    expect(project.spec.sourceRepos).toEqual([repo.repoURL]);
    expect(bootstrap.spec.sourceRepos).toEqual([repo.repoURL]);
  });

  test('destinations are exactly the environment namespaces on the in-cluster server', () => {
    expect(project.spec.destinations).toEqual(
      envs.map((e) => e.namespace).sort().map((namespace) => ({ server: repo.destinationServer, namespace })),
    );
  });

  test('the cluster-scoped whitelist is exactly the cluster-scoped kinds the environment folders contain', () => {
    const present = new Map<string, { group: string; kind: string }>();
    for (const a of envApps) {
      for (const d of docsIn(folderOf(a)).filter((x) => !x.metadata.namespace)) {
        const group = d.apiVersion.includes('/') ? d.apiVersion.split('/')[0] : '';
        present.set(`${group}/${d.kind}`, { group, kind: d.kind });
      }
    }
    const expected = [...present.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
    expect(project.spec.clusterResourceWhitelist).toEqual(expected);
  });
});

describe('sync policy', () => {
  test('every Application applies server-side, prunes last, and creates no namespace a folder brings itself', () => {
    for (const a of applications) {
      const opts: string[] = a.spec.syncPolicy.syncOptions;
      expect(opts).toEqual(expect.arrayContaining(['ServerSideApply=true', 'PruneLast=true']));
      const ownsNamespace = docsIn(folderOf(a)).some((d) => d.kind === 'Namespace' && d.metadata.name === a.spec.destination.namespace);
      expect(opts).toContain(`CreateNamespace=${!ownsNamespace && folderOf(a) !== 'argocd'}`);
    }
  });

  test('each environment folder brings its own Namespace (so CreateNamespace=false)', () => {
    for (const e of envs) expect(app(`nextgen-${e.name}`).spec.syncPolicy.syncOptions).toContain('CreateNamespace=false');
  });

  test.each(['dev', 'staging'])('%s syncs automatically with prune and selfHeal, at any time', (name) => {
    expect(app(`nextgen-${name}`).spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect((project.spec.syncWindows ?? []).filter((w: any) => w.applications.includes(`nextgen-${name}`))).toEqual([]);
  });

  test('prod syncs automatically only inside its weekday window; a manual Sync works outside it', () => {
    expect(app('nextgen-prod').spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(project.spec.syncWindows.filter((w: any) => w.applications.includes('nextgen-prod'))).toEqual([
      { kind: 'allow', schedule: '0 8 * * 1-5', duration: '10h', timeZone: 'UTC', applications: ['nextgen-prod'], manualSync: true },
    ]);
  });

  test('each environment has exactly the windows its data declares', () => {
    for (const e of envs) {
      const windows = (project.spec.syncWindows ?? []).filter((w: any) => w.applications.includes(`nextgen-${e.name}`));
      expect(windows.map((w: any) => [w.schedule, w.duration])).toEqual(e.gitops.syncWindows.map((w) => [w.schedule, goDuration(w.durationMinutes)]));
    }
  });
});

describe('GitopsChart', () => {
  const chartFor = (overrides: Parameters<typeof testEnvironment>[0]) => {
    const built = buildApp([testEnvironment(overrides)]);
    return Testing.synth(built.gitops).find((d) => d.kind === 'Application' && d.metadata.name === 'nextgen-test');
  };

  test('gitops.automated: false leaves the environment to a manual Sync (no automated block)', () => {
    expect(chartFor({ gitops: { automated: false } }).spec.syncPolicy.automated).toBeUndefined();
    expect(chartFor({ gitops: { automated: true } }).spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
  });

  test('window durations are Go durations', () => {
    expect([45, 60, 90, 600].map(goDuration)).toEqual(['45m', '1h', '1h30m', '10h']);
  });

  test('a sync window schedule that is not cron is rejected at load time, naming the field', () => {
    const input = testEnvironmentInput({ gitops: { syncWindows: [{ schedule: 'weekdays at 8', durationMinutes: 60 }] } });
    expect(() => loadEnvironment('environments/test.ts', input)).toThrow(ConfigError);
    try {
      loadEnvironment('environments/test.ts', input);
    } catch (e) {
      expect((e as ConfigError).lines).toEqual([expect.stringMatching(/^environments\/test\.ts: gitops\.syncWindows\[0\]\.schedule = "weekdays at 8": allowed: a five-field cron/)]);
    }
  });

  test('a folder that is not applied cannot become an Application', () => {
    const built = buildApp([testEnvironment()]);
    const unapplied = Object.assign(Object.create(Object.getPrototypeOf(built.environments[0])), built.environments[0], { applied: false });
    expect(() => new GitopsChart(Testing.app(), { repository: repo, targets: [{ chart: unapplied, policy: built.environments[0].env.gitops }] })).toThrow(
      "gitops: folder 'test' is not applied (no kustomization.yaml); Argo CD cannot deploy it",
    );
  });
});
