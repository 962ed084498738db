/**
 * A streaming standby of the PostgreSQL primary: the same server, settings and exporter
 * (built by `Postgres.addServer`), on its own volume and node, following the primary through
 * the replication slot `postgres_standby`.
 *
 * Emits: StatefulSet `postgres-standby` (init container `bootstrap`: `pg_basebackup` on an
 * empty volume), headless Service `postgres-standby-headless`, read-only Service
 * `postgres-ro` (5432, queries that tolerate replication lag), ConfigMap
 * `postgres-standby-scripts` (standby.sh, also run by the failover runbook), a
 * PodDisruptionBudget and a metrics endpoint (job `postgres-standby`, where
 * `pg_replication_lag_seconds` is measured).
 *
 * Roles live in the data directories (standby.signal), not in the StatefulSets: after a
 * failover `postgres.standby.promoted: true` makes `postgres` select this StatefulSet's pods and
 * `postgres-ro` the old primary's, which the rebuild runbook turns into a standby.
 *
 * Network: every connection declared to the primary is mirrored to the standby (after a
 * failover the same clients reach it through the same Service), and each server may stream
 * from the other.
 */
import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { imageRef } from '../../environments/schema';
import { governingService } from '../lib/statefulset';
import { Wave, selectPods } from '../lib/identity';
import { PodDisruptionBudget } from '../lib/pdb';
import { containerResources, restrictedContainer } from '../lib/security';
import { Endpoint, Peer } from '../lib/topology';
import { KUBE_APISERVER } from '../monitoring/prometheus';
import { declareWorkload } from '../lib/workload';
import { Postgres } from './primary';
import { STANDBY_SCRIPT, scriptText } from './scripts';

export interface PostgresStandbyProps {
  /** The primary it follows; its settings, images and Secrets are reused. */
  readonly primary: Postgres;
  /**
   * The standby was promoted (`postgres.standby.promoted`): the read-write Service selects
   * this StatefulSet's pods and the read-only one the old primary's.
   * @default false
   */
  readonly promoted?: boolean;
  /**
   * Labels the failover runbook Jobs run with (the backup pods', whose policy already reaches
   * both servers); they also get egress to the Kubernetes API for the Service switch.
   * @default - no runbook paths
   */
  readonly runbookPeer?: Peer;
}

export class PostgresStandby extends Construct {
  static readonly NAME = 'postgres-standby';
  /** Read-only Service: whichever server is the standby. */
  static readonly READ_ONLY_SERVICE = 'postgres-ro';
  static readonly SCRIPTS_MOUNT = '/scripts';

  /** The scrape job (the `job` label) of the standby's exporter. */
  readonly metricsJob = PostgresStandby.NAME;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly selector: Record<string, string>;
  readonly statefulSet: kplus.StatefulSet;
  readonly readOnlyService: kplus.Service;
  /** ConfigMap `postgres-standby-scripts` (standby.sh). */
  readonly scripts: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: PostgresStandbyProps) {
    super(scope, id);
    const primary = props.primary;
    const name = PostgresStandby.NAME;
    // The last wave: the replication role it signs in with is created on an existing database
    // by the roles Job (wave 1), and nothing waits for a standby copying a large volume.
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'standby', wave: Wave.MONITORING });
    this.peer = peer;
    this.selector = selector;
    this.endpoint = { peer, port: Postgres.PORT, portName: 'postgres' };

    this.scripts = new kplus.ConfigMap(this, 'Scripts', {
      metadata: { name: `${name}-scripts` },
      data: { 'standby.sh': scriptText(STANDBY_SCRIPT) },
    });
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', this.scripts, { name: 'scripts', defaultMode: 0o555 });

    const headless = governingService(this, { name, selector, port: Postgres.PORT, portName: 'postgres' });
    this.statefulSet = primary.addServer(this, {
      name,
      selector,
      headless,
      peer,
      before: (sts) => {
        sts.addInitContainer({
          name: 'bootstrap',
          image: imageRef(primary.config.image),
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['bash', `${PostgresStandby.SCRIPTS_MOUNT}/standby.sh`, 'bootstrap'],
          resources: containerResources(primary.config.resources),
          securityContext: restrictedContainer(Postgres.UID),
          envVariables: {
            PGDATA: kplus.EnvValue.fromValue(Postgres.PGDATA),
            SLOT: kplus.EnvValue.fromValue(Postgres.slotOf(name)),
            PGHOST: kplus.EnvValue.fromValue(primary.serviceName),
            PGPORT: kplus.EnvValue.fromValue(String(primary.port)),
            REPL_USER: primary.replicationSecret.env('username'),
            REPL_PASSWORD: primary.replicationSecret.env('password'),
          },
          volumeMounts: [
            { path: PostgresStandby.SCRIPTS_MOUNT, volume: scriptsVolume, readOnly: true },
            { path: '/tmp', volume: kplus.Volume.fromEmptyDir(this, 'BootstrapTmp', 'bootstrap-tmp', { sizeLimit: Size.mebibytes(64) }) },
          ],
        });
      },
    });
    // The bootstrap copies into the claim the server mounts (a claim template, so patched).
    ApiObject.of(this.statefulSet).addJsonPatch(
      JsonPatch.add('/spec/template/spec/initContainers/0/volumeMounts/-', { name: 'data', mountPath: Postgres.DATA_MOUNT }),
      // Never on the primary's node: a node failure must not take both copies.
      JsonPatch.add('/spec/template/spec/affinity', {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: primary.selector }, topologyKey: 'kubernetes.io/hostname' }],
        },
      }),
    );

    topology.addMetrics({ peer, port: Postgres.METRICS_PORT, portName: 'metrics', job: this.metricsJob, path: '/metrics', serviceName: PostgresStandby.READ_ONLY_SERVICE });

    const promoted = props.promoted ?? false;
    this.readOnlyService = selectPods(
      new kplus.Service(this, 'ReadOnly', {
        metadata: { name: PostgresStandby.READ_ONLY_SERVICE },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [
          { name: 'postgres', port: Postgres.PORT, targetPort: Postgres.PORT },
          { name: 'metrics', port: Postgres.METRICS_PORT, targetPort: Postgres.METRICS_PORT },
        ],
      }),
      promoted ? primary.selector : selector,
    );
    if (promoted) primary.serveFrom(selector);

    // Whoever reaches the primary reaches the standby after a failover, through the same Service.
    for (const c of [...topology.connections]) {
      if (!('external' in c.to.peer) && c.to.peer.name === primary.peer.name && c.to.port === Postgres.PORT) {
        topology.allow(c.from, this.endpoint, `${c.reason} (after a failover)`, { connections: c.connections });
      }
    }
    if (props.runbookPeer) {
      // Those pods mount no token except the switch Job's, whose Role patches two Services only.
      topology.allow(props.runbookPeer, KUBE_APISERVER, 'failover runbook: switches the read-write and read-only Services');
    }
    topology.allow(peer, primary.endpoint, 'streams WAL through its replication slot (pg_basebackup, then the WAL receiver)');
    topology.allow(primary.peer, this.endpoint, 'after a failover the old primary, rebuilt as a standby, streams from here');

    new PodDisruptionBudget(this, 'Disruption', { name, selector, maxUnavailable: 1, replicas: 1 });
  }
}
