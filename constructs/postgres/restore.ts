/**
 * The restore runbook of one environment: a Job that restores one backup object into the
 * database, written to `dist/<env>/runbooks/`, a folder GitOps never applies (it has no
 * kustomization.yaml); an operator creates the Job by hand when the runbook says so.
 *
 * The pod mirrors the backup pod: init container `fetch` (`amazon/aws-cli`) downloads the
 * object named by `BACKUP_KEY` (default `latest`: the newest under the environment prefix)
 * into a scratch volume; container `load` (the server's `postgres` image) verifies it and runs
 * `pg_restore --clean --if-exists --single-transaction`, so the database ends up either equal
 * to the backup or unchanged. Both run `restore.sh` from the ConfigMap the backup construct
 * ships in the environment (`postgres-backup-scripts`).
 *
 * Network: the pod carries the backup pods' selector labels (plus `component: restore`), so
 * the backup's NetworkPolicies (egress to PostgreSQL and S3, ingress into PostgreSQL) cover it
 * without a policy for a workload that does not exist most of the time.
 */
import { Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { BackupConfig, RestoreConfig } from '../../environments/schema';
import { imageRef } from '../../environments/schema';
import { MOUNT, PostgresBackup, pullPolicy, s3Env } from './backup';
import { HAND_STARTED_ANNOTATIONS } from '../platform/gitops';
import type { DatabaseTarget } from '../lib/contracts';
import { LABEL, Wave, declareIdentity } from '../lib/identity';
import { restoreEstimate, restoreThroughput } from '../lib/recovery';
import type { OutputFolder } from '../lib/output';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { stageOnEphemeralClaim } from './staging-volume';

export interface RestoreRunbookProps {
  /** Environment name: the folder is `<environment>/runbooks`. */
  readonly environment: string;
  readonly namespace: string;
  /** The environment chart's labels, so the Job's pods match its network policies. */
  readonly labels: Record<string, string>;
  readonly config: RestoreConfig;
  readonly backupConfig: BackupConfig;
  /** The environment's backup: its scripts, S3 prefix and credentials. */
  readonly backup: PostgresBackup;
  readonly database: DatabaseTarget;
  /** The server's image, so pg_restore matches the dump's major version. */
  readonly postgresImage: string;
  /** The data volume's size: the worst case the deadline is derived from. */
  readonly dataSizeGiB: number;
}

export class RestoreRunbookChart extends Chart implements OutputFolder {
  static readonly JOB = 'postgres-restore';
  static readonly VERIFY = 'postgres-verify';
  /** The volume the downloaded dump is staged on (`RESTORE_DIR`). */
  static readonly STAGING_VOLUME = 'restore';
  readonly folder: string;
  readonly title: string;
  readonly applied = false;
  /**
   * Every object here is created by an operator in a namespace Argo CD syncs with prune and
   * self-heal: the Jobs, the switch's account and Role, and the claim a PITR restores into
   * (which the StatefulSet then adopts). None may be pruned or turn the Application OutOfSync.
   */
  readonly objectAnnotations = HAND_STARTED_ANNOTATIONS;
  readonly job: kplus.Job;
  /** `postgres-verify`: the check every recovery runbook runs before traffic returns (verify.sh). */
  readonly verify: kplus.Job;

  constructor(scope: Construct, id: string, props: RestoreRunbookProps) {
    super(scope, id, { namespace: props.namespace, labels: props.labels });
    this.folder = `${props.environment}/runbooks`;
    // The worst case: a full data volume at the restore throughput, with margin (lib/recovery.ts).
    const deadline = props.config.activeDeadlineSeconds ?? restoreEstimate(props.dataSizeGiB, restoreThroughput(props.config)).deadlineSeconds;
    this.title =
      `Runbook Jobs for environment \`${props.environment}\`: \`postgres-restore\` restores one backup object ` +
      `(BACKUP_KEY, default \`latest\`) into the database; \`postgres-pitr\` restores the WAL archive to TARGET_TIME ` +
      `into a fresh volume (with the WAL archive); with a standby, \`postgres-promote\`, \`postgres-switch\` and \`postgres-rebuild\` fail over to it ` +
      `(docs/operations.md). Restore deadline ${deadline} s (${props.dataSizeGiB} GiB at ${restoreThroughput(props.config)} MiB/s ` +
      `with margin); RTO ${props.config.rtoMinutes} min`;
    const cfg = props.backupConfig;
    const name = RestoreRunbookChart.JOB;
    const uid = PostgresBackup.UID;
    declareIdentity(this, { name, component: 'restore', wave: Wave.JOBS });

    this.job = new kplus.Job(this, 'Job', {
      // Started by hand: never pruned by Argo CD mid-restore (objectAnnotations above).
      metadata: { name },
      activeDeadline: Duration.seconds(deadline),
      // One retry for a transient failure: a failed attempt rolled back, so retrying is safe.
      backoffLimit: 1,
      select: false,
      podMetadata: { labels: { ...props.backup.peer.selector, [LABEL.component]: 'restore' } },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(this, 'ServiceAccount', PostgresBackup.NAME),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });

    const scripts = kplus.ConfigMap.fromConfigMapName(this, 'Scripts', props.backup.scripts.name);
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', scripts, { name: 'scripts', defaultMode: 0o555 });
    // One downloaded dump, sized like the backup volume: an emptyDir here, made a claim below.
    const restoreVolume = kplus.Volume.fromEmptyDir(this, 'RestoreVolume', RestoreRunbookChart.STAGING_VOLUME);
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(256) });
    const common = {
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(uid),
      volumeMounts: [
        { path: MOUNT.scripts, volume: scriptsVolume, readOnly: true },
        { path: '/restore', volume: restoreVolume },
        { path: MOUNT.tmp, volume: tmpVolume },
      ],
    };
    this.job.addInitContainer({
      name: 'fetch',
      image: imageRef(cfg.awsCliImage),
      imagePullPolicy: pullPolicy(imageRef(cfg.awsCliImage)),
      command: ['bash', `${MOUNT.scripts}/restore.sh`, 'fetch'],
      envVariables: {
        ...s3Env(cfg, props.backup.prefix, props.backup.s3Secret),
        // The operator names the object to restore here (see the README runbook).
        BACKUP_KEY: kplus.EnvValue.fromValue('latest'),
        RESTORE_DIR: kplus.EnvValue.fromValue('/restore'),
      },
      ...common,
    });
    this.job.addContainer({
      name: 'load',
      image: props.postgresImage,
      imagePullPolicy: pullPolicy(props.postgresImage),
      command: ['bash', `${MOUNT.scripts}/restore.sh`, 'load'],
      envVariables: {
        ...props.database.ownerEnv(),
        RESTORE_DIR: kplus.EnvValue.fromValue('/restore'),
        // One transaction (equal to the dump or unchanged); `-j` measured no faster here (README).
        RESTORE_JOBS: kplus.EnvValue.fromValue('1'),
      },
      ...common,
    });
    hardenPodSpec(this.job);
    stageOnEphemeralClaim(this.job, RestoreRunbookChart.STAGING_VOLUME, { storageClassName: cfg.storageClass, sizeGiB: cfg.scratchSizeGiB });

    // The post-restore check, against the read-write Service, as the owner (verify.sh).
    const verifyScope = new Construct(this, 'Verify');
    declareIdentity(verifyScope, { name: RestoreRunbookChart.VERIFY, component: 'restore', wave: Wave.JOBS });
    this.verify = new kplus.Job(verifyScope, 'Job', {
      metadata: { name: RestoreRunbookChart.VERIFY },
      activeDeadline: Duration.seconds(600),
      backoffLimit: 0,
      select: false,
      podMetadata: { labels: { ...props.backup.peer.selector, [LABEL.component]: 'restore' } },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(verifyScope, 'ServiceAccount', PostgresBackup.NAME),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    this.verify.addContainer({
      name: 'verify',
      image: props.postgresImage,
      imagePullPolicy: pullPolicy(props.postgresImage),
      command: ['bash', `${MOUNT.scripts}/verify.sh`],
      resources: containerResources({ requests: { cpuMillis: 50, memoryMiB: 64 }, limits: { cpuMillis: 500, memoryMiB: 256 } }),
      securityContext: restrictedContainer(uid),
      envVariables: {
        ...props.database.ownerEnv(),
        // What the operator knows the database must hold (see verify.sh): set with `kubectl set env --local`.
        EXPECT_MIGRATION: kplus.EnvValue.fromValue(''),
        EXPECT_ROWS: kplus.EnvValue.fromValue(''),
      },
      volumeMounts: [
        { path: MOUNT.scripts, volume: kplus.Volume.fromConfigMap(verifyScope, 'ScriptsVolume', scripts, { name: 'scripts', defaultMode: 0o555 }), readOnly: true },
        { path: MOUNT.tmp, volume: kplus.Volume.fromEmptyDir(verifyScope, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(64) }) },
      ],
    });
    hardenPodSpec(this.verify);
  }
}
