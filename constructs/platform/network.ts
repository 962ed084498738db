/**
 * NetworkPolicies derived from the chart's Topology, the one list of who talks to whom:
 *
 * - `default-deny`: every pod in the namespace, no ingress and no egress;
 * - `allow-dns`: every pod may resolve names through kube-dns (UDP and TCP 53);
 * - one policy per workload (named after it) with exactly its declared ingress and egress.
 *
 * Nothing here names a workload or a port: adding a connection with
 * `Topology.of(this).allow(from, to, reason)` is how a path is opened. Create this last
 * (from `MarketplaceChart.finalize()`); a validation fails the synth if the Topology changes
 * afterwards.
 *
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PRIVATE_RANGES } from '../../environments/schema/network';
import { Wave, declareIdentity } from '../lib/identity';
import { Connection, Endpoint, ExternalEndpoint, ExternalPeer, KUBE_DNS, KUBE_DNS_TCP, KUBELET, Peer, Topology, isExternal } from '../lib/topology';
import { sharedRender } from '../lib/render';

/** An IPv4 range with exceptions. */
export interface IpRange {
  readonly cidr: string;
  readonly except?: string[];
}

/** RFC 1918 private ranges: where a cluster's nodes, control plane and VPC endpoints live. */
export { PRIVATE_RANGES };
/** Link-local, which includes the cloud instance metadata service (169.254.169.254). */
export const LINK_LOCAL = '169.254.0.0/16';

/**
 * Address ranges for the peers that are not pods. The API server and the kubelets are not
 * pods, so no label can select them and their addresses are cluster specific; the private
 * ranges cover in-VPC control-plane endpoints and nodes without opening the internet.
 * "internet" is public addresses only: in-cluster traffic must be declared as a peer, and the
 * metadata service stays closed so a pod cannot borrow the node's cloud credentials.
 */
export const DEFAULT_EXTERNAL_RANGES: Record<'internet' | 'kube-apiserver' | 'kubelet', IpRange[]> = {
  internet: [{ cidr: '0.0.0.0/0', except: [...PRIVATE_RANGES, LINK_LOCAL] }],
  'kube-apiserver': PRIVATE_RANGES.map((cidr) => ({ cidr })),
  kubelet: PRIVATE_RANGES.map((cidr) => ({ cidr })),
};

export interface NetworkPoliciesProps {
  /**
   * Where the ingress controller runs: its namespace, and the labels of its pods there (empty:
   * every pod of the namespace).
   * @default - namespace ingress-nginx, every pod in it
   */
  readonly ingressController?: { readonly namespace: string; readonly podLabels?: Readonly<Record<string, string>> };
  /**
   * Clients of LoadBalancer Services: their ranges, and whether they arrive with their own
   * address (`Local`) or SNATed to a node's (`Cluster`, which admits `nodeRanges` too).
   * @default - public addresses (0.0.0.0/0 without private and link-local ranges), `Local`
   */
  readonly loadBalancer?: { readonly sourceRanges: readonly string[]; readonly externalTrafficPolicy: 'Local' | 'Cluster' };
  /**
   * Address ranges of the nodes: load-balancer traffic under `externalTrafficPolicy: Cluster`.
   * @default PRIVATE_RANGES
   */
  readonly nodeRanges?: readonly string[];
  /**
   * Where cluster DNS runs: namespace and pod labels.
   * @default - namespace kube-system, pods with k8s-app=kube-dns (CoreDNS keeps that label)
   */
  readonly dns?: { readonly namespace: string; readonly labels: Record<string, string> };
  /**
   * Address ranges per external peer kind, replacing the default of that kind.
   * @default DEFAULT_EXTERNAL_RANGES
   */
  readonly externalRanges?: Partial<Record<'internet' | 'kube-apiserver' | 'kubelet', IpRange[]>>;
  /**
   * The API server's endpoint port as the CNI sees it (after the `kubernetes` Service's
   * address is rewritten to an endpoint): the port of every egress rule to `kube-apiserver`.
   * @default 443 (managed control planes; 6443 on kubeadm and k3s)
   */
  readonly apiServerPort?: number;
}

const NAME_LABEL = 'kubernetes.io/metadata.name';
/** On a policy for pods an add-on creates (no workload of ours has them): who creates them. */
export const PODS_CREATED_BY = 'nextgen.example.com/pods-created-by';

export class NetworkPolicies extends Construct {
  /** Connections the policies were derived from. */
  readonly connections: readonly Connection[];

  private readonly props: NetworkPoliciesProps;
  private peerCount = 0;

  constructor(scope: Construct, id: string, props: NetworkPoliciesProps = {}) {
    super(scope, id);
    this.props = props;
    declareIdentity(this, { name: 'network-policies', component: 'network-policy', wave: Wave.PLATFORM });
    const topology = Topology.of(this);
    declareKubeletProbes(scope, topology);
    this.connections = [...topology.connections];

    new kplus.NetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: 'default-deny' },
      selector: kplus.Pods.all(this, 'AllPods'),
      ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
      egress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
    });
    new kplus.NetworkPolicy(this, 'AllowDns', {
      metadata: { name: 'allow-dns' },
      selector: kplus.Pods.all(this, 'AllPodsDns'),
      egress: { rules: [...this.externalRules(KUBE_DNS), ...this.externalRules(KUBE_DNS_TCP)] },
    });

    for (const peer of [...topology.peers].sort((a, b) => a.name.localeCompare(b.name))) {
      const ingress = dedupe(this.connections.filter((c) => !isExternalEndpoint(c.to) && c.to.peer.name === peer.name)).flatMap((c) =>
        this.ingressRules(c.from, c.to as Endpoint),
      );
      const egress = dedupe(this.connections.filter((c) => !isExternal(c.from) && c.from.name === peer.name)).flatMap((c) =>
        isExternalEndpoint(c.to) ? this.externalRules(c.to) : this.podRules(c.to.peer, c.to),
      );
      const w = new Construct(this, peer.name);
      declareIdentity(w, { name: peer.name, component: 'network-policy', wave: Wave.PLATFORM });
      new kplus.NetworkPolicy(w, 'Policy', {
        metadata: { name: peer.name, annotations: peer.createdBy ? { [PODS_CREATED_BY]: peer.createdBy } : undefined },
        selector: kplus.Pods.select(w, 'Self', { labels: { ...peer.selector } }),
        ingress: { rules: ingress },
        egress: { rules: egress },
      });
    }

    this.node.addValidation({
      validate: () =>
        topology.connections.length === this.connections.length
          ? []
          : [
              `${topology.connections.length - this.connections.length} connection(s) were declared after the NetworkPolicies were derived ` +
                `(${topology.connections.slice(this.connections.length).map(describe).join('; ')}); keep MarketplaceChart.finalize() the last step of its constructor`,
            ],
    });
  }

  private port(to: Endpoint | ExternalEndpoint): kplus.NetworkPolicyPort {
    return to.protocol === 'UDP' ? kplus.NetworkPolicyPort.udp(to.port) : kplus.NetworkPolicyPort.tcp(to.port);
  }

  private podRules(peer: Peer, to: Endpoint): kplus.NetworkPolicyRule[] {
    return [{ peer: kplus.Pods.select(this, `Pods${this.peerCount++}`, { labels: { ...peer.selector } }), ports: [this.port(to)] }];
  }

  private ingressRules(from: Peer | ExternalPeer, to: Endpoint): kplus.NetworkPolicyRule[] {
    if (!isExternal(from)) return this.podRules(from, to);
    // Probes come from the pod's own node, which NetworkPolicy never filters; admitting the
    // node ranges here would admit every pod with an address in them (most CNIs) as well.
    if (from.external === 'kubelet') return [];
    return this.externalPeers(from).map((peer) => ({ peer, ports: [this.port(to)] }));
  }

  private externalRules(to: ExternalEndpoint): kplus.NetworkPolicyRule[] {
    // Constructs declare the API server by its Service port; policies see the endpoint's.
    const port = to.peer.external === 'kube-apiserver' ? { ...to, port: this.props.apiServerPort ?? 443 } : to;
    return this.externalPeers(to.peer).map((peer) => ({ peer, ports: [this.port(port)] }));
  }

  /** The selectors or address ranges that stand for a peer outside the namespace. */
  private externalPeers(p: ExternalPeer): kplus.INetworkPolicyPeer[] {
    const id = `Ext${this.peerCount++}`;
    switch (p.external) {
      case 'ingress-controller': {
        const ic = this.props.ingressController ?? { namespace: 'ingress-nginx' };
        const namespaces = kplus.Namespaces.select(this, id, { labels: { [NAME_LABEL]: ic.namespace } });
        if (!Object.keys(ic.podLabels ?? {}).length) return [namespaces];
        return [kplus.Pods.select(this, `${id}Pods`, { labels: { ...ic.podLabels }, namespaces })];
      }
      case 'load-balancer': {
        const lb = this.props.loadBalancer ?? { sourceRanges: ['0.0.0.0/0'], externalTrafficPolicy: 'Local' };
        // Inside a listed range, our own cluster's ranges (pods, nodes, metadata) are excepted so
        // that pods of other namespaces cannot pass for load-balancer clients.
        const ranges: IpRange[] = lb.sourceRanges.map((cidr) => ({ cidr, except: [...PRIVATE_RANGES, LINK_LOCAL].filter((r) => strictlyInside(r, cidr)) }));
        // With `Cluster`, kube-proxy SNATs to the receiving node's address.
        if (lb.externalTrafficPolicy === 'Cluster') ranges.push(...(this.props.nodeRanges ?? PRIVATE_RANGES).map((cidr) => ({ cidr })));
        return ranges.map((r, i) => kplus.NetworkPolicyIpBlock.ipv4(this, `${id}-${i}`, r.cidr, r.except?.length ? r.except : undefined));
      }
      case 'kube-dns': {
        const dns = this.props.dns ?? { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
        return [
          kplus.Pods.select(this, id, {
            labels: dns.labels,
            namespaces: kplus.Namespaces.select(this, `${id}Ns`, { labels: { [NAME_LABEL]: dns.namespace } }),
          }),
        ];
      }
      case 'cluster-addon':
        if (!p.namespace) throw new Error(`cluster add-on peer '${p.name}' has no namespace`);
        return [kplus.Namespaces.select(this, id, { labels: { [NAME_LABEL]: p.namespace } })];
      default: {
        // cdk8s-plus-27 takes one peer per rule: several ranges become several rules.
        const ranges = this.props.externalRanges?.[p.external] ?? DEFAULT_EXTERNAL_RANGES[p.external];
        return ranges.map((r, i) => kplus.NetworkPolicyIpBlock.ipv4(this, `${id}-${i}`, r.cidr, r.except));
      }
    }
  }
}

/** Is `inner` a strict sub-range of `outer` (IPv4)? An ipBlock's `except` must be. */
export function strictlyInside(inner: string, outer: string): boolean {
  const parse = (c: string) => {
    const [ip, bits] = c.split('/');
    return { base: ip.split('.').reduce((a, o) => a * 256 + Number(o), 0), bits: Number(bits) };
  };
  const i = parse(inner);
  const o = parse(outer);
  const size = 2 ** (32 - o.bits);
  return i.bits > o.bits && Math.floor(i.base / size) === Math.floor(o.base / size);
}

/**
 * Declare the kubelet's probes as connections (kubelet -> the probed port of the workload's
 * pods), read from every pod template under `scope` whose labels select a Topology peer.
 */
function declareKubeletProbes(scope: Construct, topology: Topology): void {
  for (const c of scope.node.findAll()) {
    if (!(c instanceof kplus.Deployment || c instanceof kplus.StatefulSet || c instanceof kplus.DaemonSet || c instanceof kplus.Job)) continue;
    const template = sharedRender(ApiObject.of(c)).spec?.template;
    const peer = topology.peers.find((p) => Object.entries(p.selector).every(([k, v]) => template?.metadata?.labels?.[k] === v));
    if (!peer) continue;
    for (const container of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const probe = container[kind];
        const ref = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        const port = (container.ports ?? []).find((p: any) => p.containerPort === ref || p.name === ref);
        if (port) topology.allow(KUBELET, { peer, port: port.containerPort, portName: port.name ?? String(port.containerPort) }, `kubelet ${kind} of container ${container.name}`);
      }
    }
  }
}

function isExternalEndpoint(to: Endpoint | ExternalEndpoint): to is ExternalEndpoint {
  return isExternal(to.peer);
}

function describe(c: Connection): string {
  return `${c.from.name} -> ${c.to.peer.name}:${c.to.port}`;
}

/** One rule per distinct (source or destination, port, protocol), in a stable order. */
function dedupe(cs: readonly Connection[]): Connection[] {
  const seen = new Map<string, Connection>();
  for (const c of cs) {
    const key = `${c.from.name}>${c.to.peer.name}:${c.to.port}/${c.to.protocol ?? 'TCP'}`;
    if (!seen.has(key)) seen.set(key, c);
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, c]) => c);
}
