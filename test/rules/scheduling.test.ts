/**
 * Rules `scheduling` and `volume-limits`: each fires on a crafted environment (one node for a
 * standby that must not share the primary's node, a pod larger than any node, a volume beyond
 * its provider's size limit) and is silent on the real environments.
 */
import rule, { place, podsAtMaximum } from '../../rules/scheduling';
import volumeLimits from '../../rules/volume-limits';
import { findingLines } from '../../rules/engine';
import { storageClassProblems, storageClasses, volumeProblem, type StorageClassSpec } from '../../environments/shared/cluster';
import { realEnvironments, ruleContext, ruleContexts } from '../support/synth';

describe('scheduling', () => {
  test('is silent on dev, staging and prod', () => {
    expect(findingLines([rule], ruleContexts(realEnvironments()))).toEqual([]);
  });

  test('a standby on a single node is refused on cluster.nodes, with the number of nodes that would do', () => {
    const lines = findingLines([rule], [ruleContext({ cluster: { nodes: 1 } })]);
    expect(lines).toEqual([
      expect.stringMatching(/^environments\/test\.ts: cluster\.nodes = 1: allowed: at least 2 nodes of 4000m\/8192Mi \(scheduling: StatefulSet\/postgres(-standby)?: .*anti-affinity/),
    ]);
  });

  test('a development environment with a standby on its one node is refused too', () => {
    const lines = findingLines([rule], [ruleContext({ tier: 'development', postgres: { standby: { enabled: true } }, cluster: { nodes: 1, nodeMemoryMiB: 16384 } })]);
    expect(lines).toEqual([expect.stringMatching(/cluster\.nodes = 1: allowed: at least 2 nodes .*anti-affinity/)]);
    expect(findingLines([rule], [ruleContext({ tier: 'development', postgres: { standby: { enabled: false } }, cluster: { nodes: 1, nodeMemoryMiB: 16384 } })])).toEqual([]);
  });

  test('a pod whose requests exceed every node is refused on the resources field that sets them', () => {
    const lines = findingLines([rule], [ruleContext({ redis: { resources: { requests: { cpuMillis: 200, memoryMiB: 9000 }, limits: { cpuMillis: 1000, memoryMiB: 9000 } } } })]);
    expect(lines).toEqual([
      expect.stringMatching(/^environments\/test\.ts: redis\.resources\.requests\.memoryMiB = 9000: allowed: requests within a node's allocatable \(4000m CPU, 8192Mi memory.*StatefulSet\/redis: a pod requests .* more than any node has/),
    ]);
  });

  test('counts Deployments at HPA max, a DaemonSet per node and only the largest Job', () => {
    const ctx = ruleContext();
    const pods = podsAtMaximum(ctx.manifests, 3);
    expect(pods.filter((p) => p.owner === 'Deployment/nextgen-api')).toHaveLength(6);
    expect(pods.filter((p) => p.why === 'the largest Job')).toHaveLength(1);
  });

  test('anti-affinity holds in both directions and a DoNotSchedule spread keeps the skew', () => {
    const pod = (owner: string, labels: Record<string, string>, extra: object = {}) => ({ owner, labels, cpuMillis: 100, memoryMiB: 100, antiAffinity: [], spread: [], why: '1 pod', containers: [], ...extra });
    const primary = pod('StatefulSet/db', { app: 'db' });
    const standby = pod('StatefulSet/db-standby', { app: 'standby' }, { antiAffinity: [{ selector: { app: 'db' }, key: 'kubernetes.io/hostname' }] });
    const cluster = { nodes: 1, nodeCpuMillis: 1000, nodeMemoryMiB: 1000, zones: 1 };
    expect(place([primary, standby], cluster).unplaced?.pod.owner).toMatch(/db/);
    expect(place([primary, standby], { ...cluster, nodes: 2 }).unplaced).toBeUndefined();
    const spread = { spread: [{ selector: { app: 'api' }, key: 'kubernetes.io/hostname', maxSkew: 1 }] };
    // Three spread pods on two nodes fit (2 + 1); on two nodes with one full, the skew stops the third.
    const api = [1, 2, 3].map(() => pod('Deployment/api', { app: 'api' }, spread));
    expect(place(api, { ...cluster, nodes: 2 }).unplaced).toBeUndefined();
    const big = pod('Deployment/big', { app: 'big' }, { memoryMiB: 950 });
    expect(place([big, ...api], { ...cluster, nodes: 2 }).unplaced?.reasons.join('; ')).toMatch(/memory left|topology spread/);
  });
});

describe('volume-limits', () => {
  test('is silent on dev, staging and prod', () => {
    expect(findingLines([volumeLimits], ruleContexts(realEnvironments()))).toEqual([]);
  });

  test('100 TiB on gp3 is refused on the size field, with the limit and its source', () => {
    const lines = findingLines([volumeLimits], [ruleContext({ postgres: { storage: { storageClass: 'fast-ssd', sizeGiB: 102400 } } })]);
    expect(lines[0]).toMatch(/^environments\/test\.ts: postgres\.storage\.sizeGiB = 102400: allowed: 1 to 16384 GiB on fast-ssd \(gp3: the provider's size limit, https:\/\/docs\.aws\.amazon\.com\/ebs\//);
    expect(findingLines([volumeLimits], [ruleContext({ postgres: { storage: { storageClass: 'fast-ssd', sizeGiB: 16384 } } })])).toEqual([]);
  });

  test('gp2 is held to its own size limit', () => {
    expect(findingLines([volumeLimits], [ruleContext({ minio: { storage: { storageClass: 'standard', sizeGiB: 16385 } } })])).toEqual([
      expect.stringMatching(/minio\.storage\.sizeGiB = 16385: allowed: 1 to 16384 GiB on standard \(gp2/),
    ]);
  });

  test('provisioned IOPS need enough GiB, and class parameters are held to the provider limits', () => {
    const io = { name: 'io-heavy', provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3', iops: '16000' } };
    expect(volumeProblem(io, 31)).toMatch(/at least 32 GiB on io-heavy, whose 16000 IOPS/);
    expect(volumeProblem(io, 32)).toBeUndefined();
    expect(storageClassProblems(storageClasses)).toEqual([]);
    const bad: StorageClassSpec[] = [
      { ...storageClasses[0], parameters: { type: 'gp3', iops: '20000', throughput: '125' } },
      { ...storageClasses[0], parameters: { type: 'gp3', iops: '3000', throughput: '1000' } },
      { ...storageClasses[1], parameters: { type: 'gp2', iops: '3000' } },
      { ...storageClasses[1], parameters: { type: 'gp9' } },
    ];
    expect(storageClassProblems(bad)).toEqual([
      expect.stringMatching(/^environments\/shared\/cluster\.ts: storageClasses\[0\]\.parameters\.iops = "20000": allowed: a whole number from 3000 to 16000 on gp3/),
      expect.stringMatching(/storageClasses\[1\]\.parameters\.throughput = "1000": allowed: at most 750 MiB\/s with 3000 IOPS/),
      expect.stringMatching(/storageClasses\[2\]\.parameters\.iops = "3000": allowed: no iops on gp2/),
      expect.stringMatching(/storageClasses\[3\]\.parameters\.type = "gp9": allowed: one of gp3, gp2/),
    ]);
  });
});

describe('availability on the cluster model', () => {
  test('production on a single node is refused on cluster.nodes even without a standby (the API spreads one per node)', () => {
    const availability = require('../../rules/availability').default;
    const lines = findingLines([availability], [ruleContext({ postgres: { standby: { enabled: false } }, cluster: { nodes: 1, nodeCpuMillis: 16000, nodeMemoryMiB: 65536 } })]);
    expect(lines).toEqual([expect.stringMatching(/^environments\/test\.ts: cluster\.nodes = 1: allowed: at least 2 nodes in production \(the API spreads one pod per node\)/)]);
  });
});
