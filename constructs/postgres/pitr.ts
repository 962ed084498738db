/**
 * The point-in-time restore runbook: Job `postgres-pitr` and the fresh claim it restores into
 * (`data-postgres-0`, as the StatefulSet's claim template names it), both created by hand while
 * the StatefulSet is scaled to zero (docs/operations.md "Restore to a point in time").
 *
 * Init container `fetch` (`amazon/aws-cli`) downloads the newest base backup consistent before
 * TARGET_TIME (default `latest`) and the WAL after it from S3; container `restore` (the server's
 * image) checks the WAL for gaps and corruption, replays it to the target in a private server,
 * verifies and stops cleanly (constructs/postgres/pitr.sh). The pod carries the backup pods'
 * labels: their policy allows S3, which is all it reaches.
 *
 * The base backup and the WAL after it (up to the data volume's size) are staged on a generic
 * ephemeral volume of the data's storage class (staging-volume.ts).
 */
import { Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { BackupConfig, RestoreConfig, imageRef } from '../../environments/schema';
import { MOUNT, PostgresBackup, pullPolicy, s3Env } from './backup';
import { LABEL, Wave, declareIdentity } from '../lib/identity';
import { restoreEstimate, restoreThroughput } from '../lib/recovery';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Postgres } from './primary';
import { stageOnEphemeralClaim } from './staging-volume';

/**
 * What the runbook reads of the WAL archive (`WalArchive` is one): a structural type, so this
 * file does not import the archive that adds it (`WalArchive.addPitrRunbook()`).
 */
export interface PitrSource {
  readonly props: { readonly config: BackupConfig; readonly database: Postgres; readonly backup: PostgresBackup };
  /** The ConfigMap holding `pitr.sh`. */
  readonly scripts: kplus.ConfigMap;
}

export interface PitrRunbookProps {
  /** The archive to restore from: its bucket, prefix, credentials, scripts and database. */
  readonly archive: PitrSource;
  /** `restore.throughputMiBps` and `activeDeadlineSeconds` set the Job's deadline. */
  readonly restore: RestoreConfig;
}

export class PitrRunbook extends Construct {
  static readonly JOB = 'postgres-pitr';
  /** The volume the base backup and the WAL are staged on (`RESTORE_DIR`). */
  static readonly STAGING_VOLUME = 'restore';
  readonly job: kplus.Job;

  constructor(runbooks: Chart, id: string, props: PitrRunbookProps) {
    super(runbooks, id);
    const { config: cfg, database: db, backup } = props.archive.props;
    const uid = Postgres.UID;
    const scope = this;
    declareIdentity(scope, { name: PitrRunbook.JOB, component: 'restore', wave: Wave.JOBS });
    const sizeGiB = db.config.storage.sizeGiB;
    const claim = new kplus.PersistentVolumeClaim(scope, 'Claim', {
      metadata: { name: `data-${Postgres.NAME}-0` },
      storage: Size.gibibytes(sizeGiB),
      storageClassName: db.config.storage.storageClass,
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
    });
    // The worst case: a full data volume at the restore throughput, with margin (lib/recovery.ts).
    const deadline = props.restore.activeDeadlineSeconds ?? restoreEstimate(sizeGiB, restoreThroughput(props.restore)).deadlineSeconds;
    this.job = new kplus.Job(scope, 'Job', {
      metadata: { name: PitrRunbook.JOB },
      activeDeadline: Duration.seconds(deadline),
      // A failed attempt leaves a half-restored directory that the next one refuses: no retry.
      backoffLimit: 0,
      select: false,
      podMetadata: { labels: { ...backup.peer.selector, [LABEL.component]: 'restore' } },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(scope, 'ServiceAccount', PostgresBackup.NAME),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    const scripts = kplus.ConfigMap.fromConfigMapName(scope, 'Scripts', props.archive.scripts.name);
    const common = {
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(uid),
      volumeMounts: [
        { path: MOUNT.scripts, volume: kplus.Volume.fromConfigMap(scope, 'ScriptsVolume', scripts, { name: 'scripts', defaultMode: 0o555 }), readOnly: true },
        // The staging volume: an emptyDir here, made a generic ephemeral volume below.
        { path: '/restore', volume: kplus.Volume.fromEmptyDir(scope, 'RestoreVolume', PitrRunbook.STAGING_VOLUME) },
        { path: MOUNT.tmp, volume: kplus.Volume.fromEmptyDir(scope, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) }) },
      ],
    };
    const target = { TARGET_TIME: kplus.EnvValue.fromValue('latest'), RESTORE_DIR: kplus.EnvValue.fromValue('/restore') };
    this.job.addInitContainer({
      name: 'fetch',
      image: imageRef(cfg.awsCliImage),
      imagePullPolicy: pullPolicy(imageRef(cfg.awsCliImage)),
      command: ['bash', `${MOUNT.scripts}/pitr.sh`, 'fetch'],
      envVariables: { ...s3Env(cfg, backup.prefix, backup.s3Secret), ...target },
      ...common,
    });
    this.job.addContainer({
      name: 'restore',
      image: imageRef(db.config.image),
      imagePullPolicy: pullPolicy(imageRef(db.config.image)),
      command: ['bash', `${MOUNT.scripts}/pitr.sh`, 'restore'],
      // The owner is the cluster's superuser: the private server's checks sign in as it.
      envVariables: { ...target, PGDATA: kplus.EnvValue.fromValue(Postgres.PGDATA), PGUSER: db.ownerSecret.env('username') },
      ...common,
      volumeMounts: [
        ...common.volumeMounts,
        { path: Postgres.DATA_MOUNT, volume: kplus.Volume.fromPersistentVolumeClaim(scope, 'DataVolume', claim, { name: 'data' }) },
      ],
    });
    hardenPodSpec(this.job);
    stageOnEphemeralClaim(this.job, PitrRunbook.STAGING_VOLUME, { storageClassName: db.config.storage.storageClass, sizeGiB });
  }
}
