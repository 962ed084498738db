/**
 * The NextGen Marketplace API: a Node service on port 3001 with its health check at
 * `/api/v3/health`, JWT auth and CORS for the app, admin and vendor front ends.
 *
 * Emits: Deployment, ConfigMap (non-secret settings), Service `nextgen-api` (80 -> 3001),
 * optional LoadBalancer Service `nextgen-api-lb`, Ingress, HorizontalPodAutoscaler and
 * PodDisruptionBudget. Secrets are referenced, never written.
 */
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { ApiConfig } from '../../environments/schema';
import { IngressHost, hardenIngress } from '../lib/ingress';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { PodDisruptionBudget } from '../lib/pdb';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, INGRESS_CONTROLLER, LOAD_BALANCER_CLIENTS, Peer, Topology } from '../lib/topology';
import { SecretCatalog } from '../platform/secrets';

/** Something the API connects to (database, cache, object store). */
export interface ApiBackend {
  /** Where the API opens connections; becomes an egress/ingress network policy. */
  readonly endpoint: Endpoint;
  /** Environment variables the API needs to use the backend, in order (later ones may use `$(EARLIER)`). */
  clientEnv(consumer: Construct): Record<string, kplus.EnvValue>;
}

export interface ApiProps {
  readonly config: ApiConfig;
  /** Full image reference (`registry/repo@sha256:...` or `registry/repo:tag`). */
  readonly image: string;
  readonly hosts: { readonly api: string; readonly app: string; readonly admin: string; readonly vendor: string };
  /** TLS via cert-manager; `undefined` serves plain HTTP (development only). */
  readonly tls?: { readonly clusterIssuer: string };
  /** @default nginx */
  readonly ingressClassName?: string;
  /**
   * The LoadBalancer Service `nextgen-api-lb` (when `config.loadBalancer`): who may connect
   * (`loadBalancerSourceRanges`, and the NetworkPolicy admits the same ranges) and whether
   * client addresses are kept (`Local`) or SNATed to a node's (`Cluster`).
   * @default - any public client, `externalTrafficPolicy: Local`
   * @see https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/
   */
  readonly loadBalancer?: { readonly sourceRanges: readonly string[]; readonly externalTrafficPolicy: 'Local' | 'Cluster' };
  /** Name of the `kubernetes.io/dockerconfigjson` pull secret. @default regcred */
  readonly imagePullSecret?: string;
  /**
   * Pull policy. Mutable tags must be re-pulled; digests never need to be.
   * @default - IfNotPresent for digests and versioned tags, Always for `latest`
   */
  readonly imagePullPolicy?: kplus.ImagePullPolicy;
}

/**
 * How long a terminating pod can still be sent new requests: the EndpointSlice controller
 * marks it not ready at once, kube-proxy applies that within its sync period (`minSyncPeriod`
 * 1 s), ingress-nginx's Lua balancer within its 1 s endpoint poll; 10 s leaves room for a busy
 * control plane. `api.shutdown.preStopSeconds` must exceed it (the schema says so).
 */
export const ENDPOINTS_PROPAGATION_SECONDS = 10;

export class Api extends Construct {
  static readonly NAME = 'nextgen-api';
  static readonly PORT = 3001;
  static readonly HEALTH_PATH = '/api/v3/health';
  /** The UID the image runs as (node images use 1000). */
  static readonly UID = 1000;

  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly config: kplus.ConfigMap;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly ingress: kplus.Ingress;
  private readonly container: kplus.Container;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const cfg = props.config;
    const name = Api.NAME;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'api', wave: Wave.API });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Api.PORT, portName: 'http' };

    const secrets = SecretCatalog.of(this);
    const jwt = secrets.declare('nextgen-api-jwt', ['secret'], { description: 'JWT signing key (JWT_SECRET)' });
    const regcred = secrets.declare(props.imagePullSecret ?? 'regcred', ['.dockerconfigjson'], {
      type: 'dockerconfigjson',
      description: 'Registry credentials for image pulls',
    });

    const origins = [props.hosts.app, props.hosts.admin, props.hosts.vendor]
      .map((h) => `${props.tls ? 'https' : 'http'}://${h}`)
      .join(',');
    this.config = new kplus.ConfigMap(this, 'Config', {
      metadata: { name: `${name}-config` },
      data: {
        NODE_ENV: 'production',
        API_PORT: String(Api.PORT),
        PORT: String(Api.PORT),
        ALLOWED_ORIGINS: origins,
        LOG_LEVEL: cfg.logLevel,
        JWT_EXPIRATION: cfg.jwtExpiration,
        DATABASE_CONNECTION_LIMIT: String(cfg.databaseConnectionLimit),
        REDIS_CONNECTION_LIMIT: String(cfg.redisConnectionLimit),
        SESSION_CACHE_TTL_SECONDS: String(cfg.cache.sessionTtlSeconds),
        QUERY_CACHE_TTL_SECONDS: String(cfg.cache.queryTtlSeconds),
      },
    });

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name },
      // With the HPA on, `replicas` is left out so a GitOps sync never resets the autoscaler.
      replicas: cfg.autoscaling.enabled ? undefined : cfg.replicas,
      select: false,
      podMetadata: { labels: selector },
      strategy: kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      }),
      minReady: Duration.seconds(10),
      progressDeadline: Duration.seconds(600),
      securityContext: restrictedPod(Api.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', {
        metadata: { name },
        automountToken: false,
      }),
      dockerRegistryAuth: regcred.secret,
      // The preStop delay, then the app's drain after SIGTERM; the kubelet kills at the end.
      terminationGracePeriod: Duration.seconds(cfg.shutdown.preStopSeconds + cfg.shutdown.drainSeconds),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));

    const timing = (failureThreshold: number, periodSeconds: number) => ({
      failureThreshold,
      periodSeconds: Duration.seconds(periodSeconds),
      timeoutSeconds: Duration.seconds(3),
    });
    // The health check also checks the database and Redis: it decides traffic (readiness), but a
    // database outage must not restart every API pod, so startup and liveness only ask whether
    // the process accepts connections on its port.
    const health = (failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromHttpGet(Api.HEALTH_PATH, { port: Api.PORT, ...timing(failureThreshold, periodSeconds) });
    const listening = (failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromTcpSocket({ port: Api.PORT, ...timing(failureThreshold, periodSeconds) });
    const pullPolicy =
      props.imagePullPolicy ??
      (props.image.endsWith(':latest') ? kplus.ImagePullPolicy.ALWAYS : kplus.ImagePullPolicy.IF_NOT_PRESENT);
    this.container = this.deployment.addContainer({
      name: 'api',
      image: props.image,
      imagePullPolicy: pullPolicy,
      ports: [{ number: Api.PORT, name: 'http' }],
      // Startup allows 5 min for migrations-free boot; readiness gates traffic; liveness restarts a hung process.
      startup: listening(30, 10),
      readiness: health(3, 10),
      liveness: listening(3, 20),
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(Api.UID),
      envFrom: [kplus.Env.fromConfigMap(this.config)],
      envVariables: { JWT_SECRET: jwt.env('secret') },
      // Keep serving while the endpoint removal propagates; SIGTERM comes after this returns.
      // An exec `sleep` (the node images have it) rather than the `sleep` handler, which needs
      // Kubernetes 1.30 and we support 1.27.
      lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', String(cfg.shutdown.preStopSeconds)]) },
    });
    // Node writes to /tmp (uploads in flight, npm cache); the root filesystem stays read-only.
    this.container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(512) }));
    hardenPodSpec(this.deployment, { spreadSelector: selector });

    this.service = selectPods(
      new kplus.Service(this, 'Service', {
        metadata: { name },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [{ name: 'http', port: 80, targetPort: Api.PORT }],
      }),
      selector,
    );

    if (cfg.loadBalancer) {
      const lb = props.loadBalancer ?? { sourceRanges: ['0.0.0.0/0'], externalTrafficPolicy: 'Local' };
      const service = selectPods(
        new kplus.Service(this, 'LoadBalancer', {
          metadata: { name: `${name}-lb` },
          type: kplus.ServiceType.LOAD_BALANCER,
          ports: [{ name: 'http', port: 80, targetPort: Api.PORT }],
          loadBalancerSourceRanges: [...lb.sourceRanges],
        }),
        selector,
      );
      // cdk8s-plus-27's Service has no externalTrafficPolicy: set on the L1 object.
      ApiObject.of(service).addJsonPatch(JsonPatch.add('/spec/externalTrafficPolicy', lb.externalTrafficPolicy));
      topology.allow(LOAD_BALANCER_CLIENTS, this.endpoint, `clients through the cloud load balancer ${name}-lb (${lb.sourceRanges.join(', ')}, externalTrafficPolicy ${lb.externalTrafficPolicy})`);
    }

    const host: IngressHost = { host: props.hosts.api, service: this.service, port: 80 };
    this.ingress = hardenIngress(this, 'Ingress', {
      name,
      hosts: [host],
      className: props.ingressClassName ?? 'nginx',
      tls: props.tls,
      tlsSecretName: `${name}-tls`,
      bodySizeMiB: cfg.ingress.bodySizeMiB,
      rateLimitRps: cfg.ingress.rateLimitRps,
      corsOrigins: origins,
    });
    topology.allow(INGRESS_CONTROLLER, this.endpoint, 'public HTTPS traffic through the ingress controller');
    // The API serves Prometheus metrics (prom-client) on its HTTP port.
    topology.addMetrics({ ...this.endpoint, job: name, path: '/metrics', serviceName: name });

    if (cfg.autoscaling.enabled) {
      new kplus.HorizontalPodAutoscaler(this, 'Autoscaler', {
        metadata: { name },
        target: this.deployment,
        minReplicas: cfg.autoscaling.minReplicas,
        maxReplicas: cfg.autoscaling.maxReplicas,
        metrics: [
          kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(cfg.autoscaling.targetCpuPercent)),
          kplus.Metric.resourceMemory(kplus.MetricTarget.averageUtilization(cfg.autoscaling.targetMemoryPercent)),
        ],
      });
    }

    const minReplicas = cfg.autoscaling.enabled ? cfg.autoscaling.minReplicas : cfg.replicas;
    new PodDisruptionBudget(this, 'Disruption', {
      name,
      selector,
      // One pod may go at a time; with a single replica, eviction still proceeds (dev).
      maxUnavailable: 1,
      replicas: minReplicas,
    });
  }

  /** Connect the API to a backend: its environment variables and the network path. */
  use(backend: ApiBackend, reason: string): void {
    for (const [k, v] of Object.entries(backend.clientEnv(this))) this.container.env.addVariable(k, v);
    Topology.of(this).allow(this.peer, backend.endpoint, reason);
  }

  /** The L1 Deployment, for checks and escape hatches. */
  get apiObject(): ApiObject {
    return ApiObject.of(this.deployment);
  }
}
