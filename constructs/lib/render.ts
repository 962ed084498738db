/**
 * One render of an object per synthesis.
 *
 * Rendering (`ApiObject.toJson()`: cdk8s resolve, cdk8s-plus `_toKube`, the L1 converters) is
 * the expensive part of synthesis. Readers look at objects once the tree is built: the quota's
 * capacity and its count of cert-manager solvers (the Ingresses), the kubelet probes of the
 * NetworkPolicies, the config checksums and the guide's `app` label. They share one render
 * (`sharedRender`), and the output reuses it too (`finalRender`): the stamps made after it are
 * replayed on it, so each object is rendered once per synthesis.
 *
 * The contract: a reader may use the shared render only for what the later stamps leave
 * alone, i.e. everything but the object's `app.kubernetes.io/name` and `component` labels and
 * sync-wave annotation, the namespace of cluster-scoped kinds, and the config-checksum
 * annotation and `app` label of its pod template (the stamps of `finalizeChart`,
 * `stampConfigChecksums` and `stampGuideAppLabel`). Once an object has a shared render, it is
 * changed only through the stamp helpers below. The first read happens in
 * `MarketplaceChart.finalize`, after the last workload was added; test/lib/render.test.ts
 * compares every shared render with a fresh one, stamped keys aside, and every final render
 * with a fresh one, key order included, for every environment.
 *
 * Replaying a stamp is exact only because of how cdk8s renders: it sanitizes with sorted keys,
 * then applies the JSON patches in order (an `add` appends a map key), then the L1 converter
 * rebuilds typed objects in schema order (ObjectMeta's is alphabetical) and keeps the order of
 * maps. So a label or annotation is inserted in key order into a map no earlier patch touched,
 * and a patch is replayed only where the converter leaves its effect alone (a `remove`, or a
 * string value set in a labels or annotations map). Anything else, or any change made without
 * a stamp helper that the guards see (another patch, other metadata), renders afresh.
 */
import { ApiObject, ApiObjectMetadataDefinition, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { renderApiObject, renderMetadata } from './render-fast';
import { applyPatch, insertSorted, pointer, sameContent } from './render-json';

/** Where a workload kind keeps its pod template. */
export const POD_TEMPLATE_PATH: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** A stamp made after the shared render, to replay on it. */
type Stamp =
  | { readonly kind: 'entry'; readonly map: readonly string[]; readonly key: string; readonly value: string }
  | { readonly kind: 'patch'; readonly patch: JsonPatch; readonly op: { op: string; path: string; value?: unknown } };

interface Shared {
  readonly json: any;
  /** The object's patches when it was rendered: the render includes them. */
  readonly patches: readonly JsonPatch[];
  /** `metadata.toJson()` when rendered, and of the pod template of a workload. */
  readonly meta: any;
  readonly pod?: { readonly metadata: ApiObjectMetadataDefinition; readonly json: any };
  readonly stamps: Stamp[];
  /** False once a stamp was made that a replay cannot reproduce exactly. */
  exact: boolean;
}

const renders = new WeakMap<ApiObject, Shared>();

/** cdk8s keeps an object's patches private; the replay and its guard read them. */
const patchesOf = (o: ApiObject): JsonPatch[] => (o as unknown as { patches: JsonPatch[] }).patches;

/** The pod metadata of a cdk8s-plus workload whose API object `o` is. */
function podMetadataOf(o: ApiObject): ApiObjectMetadataDefinition | undefined {
  const owner = o.node.scope;
  return owner instanceof kplus.Workload && owner.node.defaultChild === o ? owner.podMetadata : undefined;
}

/** The object's JSON, rendered at the first call and shared afterwards. Never mutate it. */
export function sharedRender(o: ApiObject): any {
  let shared = renders.get(o);
  if (shared === undefined) {
    const pod = podMetadataOf(o);
    shared = {
      json: renderApiObject(o),
      patches: [...patchesOf(o)],
      meta: renderMetadata(o.metadata),
      pod: pod && { metadata: pod, json: renderMetadata(pod) },
      stamps: [],
      exact: true,
    };
    renders.set(o, shared);
  }
  return shared.json;
}

/** Whether `o` was rendered by `sharedRender` (for the tests). */
export function hasSharedRender(o: ApiObject): boolean {
  return renders.has(o);
}

/** Add a label to the object's metadata (a stamp: replayed on its shared render). */
export function stampLabel(o: ApiObject, key: string, value: string): void {
  o.metadata.addLabel(key, value);
  recordEntry(o, ['metadata', 'labels'], key, value);
}

/** Add an annotation to the object's metadata (a stamp: replayed on its shared render). */
export function stampAnnotation(o: ApiObject, key: string, value: string): void {
  o.metadata.addAnnotation(key, value);
  recordEntry(o, ['metadata', 'annotations'], key, value);
}

/** Add an annotation to a workload's pod template (a stamp: replayed on its shared render). */
export function stampPodAnnotation(workload: kplus.Workload, key: string, value: string): void {
  workload.podMetadata.addAnnotation(key, value);
  const o = ApiObject.of(workload);
  const template = POD_TEMPLATE_PATH[o.kind];
  if (template) recordEntry(o, [...template, 'metadata', 'annotations'], key, value);
  else if (renders.has(o)) renders.get(o)!.exact = false;
}

/** Add a JSON patch to the object (a stamp: replayed on its shared render). */
export function stampPatch(o: ApiObject, patch: JsonPatch): void {
  o.addJsonPatch(patch);
  const shared = renders.get(o);
  if (!shared) return;
  const op = patch._toJson() as { op: string; path: string; value?: unknown };
  const at = pointer(op.path);
  const inMap = at.length >= 3 && at[at.length - 3] === 'metadata' && ['labels', 'annotations'].includes(at[at.length - 2]);
  // A removal is the same before and after the L1 converter; so is a string set in a map.
  if (op.op === 'remove' || ((op.op === 'add' || op.op === 'replace') && inMap && typeof op.value === 'string')) {
    shared.stamps.push({ kind: 'patch', patch, op });
  } else {
    shared.exact = false;
  }
}

function recordEntry(o: ApiObject, map: readonly string[], key: string, value: string): void {
  const shared = renders.get(o);
  if (!shared) return;
  // An earlier patch on the map, or on what holds it, makes its key order the patches' own.
  const at = `/${map.join('/')}`;
  const parent = `/${map.slice(0, -1).join('/')}`;
  const touched = shared.patches.some((p) => {
    const { path, from } = p._toJson() as { path: string; from?: string };
    return [path, from].some(
      (x) =>
        x !== undefined &&
        // the map, inside it, what holds it, or a key beside it (a map created later goes among those)
        (x === at || x.startsWith(`${at}/`) || `${at}/`.startsWith(`${x}/`) || (x.lastIndexOf('/') === parent.length && x.startsWith(`${parent}/`))),
    );
  });
  if (touched) shared.exact = false;
  else shared.stamps.push({ kind: 'entry', map, key, value });
}

/**
 * The object's JSON as the output writes it: its shared render with the stamps made since
 * replayed, or a fresh `toJson()` when it has none or the replay could not be exact. Equal to
 * `o.toJson()`, key order included. Parts the stamps did not change are shared with the
 * shared render: never mutate the result.
 */
export function finalRender(o: ApiObject): any {
  return replayRender(o) ?? renderApiObject(o);
}

/** The replay of `finalRender`, or undefined when the object needs a fresh render. */
export function replayRender(o: ApiObject): any | undefined {
  const shared = renders.get(o);
  if (!shared?.exact) return undefined;
  // Guards: every patch since the render is a recorded stamp, and the metadata is what the
  // render saw plus the stamped entries.
  const patches = patchesOf(o);
  const stampPatches = shared.stamps.filter((s) => s.kind === 'patch');
  if (patches.length !== shared.patches.length + stampPatches.length) return undefined;
  if (!stampPatches.every((s, i) => patches[shared.patches.length + i] === s.patch)) return undefined;
  if (!shared.patches.every((p, i) => patches[i] === p)) return undefined;
  const template = POD_TEMPLATE_PATH[o.kind] ?? [];
  const entries = shared.stamps.filter((s): s is Extract<Stamp, { kind: 'entry' }> => s.kind === 'entry');
  const own = entries.filter((s) => s.map.length === 2).map((s) => ({ ...s, map: s.map.slice(1) }));
  if (!sameContent(renderMetadata(o.metadata), withEntries(shared.meta, own))) return undefined;
  if (shared.pod) {
    const pod = entries.filter((s) => s.map.length === template.length + 2).map((s) => ({ ...s, map: s.map.slice(-1) }));
    if (!sameContent(renderMetadata(shared.pod.metadata), withEntries(shared.pod.json, pod))) return undefined;
  } else if (entries.some((s) => s.map.length !== 2)) {
    return undefined;
  }

  let json = shared.json;
  for (const s of entries) {
    json = insertSorted(json, s.map, s.key, s.value);
    if (json === undefined) return undefined;
  }
  for (const s of stampPatches) {
    json = applyPatch(json, s.op);
    if (json === undefined) return undefined;
  }
  return json;
}

/** `meta` with the entries set in their maps (plain assignment, as `addLabel` does). */
function withEntries(meta: any, entries: ReadonlyArray<{ map: readonly string[]; key: string; value: string }>): any {
  const out = { ...meta };
  for (const e of entries) out[e.map[0]] = { ...(out[e.map[0]] ?? {}), [e.key]: e.value };
  return out;
}
