/**
 * The failover runbook Jobs: promote the standby, switch the Services exactly as synthesis
 * renders them with `promoted` flipped, rebuild the old primary; none applied by GitOps.
 */
import { buildApp, synthesize } from '../../main';
import { find, podSpec, synth, synthEnvironments, testEnvironment } from '../support/synth';

describe('failover runbook', () => {
  const runbooks = synthEnvironments([testEnvironment()]).byFolder.get('test/runbooks')!;
  const job = (name: string) => find(runbooks, 'Job', name);
  const container = (name: string) => podSpec(job(name)).containers[0];

  test('promote targets the read-only Service (the standby) as the owner', () => {
    const c = container('postgres-promote');
    expect(c.command).toEqual(['bash', '/scripts/standby.sh', 'promote']);
    expect(c.env.find((e: any) => e.name === 'PGHOST').value).toBe('postgres-ro');
    expect(c.env.find((e: any) => e.name === 'PGUSER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'username' });
  });

  test('the switch applies the selectors synthesis renders after a failover, with a Role limited to two Services', () => {
    const after = synth({ postgres: { standby: { promoted: true } } });
    const spec = podSpec(job('postgres-switch'));
    const patchOf = (c: any) => JSON.parse(c.command.find((a: string) => a.startsWith('--patch=')).slice('--patch='.length));
    const rw = spec.initContainers[0];
    const ro = spec.containers[0];
    expect(rw.command.slice(0, 4)).toEqual(['kubectl', 'patch', 'service', 'postgres']);
    expect(patchOf(rw).spec.selector).toEqual(find(after, 'Service', 'postgres').spec.selector);
    expect(ro.command.slice(0, 4)).toEqual(['kubectl', 'patch', 'service', 'postgres-ro']);
    expect(patchOf(ro).spec.selector).toEqual(find(after, 'Service', 'postgres-ro').spec.selector);
    expect(rw.image).toMatch(/^registry\.k8s\.io\/kubectl:v/);
    expect(find(runbooks, 'Role', 'postgres-switch').rules).toEqual([
      { apiGroups: [''], resources: ['services'], resourceNames: ['postgres', 'postgres-ro'], verbs: ['get', 'patch'] },
    ]);
    expect(spec.serviceAccountName).toBe('postgres-switch');
  });

  test('rebuild mounts the old primary claim and uses its slot; after a failover the Jobs fail back', () => {
    const c = container('postgres-rebuild');
    expect(c.env.find((e: any) => e.name === 'SLOT').value).toBe('postgres');
    expect(podSpec(job('postgres-rebuild')).volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('data-postgres-0');
    const back = synthEnvironments([testEnvironment({ postgres: { standby: { promoted: true } } })]).byFolder.get('test/runbooks')!;
    const rebuildBack = podSpec(find(back, 'Job', 'postgres-rebuild'));
    expect(rebuildBack.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('data-postgres-standby-0');
  });

  test('the Jobs are written to dist/<env>/runbooks only (no kustomization there)', () => {
    const files = synthesize(buildApp([testEnvironment()]));
    for (const f of ['job-postgres-promote.yaml', 'job-postgres-switch.yaml', 'job-postgres-rebuild.yaml', 'job-postgres-pitr.yaml']) {
      expect(files.has(`test/runbooks/${f}`)).toBe(true);
    }
    expect(files.has('test/runbooks/kustomization.yaml')).toBe(false);
  });
});
