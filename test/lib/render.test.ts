/**
 * The shared render (constructs/lib/render.ts) is taken once the tree is complete and read by
 * the quota (capacity, cert-manager solvers), the kubelet probes, the config checksums and the
 * `app` label; the output reuses it
 * with the stamps made since replayed (`finalRender`). Two promises, for every object of every
 * real environment and of a test environment with options on:
 *   - only the stamps change an object after its shared render: the shared render equals a
 *     fresh render of the finished object once the stamped keys are set aside (a reader that
 *     used a stale render would show up here as a difference);
 *   - the final render equals a fresh render exactly, key order included (the YAML writer
 *     keeps the order), and most shared renders reach it by replay, not by rendering again.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { CONFIG_CHECKSUM } from '../../constructs/lib/checksum';
import { CLUSTER_SCOPED, GUIDE_APP_LABEL, LABEL, SYNC_WAVE } from '../../constructs/lib/identity';
import { finalRender, hasSharedRender, replayRender, sharedRender, stampPatch } from '../../constructs/lib/render';
import { realEnvironments, synthEnvironments, testEnvironment } from '../support/synth';

const TEMPLATE_PATHS = [['spec', 'template'], ['spec', 'jobTemplate', 'spec', 'template']];

/** The JSON without what the stamps write: identity labels, sync wave, namespace; pod-template checksum and `app` label. */
function unstamped(json: any): any {
  const copy = JSON.parse(JSON.stringify(json));
  if (copy.metadata) {
    delete copy.metadata.labels?.[LABEL.name];
    delete copy.metadata.labels?.[LABEL.component];
    delete copy.metadata.annotations?.[SYNC_WAVE];
    if (copy.metadata.annotations && Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
    if (CLUSTER_SCOPED.has(copy.kind)) delete copy.metadata.namespace;
  }
  for (const p of TEMPLATE_PATHS) {
    let t = copy;
    for (const k of p) t = t?.[k];
    if (t?.metadata) {
      delete t.metadata.annotations?.[CONFIG_CHECKSUM];
      if (t.metadata.annotations && Object.keys(t.metadata.annotations).length === 0) delete t.metadata.annotations;
      delete t.metadata.labels?.[GUIDE_APP_LABEL];
    }
  }
  return copy;
}

const objectsOf = (envs: Parameters<typeof synthEnvironments>[0]): ApiObject[] =>
  synthEnvironments(envs).built.app.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);

/** Objects whose final render is not exactly a fresh one (JSON text, so key order counts). */
const differing = (objects: ApiObject[]): string[] => objects.filter((o) => JSON.stringify(finalRender(o)) !== JSON.stringify(o.toJson())).map((o) => o.node.path);

describe('the shared render', () => {
  const objects = objectsOf(realEnvironments());
  const shared = objects.filter(hasSharedRender);

  test('serves the workloads, ConfigMaps, HPAs, claims, Services and Ingresses of every environment', () => {
    const kinds = new Set(shared.map((o) => o.kind));
    for (const k of ['Deployment', 'StatefulSet', 'CronJob', 'ConfigMap', 'HorizontalPodAutoscaler', 'Service', 'Job', 'Ingress']) expect(kinds).toContain(k);
    expect(shared.length).toBeGreaterThan(100);
  });

  test('differs from a fresh render of the finished object only on stamped keys', () => {
    const stale = shared.filter((o) => JSON.stringify(unstamped(sharedRender(o))) !== JSON.stringify(unstamped(o.toJson()))).map((o) => o.node.path);
    expect(stale).toEqual([]);
  });

  test('the final render of every object equals a fresh render, key order included', () => {
    expect(objects.length).toBeGreaterThan(300);
    expect(differing(objects)).toEqual([]);
  });

  test('the output renders most shared-rendered objects by replaying the stamps, not again', () => {
    const replayed = shared.filter((o) => replayRender(o) !== undefined);
    // 170 of 170 when written; a new fallback is allowed, a general one is a lost speed-up.
    expect(replayed.length).toBeGreaterThanOrEqual(Math.floor(shared.length * 0.9));
    expect(replayed.length).toBeGreaterThan(150);
    // Workloads carry all four stamps (labels, wave, checksum, `app` label patch).
    for (const k of ['Deployment', 'StatefulSet', 'CronJob']) expect(replayed.some((o) => o.kind === k)).toBe(true);
  });

  // Last: they change the file's shared build.
  test('the comparison sees a change made after the shared render', () => {
    const o = shared.find((x) => x.kind === 'ConfigMap')!;
    const before = JSON.stringify(unstamped(sharedRender(o)));
    o.addJsonPatch(JsonPatch.add('/data/late', 'x'));
    expect(JSON.stringify(unstamped(o.toJson()))).not.toBe(before);
  });

  test('a change made after the shared render without a stamp helper shows in the final render', () => {
    const [patched, labelled, annotated] = shared.filter((o) => o.kind === 'Service' && replayRender(o) !== undefined);
    patched.addJsonPatch(JsonPatch.add('/spec/sessionAffinity', 'ClientIP'));
    labelled.metadata.addLabel('late', 'x');
    annotated.metadata.addAnnotation('late', 'x');
    const workload = shared.map((o) => o.node.scope).find((s): s is kplus.Deployment => s instanceof kplus.Deployment && replayRender(ApiObject.of(s)) !== undefined)!;
    workload.podMetadata.addAnnotation('late', 'x');

    expect(finalRender(patched).spec.sessionAffinity).toBe('ClientIP');
    expect(finalRender(labelled).metadata.labels.late).toBe('x');
    expect(finalRender(annotated).metadata.annotations.late).toBe('x');
    expect(finalRender(ApiObject.of(workload)).spec.template.metadata.annotations.late).toBe('x');
    expect(differing([patched, labelled, annotated, ApiObject.of(workload)])).toEqual([]);
  });

  test('a stamp the replay cannot reproduce exactly makes the object render afresh', () => {
    const o = shared.find((x) => x.kind === 'Deployment' && replayRender(x) !== undefined)!;
    // An object value in a typed field: the L1 converter orders its keys, the replay could not.
    stampPatch(o, JsonPatch.add('/spec/template/spec/dnsConfig', { searches: ['late.svc'], options: [{ name: 'ndots', value: '2' }] }));
    expect(replayRender(o)).toBeUndefined();
    expect(finalRender(o).spec.template.spec.dnsConfig.searches).toEqual(['late.svc']);
    expect(differing([o])).toEqual([]);
  });
});

describe('the final render with options on', () => {
  // Operator-mode monitoring (PodMonitors, PrometheusRules instead of workloads) and a promoted standby.
  const env = testEnvironment({ monitoring: { mode: 'operator' }, postgres: { standby: { promoted: true } } });
  const objects = objectsOf([env]);

  test('equals a fresh render for every object, key order included, mostly by replay', () => {
    const shared = objects.filter(hasSharedRender);
    expect(differing(objects)).toEqual([]);
    expect(objects.some((o) => o.kind === 'PodMonitor')).toBe(true);
    expect(shared.filter((o) => replayRender(o) !== undefined).length).toBeGreaterThanOrEqual(Math.floor(shared.length * 0.9));
  });
});
