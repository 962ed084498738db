/**
 * One environment of the marketplace: every workload, wired together. Reads only the
 * environment's data; adding an environment never touches this file.
 */
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Environment, imageRef } from '../environments/schema';
import { Api } from './api';
import { Minio } from './minio';
import { Monitoring } from './monitoring';
import { FailoverRunbook, Migrations, Postgres, PostgresBackup, PostgresStandby, RestoreRunbookChart, WalArchive, maxSlotWalKeepBytes } from './postgres';
import { NamespaceBaseline, NetworkPolicies, NetworkPolicyCheck, SecretCatalog } from './platform';
import { Redis } from './redis';
import { stampConfigChecksums } from './lib/checksum';
import { walArchiveBoundSeconds } from './lib/recovery';
import { longestGapSeconds } from './lib/schedule';
import { LABEL, PART_OF } from './lib/identity';
import type { OutputFolder } from './lib/output';
import { Topology } from './lib/topology';

export class MarketplaceChart extends Chart implements OutputFolder {
  readonly folder: string;
  readonly title: string;
  readonly applied = true;
  readonly secrets: SecretCatalog;
  readonly topology: Topology;
  readonly postgres: Postgres;
  readonly redis: Redis;
  readonly minio: Minio;
  readonly api: Api;
  readonly backup: PostgresBackup;
  readonly migrations: Migrations;
  readonly monitoring: Monitoring;
  /** WAL archive and base backups (`backup.walArchive.enabled`). */
  readonly walArchive?: WalArchive;
  /** Streaming standby (`postgres.standby.enabled`, default on in production). */
  readonly standby?: PostgresStandby;
  /** `dist/<env>/runbooks/`: the restore Job, never applied by GitOps (a sibling chart). */
  readonly runbooks: RestoreRunbookChart;
  /**
   * Fields the runbooks change on live objects and own from then on (docs/operations.md):
   * the servers' replicas (a fence, a PITR's stop), the archiver's replicas, the Service
   * switch's selectors. The environment's Argo CD Application never syncs them back.
   */
  readonly operatorOwnedFields: { group: string; kind: string; name: string; jsonPointer: string }[] = [];

  constructor(
    scope: Construct,
    readonly env: Environment,
  ) {
    super(scope, env.name, {
      namespace: env.namespace,
      labels: {
        [LABEL.partOf]: PART_OF,
        [LABEL.managedBy]: 'cdk8s',
        [LABEL.instance]: `nextgen-${env.name}`,
      },
    });
    this.folder = env.name;
    this.title = `The NextGen Marketplace in environment \`${env.name}\` (${env.tier}), namespace \`${env.namespace}\``;
    this.topology = Topology.of(this);
    this.secrets = new SecretCatalog(this, { config: env.secrets, environment: env.name });

    // Data stores first: the API's environment is derived from them.
    const wal = env.backup.walArchive;
    this.postgres = new Postgres(this, 'Postgres', {
      config: env.postgres,
      archiveTimeoutSeconds: wal.enabled ? wal.archiveTimeoutSeconds : undefined,
    });
    this.redis = new Redis(this, 'Redis', { config: env.redis });
    this.minio = new Minio(this, 'Minio', {
      config: env.minio,
      adminAccess: env.network.adminAccess,
      hosts: env.hosts,
      tls: env.tls.enabled ? { clusterIssuer: env.tls.clusterIssuer } : undefined,
      ingressClassName: env.ingressClassName,
    });

    this.api = new Api(this, 'Api', {
      config: env.api,
      image: imageRef(env.image),
      hosts: env.hosts,
      tls: env.tls.enabled ? { clusterIssuer: env.tls.clusterIssuer } : undefined,
      ingressClassName: env.ingressClassName,
      imagePullSecret: env.imagePullSecret,
      loadBalancer: env.network.loadBalancer,
    });
    this.api.use(this.postgres.apiBackend(env.api.databaseConnectionLimit), 'the API reads and writes the database as the restricted app role');
    this.api.use(this.redis.apiBackend(), 'sessions and the query cache');
    this.api.use(this.minio.apiBackend(), 'stores and serves uploaded files');

    // Backups, restore runbook and migrations: all against the database as its owner role.
    this.backup = new PostgresBackup(this, 'Backup', {
      config: env.backup,
      database: this.postgres.target,
      postgresImage: imageRef(env.postgres.image),
      environment: env.name,
    });
    this.runbooks = new RestoreRunbookChart(scope, `${env.name}-runbooks`, {
      environment: env.name,
      namespace: env.namespace,
      labels: this.labels,
      config: env.restore,
      backupConfig: env.backup,
      backup: this.backup,
      database: this.postgres.target,
      postgresImage: imageRef(env.postgres.image),
      dataSizeGiB: env.postgres.storage.sizeGiB,
    });
    // Proof that the cluster enforces the NetworkPolicies below: a hand-run Job (README, install).
    new NetworkPolicyCheck(this.runbooks, 'NetworkPolicyCheck', { target: this.postgres.target, image: imageRef(env.postgres.image), uid: Postgres.UID });
    this.migrations = new Migrations(this, 'Migrations', {
      config: env.migrations,
      database: this.postgres.target,
      image: imageRef(env.image),
      databaseImage: imageRef(env.postgres.image),
      imagePullSecret: env.imagePullSecret,
      uid: Api.UID,
    });

    // Point-in-time recovery, then the standby: it mirrors every connection declared to the
    // primary above, so it comes after all of the database's clients.
    if (wal.enabled) {
      this.walArchive = new WalArchive(this, 'WalArchive', { config: env.backup, database: this.postgres, backup: this.backup });
      this.walArchive.addPitrRunbook(this.runbooks, { restore: env.restore });
    }
    if (env.postgres.standby.enabled ?? env.tier === 'production') {
      const promoted = env.postgres.standby.promoted;
      this.standby = new PostgresStandby(this, 'Standby', { primary: this.postgres, promoted, runbookPeer: this.backup.peer });
      new FailoverRunbook(this.runbooks, 'Failover', { primary: this.postgres, standby: this.standby, peer: this.backup.peer, promoted });
    }
    const owned = (group: string, kind: string, name: string, jsonPointer: string) => this.operatorOwnedFields.push({ group, kind, name, jsonPointer });
    owned('apps', 'StatefulSet', Postgres.NAME, '/spec/replicas');
    // The recovery runbooks stop the dumps while they run and start them again at the end: a sync
    // in between (another change, an operator's \`argocd app sync\`) must not start them early.
    owned('batch', 'CronJob', PostgresBackup.NAME, '/spec/suspend');
    if (this.walArchive) owned('apps', 'Deployment', WalArchive.NAME, '/spec/replicas');
    if (this.standby) {
      owned('apps', 'StatefulSet', PostgresStandby.NAME, '/spec/replicas');
      owned('', 'Service', Postgres.NAME, '/spec/selector');
      owned('', 'Service', PostgresStandby.READ_ONLY_SERVICE, '/spec/selector');
    }

    // Monitoring LAST among the workloads: its scrape jobs and monitors are derived from every
    // metrics endpoint declared above (a validation fails the synth if one comes later).
    this.monitoring = new Monitoring(this, 'Monitoring', {
      config: env.monitoring,
      namespace: env.namespace,
      environment: env.name,
      opsEmail: env.opsEmail,
      adminAccess: env.network.adminAccess,
      grafanaHost: env.hosts.grafana,
      ingressClassName: env.ingressClassName,
      tls: env.tls.enabled ? { clusterIssuer: env.tls.clusterIssuer } : undefined,
      // Ages are judged against each schedule's longest gap plus one run, never the RPO alone
      // (an hourly dump is an hour old before every run). With a WAL archive the archive
      // carries the RPO and the dumps are the portable second line: a late dump is a ticket.
      backups: [
        {
          job: PostgresBackup.NAME,
          title: 'dump',
          scheduleGapSeconds: longestGapSeconds(env.backup.schedule, env.backup.timeZone),
          runSeconds: env.backup.activeDeadlineSeconds,
          severity: wal.enabled ? 'warning' : 'critical',
        },
        ...(wal.enabled
          ? [
              {
                job: WalArchive.BASE_BACKUP,
                title: 'base backup',
                scheduleGapSeconds: longestGapSeconds(wal.baseBackupSchedule, env.backup.timeZone),
                runSeconds: wal.baseBackupDeadlineSeconds,
                severity: 'warning' as const,
              },
            ]
          : []),
      ],
      walArchive: wal.enabled
        ? {
            job: WalArchive.NAME,
            slot: Postgres.slotOf(WalArchive.NAME),
            rpoSeconds: env.backup.rpoMinutes * 60,
            boundSeconds: walArchiveBoundSeconds(wal.archiveTimeoutSeconds, wal.uploadIntervalSeconds),
            uploadIntervalSeconds: wal.uploadIntervalSeconds,
          }
        : undefined,
      replication: {
        standby: Boolean(this.standby),
        slotWalKeepBytes: maxSlotWalKeepBytes(env.postgres.storage.sizeGiB),
        readWriteJob: this.standby && env.postgres.standby.promoted ? this.standby.metricsJob : this.postgres.metricsJob,
      },
      restoreSeconds: env.restore.rtoMinutes * 60,
      externalSecrets: env.secrets.provider === 'external-secrets',
    });
    // The backup reports its result itself (constructs/postgres/push-metrics.sh).
    this.monitoring.pushgateway.acceptPushesFrom(this.backup.peer, this.backup.cronJob.containers, 'the backup pushes its last success, duration and size');
    if (this.walArchive) {
      const uploaders = this.walArchive.deployment.containers.filter((c) => c.name === 'upload');
      this.monitoring.pushgateway.acceptPushesFrom(this.walArchive.peer, uploaders, 'the WAL uploader pushes the time of its last good round');
      this.monitoring.pushgateway.acceptPushesFrom(this.walArchive.baseBackupPeer, this.walArchive.baseBackup.containers, 'the base backup pushes its last success');
    }

    // Add workloads ABOVE this line. finalize() must stay the last statement.
    this.finalize();
  }

  /**
   * Guard rails derived from everything the constructor built: the Namespace with its
   * ResourceQuota (sized from the workloads at maximum scale) and LimitRange, and the
   * NetworkPolicies (derived from the Topology). Both fail the synth with a validation
   * error if a workload or a connection is added after this runs.
   */
  private finalize(): void {
    new NamespaceBaseline(this, 'Namespace', {
      name: this.env.namespace,
      podSecurity: this.env.podSecurity,
      quota: this.env.quota,
      // The restore Job runs in this namespace too when an operator starts it.
      alsoRunning: [this.runbooks],
    });
    new NetworkPolicies(this, 'Network', {
      ingressController: this.env.network.ingressController,
      loadBalancer: this.env.network.loadBalancer,
      nodeRanges: this.env.network.nodeRanges,
      apiServerPort: this.env.network.apiServer.port,
      externalRanges: { 'kube-apiserver': this.env.network.apiServer.ranges.map((cidr) => ({ cidr })) },
    });
    // Every pod template that reads a ConfigMap of this chart rolls when its data changes.
    stampConfigChecksums(this);
  }
}
