/**
 * One render of an object for the readers that run once its chart's tree is complete.
 *
 * Rendering (`ApiObject.toJson()`: cdk8s resolve, cdk8s-plus `_toKube`, the L1 converters) is
 * the expensive part of synthesis. Four readers look at every workload after the tree is
 * built: the quota's capacity, the kubelet probes of the NetworkPolicies, the config
 * checksums and the guide's `app` label. Each used to render the object anew, so every
 * workload was rendered four times before the output render. They now share this one.
 *
 * The contract: a reader may use the shared render only for what the later stamps leave
 * alone, i.e. everything but labels and annotations of the object's own metadata and the
 * config-checksum annotation and `app` label of its pod template (the stamps of
 * `finalizeChart`, `stampConfigChecksums` and `stampGuideAppLabel`). The first read happens in
 * `MarketplaceChart.finalize`, after the last workload was added; test/lib/render.test.ts
 * compares every shared render with a fresh one, stamped paths aside, for every environment.
 */
import { ApiObject } from 'cdk8s';

const renders = new WeakMap<ApiObject, any>();

/** The object's JSON, rendered at the first call and shared afterwards. Never mutate it. */
export function sharedRender(o: ApiObject): any {
  let json = renders.get(o);
  if (json === undefined) {
    json = o.toJson();
    renders.set(o, json);
  }
  return json;
}

/** Whether `o` was rendered by `sharedRender` (for the staleness test). */
export function hasSharedRender(o: ApiObject): boolean {
  return renders.has(o);
}
