/**
 * Bulk scratch space (a downloaded dump, a base backup and its WAL) lives on claims, never on
 * node disk. An emptyDir of tens of GiB either carries an ephemeral-storage request no usual node
 * can meet (the scheduler leaves the pod Pending: the simulated cluster's PITR drill showed it
 * for `postgres-pitr`, which asked for 101Gi) or has none, and the kubelet evicts the pod when it
 * fills the node's disk. So: every emptyDir of every pod in every folder (runbooks included) has
 * a small sizeLimit, no container requests more than a little ephemeral storage, and the
 * recovery Jobs stage on generic ephemeral volumes of a class the cluster defines.
 */
import { storageClasses } from '../../environments/shared/cluster';
import { toMiB } from '../../constructs/lib/quantity';
import { type Manifest } from '../../constructs/lib/output';
import { podSpec, realManifests, WORKLOAD_KINDS } from '../support/synth';

/** The most node disk a pod may use for scratch (emptyDir sizeLimit, ephemeral-storage request). */
const NODE_DISK_MIB = 1024;

function nodeDiskProblems(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests as any[]) {
    if (!WORKLOAD_KINDS.includes(m.kind)) continue;
    const spec = podSpec(m);
    const at = `${m.kind}/${m.metadata.name}`;
    for (const v of spec.volumes ?? []) {
      if (!v.emptyDir) continue;
      if (v.emptyDir.sizeLimit === undefined) out.push(`${at} volume ${v.name}: an emptyDir without sizeLimit`);
      else if (toMiB(v.emptyDir.sizeLimit) > NODE_DISK_MIB) out.push(`${at} volume ${v.name}: an emptyDir of ${v.emptyDir.sizeLimit}`);
    }
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const e = c.resources?.requests?.['ephemeral-storage'] ?? c.resources?.limits?.['ephemeral-storage'];
      if (e !== undefined && toMiB(e) > NODE_DISK_MIB) out.push(`${at} container ${c.name}: ephemeral-storage ${e}`);
    }
  }
  return out;
}

describe('scratch space', () => {
  const byFolder = realManifests();

  test.each([...byFolder.keys()])('%s: no pod stages bulk data on node disk', (folder) => {
    expect(nodeDiskProblems(byFolder.get(folder)!)).toEqual([]);
  });

  test('the recovery Jobs stage on generic ephemeral volumes of a class the cluster defines, sized for their data', () => {
    const classes = storageClasses.map((c) => c.name);
    for (const [folder, manifests] of byFolder) {
      if (!folder.endsWith('/runbooks')) continue;
      for (const name of ['postgres-restore', 'postgres-pitr']) {
        const job = manifests.find((m) => m.kind === 'Job' && m.metadata.name === name) as any;
        if (!job) continue;
        const restore = podSpec(job).volumes.find((v: any) => v.name === 'restore');
        const spec = restore.ephemeral?.volumeClaimTemplate?.spec;
        expect({ folder, name, emptyDir: restore.emptyDir, class: classes.includes(spec?.storageClassName) }).toEqual({ folder, name, emptyDir: undefined, class: true });
        expect(toMiB(spec.resources.requests.storage)).toBeGreaterThanOrEqual(1024);
      }
    }
  });

  test('the check sees the old PITR Job: a 100Gi emptyDir with a 101Gi ephemeral-storage request', () => {
    const old: any = {
      kind: 'Job',
      metadata: { name: 'postgres-pitr' },
      spec: { template: { spec: { containers: [{ name: 'restore', resources: { requests: { 'ephemeral-storage': '101Gi' } } }], volumes: [{ name: 'restore', emptyDir: { sizeLimit: '100Gi' } }, { name: 'tmp', emptyDir: {} }] } } },
    };
    expect(nodeDiskProblems([old])).toEqual([
      'Job/postgres-pitr volume restore: an emptyDir of 100Gi',
      'Job/postgres-pitr volume tmp: an emptyDir without sizeLimit',
      'Job/postgres-pitr container restore: ephemeral-storage 101Gi',
    ]);
  });
});
