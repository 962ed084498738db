/**
 * Who talks to whom, declared once by the constructs themselves.
 *
 * A workload exposes `Endpoint`s (its pods, a port); the chart records each allowed
 * connection with `Topology.of(scope).allow(from, to)`. Network policies, Prometheus scrape
 * jobs and the architecture diagram are all derived from this one list, so a path exists
 * in the cluster exactly when it is declared here.
 */
import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';

/** A set of pods, named by their workload. */
export interface Peer {
  /** Workload name (`nextgen-api`), unique in the chart. */
  readonly name: string;
  /** Pod labels that select exactly this workload's pods. */
  readonly selector: Readonly<Record<string, string>>;
  /**
   * For pods no workload of ours creates (an add-on creates them in our namespace on demand):
   * who, written on the peer's NetworkPolicy.
   * @default - our own workload
   */
  readonly createdBy?: string;
}

/**
 * Something outside the namespace's pods: where traffic that does not start in one of our pods
 * comes from, or where ours goes.
 *
 * - `ingress-controller`: the controller's pods (their namespace and labels are environment
 *   data). Public HTTPS reaches our Ingress backends through them, Let's Encrypt's HTTP-01
 *   validation reaches cert-manager's solver through them, and a pod that calls one of our own
 *   public URLs reaches them too (kube-proxy short-circuits the controller's load-balancer IP).
 * - `load-balancer`: clients of a Service of type LoadBalancer, arriving with their own address
 *   (`externalTrafficPolicy: Local`) or a node's (`Cluster`); the ranges are environment data.
 * - `kubelet`: probes. They come from the pod's own node, which NetworkPolicy does not filter
 *   ("traffic to and from the node where a Pod is running is always allowed" in the
 *   Kubernetes docs, and so in Calico, Cilium and the cloud CNIs' policy engines), so no rule
 *   is written for them; they are declared so the model and the diagram know them. As a
 *   destination (Prometheus scraping kubelet metrics) it is an address range like any other.
 * - `kube-apiserver`: the API server, as a destination (discovery) or a source (admission
 *   webhooks; we serve none).
 * - `kube-dns`, and `internet` (public addresses only).
 *
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
export interface ExternalPeer {
  readonly name: string;
  readonly external: 'ingress-controller' | 'load-balancer' | 'kube-dns' | 'kube-apiserver' | 'internet' | 'kubelet' | 'cluster-addon';
  /** For `cluster-addon` (cert-manager, External Secrets metrics): the add-on's namespace (every pod in it). @default - none */
  readonly namespace?: string;
}

/** A port on a workload's pods. */
export interface Endpoint {
  readonly peer: Peer;
  readonly port: number;
  /** The container port name (`http`, `postgres`, `metrics`). */
  readonly portName: string;
  readonly protocol?: 'TCP' | 'UDP';
}

/** A port outside the namespace (DNS, the API server, S3). */
export interface ExternalEndpoint {
  readonly peer: ExternalPeer;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP';
}

/** A Prometheus scrape target exposed by a workload. */
export interface MetricsEndpoint extends Endpoint {
  /** Scrape job name (`postgres`, `redis`, `nextgen-api`). */
  readonly job: string;
  /** @default /metrics */
  readonly path?: string;
  /** Name of a Service that selects the pods and exposes the port, if any. */
  readonly serviceName?: string;
  /**
   * Keep the `job`/`instance` labels the target exposes (a Pushgateway relays other jobs' metrics).
   * @default false
   */
  readonly honorLabels?: boolean;
}

export interface Connection {
  readonly from: Peer | ExternalPeer;
  readonly to: Endpoint | ExternalEndpoint;
  /** Why the path exists, for the diagram and reviews. */
  readonly reason: string;
  /**
   * Connections each pod of `from` may hold open at once (pool size), for the connection
   * budget rule. @default 1
   */
  readonly connections?: number;
}

export const isExternal = (p: Peer | ExternalPeer): p is ExternalPeer => 'external' in p;

export class Topology extends Construct {
  static of(scope: IConstruct): Topology {
    const chart = Chart.of(scope);
    const found = chart.node.tryFindChild('Topology');
    return found instanceof Topology ? found : new Topology(chart, 'Topology');
  }

  private readonly _connections: Connection[] = [];
  private readonly _metrics: MetricsEndpoint[] = [];
  private readonly _peers = new Map<string, Peer>();

  /** Register a workload's pods (done by each workload construct). */
  addPeer(peer: Peer): Peer {
    const seen = this._peers.get(peer.name);
    if (seen && seen !== peer) throw new Error(`two workloads are both named '${peer.name}'`);
    this._peers.set(peer.name, peer);
    return peer;
  }

  /** Allow `from` to open connections to `to` (once: a repeated declaration is ignored). */
  allow(from: Peer | ExternalPeer, to: Endpoint | ExternalEndpoint, reason: string, options: { connections?: number } = {}): void {
    const same = (c: Connection) => c.from === from && c.to.peer === to.peer && c.to.port === to.port && c.to.protocol === to.protocol;
    if (this._connections.some(same)) return;
    this._connections.push({ from, to, reason, connections: options.connections });
  }

  /** Declare a metrics port; the monitoring constructs scrape every one of them. */
  addMetrics(endpoint: MetricsEndpoint): void {
    this._metrics.push(endpoint);
  }

  get peers(): Peer[] {
    return [...this._peers.values()];
  }
  get connections(): readonly Connection[] {
    return this._connections;
  }
  get metrics(): readonly MetricsEndpoint[] {
    return this._metrics;
  }
}

export const KUBE_DNS: ExternalEndpoint = { peer: { name: 'kube-dns', external: 'kube-dns' }, port: 53, protocol: 'UDP' };
export const KUBE_DNS_TCP: ExternalEndpoint = { peer: KUBE_DNS.peer, port: 53, protocol: 'TCP' };
export const INGRESS_CONTROLLER: ExternalPeer = { name: 'ingress-nginx', external: 'ingress-controller' };
/** Clients of our LoadBalancer Services, through the cloud load balancer. */
export const LOAD_BALANCER_CLIENTS: ExternalPeer = { name: 'load-balancer-clients', external: 'load-balancer' };
/** The kubelet on the pod's node: startup, readiness and liveness probes. */
export const KUBELET: ExternalPeer = { name: 'kubelet', external: 'kubelet' };

/**
 * The pods cert-manager creates in our namespace to answer Let's Encrypt's HTTP-01 challenge
 * (one per Certificate being issued): cert-manager labels them, the ingress controller routes
 * `/.well-known/acme-challenge/...` to them on port 8089.
 * @see https://cert-manager.io/docs/configuration/acme/http01/
 */
export const ACME_HTTP01_SOLVER: Peer = {
  name: 'acme-http01-solver',
  selector: { 'acme.cert-manager.io/http01-solver': 'true' },
  createdBy: 'cert-manager, while an HTTP-01 challenge for one of our Ingress hosts is pending',
};
export const ACME_HTTP01_SOLVER_PORT = 8089;

/**
 * Where a pod goes when it calls one of our own public URLs: the ingress controller's HTTPS
 * port (the host resolves to the controller's load balancer, which kube-proxy short-circuits to
 * the controller's pods), which then forwards to the Ingress backend.
 */
export const OWN_PUBLIC_URL: ExternalEndpoint = { peer: INGRESS_CONTROLLER, port: 443 };
