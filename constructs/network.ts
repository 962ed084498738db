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
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { Wave, declareIdentity } from './lib/identity';
import { Connection, Endpoint, ExternalEndpoint, ExternalPeer, KUBE_DNS, KUBE_DNS_TCP, Peer, Topology, isExternal } from './lib/topology';

/** An IPv4 range with exceptions. */
export interface IpRange {
  readonly cidr: string;
  readonly except?: string[];
}

/** RFC 1918 private ranges: where a cluster's nodes, control plane and VPC endpoints live. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
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
   * Namespace of the ingress controller; every pod in it counts as the ingress controller.
   * @default ingress-nginx
   */
  readonly ingressControllerNamespace?: string;
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
}

const NAME_LABEL = 'kubernetes.io/metadata.name';

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
        metadata: { name: peer.name },
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
    return this.externalPeers(from).map((peer) => ({ peer, ports: [this.port(to)] }));
  }

  private externalRules(to: ExternalEndpoint): kplus.NetworkPolicyRule[] {
    return this.externalPeers(to.peer).map((peer) => ({ peer, ports: [this.port(to)] }));
  }

  /** The selectors or address ranges that stand for a peer outside the namespace. */
  private externalPeers(p: ExternalPeer): kplus.INetworkPolicyPeer[] {
    const id = `Ext${this.peerCount++}`;
    switch (p.external) {
      case 'ingress-controller':
        return [kplus.Namespaces.select(this, id, { labels: { [NAME_LABEL]: this.props.ingressControllerNamespace ?? 'ingress-nginx' } })];
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
