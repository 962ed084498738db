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
import { RedisConfig, imageRef } from '../../environments/schema';
import type { ApiBackend } from '../api/api';
import { redisConf } from './config';
import { addClaimTemplate, governingService } from '../lib/statefulset';
import type { CacheTarget } from '../lib/contracts';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { PodDisruptionBudget } from '../lib/pdb';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, Peer } from '../lib/topology';
import { SecretCatalog, SecretRef } from '../platform/secrets';

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
  /** Memory-backed emptyDir where the init container writes `requirepass` from the Secret. */
  static readonly AUTH_DIR = '/run/redis-auth';
  static readonly AUTH_FILE = `${Redis.AUTH_DIR}/requirepass.conf`;
  /**
   * The init container's script: the password from the environment (a Secret reference) into
   * `$AUTH_FILE`, readable by the redis user only. Passwords are URL-safe (`-._~` and
   * alphanumerics), so they need no quoting in the configuration file.
   */
  static readonly WRITE_AUTH_SCRIPT = 'umask 077 && printf \'requirepass %s\\n\' "$REDIS_PASSWORD" > "$AUTH_FILE"';
  /**
   * Alive: the server answers, even while it replays the AOF (`LOADING`) or runs a long script
   * (`BUSY`). Restarting it then would only start the replay again.
   */
  static readonly ALIVE_SCRIPT = `r=$(redis-cli -h 127.0.0.1 -p ${Redis.PORT} ping 2>&1); case "$r" in PONG|LOADING*|BUSY*) exit 0;; esac; echo "$r"; exit 1`;
  /** Ready: authenticated PONG, which only comes once the dataset is loaded. */
  static readonly READY_SCRIPT = `redis-cli -h 127.0.0.1 -p ${Redis.PORT} ping | grep -qx PONG`;

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
          includeFiles: [Redis.AUTH_FILE],
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

    // redis-cli reads the password from REDISCLI_AUTH (never on a command line). Liveness and
    // startup accept a server that is still loading the AOF; readiness waits for PONG.
    const probe = (script: string, failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromCommand(['/bin/sh', '-c', script], {
        failureThreshold,
        periodSeconds: Duration.seconds(periodSeconds),
        timeoutSeconds: Duration.seconds(3),
      });
    const auth = kplus.Volume.fromEmptyDir(this, 'AuthVolume', 'auth', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(1) });
    // The password reaches redis-server through a file, not its command line (`ps` on the node
    // shows every process's arguments): this init container writes it from the Secret.
    this.statefulSet.addInitContainer({
      name: 'auth',
      image: imageRef(cfg.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['/bin/sh', '-c', Redis.WRITE_AUTH_SCRIPT],
      resources: {
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
        memory: { request: Size.mebibytes(16), limit: Size.mebibytes(32) },
      },
      securityContext: restrictedContainer(Redis.UID),
      envVariables: {
        REDIS_PASSWORD: this.passwordSecret.env('password'),
        AUTH_FILE: kplus.EnvValue.fromValue(Redis.AUTH_FILE),
      },
      volumeMounts: [{ path: Redis.AUTH_DIR, volume: auth }],
    });
    const server = this.statefulSet.addContainer({
      name: 'redis',
      image: imageRef(cfg.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['redis-server', `/etc/redis/${Redis.CONFIG_FILE}`],
      // The AOF goes to the working directory: the volume.
      workingDir: Redis.DATA_DIR,
      ports: [{ number: Redis.PORT, name: 'redis' }],
      // Startup ends once the server answers (replaying a large AOF then keeps it unready, not
      // restarting); readiness gates clients on PONG; liveness restarts only a silent server.
      startup: probe(Redis.ALIVE_SCRIPT, 30, 5),
      readiness: probe(Redis.READY_SCRIPT, 3, 10),
      liveness: probe(Redis.ALIVE_SCRIPT, 6, 20),
      resources: containerResources(cfg.resources),
      // Runs as the image's `redis` user with a read-only root: it writes only /data.
      securityContext: restrictedContainer(Redis.UID),
      // For the probes' redis-cli only; the server reads the password from AUTH_FILE.
      envVariables: { REDISCLI_AUTH: this.passwordSecret.env('password') },
    });
    server.mount('/etc/redis', kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.config, { name: 'config' }), { readOnly: true });
    server.mount(Redis.AUTH_DIR, auth, { readOnly: true });
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
