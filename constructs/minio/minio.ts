/**
 * MinIO: S3-compatible object storage for uploads, a single-replica StatefulSet with an
 * idempotent bucket Job.
 *
 * Emits: StatefulSet `minio` (volume claim `data`), headless Service `minio-headless`,
 * Services `minio` (S3 API, 9000) and `minio-console` (9001), ConfigMap and Job
 * `minio-bucket` (bucket, versioning, lifecycle), optional Ingresses for `hosts.minio`
 * (MINIO_SERVER_URL) and `hosts.minioConsole` (MINIO_BROWSER_URL), ServiceAccounts and a
 * PodDisruptionBudget. Root credentials come from Secret `minio-root`.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { MinioConfig, imageRef } from '../../environments/schema';
import type { ApiBackend } from '../api/api';
import { BUCKET_SCRIPT_FILE, appPolicy, bucketScript } from './config';
import { SetupJob } from '../lib/setup-job';
import { addClaimTemplate, governingService } from '../lib/statefulset';
import type { ObjectStoreTarget } from '../lib/contracts';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { AdminAccess, hardenIngress, restricts } from '../lib/ingress';
import { PodDisruptionBudget } from '../lib/pdb';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, INGRESS_CONTROLLER, Peer } from '../lib/topology';
import { SecretCatalog, SecretRef } from '../platform/secrets';

export interface MinioProps {
  readonly config: MinioConfig;
  /** `hosts.minio` and `hosts.minioConsole`: the public URLs, and the Ingress hosts when enabled. */
  readonly hosts: { readonly minio: string; readonly minioConsole: string };
  /** TLS via cert-manager on the Ingresses; `undefined` serves plain HTTP (development only). @default - no TLS */
  readonly tls?: { readonly clusterIssuer: string };
  /** @default nginx */
  readonly ingressClassName?: string;
  /**
   * Who may open the console (an admin UI) through its Ingress (`network.adminAccess`).
   * @default - no restriction: the console gets no Ingress (kubectl port-forward)
   */
  readonly adminAccess?: AdminAccess;
  /**
   * UID (and fsGroup) for the server and the bucket Job; the MinIO images run as any user.
   * @default 1000
   */
  readonly uid?: number;
}

export class Minio extends Construct implements ObjectStoreTarget {
  static readonly NAME = 'minio';
  static readonly PORT = 9000;
  static readonly CONSOLE_PORT = 9001;
  static readonly DATA_DIR = '/data';
  static readonly METRICS_PATH = '/minio/v2/metrics/cluster';
  /** Startup probe budget (30 x 5 s); the bucket Job waits twice as long for the server. */
  static readonly STARTUP_SECONDS = 150;

  readonly serviceName = Minio.NAME;
  readonly port = Minio.PORT;
  readonly bucket: string;
  readonly rootSecret: SecretRef;
  /** The API's own MinIO user (keys `access-key`, `secret-key`), created by the bucket Job. */
  readonly appSecret: SecretRef;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  readonly consoleEndpoint: Endpoint;
  /**
   * `MINIO_SERVER_URL` and `MINIO_BROWSER_URL`: where browsers reach the S3 API and the
   * console; each only when its Ingress exists (a URL without one leads nowhere).
   */
  readonly serverUrl?: string;
  readonly browserUrl?: string;
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly consoleService: kplus.Service;
  readonly bucketJob: SetupJob;
  /** This construct, as the contract other workloads code against. */
  readonly target: ObjectStoreTarget = this;

  constructor(scope: Construct, id: string, props: MinioProps) {
    super(scope, id);
    const cfg = props.config;
    const name = Minio.NAME;
    const uid = props.uid ?? 1000;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'object-store', wave: Wave.DATA });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Minio.PORT, portName: 'api' };
    this.consoleEndpoint = { peer: this.peer, port: Minio.CONSOLE_PORT, portName: 'console' };
    this.bucket = cfg.bucket;
    const scheme = props.tls ? 'https' : 'http';
    const consoleAccess = cfg.ingress && restricts(props.adminAccess) ? props.adminAccess : undefined;
    if (cfg.ingress) this.serverUrl = `${scheme}://${props.hosts.minio}`;
    if (consoleAccess) this.browserUrl = `${scheme}://${props.hosts.minioConsole}`;
    this.rootSecret = SecretCatalog.of(this).declare('minio-root', ['root-user', 'root-password'], {
      description: 'MinIO root credentials (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD)',
    });
    this.appSecret = SecretCatalog.of(this).declare('minio-app', ['access-key', 'secret-key'], {
      description: 'MinIO user of the API, limited to the uploads bucket',
    });

    const headless = governingService(this, { name, selector, port: Minio.PORT, portName: 'api' });
    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name },
      replicas: 1,
      service: headless,
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
      terminationGracePeriod: Duration.seconds(30),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));

    const env: Record<string, kplus.EnvValue> = {
      MINIO_ROOT_USER: this.rootSecret.env('root-user'),
      // Prometheus scrapes /minio/v2/metrics/cluster without a bearer token; the network policy
      // derived from addMetrics() limits who can reach the port.
      MINIO_PROMETHEUS_AUTH_TYPE: kplus.EnvValue.fromValue('public'),
      // Unfinished multipart uploads are aborted by the server (lifecycle rules cannot do it on MinIO).
      MINIO_API_STALE_UPLOADS_EXPIRY: kplus.EnvValue.fromValue(`${cfg.lifecycle.abortIncompleteUploadDays * 24}h`),
    };
    if (this.browserUrl) {
      // Where the console's pages live, for its redirects and links: a URL only browsers open.
      env.MINIO_BROWSER_REDIRECT_URL = kplus.EnvValue.fromValue(this.browserUrl);
      // No MINIO_SERVER_URL on the server: the embedded console *calls* the server at that URL
      // to log in (it becomes the console's CONSOLE_MINIO_SERVER), which from inside this pod
      // means a round trip through DNS, the cloud load balancer and the ingress controller,
      // with egress MinIO otherwise never needs. Unset, MinIO points the console at the server
      // in the same process (127.0.0.1), its documented default. TLS ends at the Ingress, so
      // the public URL buys nothing here; the API still gets it to sign browser URLs.
      // @see https://min.io/docs/minio/linux/administration/minio-console.html
    }
    const health = (path: string, failureThreshold: number, periodSeconds: number) =>
      kplus.Probe.fromHttpGet(path, {
        port: Minio.PORT,
        failureThreshold,
        periodSeconds: Duration.seconds(periodSeconds),
        timeoutSeconds: Duration.seconds(5),
      });
    const server = this.statefulSet.addContainer({
      name: 'minio',
      image: imageRef(cfg.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      // The certs folder defaults to ~/.minio/certs, on the read-only root; keep it in /tmp.
      command: ['minio', 'server', Minio.DATA_DIR, '--address', `:${Minio.PORT}`, '--console-address', `:${Minio.CONSOLE_PORT}`, '--certs-dir', '/tmp/certs'],
      ports: [
        { number: Minio.PORT, name: 'api' },
        { number: Minio.CONSOLE_PORT, name: 'console' },
      ],
      startup: health('/minio/health/live', Minio.STARTUP_SECONDS / 5, 5),
      readiness: health('/minio/health/ready', 3, 10),
      liveness: health('/minio/health/live', 3, 20),
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(uid),
      envVariables: env,
    });
    server.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(256) }));
    // MinIO reads the root password from the file MINIO_ROOT_PASSWORD_FILE names (Docker secrets style).
    const rootFiles = this.rootSecret.mountFiles(this, server, ['root-password']);
    server.env.addVariable('MINIO_ROOT_PASSWORD_FILE', kplus.EnvValue.fromValue(rootFiles['root-password']));
    addClaimTemplate(this.statefulSet, {
      name: 'data',
      container: server,
      mountPath: Minio.DATA_DIR,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });
    hardenPodSpec(this.statefulSet);
    topology.addMetrics({ ...this.endpoint, job: name, path: Minio.METRICS_PATH, serviceName: name });

    this.service = selectPods(
      new kplus.Service(this, 'Service', {
        metadata: { name },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [{ name: 'api', port: Minio.PORT, targetPort: Minio.PORT }],
      }),
      selector,
    );
    this.consoleService = selectPods(
      new kplus.Service(this, 'ConsoleService', {
        metadata: { name: `${name}-console` },
        type: kplus.ServiceType.CLUSTER_IP,
        ports: [{ name: 'console', port: Minio.CONSOLE_PORT, targetPort: Minio.CONSOLE_PORT }],
      }),
      selector,
    );

    // One replica: a drain may evict it (uploads pause briefly) rather than block node maintenance.
    new PodDisruptionBudget(this, 'Disruption', { name, selector, maxUnavailable: 1, replicas: 1 });

    const scripts = new kplus.ConfigMap(this, 'BucketScript', {
      metadata: { name: `${name}-bucket` },
      data: { [BUCKET_SCRIPT_FILE]: bucketScript() },
    });
    const policy = appPolicy(cfg.bucket);
    this.bucketJob = new SetupJob(this, 'Bucket', {
      name: `${name}-bucket`,
      component: 'object-store',
      image: imageRef(cfg.mcImage),
      uid,
      script: { configMap: scripts, file: BUCKET_SCRIPT_FILE },
      command: (file) => ['/bin/sh', file],
      env: {
        MINIO_URL: kplus.EnvValue.fromValue(`http://${this.serviceName}:${this.port}`),
        // S3 vocabulary (access/secret key); the script's text then trips no secret scanner.
        MINIO_ACCESS_KEY: this.rootSecret.env('root-user'),
        MINIO_SECRET_KEY: this.rootSecret.env('root-password'),
        BUCKET: kplus.EnvValue.fromValue(cfg.bucket),
        NONCURRENT_EXPIRY_DAYS: kplus.EnvValue.fromValue(String(cfg.lifecycle.noncurrentVersionExpiryDays)),
        APP_ACCESS_KEY: this.appSecret.env('access-key'),
        APP_SECRET_KEY: this.appSecret.env('secret-key'),
        POLICY_NAME: kplus.EnvValue.fromValue(policy.name),
        POLICY_JSON: kplus.EnvValue.fromValue(policy.json),
        MC_CONFIG_DIR: kplus.EnvValue.fromValue('/tmp/mc'),
        // On a fresh install the Job can start before MinIO answers: the script retries this long.
        MINIO_WAIT_SECONDS: kplus.EnvValue.fromValue(String(2 * Minio.STARTUP_SECONDS)),
      },
    });
    topology.allow(this.bucketJob.peer, this.endpoint, "creates the uploads bucket, its versioning and lifecycle rules, and the API's user");

    if (cfg.ingress) {
      const common = {
        className: props.ingressClassName ?? 'nginx',
        tls: props.tls,
        bodySizeMiB: cfg.ingressBodySizeMiB,
        rateLimitRps: cfg.ingressRateLimitRps,
      };
      hardenIngress(this, 'Ingress', { ...common, name, hosts: [{ host: props.hosts.minio, service: this.service, port: Minio.PORT }] });
      topology.allow(INGRESS_CONTROLLER, this.endpoint, `S3 API at ${this.serverUrl} (presigned uploads and downloads)`);
    }
    if (consoleAccess) {
      // The console is an admin UI: published only to the clients network.adminAccess allows.
      hardenIngress(this, 'ConsoleIngress', {
        className: props.ingressClassName ?? 'nginx',
        tls: props.tls,
        bodySizeMiB: cfg.ingressBodySizeMiB,
        rateLimitRps: cfg.ingressRateLimitRps,
        name: `${name}-console`,
        hosts: [{ host: props.hosts.minioConsole, service: this.consoleService, port: Minio.CONSOLE_PORT }],
        access: consoleAccess,
      });
      topology.allow(INGRESS_CONTROLLER, this.consoleEndpoint, `MinIO console at ${this.browserUrl}`);
    }
  }

  /**
   * The API's view: where to connect inside the cluster, the bucket, the public URLs, and the
   * credentials by Secret reference.
   */
  apiBackend(): ApiBackend {
    return {
      endpoint: this.endpoint,
      clientEnv: () => ({
        MINIO_ENDPOINT: kplus.EnvValue.fromValue(this.serviceName),
        MINIO_PORT: kplus.EnvValue.fromValue(String(this.port)),
        MINIO_USE_SSL: kplus.EnvValue.fromValue('false'),
        MINIO_BUCKET: kplus.EnvValue.fromValue(this.bucket),
        // The deployment guide's variable names, which the API reads, but holding the API's own
        // user (objects of the uploads bucket only, created by the bucket Job), never root.
        MINIO_ROOT_USER: this.appSecret.env('access-key'),
        MINIO_ROOT_PASSWORD: this.appSecret.env('secret-key'),
        ...(this.serverUrl ? { MINIO_SERVER_URL: kplus.EnvValue.fromValue(this.serverUrl) } : {}),
        ...(this.browserUrl ? { MINIO_BROWSER_URL: kplus.EnvValue.fromValue(this.browserUrl) } : {}),
      }),
    };
  }
}
