/**
 * renderApiObject (constructs/lib/render-fast.ts) must be `o.toJson()` exactly: key order
 * included, lazy values produced in the same order, the same errors, and cdk8s's own path where
 * the fast one does not apply (an app with its own resolvers, `CDK8S_DISABLE_SORT`).
 */
import * as vm from 'vm';
import { ApiObject, App, Chart, Lazy, type IResolver, type ResolutionContext } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { renderApiObject, renderMetadata } from '../../constructs/lib/render-fast';
import { realEnvironments, synthEnvironments, testEnvironment } from '../support/synth';

const text = (v: unknown) => JSON.stringify(v);

/** The outcome of a render: its JSON text, or the message it failed with. */
function outcome(render: () => unknown): string {
  try {
    return text(render());
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

describe('every object of every environment', () => {
  test.each([
    ['the real environments', () => realEnvironments()],
    ['a test environment with options on', () => [testEnvironment({ name: 'opts', namespace: 'nextgen-opts', postgres: { standby: { enabled: true } }, secrets: { provider: 'external-secrets' } } as any)]],
  ])('%s: the same JSON text as cdk8s renders, and the same metadata', (_what, envs) => {
    const objects = synthEnvironments(envs()).built.app.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
    expect(objects.length).toBeGreaterThan(100);
    const differing = objects.filter((o) => text(renderApiObject(o)) !== text(o.toJson()) || text(renderMetadata(o.metadata)) !== text(o.metadata.toJson()));
    expect(differing.map((o) => o.node.path)).toEqual([]);
  });
});

describe('the corners of resolve and sanitize', () => {
  function object(props: Record<string, unknown>, app = new App()): ApiObject {
    const chart = new Chart(app, 'c');
    return new ApiObject(chart, 'o', { apiVersion: 'v1', kind: 'Thing', metadata: { name: 'o' }, ...props });
  }
  const same = (o: ApiObject) => expect(outcome(() => renderApiObject(o))).toBe(outcome(() => o.toJson()));

  test('lazy values that produce lazy values, implicit tokens, number-or-string unions, nulls, key order', () => {
    same(
      object({
        zeta: Lazy.any({ produce: () => Lazy.any({ produce: () => ({ b: 2, a: [1, null, undefined, { d: undefined, c: 'x' }] }) }) }),
        alpha: { resolve: () => ({ nested: { resolve: () => 7 } }) },
        port: k8s.IntOrString.fromNumber(8080),
        size: k8s.Quantity.fromString('1Gi'),
        empty: { list: [], map: {} },
        nothing: null,
      }),
    );
  });

  test('lazy values are produced in cdk8s order', () => {
    const order = (render: (o: ApiObject) => unknown) => {
      const seen: string[] = [];
      const lazy = (name: string, value: unknown) => Lazy.any({ produce: () => (seen.push(name), value) });
      render(object({ z: lazy('z', { y: lazy('zy', 1), b: lazy('zb', 2) }), a: lazy('a', [lazy('a0', 0), lazy('a1', 1)]), m: lazy('m', 3) }));
      return seen;
    };
    expect(order(renderApiObject)).toEqual(order((o) => o.toJson()));
    expect(order(renderApiObject)).toEqual(['z', 'zy', 'zb', 'a', 'a0', 'a1', 'm']);
  });

  test('plain objects of another realm are sanitized but not resolved, as cdk8s does', () => {
    same(object({ foreign: vm.runInNewContext('({ b: 1, a: { d: null, c: 2 } })') }));
    // A lazy value inside one stays unresolved, and sanitize refuses it: the same error.
    const o = object({ foreign: vm.runInNewContext('({ a: lazy })', { lazy: Lazy.any({ produce: () => 1 }) }) });
    same(o);
    expect(outcome(() => renderApiObject(o))).toMatch(/can't render non-simple object of type 'Lazy'/);
  });

  test('a value that cannot be rendered fails with the same message', () => {
    class Opaque {
      constructor(readonly x = 1) {}
    }
    const o = object({ spec: { thing: new Opaque() } });
    same(o);
    expect(outcome(() => renderApiObject(o))).toMatch(/^error: Failed serializing construct at path 'c\/o' with name 'o': Error: can't render non-simple object of type 'Opaque'$/);
  });

  test('metadata: empty lists and maps dropped, extra attributes kept, owner references and finalizers rendered', () => {
    const o = object({});
    same(o);
    o.metadata.add('generateName', 'x-');
    o.metadata.addFinalizers('example.com/f');
    o.metadata.addOwnerReference({ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'u-1' });
    o.metadata.addLabel('b', '2');
    o.metadata.addLabel('a', '1');
    same(o);
    expect(text(renderMetadata(o.metadata))).toBe(text(o.metadata.toJson()));
  });

  test('JSON patches apply after sanitizing, and the top-level keys come first', () => {
    const o = object({ spec: { b: 1 } });
    o.addJsonPatch({ _toJson: () => ({ op: 'add', path: '/spec/a', value: 0 }) } as any);
    same(o);
    expect(Object.keys(renderApiObject(o))).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });

  test("an app with resolvers of its own is rendered by cdk8s's own path", () => {
    const calls: string[] = [];
    const upper: IResolver = {
      resolve: (c: ResolutionContext) => {
        if (typeof c.value === 'string' && c.value.startsWith('up:')) {
          calls.push(c.key.join('.'));
          c.replaceValue(c.value.slice(3).toUpperCase());
        }
      },
    };
    const o = object({ spec: { a: 'up:x' } }, new App({ resolvers: [upper] }));
    expect(renderApiObject(o)).toMatchObject({ spec: { a: 'X' } });
    expect(calls).toEqual(['spec.a']);
    same(o);
  });

  test("CDK8S_DISABLE_SORT keeps cdk8s's own path (keys in insertion order)", () => {
    const before = process.env.CDK8S_DISABLE_SORT;
    process.env.CDK8S_DISABLE_SORT = '1';
    try {
      const o = object({ spec: { b: 1, a: 2 } });
      same(o);
      expect(Object.keys((renderApiObject(o) as any).spec)).toEqual(['b', 'a']);
    } finally {
      if (before === undefined) delete process.env.CDK8S_DISABLE_SORT;
      else process.env.CDK8S_DISABLE_SORT = before;
    }
  });

  test('the prototypes are cdk8s’s own again after a render, also after one that failed', () => {
    const api = ApiObject.prototype.toJson;
    class Opaque {}
    expect(() => renderApiObject(object({ x: new Opaque() }))).toThrow();
    renderApiObject(object({}));
    expect(ApiObject.prototype.toJson).toBe(api);
  });
});
