/** Every manifest passes strict schema validation (unknown fields rejected) on 1.27 and 1.33. */
import { K8S_VERSIONS, kubernetesValidator } from '../support/schema';
import { parseYaml, realTree } from '../support/synth';

const tree = realTree();
const docs = [...tree.entries()].filter(([f]) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml')).map(([f, t]) => [f, parseYaml(t)] as const);

describe.each(K8S_VERSIONS)('strict schema validation against Kubernetes %s', (version) => {
  const validator = kubernetesValidator(version);
  test.each(docs.map(([f, d]) => [f, d]))('%s', (_file, doc) => {
    expect(validator.validate(doc as never)).toEqual([]);
  });
});

describe('the validator itself', () => {
  const validator = kubernetesValidator('v1.27.0');
  test('rejects an unknown field', () => {
    const [, deploy] = docs.find(([f]) => f === 'prod/deployment-nextgen-api.yaml')!;
    const bad = JSON.parse(JSON.stringify(deploy));
    bad.spec.template.spec.containers[0].readinessProbes = {};
    expect(validator.validate(bad).join()).toMatch(/readinessProbes/);
  });
  test('rejects a wrong type inside a custom resource', () => {
    const [, es] = docs.find(([f]) => f === 'prod/externalsecret-regcred.yaml')!;
    const bad = JSON.parse(JSON.stringify(es));
    bad.spec.data = 'nope';
    expect(validator.validate(bad).length).toBeGreaterThan(0);
  });
  test('a validator read from the cache gives the verdicts and errors of a fresh compile', () => {
    const fresh = kubernetesValidator('v1.27.0', { cache: false });
    const warm = kubernetesValidator('v1.27.0'); // the cache is filled by now (the tests above)
    const samples = docs.filter(([f]) => /^prod\/(deployment|statefulset|cronjob|externalsecret|servicemonitor|prometheusrule|ingress|networkpolicy)-/.test(f)).map(([, d]) => d as any);
    expect(samples.length).toBeGreaterThan(5);
    for (const doc of samples) {
      const broken = JSON.parse(JSON.stringify(doc));
      broken.spec.unknownField = 1;
      broken.metadata.name = 7;
      for (const m of [doc, broken]) expect(warm.validate(m)).toEqual(fresh.validate(m));
      expect(fresh.validate(broken).length).toBeGreaterThan(0);
    }
  });
});
