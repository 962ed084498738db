import { imageRef } from '../../environments/schema';
import { catalogImage } from '../../environments/shared/versions';
import { find, podSpec, synthEnvironments, testEnvironment } from '../support/synth';
import { buildApp, synthesize } from '../../main';
import { DEFAULT_RESTORE_THROUGHPUT_MIBPS, restoreEstimate } from '../../constructs/lib/recovery';

describe('restore runbook', () => {
  const env = testEnvironment();
  const { byFolder } = synthEnvironments([env]);
  const runbooks = byFolder.get('test/runbooks')!;
  const applied = byFolder.get('test')!;
  const job = find(runbooks, 'Job', 'postgres-restore');
  const pod = podSpec(job);
  const fetch = pod.initContainers.find((c: any) => c.name === 'fetch');
  const load = pod.containers.find((c: any) => c.name === 'load');
  const value = (c: any, name: string) => c.env.find((e: any) => e.name === name);

  test('the restore Job is in dist/<env>/runbooks, in the namespace, and not in the applied folder', () => {
    expect(runbooks.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Job/networkpolicy-check',
      'Job/postgres-pitr',
      'Job/postgres-promote',
      'Job/postgres-rebuild',
      'Job/postgres-restore',
      'Job/postgres-switch',
      'Job/postgres-verify',
      'PersistentVolumeClaim/data-postgres-0',
      'Role/postgres-switch',
      'RoleBinding/postgres-switch',
      'ServiceAccount/networkpolicy-check',
      'ServiceAccount/postgres-switch',
    ]);
    expect(job.metadata.namespace).toBe('nextgen-test');
    expect(applied.some((m) => m.kind === 'Job' && m.metadata.name === 'postgres-restore')).toBe(false);
  });

  test('the runbook folder gets no kustomization.yaml, so GitOps never applies it', () => {
    const files = synthesize(buildApp([env]));
    expect(files.has('test/runbooks/job-postgres-restore.yaml')).toBe(true);
    expect(files.has('test/runbooks/kustomization.yaml')).toBe(false);
    expect(files.get('test/kustomization.yaml')).not.toContain('runbooks');
    expect(files.get('test/runbooks/README.md')).toMatch(/Not applied by GitOps/);
  });

  test('fetch downloads BACKUP_KEY (default latest) under the environment prefix; load restores as the owner', () => {
    expect(fetch.command).toEqual(['bash', '/scripts/restore.sh', 'fetch']);
    expect(load.command).toEqual(['bash', '/scripts/restore.sh', 'load']);
    expect(value(fetch, 'BACKUP_KEY').value).toBe('latest');
    expect(value(fetch, 'S3_PREFIX').value).toBe('test');
    expect(value(fetch, 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'backup-s3', key: 'secret-access-key' });
    expect(value(load, 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'password' });
    expect(load.image).toBe(imageRef(catalogImage('postgres')));
    expect(fetch.image).toBe(imageRef(catalogImage('awsCli')));
    expect(pod.volumes.find((v: any) => v.name === 'scripts').configMap.name).toBe('postgres-backup-scripts');
    // The scripts ConfigMap it mounts is shipped by the applied folder.
    expect(find(applied, 'ConfigMap', 'postgres-backup-scripts').data['restore.sh']).toContain('pg_restore');
  });

  test('the deadline is the worst-case restore of the data volume at the restore throughput, unless set', () => {
    expect(job.spec.activeDeadlineSeconds).toBe(restoreEstimate(100, DEFAULT_RESTORE_THROUGHPUT_MIBPS).deadlineSeconds);
    // 100 GiB at 51 MiB/s: 2008 s, x1.5 margin + 120 s start-up.
    const at51 = synthEnvironments([testEnvironment({ restore: { throughputMiBps: 51 } })]).byFolder.get('test/runbooks')!;
    expect(find(at51, 'Job', 'postgres-restore').spec.activeDeadlineSeconds).toBe(3132);
    const faster = synthEnvironments([testEnvironment({ restore: { throughputMiBps: 102.4 } })]).byFolder.get('test/runbooks')!;
    expect(find(faster, 'Job', 'postgres-restore').spec.activeDeadlineSeconds).toBe(1620);
    const other = synthEnvironments([testEnvironment({ restore: { activeDeadlineSeconds: 420 } })]).byFolder.get('test/runbooks')!;
    expect(find(other, 'Job', 'postgres-restore').spec.activeDeadlineSeconds).toBe(420);
  });

  test('the scratch volume is a generic ephemeral volume of the backup class, sized from the environment', () => {
    expect(pod.volumes.find((v: any) => v.name === 'restore').ephemeral.volumeClaimTemplate.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'standard-immediate',
      resources: { requests: { storage: '50Gi' } },
    });
  });

  test('the pod carries the backup pods\' labels, so the backup network policy lets it reach PostgreSQL and S3', () => {
    const np = find(applied, 'NetworkPolicy', 'postgres-backup');
    const labels = job.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) expect(labels[k]).toBe(v);
    expect(labels['app.kubernetes.io/component']).toBe('restore');
  });

  test('restricted security context', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [fetch, load]) expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });
});
