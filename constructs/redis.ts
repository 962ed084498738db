/**
 * Redis: the API's session and query cache, a single-replica StatefulSet on the official
 * image with AOF persistence and a redis_exporter sidecar.
 *
 * Emits: StatefulSet `redis` (volume claim `data`), headless Service `redis-headless`, client
 * Service `redis` (6379), ConfigMap `redis-config` (redis.conf, no secrets), ServiceAccount
 * and PodDisruptionBudget. The password comes from Secret `redis` (key `password`).
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { RedisConfig, imageRef } from '../environments/schema';
import type { ApiBackend } from './api';
import { redisConf } from './config/redis';
import { addClaimTemplate, governingService } from './config/statefulset';
import type { CacheTarget } from './lib/contracts';
import { Wave, selectPods } from './lib/identity';
import { declareWorkload } from './lib/workload';
import { PodDisruptionBudget } from './lib/pdb';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from './lib/security';
import { Endpoint, Peer } from './lib/topology';
import { SecretCatalog, SecretRef } from './secrets';

export interface RedisProps {
  readonly config: RedisConfig;
  /**
   * Exporter uid: the redis_exporter image runs as 59000.
   * @default 59000
   */
  readonly exporterUid?: number;
}

export class Redis extends Construct implements CacheTarget {
  static readonly NAME = 'redis';
  static readonly PORT = 6379;
  static readonly METRICS_PORT = 9121;
  /** The `redis` user of the official Debian image. */
  static readonly UID = 999;
  static readonly DATA_DIR = '/data';
  static readonly CONFIG_FILE = 'redis.conf';

  readonly serviceName = Redis.NAME;
  readonly port = Redis.PORT;
  readonly passwordSecret: SecretRef;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly maxclients: number;
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly config: kplus.ConfigMap;
  /** This construct, as the contract other workloads code against. */
  readonly target: CacheTarget = this;

  constructor(scope: Construct, id: string, props: RedisProps) {
    super(scope, id);
    const cfg = props.config;
    const name = Redis.NAME;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'cache', wave: Wave.DATA });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Redis.PORT, portName: 'redis' };
    this.maxclients = cfg.maxclients;
    this.passwordSecret = SecretCatalog.of(this).declare('redis', ['password'], { description: 'Redis requirepass' });

    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name: `${name}-config` },
      data: {
        [Redis.CONFIG_FILE]: redisConf({
          port: Redis.PORT,
          maxmemoryMiB: cfg.maxmemoryMiB,
          maxmemoryPolicy: cfg.maxmemoryPolicy,
          maxclients: cfg.maxclients,
        }),
      },
    });

    const headless = governingService(this, { name, selector, port: Redis.PORT, portName: 'redis' });
    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name },
      replicas: 1,
      service: headless,
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(Redis.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
      terminationGracePeriod: Duration.seconds(30),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));

    // redis-cli reads the password from REDISCLI_AUTH (never on a command line); "PONG" only
    // comes back when authentication worked and the server is not loading the AOF.
    const ping = ['/bin/sh', '-c', `redis-cli -h 127.0.0.1 -p ${Redis.PORT} ping | grep -q PONG`];
    const probe = (failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromCommand(ping, {
        failureThreshold,
        periodSeconds: Duration.seconds(periodSeconds),
        timeoutSeconds: Duration.seconds(3),
      });
    const server = this.statefulSet.addContainer({
      name: 'redis',
      image: imageRef(cfg.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      // `$(REDIS_PASSWORD)` is expanded by the kubelet: exact bytes, no shell involved.
      command: ['redis-server', `/etc/redis/${Redis.CONFIG_FILE}`, '--requirepass', '$(REDIS_PASSWORD)'],
      // The AOF goes to the working directory: the volume.
      workingDir: Redis.DATA_DIR,
      ports: [{ number: Redis.PORT, name: 'redis' }],
      // Replaying a large AOF can take a while after a restart.
      startup: probe(30, 5),
      readiness: probe(3, 10),
      liveness: probe(6, 20),
      resources: containerResources(cfg.resources),
      // Runs as the image's `redis` user with a read-only root: it writes only /data.
      securityContext: restrictedContainer(Redis.UID),
      envVariables: {
        REDIS_PASSWORD: this.passwordSecret.env('password'),
        REDISCLI_AUTH: this.passwordSecret.env('password'),
      },
    });
    server.mount('/etc/redis', kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.config, { name: 'config' }), { readOnly: true });
    addClaimTemplate(this.statefulSet, {
      name: 'data',
      container: server,
      mountPath: Redis.DATA_DIR,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });

    this.statefulSet.addContainer({
      name: 'exporter',
      image: imageRef(cfg.exporterImage),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      ports: [{ number: Redis.METRICS_PORT, name: 'metrics' }],
      readiness: kplus.Probe.fromHttpGet('/health', { port: Redis.METRICS_PORT }),
      resources: {
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
        memory: { request: Size.mebibytes(16), limit: Size.mebibytes(64) },
      },
      securityContext: restrictedContainer(props.exporterUid ?? 59000),
      envVariables: {
        REDIS_ADDR: kplus.EnvValue.fromValue(`redis://127.0.0.1:${Redis.PORT}`),
        REDIS_PASSWORD: this.passwordSecret.env('password'),
        // CONFIG is disabled on the server; skip the exporter's CONFIG GET instead of logging errors.
        REDIS_EXPORTER_CONFIG_COMMAND: kplus.EnvValue.fromValue('-'),
      },
    });
    hardenPodSpec(this.statefulSet);
    topology.addMetrics({ peer: this.peer, port: Redis.METRICS_PORT, portName: 'metrics', job: 'redis', path: '/metrics', serviceName: name });

    this.service = selectPods(
      new kplus.Service(this, 'Service', {
        metadata: { name },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [
          { name: 'redis', port: Redis.PORT, targetPort: Redis.PORT },
          { name: 'metrics', port: Redis.METRICS_PORT, targetPort: Redis.METRICS_PORT },
        ],
      }),
      selector,
    );

    // One replica: a drain may evict it (cache cold for a moment) rather than block node maintenance.
    new PodDisruptionBudget(this, 'Disruption', { name, selector, maxUnavailable: 1, replicas: 1 });
  }

  /**
   * The API's view. REDIS_URL is assembled by `$(VAR)` expansion from the Secret-backed
   * REDIS_PASSWORD; expansion does not URL-encode, so the password must be URL-safe.
   */
  apiBackend(): ApiBackend {
    return {
      endpoint: this.endpoint,
      clientEnv: () => ({
        REDIS_HOST: kplus.EnvValue.fromValue(this.serviceName),
        REDIS_PORT: kplus.EnvValue.fromValue(String(this.port)),
        REDIS_PASSWORD: this.passwordSecret.env('password'),
        REDIS_URL: kplus.EnvValue.fromValue(`redis://:$(REDIS_PASSWORD)@${this.serviceName}:${this.port}`),
      }),
    };
  }
}
