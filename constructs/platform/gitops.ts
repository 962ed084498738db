/**
 * Argo CD delivery (`dist/argocd/`): an app-of-apps.
 *
 * - AppProject `nextgen-marketplace`: only our repository, only the environment namespaces,
 *   only the cluster-scoped kinds the environment folders actually contain; the sync
 *   windows each environment declares (`gitops.syncWindows`).
 * - One Application per environment folder (`dist/<env>`), named like the folder's
 *   `app.kubernetes.io/instance` label (`nextgen-prod`), so Argo CD's label tracking, when
 *   enabled, writes the value we already set.
 * - The root Application `nextgen-argocd` syncs this folder itself (in the narrow
 *   AppProject `nextgen-bootstrap`), so adding an environment adds its Application through
 *   git, after one `kubectl apply -k dist/argocd` at bootstrap.
 *
 * Why app-of-apps and not an ApplicationSet: the environments are already data here, so the
 * Applications are rendered, typed and reviewed like every other resource (`npm run diff`
 * shows prod's sync policy change before it merges); an ApplicationSet would generate them in
 * the cluster from a template, hiding per-environment differences in template patches, and
 * its 1.4 MB CRD import buys nothing we need.
 *
 * The cluster folder (`dist/cluster/`: StorageClasses, ClusterIssuers) is not an Application:
 * it is shared by every environment and applied by an operator at bootstrap, so a commit to
 * this repository can never prune a StorageClass or an issuer through Argo CD.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/cluster-bootstrapping/
 */
import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import type { GitopsConfig } from '../../environments/schema';
import type { GitopsRepository } from '../../environments/shared/gitops';
import {
  AppProject,
  AppProjectSpecClusterResourceWhitelist,
  AppProjectSpecSyncWindows,
  Application,
  ApplicationSpecSyncPolicy,
} from '../../imports/argoproj.io';
import { CLUSTER_SCOPED, LABEL, PART_OF, Wave, declareIdentity } from '../lib/identity';
import type { OutputFolder } from '../lib/output';

/** A folder Argo CD deploys, and how. */
export interface GitopsTarget {
  /** An applied, namespaced chart: its folder becomes the Application's path. */
  readonly chart: Chart & OutputFolder;
  /** Automated sync and sync windows (the environment's `gitops` section). */
  readonly policy: GitopsConfig;
  /**
   * Fields a runbook changes on live objects and owns from then on (a fenced primary's
   * replicas, the Service switch's selectors). Argo CD never syncs them back, automated or
   * forced, so a fence or a switch survives every sync, even one the root app-of-apps
   * re-enabled mid-runbook; git still creates the objects with its values.
   * @default - none
   * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#respect-ignore-difference-configs
   */
  readonly operatorOwnedFields?: readonly OperatorOwnedField[];
}

/** One field of one object that a runbook owns once the object exists. */
export interface OperatorOwnedField {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  /** JSON pointer, e.g. `/spec/replicas`. */
  readonly jsonPointer: string;
}

export interface GitopsChartProps {
  readonly repository: GitopsRepository;
  readonly targets: readonly GitopsTarget[];
  /**
   * Sync options of every Application.
   * `CreateNamespace` is always added: `false` when the folder contains its own Namespace
   * (labels and Pod Security level included, wave first), `true` only as a fallback for a
   * folder without one.
   * @default - `ServerSideApply=true` (client-side apply keeps a copy of each object in an
   * annotation limited to 256 KiB, which dashboard ConfigMaps and large CRs grow toward) and
   * `PruneLast=true` (delete only after every wave is healthy).
   * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/
   */
  readonly syncOptions?: readonly string[];
}

export const DEFAULT_SYNC_OPTIONS = ['ServerSideApply=true', 'PruneLast=true'] as const;

/**
 * For objects an operator creates by hand in an environment's namespace (the restore runbook
 * Job). They carry the environment's `app.kubernetes.io/instance` label (their pods must match
 * the NetworkPolicies), so with label tracking Argo CD counts them as extra objects of the
 * environment's Application: `IgnoreExtraneous` keeps the Application Synced (no automated sync
 * is triggered by them) and `Prune=false` keeps any sync, automated or manual, from deleting
 * them mid-run. With annotation tracking they are not tracked at all; both hold either way.
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/compare-options/
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#no-prune-resources
 */
export const HAND_STARTED_ANNOTATIONS = {
  'argocd.argoproj.io/compare-options': 'IgnoreExtraneous',
  'argocd.argoproj.io/sync-options': 'Prune=false',
} as const;

/** Retries a failed sync (e.g. a CRD not yet established) for about five minutes. */
const RETRY = { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } };

/** Argo CD wants a Go duration: 600 -> `10h`, 90 -> `1h30m`. */
export function goDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${h ? `${h}h` : ''}${m || !h ? `${m}m` : ''}`;
}

/** `group` of an apiVersion (`''` for the core group). */
const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

export class GitopsChart extends Chart implements OutputFolder {
  readonly folder = 'argocd';
  readonly title = 'Argo CD delivery: AppProjects, one Application per environment folder, and the root app-of-apps';
  readonly applied = true;
  /** The project of the environment Applications. */
  readonly project: AppProject;
  /** Environment Applications by folder. */
  readonly applications = new Map<string, Application>();
  /** The root Application, which syncs this folder. */
  readonly root: Application;
  private readonly repo: GitopsRepository;
  private readonly syncOptions: string[];

  constructor(scope: Construct, props: GitopsChartProps) {
    const repo = props.repository;
    super(scope, 'argocd', {
      namespace: repo.argocdNamespace,
      labels: { [LABEL.partOf]: PART_OF, [LABEL.managedBy]: 'cdk8s', [LABEL.instance]: 'nextgen-argocd' },
    });
    declareIdentity(this, { name: 'nextgen-gitops', component: 'gitops', wave: Wave.PLATFORM });
    this.repo = repo;
    this.syncOptions = [...(props.syncOptions ?? DEFAULT_SYNC_OPTIONS)];

    for (const t of props.targets) {
      if (!t.chart.applied) throw new Error(`gitops: folder '${t.chart.folder}' is not applied (no kustomization.yaml); Argo CD cannot deploy it`);
      if (!t.chart.namespace) throw new Error(`gitops: folder '${t.chart.folder}' has no namespace; only namespaced folders get an Application`);
    }
    const targets = [...props.targets].sort((a, b) => a.chart.folder.localeCompare(b.chart.folder));

    // Projects first (guard rails): an Application is rejected until its project exists.
    this.project = new AppProject(this, 'Project', {
      metadata: { name: repo.project },
      spec: {
        description: 'The NextGen Marketplace environments: one namespace each, from the manifests repository only.',
        sourceRepos: [repo.repoURL],
        destinations: targets.map((t) => ({ server: repo.destinationServer, namespace: t.chart.namespace! })),
        clusterResourceWhitelist: clusterScopedKinds(targets.map((t) => t.chart)),
        syncWindows: targets.flatMap((t) => syncWindows(applicationName(t.chart), t.policy)),
      },
    });
    declareIdentity(this.project, { name: 'nextgen-gitops', component: 'gitops', wave: Wave.NAMESPACE });

    const bootstrap = new AppProject(this, 'BootstrapProject', {
      metadata: { name: repo.bootstrapProject },
      spec: {
        description: `The root app-of-apps: may only manage Argo CD Applications and AppProjects in '${repo.argocdNamespace}'.`,
        sourceRepos: [repo.repoURL],
        destinations: [{ server: repo.destinationServer, namespace: repo.argocdNamespace }],
        clusterResourceWhitelist: [],
        namespaceResourceWhitelist: [
          { group: 'argoproj.io', kind: 'AppProject' },
          { group: 'argoproj.io', kind: 'Application' },
        ],
      },
    });
    declareIdentity(bootstrap, { name: 'nextgen-gitops', component: 'gitops', wave: Wave.NAMESPACE });

    for (const t of targets) {
      this.applications.set(
        t.chart.folder,
        this.addApplication(applicationName(t.chart), {
          project: repo.project,
          folder: t.chart.folder,
          namespace: t.chart.namespace!,
          createNamespace: !containsNamespace(t.chart, t.chart.namespace!),
          policy: t.policy,
          operatorOwned: t.operatorOwnedFields ?? [],
        }),
      );
    }
    // The root is always automated: it only adds, changes or removes Applications. Deleting
    // an environment's Application orphans its resources (no cascade finalizer), it never
    // deletes a database.
    this.root = this.addApplication(applicationName(this), {
      project: repo.bootstrapProject,
      folder: this.folder,
      namespace: repo.argocdNamespace,
      createNamespace: false, // Argo CD runs there
      policy: { automated: true, syncWindows: [] },
    });
  }

  private addApplication(
    name: string,
    opts: { project: string; folder: string; namespace: string; createNamespace: boolean; policy: GitopsConfig; operatorOwned?: readonly OperatorOwnedField[] },
  ): Application {
    const owned = opts.operatorOwned ?? [];
    // Without `automated`, Argo CD shows the drift and waits for someone to press Sync.
    const syncPolicy: ApplicationSpecSyncPolicy = {
      automated: opts.policy.automated ? { prune: true, selfHeal: true } : undefined,
      // RespectIgnoreDifferences: a sync leaves the ignored fields of existing objects alone
      // (without it, ignoreDifferences only hides the drift and the next sync reverts it).
      syncOptions: [...this.syncOptions, `CreateNamespace=${opts.createNamespace}`, ...(owned.length ? ['RespectIgnoreDifferences=true'] : [])],
      retry: RETRY,
    };
    const ignoreDifferences = owned.length
      ? [...owned]
          .sort((a, b) => `${a.kind}/${a.name}${a.jsonPointer}`.localeCompare(`${b.kind}/${b.name}${b.jsonPointer}`))
          .map((f) => ({ group: f.group, kind: f.kind, name: f.name, namespace: opts.namespace, jsonPointers: [f.jsonPointer] }))
      : undefined;
    return new Application(this, `Application-${name}`, {
      metadata: { name },
      spec: {
        project: opts.project,
        source: { repoUrl: this.repo.repoURL, targetRevision: this.repo.targetRevision, path: `${this.repo.distPath}/${opts.folder}` },
        destination: { server: this.repo.destinationServer, namespace: opts.namespace },
        syncPolicy,
        ignoreDifferences,
        revisionHistoryLimit: 10,
      },
    });
  }
}

/** `nextgen-<folder>`: the chart's `app.kubernetes.io/instance` label. */
function applicationName(chart: Chart): string {
  const name = chart.labels[LABEL.instance];
  if (!name) throw new Error(`gitops: chart '${chart.node.id}' has no ${LABEL.instance} label to name its Application`);
  return name;
}

function containsNamespace(chart: Chart, name: string): boolean {
  return chart.node.findAll().some((c) => c instanceof ApiObject && c.kind === 'Namespace' && c.name === name);
}

/** The cluster-scoped kinds the charts contain, sorted: nothing else may be created cluster-wide. */
function clusterScopedKinds(charts: readonly Chart[]): AppProjectSpecClusterResourceWhitelist[] {
  const seen = new Map<string, AppProjectSpecClusterResourceWhitelist>();
  for (const chart of charts) {
    for (const c of chart.node.findAll()) {
      if (c instanceof ApiObject && CLUSTER_SCOPED.has(c.kind)) {
        const group = groupOf(c.apiVersion);
        seen.set(`${group}/${c.kind}`, { group, kind: c.kind });
      }
    }
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
}

/**
 * An environment's windows become `allow` windows for its Application: automated sync (and
 * self-heal) runs only inside them. `manualSync` keeps the Sync button working outside the
 * windows, for a hotfix someone is watching.
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync_windows/
 */
function syncWindows(application: string, policy: GitopsConfig): AppProjectSpecSyncWindows[] {
  return policy.syncWindows.map((w) => ({
    kind: 'allow',
    schedule: w.schedule,
    duration: goDuration(w.durationMinutes),
    timeZone: 'UTC',
    applications: [application],
    manualSync: true,
  }));
}
