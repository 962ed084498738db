/**
 * The shared render (constructs/lib/render.ts) is taken once the tree is complete and read by
 * the quota, the kubelet probes, the config checksums and the `app` label. Only the stamps may
 * change an object after it: for every object of every real environment that was rendered
 * that way, the shared render equals a fresh render of the finished object once the stamped
 * paths are set aside. A reader that used a stale render would show up here as a difference.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import { hasSharedRender, sharedRender } from '../../constructs/lib/render';
import { realEnvironments, synthEnvironments } from '../support/synth';

const TEMPLATE_PATHS = [['spec', 'template'], ['spec', 'jobTemplate', 'spec', 'template']];

/** The JSON without what the stamps write: object labels and annotations, pod-template annotations and `app` label. */
function unstamped(json: any): any {
  const copy = JSON.parse(JSON.stringify(json));
  if (copy.metadata) {
    delete copy.metadata.labels;
    delete copy.metadata.annotations;
    delete copy.metadata.namespace;
  }
  for (const p of TEMPLATE_PATHS) {
    let t = copy;
    for (const k of p) t = t?.[k];
    if (t?.metadata) {
      delete t.metadata.annotations;
      if (t.metadata.labels) delete t.metadata.labels.app;
    }
  }
  return copy;
}

describe('the shared render', () => {
  const { built } = synthEnvironments(realEnvironments());
  const objects = built.app.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
  const shared = objects.filter(hasSharedRender);

  test('serves the workloads, ConfigMaps, HPAs, claims and Services of every environment', () => {
    const kinds = new Set(shared.map((o) => o.kind));
    for (const k of ['Deployment', 'StatefulSet', 'CronJob', 'ConfigMap', 'HorizontalPodAutoscaler', 'Service', 'Job']) expect(kinds).toContain(k);
    expect(shared.length).toBeGreaterThan(100);
  });

  test('differs from a fresh render of the finished object only on stamped paths', () => {
    const stale = shared.filter((o) => JSON.stringify(unstamped(sharedRender(o))) !== JSON.stringify(unstamped(o.toJson()))).map((o) => o.node.path);
    expect(stale).toEqual([]);
  });

  // Last: it changes the file's shared build.
  test('the comparison sees a change made after the shared render', () => {
    const o = shared.find((x) => x.kind === 'ConfigMap')!;
    const before = JSON.stringify(unstamped(sharedRender(o)));
    o.addJsonPatch(JsonPatch.add('/data/late', 'x'));
    expect(JSON.stringify(unstamped(o.toJson()))).not.toBe(before);
  });
});
