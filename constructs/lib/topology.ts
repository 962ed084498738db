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
}

/** Something outside the namespace's pods. */
export interface ExternalPeer {
  readonly name: string;
  /** `ingress-controller`, `kube-dns`, `kube-apiserver`, or `internet` (any address). */
  readonly external: 'ingress-controller' | 'kube-dns' | 'kube-apiserver' | 'internet' | 'kubelet' | 'cluster-addon';
  /** For `cluster-addon`: the add-on's namespace (every pod in it). @default - none */
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

  /** Allow `from` to open connections to `to`. */
  allow(from: Peer | ExternalPeer, to: Endpoint | ExternalEndpoint, reason: string, options: { connections?: number } = {}): void {
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
