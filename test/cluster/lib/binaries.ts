/**
 * Where the simulated cluster's programs are: built by `.ci/install` from the Go module proxy
 * at the versions of the version catalog (`versions.json`, read through `.ci/catalog.mjs`),
 * cached by version under Go's bin folder.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const GOBIN = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');

/** The catalog's CI versions as `.ci/install` sees them (NAME -> value: KUBERNETES_NEWEST, ETCD_VERSION, ...). */
export function pinnedVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const shell = cp.execFileSync(process.execPath, [path.join(ROOT, '.ci', 'catalog.mjs'), 'shell'], { encoding: 'utf8' });
  for (const line of shell.split('\n')) {
    const m = /^([A-Z_]+)='([^']*)'$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export interface ControlPlaneBinaries {
  readonly version: string;
  readonly apiserver: string;
  readonly controllerManager: string;
  readonly scheduler: string;
  readonly kubectl: string;
  readonly etcd: string;
  readonly kwok: string;
}

export interface ArgoBinaries {
  readonly version: string;
  /** The one Argo CD binary; `ARGOCD_BINARY_NAME` selects the component. */
  readonly argocd: string;
  readonly kustomize: string;
}

const executable = (p: string) => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Kubernetes server versions we prove, newest first. */
export function kubernetesVersions(): string[] {
  const v = pinnedVersions();
  return [v.KUBERNETES_NEWEST, v.KUBERNETES_OLDEST];
}

/** The binaries for one server version, or the list of what is missing. */
export function controlPlane(version: string): ControlPlaneBinaries | { missing: string[] } {
  const v = pinnedVersions();
  const k = path.join(GOBIN, 'kubernetes', version);
  const bins = {
    version,
    apiserver: path.join(k, 'kube-apiserver'),
    controllerManager: path.join(k, 'kube-controller-manager'),
    scheduler: path.join(k, 'kube-scheduler'),
    kubectl: path.join(k, 'kubectl'),
    etcd: path.join(GOBIN, 'etcd', v.ETCD_VERSION, 'etcd'),
    kwok: path.join(GOBIN, 'kwok'),
  };
  const missing = Object.entries(bins)
    .filter(([key, p]) => key !== 'version' && !executable(p))
    .map(([key]) => (key === 'etcd' ? `etcd ${v.ETCD_VERSION}` : key === 'kwok' ? 'kwok' : `${key} ${version}`));
  return missing.length ? { missing } : bins;
}

export function argo(): ArgoBinaries | { missing: string[] } {
  const v = pinnedVersions();
  const dir = path.join(GOBIN, 'argocd', v.ARGOCD_VERSION);
  const bins = { version: v.ARGOCD_VERSION, argocd: path.join(dir, 'argocd'), kustomize: path.join(dir, 'kustomize') };
  const missing = [bins.argocd, bins.kustomize].filter((p) => !executable(p)).map((p) => `${path.basename(p)} (Argo CD ${v.ARGOCD_VERSION})`);
  return missing.length ? { missing } : bins;
}
