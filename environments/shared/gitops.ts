/**
 * Where Argo CD finds the rendered manifests, shared by every environment. Per-environment
 * delivery choices (automated sync, sync windows) live in each environment's `gitops` section.
 */
export interface GitopsRepository {
  /** Git repository Argo CD pulls from; the AppProject allows no other source. */
  readonly repoURL: string;
  /** Branch (or tag) Argo CD follows. */
  readonly targetRevision: string;
  /** Folder of the rendered tree inside the repository; Applications point at `<distPath>/<folder>`. */
  readonly distPath: string;
  /** Namespace Argo CD runs in: Applications and AppProjects must live there. */
  readonly argocdNamespace: string;
  /** Cluster the environments are deployed to (Argo CD's name for the cluster it runs in). */
  readonly destinationServer: string;
  /** AppProject of the environment Applications. */
  readonly project: string;
  /** AppProject of the root app-of-apps, which may only manage Argo CD objects in `argocdNamespace`. */
  readonly bootstrapProject: string;
}

export const gitopsRepository: GitopsRepository = {
  repoURL: 'https://git.example.com/nextgen/marketplace-manifests.git',
  targetRevision: 'main',
  distPath: 'dist',
  argocdNamespace: 'argocd',
  destinationServer: 'https://kubernetes.default.svc',
  project: 'nextgen-marketplace',
  bootstrapProject: 'nextgen-bootstrap',
};
