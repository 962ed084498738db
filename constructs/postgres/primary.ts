/**
 * PostgreSQL: the marketplace's database, as a single-replica StatefulSet on the official
 * image (pinned by the version catalog), with a postgres_exporter sidecar.
 *
 * Emits: StatefulSet `postgres` (volume claim `data`), headless Service `postgres-headless`,
 * client Service `postgres` (5432), ConfigMap `postgres-init` (the application, monitoring and
 * replication roles script), ConfigMap `postgres-hba` (client authentication, replication
 * included), Job `postgres-app-role` (re-applies the roles on every sync), ServiceAccounts and
 * a PodDisruptionBudget. Credentials come from Secrets `postgres-owner`, `postgres-app`,
 * `postgres-exporter` and `postgres-replication`. The server is replication-ready (identical
 * settings on primary and standby); `addServer` builds the standby's pods
 * (constructs/postgres/standby.ts); `fetchWalFrom` gives every server a `restore_command` that
 * reads the WAL archive (constructs/postgres/wal-fetch.ts).
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresConfig, imageRef } from '../../environments/schema';
import type { ApiBackend } from '../api/api';
import { APP_ROLE_SQL_FILE, HBA_FILE, HBA_MOUNT, appRoleSql, hbaConf, postgresArgs, postgresSettings } from './config';
import { SetupJob } from '../lib/setup-job';
import { EXPORTER_QUERIES_FILE, exporterQueriesText } from './exporter-queries';
import { addClaimTemplate, governingService } from '../lib/statefulset';
import type { DatabaseTarget } from '../lib/contracts';
import { excludeFromChecksum } from '../lib/checksum';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { PodDisruptionBudget } from '../lib/pdb';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, Peer } from '../lib/topology';
import { SecretCatalog, SecretRef } from '../platform/secrets';

export interface PostgresProps {
  readonly config: PostgresConfig;
  /**
   * Exporter uid: the postgres_exporter image runs as `nobody`.
   * @default 65534
   */
  readonly exporterUid?: number;
  /**
   * `archive_timeout`, when a WAL archive streams from the server: the longest a change
   * waits for its segment to be closed and archived.
   * @default - none (segments close when full)
   */
  readonly archiveTimeoutSeconds?: number;
}

/** A server pod `Postgres.addServer` built, as a WAL source attaches to it. */
export interface ServerPod {
  readonly scope: Construct;
  readonly statefulSet: kplus.StatefulSet;
  /** The `postgres` container. */
  readonly server: kplus.Container;
  readonly peer: Peer;
  /** The user the server runs as. */
  readonly uid: number;
}

/** Where a server in recovery fetches archived WAL (constructs/postgres/wal-fetch.ts). */
export interface WalSource {
  /** Give the server pod its `restore_command` and whatever that command needs. */
  attachTo(pod: ServerPod): void;
}

export class Postgres extends Construct implements DatabaseTarget {
  static readonly NAME = 'postgres';
  static readonly PORT = 5432;
  static readonly METRICS_PORT = 9187;
  static readonly EXPORTER_QUERIES_MOUNT = '/etc/postgres-exporter';
  /** The scrape job (the `job` label) of the primary's exporter. */
  readonly metricsJob = 'postgres';
  /** The `postgres` user of the official Debian image. */
  static readonly UID = 999;
  /** The volume is mounted here; the cluster lives one level down (see PGDATA). */
  static readonly DATA_MOUNT = '/var/lib/postgresql/data';
  /** A subdirectory, because a fresh volume's root holds `lost+found` and initdb wants an empty folder. */
  static readonly PGDATA = `${Postgres.DATA_MOUNT}/pgdata`;
  /** Startup probe budget: initdb on a new volume plus crash recovery; clients' Jobs wait this long. */
  static readonly STARTUP_SECONDS = 600;
  readonly startupSeconds = Postgres.STARTUP_SECONDS;

  readonly serviceName = Postgres.NAME;
  readonly port = Postgres.PORT;
  readonly database: string;
  readonly ownerSecret: SecretRef;
  readonly appSecret: SecretRef;
  /** The exporter's role (keys `username`, `password`): pg_monitor, no data access. */
  readonly monitorSecret: SecretRef;
  /** postgres_exporter's custom queries (slots, WAL receiver), for the primary's and the standby's exporter. */
  readonly exporterQueries: kplus.ConfigMap;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly initScripts: kplus.ConfigMap;
  /** ConfigMap `postgres-hba`: client authentication, replication included. */
  readonly hba: kplus.ConfigMap;
  /** The replication role (keys `username`, `password`): standby, WAL archive, base backups. */
  readonly replicationSecret: SecretRef;
  /** Labels of the primary StatefulSet's pods. */
  readonly selector: Record<string, string>;
  readonly config: PostgresConfig;
  private readonly archiveTimeoutSeconds?: number;
  /** Re-applies the app-role script on every sync (the image runs it itself only on first start). */
  readonly appRoleJob: SetupJob;
  /** Every server pod built (the primary's, the standby's): a WAL source attaches to all of them. */
  private readonly servers: ServerPod[] = [];
  private walSource?: WalSource;
  /** What the roles script reads: the app role's and the monitoring role's names and passwords. */
  private rolesScriptEnv(): Record<string, kplus.EnvValue> {
    return {
      APP_DB_USER: this.appSecret.env('username'),
      APP_DB_PASSWORD: this.appSecret.env('password'),
      MONITOR_DB_USER: this.monitorSecret.env('username'),
      MONITOR_DB_PASSWORD: this.monitorSecret.env('password'),
      REPL_DB_USER: this.replicationSecret.env('username'),
      REPL_DB_PASSWORD: this.replicationSecret.env('password'),
    };
  }

  /** This construct, as the contract other workloads code against. */
  readonly target: DatabaseTarget = this;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const cfg = props.config;
    const name = Postgres.NAME;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'database', wave: Wave.DATA });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Postgres.PORT, portName: 'postgres' };
    this.database = cfg.database;
    this.maxConnections = cfg.maxConnections;
    this.superuserReservedConnections = cfg.superuserReservedConnections;

    const secrets = SecretCatalog.of(this);
    this.ownerSecret = secrets.declare('postgres-owner', ['username', 'password'], {
      description: 'PostgreSQL owner role (superuser of the cluster): migrations, backups, exporter',
    });
    this.appSecret = secrets.declare('postgres-app', ['username', 'password'], {
      description: 'PostgreSQL restricted application role used by the API',
    });
    this.monitorSecret = secrets.declare('postgres-exporter', ['username', 'password'], {
      description: 'PostgreSQL monitoring role (pg_monitor) used by postgres_exporter',
    });

    this.initScripts = new kplus.ConfigMap(this, 'Init', {
      metadata: { name: `${name}-init` },
      data: { [APP_ROLE_SQL_FILE]: appRoleSql() },
    });
    excludeFromChecksum(this.initScripts, 'read by the image only at first start (initdb); the app-role Job re-applies it on every sync, so a change needs no database restart');

    // Our replication queries for the exporter (constructs/postgres/exporter-queries.ts).
    this.exporterQueries = new kplus.ConfigMap(this, 'ExporterQueries', {
      metadata: { name: 'postgres-exporter-queries' },
      data: { [EXPORTER_QUERIES_FILE]: exporterQueriesText() },
    });

    this.hba = new kplus.ConfigMap(this, 'Hba', {
      metadata: { name: `${name}-hba` },
      data: { [HBA_FILE]: hbaConf() },
    });
    this.replicationSecret = secrets.declare('postgres-replication', ['username', 'password'], {
      description: 'PostgreSQL replication role: the standby, the WAL archive and base backups',
    });
    this.config = cfg;
    this.archiveTimeoutSeconds = props.archiveTimeoutSeconds;
    this.selector = selector;

    const headless = governingService(this, { name, selector, port: Postgres.PORT, portName: 'postgres' });
    this.statefulSet = this.addServer(this, { name, selector, headless, peer, exporterUid: props.exporterUid });
    topology.addMetrics({
      peer: this.peer,
      port: Postgres.METRICS_PORT,
      portName: 'metrics',
      job: this.metricsJob,
      path: '/metrics',
      serviceName: name,
    });

    this.service = selectPods(
      new kplus.Service(this, 'Service', {
        metadata: { name },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [
          { name: 'postgres', port: Postgres.PORT, targetPort: Postgres.PORT },
          { name: 'metrics', port: Postgres.METRICS_PORT, targetPort: Postgres.METRICS_PORT },
        ],
      }),
      selector,
    );

    this.appRoleJob = new SetupJob(this, 'AppRole', {
      name: `${name}-app-role`,
      component: 'database',
      image: imageRef(cfg.image),
      uid: Postgres.UID,
      script: { configMap: this.initScripts, file: APP_ROLE_SQL_FILE },
      command: (file) => ['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-f', file],
      waitForDatabase: { target: this, image: imageRef(cfg.image) },
      env: {
        ...this.ownerEnv(),
        ...this.rolesScriptEnv(),
      },
    });
    topology.allow(this.appRoleJob.peer, this.endpoint, 're-applies the app role and its grants as the owner');

    // One replica: a drain may evict it (brief outage) rather than block node maintenance forever.
    new PodDisruptionBudget(this, 'Disruption', { name, selector, maxUnavailable: 1, replicas: 1 });
  }

  /**
   * A StatefulSet running this database's server and exporter: the primary, and the standby
   * (`addStandby`), are built by the same code, so either can take the other's role.
   */
  addServer(
    scope: Construct,
    opts: {
      readonly name: string;
      readonly selector: Record<string, string>;
      readonly headless: kplus.Service;
      /** The pods, as registered in the Topology (for the connections a WAL source adds). */
      readonly peer: Peer;
      readonly exporterUid?: number;
      /** Init containers run before the server (the standby's bootstrap). */
      readonly before?: (sts: kplus.StatefulSet, data: { readonly mountPath: string; readonly claim: string }) => void;
    },
  ): kplus.StatefulSet {
    const cfg = this.config;
    const sts = new kplus.StatefulSet(scope, 'StatefulSet', {
      metadata: { name: opts.name },
      replicas: 1,
      service: opts.headless,
      select: false,
      podMetadata: { labels: opts.selector },
      securityContext: restrictedPod(Postgres.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(scope, 'ServiceAccount', { metadata: { name: opts.name }, automountToken: false }),
      // A clean shutdown (checkpoint) instead of crash recovery on the next start.
      terminationGracePeriod: Duration.seconds(60),
    });
    sts.select(kplus.LabelSelector.of({ labels: opts.selector }));
    opts.before?.(sts, { mountPath: Postgres.DATA_MOUNT, claim: 'data' });

    const settings = postgresSettings({
      maxConnections: cfg.maxConnections,
      superuserReservedConnections: cfg.superuserReservedConnections,
      memoryLimitMiB: cfg.resources.limits.memoryMiB,
      replication: {
        primaryHost: Postgres.NAME,
        primaryPort: Postgres.PORT,
        slotName: Postgres.slotOf(opts.name),
        applicationName: opts.name,
        volumeSizeGiB: cfg.storage.sizeGiB,
        archiveTimeoutSeconds: this.archiveTimeoutSeconds,
      },
    });
    // pg_isready over TCP: during first-start initialisation the entrypoint's temporary server
    // listens on the socket only, so the pod turns ready when the real server is up.
    const isReady = ['/bin/sh', '-c', `exec pg_isready -q -h 127.0.0.1 -p ${Postgres.PORT} -U "$POSTGRES_USER" -d "$POSTGRES_DB"`];
    const probe = (failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromCommand(isReady, {
        failureThreshold,
        periodSeconds: Duration.seconds(periodSeconds),
        timeoutSeconds: Duration.seconds(5),
      });
    const server = sts.addContainer({
      name: 'postgres',
      image: imageRef(cfg.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: postgresArgs(settings),
      ports: [{ number: Postgres.PORT, name: 'postgres' }],
      // initdb on a new volume plus crash recovery after an unclean stop: up to 10 minutes.
      startup: probe(Postgres.STARTUP_SECONDS / 10, 10),
      readiness: probe(3, 10),
      // Alive = the postmaster accepts TCP connections; pg_isready (readiness) also fails while
      // the server is overloaded or refusing connections, which is no reason to restart it.
      liveness: kplus.Probe.fromTcpSocket({ port: Postgres.PORT, failureThreshold: 6, periodSeconds: Duration.seconds(20), timeoutSeconds: Duration.seconds(5) }),
      resources: containerResources(cfg.resources),
      // The official image runs fine as its `postgres` user (999) with a read-only root: it
      // writes only PGDATA (volume), the socket folder and /tmp (emptyDirs below).
      securityContext: restrictedContainer(Postgres.UID),
      envVariables: {
        // The user name stays in the environment: the pg_isready probes read it.
        POSTGRES_USER: this.ownerSecret.env('username'),
        POSTGRES_DB: kplus.EnvValue.fromValue(cfg.database),
        PGDATA: kplus.EnvValue.fromValue(Postgres.PGDATA),
        // Read by the roles script on first start (docker-entrypoint-initdb.d).
        ...this.rolesScriptEnv(),
        // libpq in the WAL receiver (primary_conninfo) reads the replication role from these.
        PGUSER: this.replicationSecret.env('username'),
        PGPASSWORD: this.replicationSecret.env('password'),
      },
    });
    // The official image's entrypoint reads POSTGRES_PASSWORD_FILE (file_env) at first start.
    const ownerFiles = this.ownerSecret.mountFiles(scope, server, ['password']);
    server.env.addVariable('POSTGRES_PASSWORD_FILE', kplus.EnvValue.fromValue(ownerFiles.password));
    // Writable paths with a read-only root: the Unix socket and lock file, and temp files.
    server.mount('/var/run/postgresql', kplus.Volume.fromEmptyDir(scope, 'Run', 'run', { sizeLimit: Size.mebibytes(1) }));
    server.mount('/tmp', kplus.Volume.fromEmptyDir(scope, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(256) }));
    // Parallel query uses POSIX shared memory; the container runtime's default /dev/shm is 64 MiB.
    server.mount(
      '/dev/shm',
      kplus.Volume.fromEmptyDir(scope, 'Shm', 'shm', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(256) }),
    );
    server.mount('/docker-entrypoint-initdb.d', kplus.Volume.fromConfigMap(scope, 'InitVolume', this.initScripts, { name: 'init' }), {
      readOnly: true,
    });
    server.mount(HBA_MOUNT, kplus.Volume.fromConfigMap(scope, 'HbaVolume', this.hba, { name: 'hba' }), { readOnly: true });
    addClaimTemplate(sts, {
      name: 'data',
      container: server,
      mountPath: Postgres.DATA_MOUNT,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });

    const exporterUid = opts.exporterUid ?? 65534;
    const exporter = sts.addContainer({
      name: 'exporter',
      image: imageRef(cfg.exporterImage),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      ports: [{ number: Postgres.METRICS_PORT, name: 'metrics' }],
      readiness: kplus.Probe.fromHttpGet('/', { port: Postgres.METRICS_PORT }),
      resources: {
        cpu: { request: kplus.Cpu.millis(20), limit: kplus.Cpu.millis(200) },
        memory: { request: Size.mebibytes(32), limit: Size.mebibytes(128) },
      },
      securityContext: restrictedContainer(exporterUid),
      envVariables: {
        DATA_SOURCE_URI: kplus.EnvValue.fromValue(`127.0.0.1:${Postgres.PORT}/${cfg.database}?sslmode=disable`),
        // The monitoring role (pg_monitor), not the owner: the exporter reads statistics, never data.
        DATA_SOURCE_USER: this.monitorSecret.env('username'),
        // Deprecated upstream since 0.13 in favour of sql_exporter, still read by the pinned
        // 0.17: one file beats a second exporter per server for two queries.
        PG_EXPORTER_EXTEND_QUERY_PATH: kplus.EnvValue.fromValue(`${Postgres.EXPORTER_QUERIES_MOUNT}/${EXPORTER_QUERIES_FILE}`),
      },
    });
    exporter.mount(Postgres.EXPORTER_QUERIES_MOUNT, kplus.Volume.fromConfigMap(scope, 'ExporterQueriesVolume', this.exporterQueries, { name: 'exporter-queries' }), {
      readOnly: true,
    });
    // postgres_exporter reads the password from DATA_SOURCE_PASS_FILE (a mounted Secret key).
    const monitorFiles = this.monitorSecret.mountFiles(scope, exporter, ['password']);
    exporter.env.addVariable('DATA_SOURCE_PASS_FILE', kplus.EnvValue.fromValue(monitorFiles.password));
    hardenPodSpec(sts);
    const pod: ServerPod = { scope, statefulSet: sts, server, peer: opts.peer, uid: Postgres.UID };
    this.servers.push(pod);
    this.walSource?.attachTo(pod);
    return sts;
  }

  /**
   * Servers in recovery fetch the WAL the primary no longer keeps from `source` (its
   * `restore_command`): every server built so far and every one built later, since after a
   * failover either StatefulSet may be the standby.
   */
  fetchWalFrom(source: WalSource): void {
    if (this.walSource) throw new Error('Postgres.fetchWalFrom: the servers already fetch WAL from another source');
    this.walSource = source;
    for (const pod of this.servers) source.attachTo(pod);
  }

  /**
   * Environment for replication clients (pg_basebackup, pg_receivewal) against the
   * read-write Service, as the replication role.
   */
  replicationEnv(): Record<string, kplus.EnvValue> {
    return {
      PGHOST: kplus.EnvValue.fromValue(this.serviceName),
      PGPORT: kplus.EnvValue.fromValue(String(this.port)),
      PGUSER: this.replicationSecret.env('username'),
      PGPASSWORD: this.replicationSecret.env('password'),
    };
  }

  /** Point the read-write Service at other pods (after a failover). */
  serveFrom(selector: Record<string, string>): void {
    selectPods(this.service, selector);
  }

  /** The replication slot a server of StatefulSet `name` streams through. */
  static slotOf(name: string): string {
    return name.replace(/-/g, '_');
  }

  ownerEnv(): Record<string, kplus.EnvValue> {
    return {
      PGHOST: kplus.EnvValue.fromValue(this.serviceName),
      PGPORT: kplus.EnvValue.fromValue(String(this.port)),
      PGDATABASE: kplus.EnvValue.fromValue(this.database),
      PGUSER: this.ownerSecret.env('username'),
      PGPASSWORD: this.ownerSecret.env('password'),
    };
  }

  /**
   * The API's view: the restricted role and a Prisma `DATABASE_URL`.
   *
   * DATABASE_URL is assembled by Kubernetes `$(VAR)` expansion from the two Secret-backed
   * variables before it, so no password is written anywhere. Expansion does not URL-encode:
   * the secret backend must generate URL-safe passwords (letters, digits, `-._~`).
   *
   * DATABASE_URL carries Prisma's own parameters (`schema`, `connection_limit`: the pool size
   * the connection budget counts), which libpq refuses ("invalid URI query parameter"), and
   * no form carries a pool size both accept. So the API also gets libpq's own variables
   * (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD): `psql` with no arguments in the API pod
   * connects as the API's role, to the API's database (README, "The guide's commands").
   */
  apiBackend(connectionLimit: number): ApiBackend {
    return {
      endpoint: this.endpoint,
      clientEnv: () => ({
        DB_HOST: kplus.EnvValue.fromValue(this.serviceName),
        DB_PORT: kplus.EnvValue.fromValue(String(this.port)),
        DB_NAME: kplus.EnvValue.fromValue(this.database),
        DB_USER: this.appSecret.env('username'),
        DB_PASSWORD: this.appSecret.env('password'),
        DATABASE_URL: kplus.EnvValue.fromValue(
          `postgresql://$(DB_USER):$(DB_PASSWORD)@${this.serviceName}:${this.port}/${this.database}` +
            `?schema=public&connection_limit=${connectionLimit}`,
        ),
        PGHOST: kplus.EnvValue.fromValue(this.serviceName),
        PGPORT: kplus.EnvValue.fromValue(String(this.port)),
        PGDATABASE: kplus.EnvValue.fromValue(this.database),
        PGUSER: this.appSecret.env('username'),
        PGPASSWORD: this.appSecret.env('password'),
      }),
    };
  }
}
