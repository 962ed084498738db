/**
 * WAL from the S3 archive for a server in recovery: without it a standby (or an old primary
 * being rebuilt as one) that falls further behind than the primary keeps WAL never catches up,
 * because streaming can only send what is still in the primary's pg_wal.
 *
 * The server's postgres image has no S3 client, so each server pod gets a small sidecar on the
 * archive's own aws-cli image, `wal-fetch`, and the two talk through an emptyDir: the server's
 * `restore_command` (`wal-fetch.sh restore %f %p`) drops a request there and waits, bounded,
 * for the sidecar to download the file (constructs/postgres/wal-fetch.sh). A miss is answered
 * at once and PostgreSQL goes on streaming. A primary ignores `restore_command`, so both server
 * StatefulSets carry it and either can be the standby after a failover.
 *
 * Emits: ConfigMap `postgres-wal-fetch` (wal-fetch.sh); on every server StatefulSet
 * (`Postgres.fetchWalFrom`): the `restore_command` setting, the sidecar, the shared folder and
 * egress to S3. The S3 credentials are the archive's (Secret `backup-s3`; there is no
 * read-only key to give instead).
 */
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { BackupConfig, imageRef } from '../../environments/schema';
import { MOUNT, PostgresBackup, pullPolicy, s3Endpoint, s3Env } from './backup';
import { Wave, declareIdentity } from '../lib/identity';
import { containerResources, restrictedContainer } from '../lib/security';
import { Topology } from '../lib/topology';
import type { ServerPod, WalSource } from './primary';
import { WAL_FETCH_SCRIPT, scriptText } from './scripts';

export interface WalFetchProps {
  /** The archive's bucket, endpoint and images (`backup`). */
  readonly config: BackupConfig;
  /** The dump backup: its S3 credentials and key prefix, which the archive uploads under. */
  readonly backup: PostgresBackup;
  /**
   * The longest `restore_command` waits for one file before it gives up (PostgreSQL then
   * streams and asks again later).
   * @default 60
   */
  readonly timeoutSeconds?: number;
}

export class WalFetch extends Construct implements WalSource {
  static readonly NAME = 'postgres-wal-fetch';
  static readonly CONTAINER = 'wal-fetch';
  /** The shared folder, in both containers. */
  static readonly DIR = '/wal-fetch';
  /** wal-fetch.sh in the server container (the sidecar has it at MOUNT.scripts, as the archiver). */
  static readonly SCRIPTS_MOUNT = '/wal-fetch-scripts';
  /** Heartbeat age the sidecar's liveness probe accepts: a download hung well past the aws CLI's timeouts. */
  static readonly ALIVE_SECONDS = 300;

  readonly scripts: kplus.ConfigMap;
  /**
   * The `restore_command` setting every server gets. PostgreSQL aborts recovery (the server
   * stops) when the command exits above 125, as bash does for a script it cannot find or run;
   * `|| exit 1` makes every failure a miss, so a broken fetch path leaves streaming working.
   */
  readonly restoreCommand = `bash ${WalFetch.SCRIPTS_MOUNT}/wal-fetch.sh restore %f %p || exit 1`;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: WalFetchProps,
  ) {
    super(scope, id);
    // Mounted by the servers: applied with them, before their pods start.
    declareIdentity(this, { name: WalFetch.NAME, component: 'wal-archive', wave: Wave.DATA });
    this.scripts = new kplus.ConfigMap(this, 'Scripts', {
      metadata: { name: WalFetch.NAME },
      data: { 'wal-fetch.sh': scriptText(WAL_FETCH_SCRIPT) },
    });
  }

  /** Give one server pod the restore_command, the shared folder, the sidecar and its egress to S3. */
  attachTo(pod: ServerPod): void {
    const cfg = this.props.config;
    const { scope, statefulSet: sts, server } = pod;
    const index = sts.containers.indexOf(server);
    ApiObject.of(sts).addJsonPatch(
      JsonPatch.add(`/spec/template/spec/containers/${index}/args/-`, '-c'),
      JsonPatch.add(`/spec/template/spec/containers/${index}/args/-`, `restore_command=${this.restoreCommand}`),
    );
    const dirEnv = { WAL_FETCH_DIR: kplus.EnvValue.fromValue(WalFetch.DIR) };
    // One compressed segment at a time (at most 16 MiB), plus a stale one left by a timeout.
    const shared = kplus.Volume.fromEmptyDir(scope, 'WalFetchDir', 'wal-fetch', { sizeLimit: Size.mebibytes(64) });
    const scripts = kplus.Volume.fromConfigMap(scope, 'WalFetchScripts', this.scripts, { name: 'wal-fetch-scripts', defaultMode: 0o555 });
    server.mount(WalFetch.DIR, shared);
    server.mount(WalFetch.SCRIPTS_MOUNT, scripts, { readOnly: true });
    for (const [k, v] of Object.entries({ ...dirEnv, FETCH_TIMEOUT_SECONDS: kplus.EnvValue.fromValue(String(this.props.timeoutSeconds ?? 60)) })) {
      server.env.addVariable(k, v);
    }

    const image = imageRef(cfg.awsCliImage);
    sts.addContainer({
      name: WalFetch.CONTAINER,
      image,
      imagePullPolicy: pullPolicy(image),
      command: ['bash', `${MOUNT.scripts}/wal-fetch.sh`, 'serve'],
      resources: containerResources({ requests: { cpuMillis: 10, memoryMiB: 32 }, limits: { cpuMillis: 500, memoryMiB: 256 } }),
      securityContext: restrictedContainer(pod.uid),
      envVariables: {
        ...s3Env(cfg, this.props.backup.prefix, this.props.backup.s3Secret),
        ...dirEnv,
        ALIVE_SECONDS: kplus.EnvValue.fromValue(String(WalFetch.ALIVE_SECONDS)),
      },
      // No readiness probe: the sidecar must never take the server out of its Services.
      liveness: kplus.Probe.fromCommand(['bash', `${MOUNT.scripts}/wal-fetch.sh`, 'serve-alive'], {
        initialDelaySeconds: Duration.seconds(10),
        periodSeconds: Duration.seconds(30),
        timeoutSeconds: Duration.seconds(10),
        failureThreshold: 3,
      }),
      volumeMounts: [
        { path: MOUNT.scripts, volume: scripts, readOnly: true },
        { path: WalFetch.DIR, volume: shared },
        // The aws CLI's cache ($HOME, s3Env) on a read-only root.
        { path: MOUNT.tmp, volume: kplus.Volume.fromEmptyDir(scope, 'WalFetchTmp', 'wal-fetch-tmp', { sizeLimit: Size.mebibytes(64) }) },
      ],
    });
    Topology.of(this).allow(pod.peer, s3Endpoint(cfg), 'in recovery, fetches archived WAL the primary no longer keeps (wal-fetch sidecar)');
  }
}
