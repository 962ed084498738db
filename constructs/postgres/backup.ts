/**
 * Scheduled PostgreSQL backups to S3-compatible storage.
 *
 * A CronJob whose pod has two containers from official images, because no official image
 * carries both pg_dump (of the server's major version) and the AWS CLI:
 *   1. init container `dump` (the server's own `postgres` image): `pg_dump --format=custom`
 *      into the `postgres-backups-<class>` volume, verified with `pg_restore --list`;
 *   2. container `upload` (`amazon/aws-cli`): checksum check, `aws s3 cp --sse AES256` to
 *      `s3://<bucket>/<prefix>/<db>-<UTC timestamp>.dump`, then retention (local and remote).
 * Both run `constructs/postgres/backup.sh`, shipped in the ConfigMap `postgres-backup-scripts`
 * (which also carries `restore.sh` for the restore runbook).
 *
 * Custom format rather than plain SQL + gzip: it is compressed, `pg_restore --list` verifies
 * the whole table of contents, and restores can be selective and parallel (`-j`).
 *
 * Emits: CronJob, ConfigMap, PersistentVolumeClaim, ServiceAccount; declares Secret `backup-s3`.
 */
import { ApiObject, Cron, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { BackupConfig, imageRef } from '../../environments/schema';
import type { DatabaseTarget } from '../lib/contracts';
import { Wave, declareIdentity } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { ExternalEndpoint, Peer } from '../lib/topology';
import { BACKUP_SCRIPT, PUSH_METRICS_SCRIPT, RESTORE_SCRIPT, VERIFY_SCRIPT, scriptText } from './scripts';
import { SecretCatalog, SecretRef } from '../platform/secrets';

export interface PostgresBackupProps {
  readonly config: BackupConfig;
  readonly database: DatabaseTarget;
  /** Image with pg_dump/pg_restore; use the server's own image so the major versions match. */
  readonly postgresImage: string;
  /** Object key prefix in the bucket. @default - `config.s3.prefix`, else `environment` */
  readonly prefix?: string;
  /** Environment name, the fallback key prefix. */
  readonly environment: string;
}

/** Where the pods mount things; shared with the restore Job. */
export const MOUNT = { scripts: '/scripts', backups: '/backups', tmp: '/tmp' } as const;

/** S3 destination and credentials as container environment, for the aws-cli containers. */
export function s3Env(config: BackupConfig, prefix: string, credentials: SecretRef): Record<string, kplus.EnvValue> {
  return {
    S3_BUCKET: kplus.EnvValue.fromValue(config.s3.bucket),
    S3_PREFIX: kplus.EnvValue.fromValue(prefix),
    ...(config.s3.endpoint ? { S3_ENDPOINT: kplus.EnvValue.fromValue(config.s3.endpoint) } : {}),
    AWS_DEFAULT_REGION: kplus.EnvValue.fromValue(config.s3.region),
    AWS_ACCESS_KEY_ID: credentials.env('access-key-id'),
    AWS_SECRET_ACCESS_KEY: credentials.env('secret-access-key'),
    // The root filesystem is read-only; the CLI keeps its cache under $HOME.
    HOME: kplus.EnvValue.fromValue(MOUNT.tmp),
  };
}

/** Pinned images are pulled once per node; a mutable `latest` is always re-pulled. */
export function pullPolicy(image: string): kplus.ImagePullPolicy {
  return image.endsWith(':latest') ? kplus.ImagePullPolicy.ALWAYS : kplus.ImagePullPolicy.IF_NOT_PRESENT;
}

/** The S3 endpoint backup and restore pods reach, for the egress policy. */
export function s3Endpoint(config: BackupConfig): ExternalEndpoint {
  return { peer: { name: 's3', external: 'internet' }, port: config.s3.egressPort };
}

export class PostgresBackup extends Construct {
  static readonly NAME = 'postgres-backup';
  /** Both containers run as the postgres image's user, so the dump files need no chown. */
  static readonly UID = 999;
  static readonly SECRET = 'backup-s3';

  readonly cronJob: kplus.CronJob;
  /** `backup.sh` and `restore.sh`, mounted at `/scripts`. */
  readonly scripts: kplus.ConfigMap;
  readonly claim: kplus.PersistentVolumeClaim;
  /** Secret `backup-s3`: keys `access-key-id`, `secret-access-key`. */
  readonly s3Secret: SecretRef;
  readonly prefix: string;
  readonly peer: Peer;

  constructor(scope: Construct, id: string, props: PostgresBackupProps) {
    super(scope, id);
    const cfg = props.config;
    const name = PostgresBackup.NAME;
    const uid = PostgresBackup.UID;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'backup', wave: Wave.JOBS });
    this.peer = peer;
    this.prefix = props.prefix ?? cfg.s3.prefix ?? props.environment;

    this.s3Secret = SecretCatalog.of(this).declare(PostgresBackup.SECRET, ['access-key-id', 'secret-access-key'], {
      description: 'S3 credentials for database backups (write and delete under the environment prefix)',
    });

    this.scripts = new kplus.ConfigMap(this, 'Scripts', {
      metadata: { name: `${name}-scripts` },
      data: { 'backup.sh': scriptText(BACKUP_SCRIPT), 'restore.sh': scriptText(RESTORE_SCRIPT), 'push-metrics.sh': scriptText(PUSH_METRICS_SCRIPT), 'verify.sh': scriptText(VERIFY_SCRIPT) },
    });

    // A claim's storage class is immutable: the class is part of the name, so changing it (as
    // from `standard` to `standard-immediate`) is a new claim, not an upgrade the API server refuses.
    this.claim = new kplus.PersistentVolumeClaim(this, 'Claim', {
      metadata: { name: `postgres-backups-${cfg.storageClass}` },
      storage: Size.gibibytes(cfg.scratchSizeGiB),
      storageClassName: cfg.storageClass,
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
    });
    // Only the CronJob mounts it: on a WaitForFirstConsumer class it would stay Pending (Argo CD:
    // Progressing) until the first backup, so its class binds Immediately (rule
    // `first-sync-health`). In the last wave nothing waits for it all the same.
    declareIdentity(this.claim, { name, component: 'backup', wave: Wave.MONITORING });

    const [minute, hour, day, month, weekDay] = cfg.schedule.trim().split(/\s+/);
    this.cronJob = new kplus.CronJob(this, 'CronJob', {
      metadata: { name },
      schedule: Cron.schedule({ minute, hour, day, month, weekDay }),
      timeZone: cfg.timeZone,
      // A second dump while one runs would only compete for I/O; a run that cannot start is
      // missed (and the RPO rule accounts for the schedule, not for overlaps).
      concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
      startingDeadline: Duration.seconds(cfg.startingDeadlineSeconds),
      activeDeadline: Duration.seconds(cfg.activeDeadlineSeconds),
      backoffLimit: cfg.backoffLimit,
      successfulJobsRetained: 3,
      failedJobsRetained: 3,
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });

    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.scripts, { name: 'scripts', defaultMode: 0o555 });
    const backupsVolume = kplus.Volume.fromPersistentVolumeClaim(this, 'BackupsVolume', this.claim, { name: 'backups' });
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) });
    const mounts = [
      { path: MOUNT.scripts, volume: scriptsVolume, readOnly: true },
      { path: MOUNT.backups, volume: backupsVolume },
      { path: MOUNT.tmp, volume: tmpVolume },
    ];
    const common = {
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(uid),
      volumeMounts: mounts,
    };

    this.cronJob.addInitContainer({
      name: 'dump',
      image: props.postgresImage,
      imagePullPolicy: pullPolicy(props.postgresImage),
      command: ['bash', `${MOUNT.scripts}/backup.sh`, 'dump'],
      envVariables: { ...props.database.ownerEnv(), BACKUP_DIR: kplus.EnvValue.fromValue(MOUNT.backups) },
      ...common,
    });
    this.cronJob.addContainer({
      name: 'upload',
      image: imageRef(cfg.awsCliImage),
      imagePullPolicy: pullPolicy(imageRef(cfg.awsCliImage)),
      command: ['bash', `${MOUNT.scripts}/backup.sh`, 'upload'],
      envVariables: {
        ...s3Env(cfg, this.prefix, this.s3Secret),
        S3_SSE: kplus.EnvValue.fromValue('AES256'),
        BACKUP_DIR: kplus.EnvValue.fromValue(MOUNT.backups),
        LOCAL_RETENTION_DAYS: kplus.EnvValue.fromValue(String(cfg.retention.localDays)),
        REMOTE_RETENTION_DAYS: kplus.EnvValue.fromValue(String(cfg.retention.remoteDays)),
      },
      ...common,
    });
    hardenPodSpec(this.cronJob);

    topology.allow(this.peer, props.database.endpoint, 'pg_dump reads the database as the owner role');
    topology.allow(this.peer, s3Endpoint(cfg), 'dumps are uploaded to S3-compatible storage');
  }

  /** The L1 CronJob, for checks and escape hatches. */
  get apiObject(): ApiObject {
    return ApiObject.of(this.cronJob);
  }
}

