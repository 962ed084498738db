/**
 * Each cross-resource rule fires on a crafted bad environment and stays silent on the real
 * ones; the engine turns findings into one readable line each.
 */
import * as fs from 'fs';
import * as path from 'path';
import { reasons } from '../support/rules';
import { rules } from '../../rules';
import availability from '../../rules/availability';
import capacity from '../../rules/capacity';
import connectionBudget from '../../rules/connection-budget';
import firstSyncHealth from '../../rules/first-sync-health';
import referenceIntegrity from '../../rules/reference-integrity';
import supplyChain, { pinning } from '../../rules/supply-chain';
import { ROOT, find, realEnvironments, ruleContext, ruleContexts, withManifests } from '../support/synth';

const real = ruleContexts(realEnvironments());

describe('the real environments pass every rule', () => {
  test.each(rules.map((r) => [r.id, r]))('%s is silent on dev, staging and prod', (_id, rule) => {
    expect(reasons([rule], real)).toEqual([]);
  });
});

describe('rule registry', () => {
  test('rule ids are unique kebab-case and each has a description', () => {
    const ids = rules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of rules) {
      expect(r.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(r.description.length).toBeGreaterThan(20);
    }
  });
  test('every rule file in rules/ is registered, and the README lists every rule', () => {
    const files = fs.readdirSync(path.join(ROOT, 'rules')).filter((f) => f.endsWith('.ts') && !['engine.ts', 'index.ts'].includes(f));
    expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual(rules.map((r) => r.id).sort());
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const r of rules) expect(readme).toContain(`\`${r.id}\``);
  });
});

describe('connection-budget', () => {
  test('fires when the API pool at maximum scale exceeds max_connections', () => {
    const ctx = ruleContext({ postgres: { maxConnections: 60 } });
    const lines = reasons([connectionBudget], [ctx]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^connection-budget: StatefulSet\/postgres: PostgreSQL can be asked for \d+ connections \(7 API pods \(6 HPA max replicas \+ 1 rollout surge\) x 20 DATABASE_CONNECTION_LIMIT/);
    expect(lines[0]).toContain('max_connections is 60');
  });
  test('fires for Redis maxclients too', () => {
    const ctx = ruleContext({ redis: { maxclients: 100 } });
    const lines = reasons([connectionBudget], [ctx]);
    expect(lines).toEqual([expect.stringMatching(/Redis can be asked for \d+ connections .* but maxclients is 100/)]);
  });
  test('is silent when the budget fits exactly', () => {
    expect(reasons([connectionBudget], [ruleContext({ postgres: { maxConnections: 10000 } })])).toEqual([]);
  });
});

describe('capacity', () => {
  test('fires when maximum scale does not fit the node pool', () => {
    const lines = reasons([capacity], [ruleContext({ cluster: { nodes: 1, nodeCpuMillis: 1000, nodeMemoryMiB: 2048, headroomPercent: 20 } })]);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^capacity: cluster: CPU requests at maximum scale are \d+m but 1 node\(s\) x 1000m\/2048Mi less 20% headroom leaves 800m$/),
        expect.stringMatching(/memory requests at maximum scale are \d+Mi but .* leaves 1638Mi$/),
      ]),
    );
  });
  test('fires when a limit is below its request', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0].resources.limits.memory = '128Mi';
    });
    expect(reasons([capacity], [ctx])).toEqual(["capacity: Deployment/nextgen-api: container 'api' memory limit 128Mi < request 512Mi"]);
  });
  test('fires when a ResourceQuota is smaller than maximum scale', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      ms.push({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'tight' }, spec: { hard: { 'requests.cpu': '100m' } } });
    });
    expect(reasons([capacity], [ctx])).toEqual([expect.stringMatching(/capacity: ResourceQuota\/tight: requests.cpu is 100m but maximum scale needs \d+m/)]);
  });
});

describe('reference-integrity', () => {
  const ok = ruleContext();
  test('is silent on a consistent environment', () => {
    expect(reasons([referenceIntegrity], [ok])).toEqual([]);
  });
  test.each([
    ['a Service that selects nothing', (ms: any[]) => (find(ms, 'Service', 'nextgen-api').spec.selector = { 'app.kubernetes.io/name': 'nope' }), /Service\/nextgen-api: .*matches no pod template/],
    ['a Service targetPort no container exposes', (ms: any[]) => (find(ms, 'Service', 'nextgen-api').spec.ports[0].targetPort = 8080), /targets 8080, which no selected container exposes/],
    ['an Ingress backend to a missing Service', (ms: any[]) => (find(ms, 'Ingress', 'nextgen-api').spec.rules[0].http.paths[0].backend.service.name = 'ghost'), /Ingress\/nextgen-api: .*backend Service 'ghost' does not exist/],
    ['an Ingress backend port the Service lacks', (ms: any[]) => (find(ms, 'Ingress', 'nextgen-api').spec.rules[0].http.paths[0].backend.service.port = { number: 8443 }), /backend port 8443 is not a port of Service 'nextgen-api'/],
    ['a probe on an undeclared port', (ms: any[]) => (find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0].readinessProbe.httpGet.port = 9999), /readinessProbe uses port 9999/],
    ['a secretKeyRef to an undeclared key', (ms: any[]) => (find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0].env.find((e: any) => e.name === 'JWT_SECRET').valueFrom.secretKeyRef.key = 'jwt'), /key 'jwt' of Secret 'nextgen-api-jwt'/],
    ['an envFrom to a missing ConfigMap', (ms: any[]) => (find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0].envFrom[0].configMapRef.name = 'gone'), /ConfigMap 'gone', which does not exist/],
    ['a missing ServiceAccount', (ms: any[]) => (find(ms, 'Deployment', 'nextgen-api').spec.template.spec.serviceAccountName = 'robot'), /ServiceAccount 'robot'/],
    [
      'a NetworkPolicy peer that selects nothing',
      (ms: any[]) =>
        ms.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x' }, spec: { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ghost' } } }] }] } }),
      /NetworkPolicy\/x: .*peer \{"app":"ghost"\} matches no workload/,
    ],
    [
      'a claim on a storage class the cluster lacks',
      (ms: any[]) => ms.push({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { storageClassName: 'gold' } }),
      /PersistentVolumeClaim\/data: .*storage class 'gold', which dist\/cluster does not define/,
    ],
  ])('fires on %s', (_name, edit, expected) => {
    const lines = reasons([referenceIntegrity], [withManifests(ok, edit)]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(lines[0]).toMatch(/^reference-integrity: \S+: /);
  });
});

describe('availability', () => {
  test('fires when production runs a single API replica', () => {
    const lines = reasons([availability], [ruleContext({ api: { autoscaling: { minReplicas: 1, maxReplicas: 3 } } })]);
    expect(lines).toEqual(
      expect.arrayContaining([
        'availability: Deployment/nextgen-api: runs 1 replica(s) at minimum (HPA minReplicas); production needs >= 2',
        'availability: PodDisruptionBudget/nextgen-api: allows 1 disruption(s) at 1 replicas; a drain could take every API pod',
      ]),
    );
  });
  test('fires when pods are not spread across nodes', () => {
    const ctx = withManifests(ruleContext(), (ms) => delete find(ms, 'Deployment', 'nextgen-api').spec.template.spec.topologySpreadConstraints);
    expect(reasons([availability], [ctx])).toEqual([expect.stringMatching(/not spread across nodes/)]);
  });
  test('fires when the PDB blocks every drain', () => {
    const ctx = withManifests(ruleContext(), (ms) => (find(ms, 'PodDisruptionBudget', 'nextgen-api').spec.maxUnavailable = 0));
    expect(reasons([availability], [ctx])).toEqual([expect.stringMatching(/allows 0 disruption\(s\) at 3 replicas; a node drain would block/)]);
  });
  test('does not apply to development environments', () => {
    expect(reasons([availability], [ruleContext({ tier: 'development', api: { autoscaling: { minReplicas: 1 } } })])).toEqual([]);
  });
});

describe('supply-chain', () => {
  test('classifies image references', () => {
    expect(pinning('r.example.com/a@sha256:' + 'a'.repeat(64))).toBe('digest');
    expect(pinning('postgres:15.4-bookworm')).toBe('version');
    expect(pinning('quay.io/minio/minio:RELEASE.2024-01-02T03-04-05Z')).toBe('version');
    expect(pinning('registry:5000/app:v1.2.3')).toBe('version');
    expect(pinning('app:latest')).toBe('mutable');
    expect(pinning('registry:5000/app')).toBe('mutable');
    expect(pinning('app:main')).toBe('mutable');
  });
  test('fires on a mutable tag outside development', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      const c = find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0];
      c.image = 'registry.example.com/nextgen/nextgen-marketplace:main';
      c.imagePullPolicy = 'Always';
    });
    expect(reasons([supplyChain], [ctx])).toEqual([
      "supply-chain: Deployment/nextgen-api: container 'api' image registry.example.com/nextgen/nextgen-marketplace:main is not pinned (use a digest or a version tag)",
    ]);
  });
  test('fires on a pull policy that does not match the pinning', () => {
    const ctx = withManifests(ruleContext(), (ms) => (find(ms, 'Deployment', 'nextgen-api').spec.template.spec.containers[0].imagePullPolicy = 'Always'));
    expect(reasons([supplyChain], [ctx])).toEqual([expect.stringMatching(/is pinned but pulled Always; use IfNotPresent/)]);
  });
  test('allows latest with Always in development', () => {
    expect(reasons([supplyChain], [ruleContext({ tier: 'development', image: { digest: undefined, tag: 'latest' } })])).toEqual([]);
  });
});

describe('first-sync-health', () => {
  test('fires when the backups claim, mounted only by the CronJob, waits for its first consumer', () => {
    const lines = reasons([firstSyncHealth], [ruleContext({ backup: { storageClass: 'standard' } })]);
    expect(lines).toEqual([
      expect.stringMatching(
        /^first-sync-health: PersistentVolumeClaim\/postgres-backups-standard: storage class 'standard' binds WaitForFirstConsumer and only CronJob\/postgres-backup mounts it/,
      ),
      expect.stringMatching(
        /^first-sync-health: PersistentVolumeClaim\/postgres-base-backup-standard: storage class 'standard' binds WaitForFirstConsumer and only CronJob\/postgres-base-backup mounts it/,
      ),
    ]);
  });
  test('is silent for an Immediate class, and for claims a StatefulSet mounts', () => {
    expect(reasons([firstSyncHealth], [ruleContext({ backup: { storageClass: 'standard-immediate' } })])).toEqual([]);
    const ctx = withManifests(ruleContext({ backup: { storageClass: 'standard' } }), (ms) => {
      const sts = ms.find((m: any) => m.kind === 'StatefulSet' && m.metadata.name === 'postgres');
      sts.spec.template.spec.volumes.push({ name: 'backups', persistentVolumeClaim: { claimName: 'postgres-backups-standard' } });
      sts.spec.template.spec.volumes.push({ name: 'base', persistentVolumeClaim: { claimName: 'postgres-base-backup-standard' } });
    });
    expect(reasons([firstSyncHealth], [ctx])).toEqual([]);
  });
});
