import { imageRef } from '../../environments/schema';
import { catalogImage } from '../../environments/shared/versions';
/**
 * WAL archive and base backups: official images only, the backup bucket under the
 * environment's prefix with SSE, the RPO bound's settings on the primary, and the
 * point-in-time restore runbook.
 */
import { DEFAULT_RESTORE_THROUGHPUT_MIBPS, restoreEstimate } from '../../constructs/lib/recovery';
import { synth, synthEnvironments, testEnvironment, find, findAll, podSpec } from '../support/synth';

describe('WAL archive', () => {
  const ms = synth();
  const archive = podSpec(find(ms, 'Deployment', 'postgres-wal-archive'));
  const c = (spec: any, name: string) => [...(spec.initContainers ?? []), ...spec.containers].find((x: any) => x.name === name);
  const env = (container: any, name: string) => container.env.find((e: any) => e.name === name);

  test('pg_receivewal (server image) and the uploader (aws-cli) share the claim; one pod, replaced not surged', () => {
    expect(c(archive, 'receive').image).toBe(imageRef(catalogImage('postgres')));
    expect(c(archive, 'upload').image).toBe(imageRef(catalogImage('awsCli')));
    expect(c(archive, 'receive').command).toEqual(['bash', '/scripts/wal-archive.sh', 'receive']);
    expect(env(c(archive, 'receive'), 'SLOT').value).toBe('postgres_wal_archive');
    expect(env(c(archive, 'receive'), 'PGUSER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-replication', key: 'username' });
    for (const name of ['receive', 'upload']) expect(c(archive, name).volumeMounts).toEqual(expect.arrayContaining([{ name: 'wal', mountPath: '/wal' }]));
    expect(find(ms, 'Deployment', 'postgres-wal-archive').spec.strategy.type).toBe('Recreate');
    expect(find(ms, 'PersistentVolumeClaim', 'postgres-wal-archive').spec.resources.requests.storage).toBe('10Gi');
  });

  test('each phase has a liveness probe on its loop heartbeat, with a limit above its longest legitimate pause', () => {
    for (const [phase, limit] of [['receive', 600], ['upload', 15 + 600]] as const) {
      const probe = c(archive, phase).livenessProbe;
      expect(probe.exec.command).toEqual(['bash', '/scripts/wal-archive.sh', `${phase}-alive`]);
      expect(env(c(archive, phase), 'ALIVE_SECONDS').value).toBe(String(limit));
      // Restarted at most failureThreshold x period after the limit: stuck loops do not linger.
      expect(probe.failureThreshold * probe.periodSeconds).toBeLessThanOrEqual(120);
      expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(5);
    }
    // The limit follows the upload interval.
    const slow = podSpec(find(synth({ backup: { walArchive: { uploadIntervalSeconds: 300 } } }), 'Deployment', 'postgres-wal-archive'));
    expect(env(c(slow, 'upload'), 'ALIVE_SECONDS').value).toBe('900');
  });

  test('uploads to the backup bucket under the environment prefix, SSE AES256', () => {
    const up = c(archive, 'upload');
    expect(env(up, 'S3_BUCKET').value).toBe('nextgen-backups');
    expect(env(up, 'S3_PREFIX').value).toBe('test');
    expect(env(up, 'S3_SSE').value).toBe('AES256');
    expect(env(up, 'UPLOAD_INTERVAL_SECONDS').value).toBe('15');
    expect(env(up, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef.name).toBe('backup-s3');
  });

  test('the primary closes segments on archive_timeout, only when the archive is on', () => {
    const args = (m: any[]) => podSpec(find(m, 'StatefulSet', 'postgres')).containers[0].args;
    expect(args(ms)).toContain('archive_timeout=60');
    const off = synth({ backup: { walArchive: { enabled: false } } });
    expect(args(off).some((a: string) => a.startsWith('archive_timeout='))).toBe(false);
    expect(findAll(off, 'Deployment').map((d) => d.metadata.name)).not.toContain('postgres-wal-archive');
    expect(findAll(off, 'CronJob').map((d) => d.metadata.name)).not.toContain('postgres-base-backup');
  });

  test('base backups: pg_basebackup as the replication role, then upload and retention of the window', () => {
    const cron = find(ms, 'CronJob', 'postgres-base-backup');
    expect(cron.spec.schedule).toBe('30 1 * * *');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = podSpec(cron);
    expect(c(pod, 'take').command).toEqual(['bash', '/scripts/base-backup.sh', 'take']);
    expect(env(c(pod, 'take'), 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-replication', key: 'password' });
    expect(env(c(pod, 'upload'), 'RETENTION_DAYS').value).toBe('7');
    expect(find(ms, 'ConfigMap', 'postgres-wal-scripts').data['base-backup.sh']).toContain('pg_basebackup');
  });

  test('the point-in-time restore runbook restores into a fresh data claim, deadline from size and throughput', () => {
    const runbooks = synthEnvironments([testEnvironment()]).byFolder.get('test/runbooks')!;
    const job = find(runbooks, 'Job', 'postgres-pitr');
    const pod = podSpec(job);
    expect(env(c(pod, 'fetch'), 'TARGET_TIME').value).toBe('latest');
    expect(env(c(pod, 'restore'), 'PGDATA').value).toBe('/var/lib/postgresql/data/pgdata');
    expect(pod.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('data-postgres-0');
    const claim = find(runbooks, 'PersistentVolumeClaim', 'data-postgres-0');
    expect(claim.spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '100Gi' } } });
    expect(job.spec.activeDeadlineSeconds).toBe(restoreEstimate(100, DEFAULT_RESTORE_THROUGHPUT_MIBPS).deadlineSeconds);
    expect(job.spec.backoffLimit).toBe(0);
  });

  test('the PITR Job stages the base backup and the WAL on a generic ephemeral volume the size of the data, of its class (not node disk: no eviction, no Pending pod)', () => {
    const runbooks = synthEnvironments([testEnvironment()]).byFolder.get('test/runbooks')!;
    const pod = podSpec(find(runbooks, 'Job', 'postgres-pitr'));
    const staging = pod.volumes.find((v: any) => v.name === 'restore');
    expect(staging).toEqual({
      name: 'restore',
      ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: '100Gi' } } } } },
    });
    for (const name of ['fetch', 'restore']) {
      expect({ name, mounts: c(pod, name).volumeMounts.some((m: any) => m.name === 'restore' && m.mountPath === '/restore') }).toEqual({ name, mounts: true });
      expect({ name, ephemeral: c(pod, name).resources.requests['ephemeral-storage'] }).toEqual({ name, ephemeral: undefined });
    }
  });

  test('base backups compress with zstd on as many threads as the CPU limit gives; the scripts source timelines.sh', () => {
    const pod = podSpec(find(ms, 'CronJob', 'postgres-base-backup'));
    const take = c(pod, 'take');
    expect(Number(env(take, 'COMPRESS_WORKERS').value)).toBe(Math.max(1, Math.ceil(Number(/^(\d+)m?$/.exec(String(take.resources.limits.cpu))![1]) / (String(take.resources.limits.cpu).endsWith('m') ? 1000 : 1))));
    const scripts = find(ms, 'ConfigMap', 'postgres-wal-scripts').data;
    expect(scripts['base-backup.sh']).toMatch(/--compress="client-zstd:level=1,workers=\$\{COMPRESS_WORKERS/);
    for (const f of ['wal-archive.sh', 'base-backup.sh', 'pitr.sh']) expect(scripts[f]).toContain('source "$(dirname "${BASH_SOURCE[0]}")/timelines.sh"');
    expect(scripts['timelines.sh']).toContain('timeline_chain()');
  });
});
