import { imageRef } from '../../environments/schema';
import { catalogImage } from '../../environments/shared/versions';
import * as fs from 'fs';
import { BACKUP_SCRIPT, RESTORE_SCRIPT } from '../../constructs/postgres/scripts';
import { find, podSpec, synth, testEnvironment } from '../support/synth';

describe('PostgreSQL backup CronJob', () => {
  const prod = synth();
  const prodEnv = testEnvironment();
  const cron = find(prod, 'CronJob', 'postgres-backup');
  const job = cron.spec.jobTemplate.spec;
  const pod = podSpec(cron);
  const dump = pod.initContainers.find((c: any) => c.name === 'dump');
  const upload = pod.containers.find((c: any) => c.name === 'upload');
  const env = (c: any, name: string) => c.env.find((e: any) => e.name === name);

  test('schedule and time zone come from the environment', () => {
    expect(cron.spec.schedule).toBe('5 */2 * * *');
    expect(cron.spec.timeZone).toBe('Etc/UTC');
    const other = find(synth({ backup: { schedule: '15 */6 * * *', rpoMinutes: 360, timeZone: 'Europe/Berlin' } }), 'CronJob', 'postgres-backup');
    expect(other.spec.schedule).toBe('15 */6 * * *');
    expect(other.spec.timeZone).toBe('Europe/Berlin');
  });

  test('runs never overlap, may start late only within the deadline, retry and expire', () => {
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.startingDeadlineSeconds).toBe(300);
    expect(job.activeDeadlineSeconds).toBe(5400);
    expect(job.backoffLimit).toBe(2);
    expect(cron.spec.successfulJobsHistoryLimit).toBeGreaterThan(0);
    expect(cron.spec.failedJobsHistoryLimit).toBeGreaterThan(0);
    const tuned = find(synth({ backup: { activeDeadlineSeconds: 900, backoffLimit: 0, startingDeadlineSeconds: 120 } }), 'CronJob', 'postgres-backup');
    expect(tuned.spec.startingDeadlineSeconds).toBe(120);
    expect(tuned.spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 900, backoffLimit: 0 });
  });

  test('dump runs in the server image (same major) and upload in the pinned AWS CLI image', () => {
    expect(dump.image).toBe(imageRef(catalogImage('postgres')));
    expect(upload.image).toBe(imageRef(catalogImage('awsCli')));
    expect(dump.command).toEqual(['bash', '/scripts/backup.sh', 'dump']);
    expect(upload.command).toEqual(['bash', '/scripts/backup.sh', 'upload']);
  });

  test('the ConfigMap ships exactly the scripts the integration tests run', () => {
    const cm = find(prod, 'ConfigMap', 'postgres-backup-scripts');
    expect(cm.data['backup.sh']).toBe(fs.readFileSync(BACKUP_SCRIPT, 'utf8'));
    expect(cm.data['restore.sh']).toBe(fs.readFileSync(RESTORE_SCRIPT, 'utf8'));
    const vol = pod.volumes.find((v: any) => v.name === 'scripts');
    expect(vol.configMap).toMatchObject({ name: 'postgres-backup-scripts', defaultMode: 0o555 });
  });

  test('database credentials are the owner Secret, S3 credentials the backup-s3 Secret, both by reference', () => {
    expect(env(dump, 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'password' });
    expect(env(dump, 'PGUSER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'username' });
    expect(env(upload, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef).toEqual({ name: 'backup-s3', key: 'access-key-id' });
    expect(env(upload, 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'backup-s3', key: 'secret-access-key' });
    for (const c of [dump, upload]) for (const e of c.env) expect(e.name.match(/PASSWORD|SECRET/) ? e.value : undefined).toBeUndefined();
    const es = find(prod, 'ExternalSecret', 'backup-s3');
    expect(es.spec.data.map((d: any) => d.secretKey).sort()).toEqual(['access-key-id', 'secret-access-key']);
  });

  test('upload encrypts with AES256 and applies the retention windows of the environment', () => {
    expect(env(upload, 'S3_SSE').value).toBe('AES256');
    expect(env(upload, 'LOCAL_RETENTION_DAYS').value).toBe('7');
    expect(env(upload, 'REMOTE_RETENTION_DAYS').value).toBe('90');
    expect(env(upload, 'S3_PREFIX').value).toBe('test');
    expect(env(upload, 'S3_ENDPOINT')).toBeUndefined();
    const minio = podSpec(find(synth({ backup: { s3: { endpoint: 'https://s3.example.com', prefix: 'nextgen/test' }, retention: { localDays: 2, remoteDays: 30 } } }), 'CronJob', 'postgres-backup'));
    const up = minio.containers[0];
    expect(env(up, 'S3_ENDPOINT').value).toBe('https://s3.example.com');
    expect(env(up, 'S3_PREFIX').value).toBe('nextgen/test');
    expect(env(up, 'LOCAL_RETENTION_DAYS').value).toBe('2');
    expect(env(up, 'REMOTE_RETENTION_DAYS').value).toBe('30');
  });

  test('local copies live on the postgres-backups claim, sized and classed from the environment', () => {
    const pvc = find(prod, 'PersistentVolumeClaim', `postgres-backups-${prodEnv.backup.storageClass}`);
    expect(pvc.spec.resources.requests.storage).toBe('50Gi');
    expect(pvc.spec.storageClassName).toBe('standard-immediate');
    expect(pod.volumes.find((v: any) => v.name === 'backups').persistentVolumeClaim.claimName).toBe(`postgres-backups-${prodEnv.backup.storageClass}`);
    for (const c of [dump, upload]) expect(c.volumeMounts).toContainEqual({ mountPath: '/backups', name: 'backups' });
    const small = find(synth({ backup: { scratchSizeGiB: 5 } }), 'PersistentVolumeClaim', `postgres-backups-${prodEnv.backup.storageClass}`);
    expect(small.spec.resources.requests.storage).toBe('5Gi');
  });

  test('the claim is in the last sync wave, so a WaitForFirstConsumer claim blocks no other wave', () => {
    const pvc = find(prod, 'PersistentVolumeClaim', `postgres-backups-${prodEnv.backup.storageClass}`);
    const waves = prod.map((m) => Number(m.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0));
    expect(Number(pvc.metadata.annotations['argocd.argoproj.io/sync-wave'])).toBe(Math.max(...waves));
  });

  test('restricted pod: non-root uid 999 for both containers, read-only root, drop ALL, RuntimeDefault', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [dump, upload]) {
      expect(c.securityContext).toMatchObject({ runAsUser: 999, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.volumeMounts).toContainEqual({ mountPath: '/tmp', name: 'tmp' });
    }
    expect(env(upload, 'HOME').value).toBe('/tmp');
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  test('network: the backup pods may reach PostgreSQL and S3 on the configured port, nothing else', () => {
    const np = find(prod, 'NetworkPolicy', 'postgres-backup');
    expect(cron.spec.jobTemplate.spec.template.metadata.labels).toMatchObject(np.spec.podSelector.matchLabels);
    const ports = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port));
    // 9091: the upload container reports its success to the Pushgateway (constructs/monitoring/pushgateway.ts).
    expect([...new Set(ports)].sort()).toEqual([443, 5432, 9091]);
    // 5432 on the primary and on the standby (the same Service after a failover); 443 to S3 and,
    // for the failover runbook Jobs that run with these labels, to the API server.
    const to = (port: number) => np.spec.egress.filter((r: any) => r.ports.some((p: any) => p.port === port)).flatMap((r: any) => r.to);
    expect(to(5432).map((t: any) => t.podSelector.matchLabels['app.kubernetes.io/name']).sort()).toEqual(['postgres', 'postgres-standby']);
    expect(to(443).map((t: any) => t.ipBlock.cidr).sort()).toEqual(['0.0.0.0/0', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
    const custom = find(synth({ backup: { s3: { egressPort: 9000 } }, postgres: { standby: { enabled: false } } }), 'NetworkPolicy', 'postgres-backup');
    expect(custom.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port)).sort()).toEqual([5432, 9000, 9091]);
  });
});
