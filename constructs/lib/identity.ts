/**
 * Workload identity: the recommended `app.kubernetes.io/*` labels and the Argo CD sync wave,
 * declared once per construct and stamped on every API object beneath it by `finalizeChart`.
 *
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { POD_TEMPLATE_PATH, sharedRender, stampAnnotation, stampLabel, stampPatch } from './render';

export const PART_OF = 'nextgen-marketplace';
export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  version: 'app.kubernetes.io/version',
} as const;
export const SYNC_WAVE = 'argocd.argoproj.io/sync-wave';
/**
 * The short `app` label the deployment guide selects pods by (`kubectl logs -l app=nextgen-api`,
 * `kubectl get pod -l app=postgres`): on every pod template, equal to the pod's
 * `app.kubernetes.io/name`. Only on pod templates, never in a selector: selectors of existing
 * Deployments and StatefulSets are immutable, so they keep the `app.kubernetes.io/*` pair.
 */
export const GUIDE_APP_LABEL = 'app';

/**
 * Apply order, shared by Argo CD sync waves and each folder's kustomization.yaml:
 * namespace and guard rails, then secrets and config, data stores, one-shot jobs that need
 * the stores (migrations, bucket setup), the API, and last monitoring.
 */
export enum Wave {
  NAMESPACE = -2,
  PLATFORM = -1,
  DATA = 0,
  JOBS = 1,
  API = 2,
  MONITORING = 3,
}

export interface Identity {
  /** `app.kubernetes.io/name`, also the workload's resource name (`nextgen-api`, `postgres`). */
  readonly name: string;
  /** `app.kubernetes.io/component` (`api`, `database`, `cache`, `object-store`, ...). */
  readonly component: string;
  readonly wave: Wave;
}

const IDENTITY = Symbol.for('nextgen.identity');

/** Declare the identity of everything under `scope`. Nested declarations win. */
export function declareIdentity(scope: IConstruct, identity: Identity): void {
  Object.defineProperty(scope, IDENTITY, { value: identity, enumerable: false });
}

export function identityOf(c: IConstruct): Identity | undefined {
  for (let cur: IConstruct | undefined = c; cur; cur = cur.node.scope) {
    const id = (cur as unknown as Record<symbol, Identity | undefined>)[IDENTITY];
    if (id) return id;
  }
  return undefined;
}

/** The instance label of a chart: `nextgen-<environment>`. */
export function instanceOf(scope: IConstruct): string {
  return Chart.of(scope).labels[LABEL.instance];
}

/** Labels that select the pods of a workload: name + instance (stable across upgrades). */
export function selectorLabels(scope: IConstruct, name: string): Record<string, string> {
  return { [LABEL.name]: name, [LABEL.instance]: instanceOf(scope) };
}

/** Point a Service at pods by our selector labels (not cdk8s-plus's construct-address label). */
export function selectPods(service: kplus.Service, selector: Record<string, string>): kplus.Service {
  for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
  return service;
}

/** Cluster-scoped kinds: they never carry a namespace. */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'ClusterIssuer',
  'ClusterSecretStore',
  'PriorityClass',
  'IngressClass',
]);

/**
 * Stamp identity labels and sync waves on every API object of the chart, and drop the chart
 * namespace from cluster-scoped objects. Runs once, after the tree is complete.
 */
export function finalizeChart(chart: Construct): void {
  for (const c of chart.node.findAll()) {
    if (!(c instanceof ApiObject)) continue;
    const id = identityOf(c);
    if (id) {
      stampLabel(c, LABEL.name, id.name);
      stampLabel(c, LABEL.component, id.component);
      stampAnnotation(c, SYNC_WAVE, String(id.wave));
    }
    stampGuideAppLabel(c);
    if (CLUSTER_SCOPED.has(c.kind) && c.metadata.namespace) {
      // cdk8s puts the chart namespace on every object; cluster-scoped ones must not have it.
      stampPatch(c, JsonPatch.remove('/metadata/namespace'));
    }
  }
}

/** Add `app: <app.kubernetes.io/name>` to the object's pod template, if it has one. */
function stampGuideAppLabel(c: ApiObject): void {
  const path = POD_TEMPLATE_PATH[c.kind];
  if (!path) return;
  let template: any = sharedRender(c);
  for (const key of path) template = template?.[key];
  const name = template?.metadata?.labels?.[LABEL.name];
  if (!name || template.metadata.labels[GUIDE_APP_LABEL] !== undefined) return;
  stampPatch(c, JsonPatch.add(`/${path.join('/')}/metadata/labels/${GUIDE_APP_LABEL}`, name));
}
