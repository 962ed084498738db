/**
 * Prometheus Pushgateway, beside Prometheus: where batch Jobs (the database backups) report
 * their last success time, duration and size when they finish. A Job's pod is gone before a
 * scrape could see it, and cluster-state metrics only say that a Job completed, not what it
 * produced; Prometheus documents the Pushgateway for exactly this case (service-level batch
 * jobs, one metric group per job, scraped with `honor_labels`).
 *
 * Persistent: `--persistence.file` on its own volume (a one-replica StatefulSet), so a
 * restart does not forget the last success and fire the backup-age alert.
 *
 * @see https://prometheus.io/docs/practices/pushing/
 * @see https://github.com/prometheus/pushgateway/blob/master/README.md
 *
 * Emits: ServiceAccount, headless Service `pushgateway` (9091), StatefulSet `pushgateway`.
 */
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../environments/schema';
import { addClaimTemplate } from '../lib/statefulset';
import { Wave } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, Peer, Topology } from '../lib/topology';

export interface PushgatewayProps {
  readonly config: MonitoringConfig['pushgateway'];
  /** Full image reference. */
  readonly image: string;
}

export class Pushgateway extends Construct {
  static readonly NAME = 'pushgateway';
  static readonly PORT = 9091;
  /** `nobody` in the upstream image. */
  static readonly UID = 65534;
  static readonly DATA_DIR = '/data';
  /** The environment variable that tells a script where to push (`push_metrics` reads it). */
  static readonly URL_ENV = 'PUSHGATEWAY_URL';
  /** The `job` label a pusher's group gets: its workload name (the alerts select by it). */
  static readonly JOB_ENV = 'PUSHGATEWAY_JOB';

  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  /** `http://pushgateway:9091`, what pushing containers receive in `PUSHGATEWAY_URL`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: PushgatewayProps) {
    super(scope, id);
    const name = Pushgateway.NAME;
    const cfg = props.config;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'monitoring', wave: Wave.MONITORING });
    this.peer = peer;
    this.endpoint = { peer, port: Pushgateway.PORT, portName: 'http' };
    this.url = `http://${name}:${Pushgateway.PORT}`;

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name },
      clusterIP: 'None',
      ports: [{ name: 'http', port: Pushgateway.PORT, targetPort: Pushgateway.PORT }],
    });
    for (const [k, v] of Object.entries(selector)) this.service.selectLabel(k, v);

    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name },
      replicas: 1,
      service: this.service,
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(Pushgateway.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));
    // StatefulSet points its governing Service at its construct-address label; we select by ours.
    ApiObject.of(this.service).addJsonPatch(JsonPatch.remove('/spec/selector/cdk8s.io~1metadata.addr'));

    const probe = (path: string) => kplus.Probe.fromHttpGet(path, { port: Pushgateway.PORT, periodSeconds: Duration.seconds(10) });
    const container = this.statefulSet.addContainer({
      name,
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: [
        `--web.listen-address=:${Pushgateway.PORT}`,
        // Written every minute and on shutdown, read back on start.
        `--persistence.file=${Pushgateway.DATA_DIR}/pushgateway.metrics`,
        '--persistence.interval=1m',
      ],
      ports: [{ number: Pushgateway.PORT, name: 'http' }],
      readiness: probe('/-/ready'),
      liveness: probe('/-/healthy'),
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(Pushgateway.UID),
    });
    // The root filesystem is read-only; /tmp is the one writable path besides the data volume.
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(16) }));
    hardenPodSpec(this.statefulSet);
    addClaimTemplate(this.statefulSet, {
      name: 'data',
      container,
      mountPath: Pushgateway.DATA_DIR,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });

    // Pushed groups carry their own `job` label: the scrape must keep it (honor_labels).
    topology.addMetrics({ ...this.endpoint, job: name, path: '/metrics', serviceName: name, honorLabels: true });
  }

  /**
   * Let `from` push metrics: opens the network path and gives each container
   * `PUSHGATEWAY_URL`, which `push_metrics` (constructs/postgres/push-metrics.sh) reads, and
   * `PUSHGATEWAY_JOB` = the workload name, the `job` label its metrics get.
   */
  acceptPushesFrom(from: Peer, containers: readonly kplus.Container[], reason: string): void {
    for (const c of containers) {
      c.env.addVariable(Pushgateway.URL_ENV, kplus.EnvValue.fromValue(this.url));
      c.env.addVariable(Pushgateway.JOB_ENV, kplus.EnvValue.fromValue(from.name));
    }
    Topology.of(this).allow(from, this.endpoint, reason);
  }
}
