/**
 * The writer's normalization: built-in objects are written exactly as the API server stores them
 * (the simulated-cluster test proves it on a real server; these pin the rules), and Jobs in
 * applied folders are named after their content.
 */
import { asStored, canonicalQuantity, immutableJobName } from '../../constructs/lib/output';
import { byKind, realManifests } from '../support/synth';

describe('canonicalQuantity', () => {
  test.each([
    ['1000m', '1'],
    ['1500m', '1500m'],
    ['2000m', '2'],
    ['0.5', '500m'],
    ['1000', '1k'],
    ['250m', '250m'],
    ['1024Mi', '1Gi'],
    ['2048Mi', '2Gi'],
    ['1000Mi', '1000Mi'],
    ['51200Mi', '50Gi'],
    ['1.5Gi', '1536Mi'],
    ['0', '0'],
    ['12', '12'],
  ])('%s is stored as %s', (given, stored) => {
    expect(canonicalQuantity(given)).toBe(stored);
  });
  test('what it cannot parse is returned as given', () => {
    expect(canonicalQuantity('1e3')).toBe('1e3');
    expect(canonicalQuantity('abc')).toBe('abc');
  });
});

describe('asStored', () => {
  const pod = (spec: object) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { 'a.b/c': '' } }, spec }) as any;
  test('drops empty lists, zero values the server drops, and canonicalizes quantities', () => {
    const out = asStored(pod({ minReadySeconds: 0, template: { spec: { hostNetwork: false, automountServiceAccountToken: false, containers: [{ name: 'c', args: [], resources: { limits: { cpu: '1000m', memory: '1024Mi' } }, securityContext: { allowPrivilegeEscalation: false } }] } } }));
    expect(out.spec).toEqual({ template: { spec: { automountServiceAccountToken: false, containers: [{ name: 'c', resources: { limits: { cpu: '1', memory: '1Gi' } }, securityContext: { allowPrivilegeEscalation: false } }] } } });
    expect(out.metadata.labels).toEqual({ 'a.b/c': '' });
  });
  test('custom resources are stored as written and are left alone', () => {
    const cr = { apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: { name: 'p' }, spec: { clusterResourceWhitelist: [], x: '1000m' } } as any;
    expect(asStored(cr)).toBe(cr);
  });
  test('no shipped built-in object holds an empty list or a non-canonical quantity', () => {
    const byFolder = realManifests();
    const bad: string[] = [];
    const walk = (v: unknown, at: string, quantities: boolean) => {
      if (Array.isArray(v)) {
        if (!v.length) bad.push(`${at}: []`);
        v.forEach((x, i) => walk(x, `${at}[${i}]`, false));
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`, ['requests', 'limits', 'hard', 'max', 'min', 'default', 'defaultRequest'].includes(k));
      } else if (quantities && typeof v === 'string' && canonicalQuantity(v) !== v) bad.push(`${at}: ${v}`);
    };
    for (const [folder, ms] of byFolder) for (const m of byKind(ms, ['Deployment', 'StatefulSet', 'Service', 'ClusterRole', 'Role', 'LimitRange', 'ResourceQuota', 'CronJob', 'Job'])) walk(m, `${folder}/${m.kind}/${m.metadata.name}`, false);
    expect(bad).toEqual([]);
  });
});

describe('immutableJobName', () => {
  const job = (image: string) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'setup' }, spec: { template: { spec: { containers: [{ name: 'c', image }] } } } }) as any;
  test('a Job is named after its spec: same spec, same name; changed spec, new name', () => {
    expect(immutableJobName(job('a:1')).metadata.name).toMatch(/^setup-[0-9a-f]{8}$/);
    expect(immutableJobName(job('a:1')).metadata.name).toBe(immutableJobName(job('a:1')).metadata.name);
    expect(immutableJobName(job('a:2')).metadata.name).not.toBe(immutableJobName(job('a:1')).metadata.name);
  });
  test('other kinds keep their names', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } } as any;
    expect(immutableJobName(cm)).toBe(cm);
  });
});
