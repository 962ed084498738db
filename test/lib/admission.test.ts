/**
 * constructs/lib/admission.ts: what the API server would refuse in a rendered object, and
 * what two output folders would share. Crafted objects, one refusal each; the real output
 * has none (test/environments/bad-input.test.ts and bad-input.int.test.ts cover the way back to the environment file and field).
 */
import { admissionProblems, clashes } from '../../constructs/lib/admission';
import type { Manifest } from '../../constructs/lib/output';
import { readTree } from '../../constructs/lib/output';
import { ROOT, parseYaml } from '../support/synth';
import * as path from 'path';

const pod = (spec: object, extra: object = {}): Manifest => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...extra }, spec });

describe('admissionProblems', () => {
  test('the committed dist/ has none', () => {
    const found = [...readTree(path.join(ROOT, 'dist')).entries()]
      .filter(([f]) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml'))
      .flatMap(([, text]) => admissionProblems(parseYaml(text)));
    expect(found).toEqual([]);
  });

  test.each([
    ['a label value of 64 characters', pod({}, { labels: { app: 'a'.repeat(64) } }), 'metadata.labels["app"]', /64 characters long, more than 63/],
    ['a label key with two "/"', pod({}, { labels: { 'a/b/c': 'x' } }), 'metadata.labels["a/b/c"]', /more than one "\/"/],
    ['an annotation key with a space', pod({}, { annotations: { 'my note': 'x' } }), 'metadata.annotations["my note"]', /contains " "/],
    ['a Service name starting with a digit', { apiVersion: 'v1', kind: 'Service', metadata: { name: '1api' }, spec: {} }, 'metadata.name', /start with a letter/],
    ['a CronJob name of 53 characters', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c'.repeat(53) }, spec: {} }, 'metadata.name', /more than 52/],
    ['a Job name of 64 characters', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j'.repeat(64) }, spec: {} }, 'metadata.name', /more than 63/],
    ['a namespace with "_"', pod({}, { namespace: 'next_gen' }), 'metadata.namespace', /contains "_"/],
    ['container port 0', pod({ containers: [{ name: 'c', ports: [{ containerPort: 0 }] }] }), 'spec.containers[0].ports[0].containerPort', /not a port number/],
    ['a port name of 16 characters', pod({ containers: [{ name: 'c', ports: [{ name: 'metrics-exporter', containerPort: 9000 }] }] }), 'spec.containers[0].ports[0].name', /1 to 15/],
    ['a container name with "."', pod({ containers: [{ name: 'api.v3' }] }), 'spec.containers[0].name', /contains "\."/],
    ['a selector value with a space', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { app: 'my app' } } }, 'spec.selector["app"]', /contains " "/],
    ['a memory request that is no quantity', pod({ containers: [{ name: 'c', resources: { requests: { memory: '512 MB' } } }] }), 'spec.containers[0].resources.requests.memory', /not a Kubernetes quantity/],
    ['replicas beyond int32', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 2 ** 31 } }, 'spec.replicas', /0 to 2147483647/],
    ['an Ingress host with a port', { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i' }, spec: { rules: [{ host: 'a.example.com:80' }] } }, 'spec.rules[0].host', /port or a path/],
    ['a CronJob in time zone Local', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { schedule: '0 * * * *', timeZone: 'Local' } }, 'spec.timeZone', /own zone/],
    ['a CronJob that never fires', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { schedule: '0 0 31 11 *' } }, 'spec.schedule', /never fires: November has no day 31/],
  ] as Array<[string, Manifest, string, RegExp]>)('%s is one refusal naming the field', (_what, m, field, problem) => {
    const found = admissionProblems(m);
    expect(found).toEqual([expect.objectContaining({ field, problem: expect.stringMatching(problem) })]);
  });
});

describe('clashes between folders', () => {
  const ingress = (host: string): Manifest => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'api', namespace: `ns-${host.length}` }, spec: { rules: [{ host }] } });
  const backup = (prefix: string, ns: string): Manifest => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'postgres-backup', namespace: ns },
    spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'upload', env: [{ name: 'S3_BUCKET', value: 'b' }, { name: 'S3_PREFIX', value: prefix }] }] } } } } },
  });
  const secret = (key: string, ns: string): Manifest => ({
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name: 'redis', namespace: ns },
    spec: { secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' }, data: [{ secretKey: 'password', remoteRef: { key, property: 'password' } }] },
  });

  test('one Ingress host in two folders', () => {
    expect(clashes([{ folder: 'a', manifests: [ingress('x.example.com')] }, { folder: 'b', manifests: [{ ...ingress('x.example.com'), metadata: { name: 'api', namespace: 'other' } }] }])).toEqual([
      expect.objectContaining({ what: 'the Ingress host', value: 'x.example.com', folders: ['a', 'b'] }),
    ]);
  });

  test('the same object written by two folders', () => {
    const ns: Manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
    expect(clashes([{ folder: 'a', manifests: [ns] }, { folder: 'b', manifests: [ns] }])).toEqual([expect.objectContaining({ what: 'the object', value: 'Namespace (cluster)/shop' })]);
  });

  test('S3 prefixes that are equal or nested clash; siblings that only share a stem do not', () => {
    const of = (p: string, q: string) => clashes([{ folder: 'a', manifests: [backup(p, 'a')] }, { folder: 'b', manifests: [backup(q, 'b')] }]).map((c) => c.value);
    expect(of('prod', 'prod')).toEqual(['s3://b/prod/']);
    expect(of('prod', 'prod/dev')).toEqual(['s3://b/prod/dev/']);
    expect(of('prod', 'production')).toEqual([]);
    expect(of('x/prod', 'x/dev')).toEqual([]);
  });

  test('one secret-backend key read by two folders', () => {
    expect(clashes([{ folder: 'a', manifests: [secret('nextgen/prod/redis', 'a')] }, { folder: 'b', manifests: [secret('nextgen/prod/redis', 'b')] }])).toEqual([
      expect.objectContaining({ what: 'the secret of ClusterSecretStore/vault at', value: 'nextgen/prod/redis' }),
    ]);
    expect(clashes([{ folder: 'a', manifests: [secret('nextgen/prod/redis', 'a')] }, { folder: 'b', manifests: [secret('nextgen/dev/redis', 'b')] }])).toEqual([]);
  });
});
