/**
 * Continuous WAL archive and base backups in S3, for point-in-time restore, with official
 * images only (the server's `postgres` image has pg_receivewal and pg_basebackup;
 * `amazon/aws-cli` uploads, as for the dumps).
 *
 * Emits:
 *   - Deployment `postgres-wal-archive` (claim `postgres-wal-archive`, Recreate): container `receive` streams WAL
 *     through the slot `postgres_wal_archive` (pg_receivewal, gzip); container `upload` copies
 *     each closed segment to `s3://<bucket>/<prefix>/wal/` with SSE AES256 and deletes it
 *     locally. The primary closes a segment at least every `archive_timeout`, so the archive's
 *     RPO bound is archive_timeout + upload interval + one upload (constructs/lib/recovery.ts).
 *   - CronJob `postgres-base-backup` (claim `postgres-base-backup` as scratch): init container
 *     `take` runs `pg_basebackup -Ft -z -X stream` and verifies it; container `upload` sends it to
 *     `<prefix>/base/<stamp>/` and applies retention (never a segment a kept backup needs).
 *   - ConfigMap `postgres-wal-scripts` (wal-archive.sh, base-backup.sh, pitr.sh).
 *   - the way back (constructs/postgres/wal-fetch.ts): every server's `restore_command` and its
 *     `wal-fetch` sidecar read the segments from S3, so a standby further behind than the
 *     primary keeps WAL still catches up.
 * `addPitrRunbook()` adds the point-in-time restore Job to the runbook folder (constructs/postgres/pitr.ts).
 */
import { Chart, Cron, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { BackupConfig, RestoreConfig, imageRef } from '../../environments/schema';
import { MOUNT, PostgresBackup, pullPolicy, s3Endpoint, s3Env } from './backup';
import { Wave, declareIdentity } from '../lib/identity';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Peer } from '../lib/topology';
import { declareWorkload } from '../lib/workload';
import { PitrRunbook } from './pitr';
import { WalFetch } from './wal-fetch';
import { Postgres } from './primary';
import { BASE_BACKUP_SCRIPT, PITR_SCRIPT, PUSH_METRICS_SCRIPT, TIMELINES_SCRIPT, WAL_ARCHIVE_SCRIPT, scriptText } from './scripts';

export interface WalArchiveProps {
  readonly config: BackupConfig;
  /** The primary: its replication role and read-write Service. */
  readonly database: Postgres;
  /** The dump backup: its S3 credentials and key prefix are shared. */
  readonly backup: PostgresBackup;
}

const SMALL = { requests: { cpuMillis: 20, memoryMiB: 32 }, limits: { cpuMillis: 500, memoryMiB: 256 } };

export class WalArchive extends Construct {
  static readonly NAME = 'postgres-wal-archive';
  static readonly BASE_BACKUP = 'postgres-base-backup';
  static readonly WAL_MOUNT = '/wal';
  /** Heartbeat age the receive phase's liveness probe accepts (wal-archive.sh receive-alive). */
  static readonly RECEIVE_ALIVE_SECONDS = 600;
  /** Added to the upload interval for the upload phase's liveness probe (wal-archive.sh upload-alive). */
  static readonly UPLOAD_ALIVE_MARGIN_SECONDS = 600;

  readonly deployment: kplus.Deployment;
  readonly baseBackup: kplus.CronJob;
  readonly scripts: kplus.ConfigMap;
  readonly peer: Peer;
  readonly baseBackupPeer: Peer;
  /** What the servers' restore_command fetches WAL through (sidecar `wal-fetch`, constructs/postgres/wal-fetch.ts). */
  readonly fetch: WalFetch;

  constructor(
    scope: Construct,
    id: string,
    /** What it was built from; the point-in-time runbook reads the same. */
    readonly props: WalArchiveProps,
  ) {
    super(scope, id);
    const cfg = props.config;
    const wal = cfg.walArchive;
    const db = props.database;
    const uid = Postgres.UID;
    // The scripts ConfigMap; the archiver and base backups below declare their own identities.
    declareIdentity(this, { name: WalArchive.NAME, component: 'wal-archive', wave: Wave.JOBS });

    this.scripts = new kplus.ConfigMap(this, 'Scripts', {
      metadata: { name: 'postgres-wal-scripts' },
      data: {
        'wal-archive.sh': scriptText(WAL_ARCHIVE_SCRIPT),
        'base-backup.sh': scriptText(BASE_BACKUP_SCRIPT),
        'pitr.sh': scriptText(PITR_SCRIPT),
        // Sourced by both scripts to report to the Pushgateway (the WAL and base-backup alerts).
        'push-metrics.sh': scriptText(PUSH_METRICS_SCRIPT),
        // Sourced by the three above (timeline chains for resuming, retention and restore).
        'timelines.sh': scriptText(TIMELINES_SCRIPT),
      },
    });
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.scripts, { name: 'scripts', defaultMode: 0o555 });
    const s3 = { ...s3Env(cfg, props.backup.prefix, props.backup.s3Secret), S3_SSE: kplus.EnvValue.fromValue('AES256') };

    // --- the archiver: pg_receivewal + uploader, one pod with the segments' volume ---
    const archive = new Construct(this, 'Archive');
    const name = WalArchive.NAME;
    // After the roles Job (wave 1) that creates its replication role on an existing database.
    const { selector, topology, peer } = declareWorkload(archive, { name, component: 'wal-archive', wave: Wave.MONITORING });
    this.peer = peer;
    const walClaim = new kplus.PersistentVolumeClaim(archive, 'Claim', {
      metadata: { name },
      storage: Size.gibibytes(wal.volumeSizeGiB),
      storageClassName: cfg.storageClass,
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
    });
    // One pod on one ReadWriteOnce volume: replaced, never surged (Recreate).
    this.deployment = new kplus.Deployment(archive, 'Deployment', {
      metadata: { name },
      replicas: 1,
      strategy: kplus.DeploymentStrategy.recreate(),
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(archive, 'ServiceAccount', { metadata: { name }, automountToken: false }),
      terminationGracePeriod: Duration.seconds(30),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    const walVolume = kplus.Volume.fromPersistentVolumeClaim(archive, 'WalVolume', walClaim, { name: 'wal' });
    const tmp = (s: Construct, id: string) => kplus.Volume.fromEmptyDir(s, id, 'tmp', { sizeLimit: Size.mebibytes(256) });
    const archiveTmp = tmp(archive, 'Tmp');
    // Liveness: each phase's loop touches a heartbeat in /tmp (wal-archive.sh); a loop stuck in a
    // call that never returns is restarted once the heartbeat is older than its limit, and the
    // restart counts like a crash (WalArchiverCrashLooping). The limits exceed the longest
    // legitimate pause: receive, a connection attempt to an unreachable primary (the kernel
    // gives up on a SYN after about 2 min; one attempt makes a few); upload, the interval plus
    // one segment's upload with the aws CLI's retries (a 60 s read timeout, up to 5 attempts).
    const liveness = (phase: 'receive' | 'upload') =>
      kplus.Probe.fromCommand(['bash', `${MOUNT.scripts}/wal-archive.sh`, `${phase}-alive`], {
        initialDelaySeconds: Duration.seconds(10),
        periodSeconds: Duration.seconds(30),
        timeoutSeconds: Duration.seconds(10),
        failureThreshold: 3,
      });
    this.deployment.addContainer({
      name: 'receive',
      image: imageRef(db.config.image),
      imagePullPolicy: pullPolicy(imageRef(db.config.image)),
      command: ['bash', `${MOUNT.scripts}/wal-archive.sh`, 'receive'],
      resources: containerResources(SMALL),
      securityContext: restrictedContainer(uid),
      envVariables: {
        ...db.replicationEnv(),
        WAL_DIR: kplus.EnvValue.fromValue(WalArchive.WAL_MOUNT),
        SLOT: kplus.EnvValue.fromValue(Postgres.slotOf(name)),
        ALIVE_SECONDS: kplus.EnvValue.fromValue(String(WalArchive.RECEIVE_ALIVE_SECONDS)),
      },
      liveness: liveness('receive'),
      volumeMounts: [
        { path: MOUNT.scripts, volume: scriptsVolume, readOnly: true },
        { path: MOUNT.tmp, volume: archiveTmp },
        { path: WalArchive.WAL_MOUNT, volume: walVolume },
      ],
    });
    this.deployment.addContainer({
      name: 'upload',
      image: imageRef(cfg.awsCliImage),
      imagePullPolicy: pullPolicy(imageRef(cfg.awsCliImage)),
      command: ['bash', `${MOUNT.scripts}/wal-archive.sh`, 'upload'],
      resources: containerResources(SMALL),
      securityContext: restrictedContainer(uid),
      envVariables: {
        ...s3,
        WAL_DIR: kplus.EnvValue.fromValue(WalArchive.WAL_MOUNT),
        UPLOAD_INTERVAL_SECONDS: kplus.EnvValue.fromValue(String(wal.uploadIntervalSeconds)),
        ALIVE_SECONDS: kplus.EnvValue.fromValue(String(wal.uploadIntervalSeconds + WalArchive.UPLOAD_ALIVE_MARGIN_SECONDS)),
      },
      liveness: liveness('upload'),
      volumeMounts: [
        { path: MOUNT.scripts, volume: scriptsVolume, readOnly: true },
        { path: MOUNT.tmp, volume: archiveTmp },
        { path: WalArchive.WAL_MOUNT, volume: walVolume },
      ],
    });
    hardenPodSpec(this.deployment);
    topology.allow(peer, db.endpoint, 'pg_receivewal streams WAL through its replication slot');
    topology.allow(peer, s3Endpoint(cfg), 'closed WAL segments are uploaded to S3');

    // --- base backups: pg_basebackup on a schedule, uploaded, then retention ---
    const base = new Construct(this, 'Base');
    const baseName = WalArchive.BASE_BACKUP;
    const b = declareWorkload(base, { name: baseName, component: 'backup', wave: Wave.JOBS });
    this.baseBackupPeer = b.peer;
    // The class is in the name: a claim's storage class is immutable (as for the dumps' claim).
    const claim = new kplus.PersistentVolumeClaim(base, 'Claim', {
      metadata: { name: `${baseName}-${cfg.storageClass}` },
      // A compressed base backup is smaller than the data it copies.
      storage: Size.gibibytes(db.config.storage.sizeGiB),
      storageClassName: cfg.storageClass,
      accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
    });
    // Binds at once on the backups' Immediate class (rule first-sync-health); last wave, as for the dumps' claim.
    declareIdentity(claim, { name: baseName, component: 'backup', wave: Wave.MONITORING });
    const [minute, hour, day, month, weekDay] = wal.baseBackupSchedule.trim().split(/\s+/);
    this.baseBackup = new kplus.CronJob(base, 'CronJob', {
      metadata: { name: baseName },
      schedule: Cron.schedule({ minute, hour, day, month, weekDay }),
      timeZone: cfg.timeZone,
      concurrencyPolicy: kplus.ConcurrencyPolicy.FORBID,
      startingDeadline: Duration.seconds(cfg.startingDeadlineSeconds),
      activeDeadline: Duration.seconds(wal.baseBackupDeadlineSeconds),
      backoffLimit: cfg.backoffLimit,
      successfulJobsRetained: 3,
      failedJobsRetained: 3,
      select: false,
      podMetadata: { labels: b.selector },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(base, 'ServiceAccount', { metadata: { name: baseName }, automountToken: false }),
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    const common = {
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(uid),
      volumeMounts: [
        { path: MOUNT.scripts, volume: scriptsVolume, readOnly: true },
        { path: '/base', volume: kplus.Volume.fromPersistentVolumeClaim(base, 'BaseVolume', claim, { name: 'base' }) },
        { path: MOUNT.tmp, volume: tmp(base, 'Tmp') },
      ],
    };
    this.baseBackup.addInitContainer({
      name: 'take',
      image: imageRef(db.config.image),
      imagePullPolicy: pullPolicy(imageRef(db.config.image)),
      command: ['bash', `${MOUNT.scripts}/base-backup.sh`, 'take'],
      envVariables: {
        ...db.replicationEnv(),
        BASE_DIR: kplus.EnvValue.fromValue('/base'),
        // zstd threads: as many as the CPU limit gives (gzip was one core: 9 MiB/s, too slow at 100 GiB).
        COMPRESS_WORKERS: kplus.EnvValue.fromValue(String(Math.max(1, Math.ceil(cfg.resources.limits.cpuMillis / 1000)))),
      },
      ...common,
    });
    this.baseBackup.addContainer({
      name: 'upload',
      image: imageRef(cfg.awsCliImage),
      imagePullPolicy: pullPolicy(imageRef(cfg.awsCliImage)),
      command: ['bash', `${MOUNT.scripts}/base-backup.sh`, 'upload'],
      envVariables: { ...s3, BASE_DIR: kplus.EnvValue.fromValue('/base'), RETENTION_DAYS: kplus.EnvValue.fromValue(String(wal.retentionDays)) },
      ...common,
    });
    hardenPodSpec(this.baseBackup);
    b.topology.allow(b.peer, db.endpoint, 'pg_basebackup copies the cluster as the replication role');
    b.topology.allow(b.peer, s3Endpoint(cfg), 'base backups are uploaded to S3, and retention prunes them and the WAL');

    // --- the way back: a server in recovery reads what was archived here (restore_command) ---
    this.fetch = new WalFetch(this, 'Fetch', { config: cfg, backup: props.backup });
    db.fetchWalFrom(this.fetch);
  }

  /**
   * The point-in-time restore runbook (constructs/postgres/pitr.ts): Job `postgres-pitr` and the fresh
   * claim it restores into, in the environment's runbook folder.
   */
  addPitrRunbook(runbooks: Chart, props: { readonly restore: RestoreConfig }): kplus.Job {
    return new PitrRunbook(runbooks, 'Pitr', { archive: this, restore: props.restore }).job;
  }
}
