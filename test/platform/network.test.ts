/**
 * Network paths: the NetworkPolicies derived from the Topology allow exactly the declared
 * connections. A small evaluator implements the NetworkPolicy semantics (a pod is isolated
 * for a direction once any policy selects it for that direction; traffic passes when the
 * source's egress AND the destination's ingress allow it), and the tests ask it about every
 * declared path and every undeclared pair.
 */
import { Chart, Testing } from 'cdk8s';
import { NetworkPolicies } from '../../constructs/platform/network';
import type { MarketplaceChart } from '../../constructs/marketplace';
import { ACME_HTTP01_SOLVER, INGRESS_CONTROLLER, KUBE_DNS, KUBELET, LOAD_BALANCER_CLIENTS, OWN_PUBLIC_URL, Peer, Topology } from '../../constructs/lib/topology';
import type { Connection, Endpoint, ExternalEndpoint, ExternalPeer } from '../../constructs/lib/topology';
import { podSpec, realEnvironments, synthEnvironments, testEnvironment } from '../support/synth';

// ---------------------------------------------------------------- the evaluator

interface Pod {
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  /**
   * The node the destination pod runs on (the kubelet's probes): "traffic to and from the node
   * where a Pod is running is always allowed", so no policy is consulted.
   */
  nodeLocal?: boolean;
}
/** Where traffic goes: a pod, or a bare address outside the cluster. */
type Target = { pod: Pod; port: number; protocol?: string } | { ip: string; port: number; protocol?: string };

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base) / size);
}

function selects(sel: any, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const nsLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });

/** Does one NetworkPolicyPeer (of a policy in `policyNs`) match the other end? */
function peerMatches(peer: any, policyNs: string, other: { pod?: Pod; ip: string }): boolean {
  if (peer.ipBlock) {
    if (!inCidr(other.ip, peer.ipBlock.cidr)) return false;
    return !(peer.ipBlock.except ?? []).some((c: string) => inCidr(other.ip, c));
  }
  if (!other.pod) return false;
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels(other.pod.namespace)) : other.pod.namespace === policyNs;
  const podOk = peer.podSelector ? selects(peer.podSelector, other.pod.labels) : true;
  return nsOk && podOk;
}

function portMatches(ports: any[] | undefined, port: number, protocol = 'TCP'): boolean {
  if (!ports?.length) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || (p.port <= port && port <= (p.endPort ?? p.port))));
}

/** Is traffic from `src` to `dst` allowed by the policies (of any namespace) in `policies`? */
export function allowed(policies: any[], src: Pod, dst: Target): boolean {
  const protocol = dst.protocol ?? 'TCP';
  const dstPod = 'pod' in dst ? dst.pod : undefined;
  const dstIp = 'pod' in dst ? dst.pod.ip : dst.ip;
  const types = (p: any) => p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);

  if (src.nodeLocal && dstPod) return true;
  const egressPolicies = policies.filter((p) => p.metadata.namespace === src.namespace && selects(p.spec.podSelector, src.labels) && types(p).includes('Egress'));
  const egressOk =
    egressPolicies.length === 0 ||
    egressPolicies.some((p) =>
      (p.spec.egress ?? []).some(
        (r: any) =>
          portMatches(r.ports, dst.port, protocol) &&
          (!r.to?.length || r.to.some((peer: any) => peerMatches(peer, p.metadata.namespace, { pod: dstPod, ip: dstIp }))),
      ),
    );
  if (!egressOk) return false;
  if (!dstPod) return true;
  const ingressPolicies = policies.filter((p) => p.metadata.namespace === dstPod.namespace && selects(p.spec.podSelector, dstPod.labels) && types(p).includes('Ingress'));
  return (
    ingressPolicies.length === 0 ||
    ingressPolicies.some((p) =>
      (p.spec.ingress ?? []).some(
        (r: any) =>
          portMatches(r.ports, dst.port, protocol) &&
          (!r.from?.length || r.from.some((peer: any) => peerMatches(peer, p.metadata.namespace, { pod: src, ip: src.ip }))),
      ),
    )
  );
}

// ---------------------------------------------------------------- the world around the namespace

const INGRESS_POD: Pod = { namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' }, ip: '10.244.9.10' };
const DNS_POD: Pod = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ip: '10.244.9.53' };
const OTHER_NS_POD: Pod = { namespace: 'someone-else', labels: { 'app.kubernetes.io/name': 'intruder' }, ip: '10.244.9.66' };
/** A public address (S3, a registry, an API on the internet). */
const PUBLIC_IP = '52.216.8.8';
const METADATA_IP = '169.254.169.254';
/** A client on the internet, arriving through a cloud load balancer. */
const PUBLIC_CLIENT_IP = '198.51.100.7';
const EXTERNAL_ADDRESSES: Record<ExternalPeer['external'], Pod | string> = {
  'ingress-controller': INGRESS_POD,
  'load-balancer': PUBLIC_CLIENT_IP,
  'kube-dns': DNS_POD,
  'kube-apiserver': '10.96.0.1',
  kubelet: '10.0.1.10',
  internet: PUBLIC_IP,
  // A pod of the add-on; its namespace is the peer's (see World.target).
  'cluster-addon': { namespace: '(the peer namespace)', labels: { 'app.kubernetes.io/name': 'addon' }, ip: '10.244.9.70' },
};

class World {
  private readonly pods = new Map<string, Pod>();
  constructor(
    readonly namespace: string,
    readonly policies: any[],
  ) {}
  pod(peer: Peer): Pod {
    let p = this.pods.get(peer.name);
    if (!p) {
      p = { namespace: this.namespace, labels: { ...peer.selector, 'pod-template-hash': 'abc' }, ip: `10.244.1.${this.pods.size + 10}` };
      this.pods.set(peer.name, p);
    }
    return p;
  }
  source(from: Peer | ExternalPeer): Pod {
    if ('external' in from && from.external === 'kubelet') return { namespace: '(node)', labels: {}, ip: EXTERNAL_ADDRESSES.kubelet as string, nodeLocal: true };
    if ('external' in from) {
      const a = EXTERNAL_ADDRESSES[from.external];
      return typeof a === 'string' ? { namespace: '(outside)', labels: {}, ip: a } : a;
    }
    return this.pod(from);
  }
  target(to: Endpoint | ExternalEndpoint): Target {
    if ('external' in to.peer) {
      const a = to.peer.namespace ? { ...(EXTERNAL_ADDRESSES[to.peer.external] as Pod), namespace: to.peer.namespace } : EXTERNAL_ADDRESSES[to.peer.external];
      return typeof a === 'string' ? { ip: a, port: to.port, protocol: to.protocol } : { pod: a, port: to.port, protocol: to.protocol };
    }
    return { pod: this.pod(to.peer as Peer), port: to.port, protocol: to.protocol };
  }
  allows(c: Pick<Connection, 'from' | 'to'>): boolean {
    return allowed(this.policies, this.source(c.from), this.target(c.to));
  }
}

const describeConnection = (c: Pick<Connection, 'from' | 'to'>) => `${c.from.name} -> ${c.to.peer.name}:${c.to.port}/${c.to.protocol ?? 'TCP'}`;

/** Every endpoint (pod + port) a topology knows of, declared or scraped. */
function endpointsOf(t: Topology): Endpoint[] {
  const all = [...t.connections.map((c) => c.to).filter((to): to is Endpoint => !('external' in to.peer)), ...t.metrics];
  const seen = new Map<string, Endpoint>();
  for (const e of all) seen.set(`${e.peer.name}:${e.port}/${e.protocol ?? 'TCP'}`, e);
  return [...seen.values()];
}

function declared(t: Topology, from: Peer | ExternalPeer, to: Endpoint): boolean {
  return t.connections.some(
    (c) => c.from.name === from.name && c.to.peer.name === to.peer.name && c.to.port === to.port && (c.to.protocol ?? 'TCP') === (to.protocol ?? 'TCP'),
  );
}

// ---------------------------------------------------------------- the real environments

const { built } = synthEnvironments(realEnvironments());

describe.each(built.environments.map((c) => [c.env.name, c] as const))('environment %s', (_name, chart: MarketplaceChart) => {
  const manifests = chart.toJson() as any[];
  const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');
  const world = new World(chart.env.namespace, policies);
  const topology = chart.topology;

  test('a default-deny policy isolates every pod for ingress and egress', () => {
    const deny = policies.find((p) => p.metadata.name === 'default-deny');
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Egress', 'Ingress'] });
  });

  test('every declared connection is allowed', () => {
    expect(topology.connections.length).toBeGreaterThan(0);
    const blocked = topology.connections.filter((c) => !world.allows(c)).map(describeConnection);
    expect(blocked).toEqual([]);
  });

  test('every undeclared pod-to-pod path is denied (all pairs, all known ports)', () => {
    const open: string[] = [];
    for (const from of topology.peers) {
      for (const to of endpointsOf(topology)) {
        if (declared(topology, from, to)) continue;
        if (world.allows({ from, to })) open.push(describeConnection({ from, to }));
      }
    }
    expect(open).toEqual([]);
  });

  test('every pod resolves names through kube-dns (UDP and TCP 53) and nothing else in kube-system', () => {
    for (const peer of topology.peers) {
      const pod = world.pod(peer);
      expect([peer.name, allowed(policies, pod, { pod: DNS_POD, port: 53, protocol: 'UDP' })]).toEqual([peer.name, true]);
      expect([peer.name, allowed(policies, pod, { pod: DNS_POD, port: 53, protocol: 'TCP' })]).toEqual([peer.name, true]);
      expect([peer.name, allowed(policies, pod, { pod: { ...DNS_POD, labels: { 'k8s-app': 'metrics-server' } }, port: 53, protocol: 'UDP' })]).toEqual([peer.name, false]);
    }
  });

  test('no pod reaches the cloud metadata service, and only declared pods reach the internet', () => {
    for (const peer of topology.peers) {
      expect([peer.name, allowed(policies, world.pod(peer), { ip: METADATA_IP, port: 80 })]).toEqual([peer.name, false]);
      const internet = topology.connections.some((c) => c.from.name === peer.name && 'external' in c.to.peer && c.to.peer.external === 'internet');
      expect([peer.name, allowed(policies, world.pod(peer), { ip: PUBLIC_IP, port: 443 })]).toEqual([peer.name, internet]);
    }
  });

  test('pods of another namespace reach nothing here', () => {
    for (const e of endpointsOf(topology)) {
      expect([e.peer.name, allowed(policies, OTHER_NS_POD, world.target(e))]).toEqual([e.peer.name, false]);
    }
  });

  test('the ingress controller reaches the API on 3001 only', () => {
    const api = world.pod(chart.api.peer);
    expect(allowed(policies, INGRESS_POD, { pod: api, port: 3001 })).toBe(true);
    expect(allowed(policies, INGRESS_POD, { pod: api, port: 9229 })).toBe(false);
  });

  test('every declared metrics port is scraped by someone once a scraper exists', () => {
    const scrapers = topology.peers.filter((p) => topology.connections.some((c) => c.from.name === p.name && topology.metrics.some((m) => m.peer.name === c.to.peer.name && m.port === c.to.port)));
    if (scrapers.length === 0) return; // monitoring not in this chart yet
    const unscraped = topology.metrics.filter((m) => !scrapers.some((s) => world.allows({ from: s, to: m }))).map((m) => `${m.job} ${m.peer.name}:${m.port}`);
    expect(unscraped).toEqual([]);
  });

  // ------------------------------------------------ traffic that starts outside our pods

  const env = chart.env;
  /** The ingress controller as this environment's data describes it. */
  const controller: Pod = { ...INGRESS_POD, namespace: env.network.ingressController.namespace, labels: { ...INGRESS_POD.labels, ...env.network.ingressController.podLabels } };
  const services = manifests.filter((m) => m.kind === 'Service');
  /** The pods a Service selects (as Topology peers) and the port its `port` lands on. */
  const backendOf = (serviceName: string, port: number | string) => {
    const svc = services.find((x) => x.metadata.name === serviceName);
    const sp = svc.spec.ports.find((p: any) => p.port === port || p.name === port);
    const peer = topology.peers.find((p) => Object.entries(svc.spec.selector).every(([k, v]) => p.selector[k] === v))!;
    return { peer, pod: world.pod(peer), port: Number(sp.targetPort ?? sp.port) };
  };
  const firstHost = (cidr: string) => (cidr === '0.0.0.0/0' ? PUBLIC_CLIENT_IP : cidr.replace(/\.(\d+)\/\d+$/, (_m, last) => `.${Number(last) + 1}`));

  test('every LoadBalancer Service is reachable from where its packets really come from', () => {
    const lbs = services.filter((x) => x.spec.type === 'LoadBalancer');
    if (env.api.loadBalancer) expect(lbs.length).toBeGreaterThan(0);
    const blocked: string[] = [];
    for (const svc of lbs) {
      // Unset, Kubernetes' default is Cluster: packets arrive SNATed to a node address.
      const policy = svc.spec.externalTrafficPolicy ?? 'Cluster';
      const sources = policy === 'Local' ? (svc.spec.loadBalancerSourceRanges ?? ['0.0.0.0/0']).map(firstHost) : [firstHost(env.network.nodeRanges[0])];
      for (const p of svc.spec.ports) {
        const b = backendOf(svc.metadata.name, p.port);
        for (const ip of sources) {
          if (!allowed(policies, { namespace: '(outside)', labels: {}, ip }, { pod: b.pod, port: b.port })) blocked.push(`${ip} -> Service/${svc.metadata.name}:${p.port} (${b.peer.name}:${b.port})`);
        }
      }
    }
    expect(blocked).toEqual([]);
  });

  test('a LoadBalancer keeps client addresses (Local) and the cloud firewall admits the same ranges the policy does', () => {
    for (const svc of services.filter((x) => x.spec.type === 'LoadBalancer')) {
      expect(svc.spec.externalTrafficPolicy).toBe(env.network.loadBalancer.externalTrafficPolicy);
      expect(svc.spec.loadBalancerSourceRanges).toEqual(env.network.loadBalancer.sourceRanges);
    }
  });

  test('every Ingress backend is reachable from the ingress controller', () => {
    const blocked: string[] = [];
    for (const ing of manifests.filter((m) => m.kind === 'Ingress')) {
      for (const rule of ing.spec.rules) {
        for (const path of rule.http.paths) {
          const b = backendOf(path.backend.service.name, path.backend.service.port.number ?? path.backend.service.port.name);
          if (!allowed(policies, controller, { pod: b.pod, port: b.port })) blocked.push(`${rule.host} -> ${b.peer.name}:${b.port}`);
        }
      }
    }
    expect(blocked).toEqual([]);
  });

  test("with TLS, Let's Encrypt reaches cert-manager's HTTP-01 solver through the ingress controller (8089), and nothing else does", () => {
    const solver: Pod = { namespace: env.namespace, labels: { ...ACME_HTTP01_SOLVER.selector, 'acme.cert-manager.io/http-domain': '1234' }, ip: '10.244.1.99' };
    expect(allowed(policies, controller, { pod: solver, port: 8089 })).toBe(env.tls.enabled);
    expect(allowed(policies, controller, { pod: solver, port: 8080 })).toBe(false);
    expect(allowed(policies, OTHER_NS_POD, { pod: solver, port: 8089 })).toBe(false);
    expect(allowed(policies, world.pod(chart.api.peer), { pod: solver, port: 8089 })).toBe(false);
  });

  test('every probe is declared as coming from the kubelet, and no policy admits node addresses for it', () => {
    const missing: string[] = [];
    for (const m of manifests.filter((x) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(x.kind))) {
      const peer = topology.peers.find((p) => Object.entries(p.selector).every(([k, v]) => m.spec.template.metadata.labels[k] === v))!;
      for (const c of podSpec(m).containers) {
        for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
          const ref = c[kind]?.httpGet?.port ?? c[kind]?.tcpSocket?.port;
          if (ref === undefined) continue;
          const port = c.ports.find((p: any) => p.containerPort === ref || p.name === ref).containerPort;
          if (!declared(topology, KUBELET, { peer, port, portName: '' })) missing.push(`${m.metadata.name}/${c.name} ${kind} :${port}`);
        }
      }
    }
    expect(missing).toEqual([]);
    // Probes come from the pod's own node, which NetworkPolicy does not filter; admitting node
    // ranges would also admit the pods that live in them.
    if (env.network.loadBalancer.externalTrafficPolicy === 'Local') {
      for (const peer of topology.peers) {
        expect([peer.name, allowed(policies, { namespace: '(node)', labels: {}, ip: EXTERNAL_ADDRESSES.kubelet as string }, { pod: world.pod(peer), port: 3001 })]).toEqual([peer.name, false]);
      }
    }
  });

  // URLs that only browsers open; a pod that *calls* one of our public hosts must declare it.
  const BROWSER_LINKS: Record<string, string> = {
    ALLOWED_ORIGINS: 'CORS origins the API answers, never fetched',
    MINIO_SERVER_URL: "the API signs presigned URLs for browsers with it; it talks to MinIO at MINIO_ENDPOINT",
    MINIO_BROWSER_URL: 'a link the API hands to browsers',
    MINIO_BROWSER_REDIRECT_URL: "where MinIO redirects browsers to the console",
    GF_SERVER_ROOT_URL: "Grafana's links and redirects for browsers",
  };
  test('a pod given one of our public URLs either only hands it to browsers or may call it (declared and allowed)', () => {
    const hosts = Object.values(env.hosts);
    const undeclared: string[] = [];
    for (const m of manifests.filter((x) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(x.kind))) {
      const labels = m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template.metadata.labels : m.spec.template.metadata.labels;
      const peer = topology.peers.find((p) => Object.entries(p.selector).every(([k, v]) => labels[k] === v));
      for (const c of [...(podSpec(m).initContainers ?? []), ...podSpec(m).containers]) {
        for (const e of c.env ?? []) {
          if (typeof e.value !== 'string' || !hosts.some((h) => e.value.includes(`://${h}`)) || BROWSER_LINKS[e.name]) continue;
          const calls = peer && declared(topology, peer, OWN_PUBLIC_URL as any) && world.allows({ from: peer, to: OWN_PUBLIC_URL });
          if (!calls) undeclared.push(`${m.kind}/${m.metadata.name} ${c.name}: ${e.name}=${e.value}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });

  // The list, checked wherever both ends exist (workloads land one by one).
  const byName = (n: string) => topology.peers.find((p) => p.name === n);
  const paths: Array<[string, string, number, boolean]> = [
    ['nextgen-api', 'postgres', 5432, true],
    ['nextgen-api', 'redis', 6379, true],
    ['nextgen-api', 'minio', 9000, true],
    ['grafana', 'prometheus', 9090, true],
    ['grafana', 'redis', 6379, false],
    ['grafana', 'postgres', 5432, false],
    ['nextgen-api', 'prometheus', 9090, false],
    ['redis', 'postgres', 5432, false],
  ];
  test.each(paths)('%s -> %s:%d allowed = %s (when both exist)', (from, to, port, expected) => {
    const a = byName(from);
    const b = byName(to);
    if (!a || !b) return;
    expect(allowed(policies, world.pod(a), { pod: world.pod(b), port })).toBe(expected);
  });
});

// ---------------------------------------------------------------- a test chart of the full system

/** The whole dependency graph, with fake peers, so the denials are proven now. */
function fakeMarketplace(drop?: string) {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'nextgen-test' });
  const t = Topology.of(chart);
  const peer = (name: string) => t.addPeer({ name, selector: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': 'nextgen-test' } });
  const [api, postgres, redis, minio, prometheus, grafana, backup] = ['nextgen-api', 'postgres', 'redis', 'minio', 'prometheus', 'grafana', 'backup'].map(peer);
  const ep = (p: Peer, port: number): Endpoint => ({ peer: p, port, portName: 'x' });
  const conns: Array<[Peer | ExternalPeer, Endpoint | ExternalEndpoint, string]> = [
    [INGRESS_CONTROLLER, ep(api, 3001), 'public traffic'],
    [api, ep(postgres, 5432), 'database'],
    [api, ep(redis, 6379), 'cache'],
    [api, ep(minio, 9000), 'uploads'],
    [backup, ep(postgres, 5432), 'pg_dump'],
    [backup, { peer: { name: 'internet', external: 'internet' }, port: 443 }, 'S3'],
    [grafana, ep(prometheus, 9090), 'dashboards'],
    [prometheus, { peer: { name: 'kube-apiserver', external: 'kube-apiserver' }, port: 443 }, 'service discovery'],
    ...[ep(api, 3001), ep(postgres, 9187), ep(redis, 9121), ep(minio, 9000), ep(prometheus, 9090)].map(
      (e) => [prometheus, e, 'scrape'] as [Peer, Endpoint, string],
    ),
  ];
  for (const [from, to, reason] of conns) if (reason !== drop) t.allow(from, to, reason);
  new NetworkPolicies(chart, 'Network');
  const policies = Testing.synth(chart).filter((m: any) => m.kind === 'NetworkPolicy');
  return { t, world: new World('nextgen-test', policies), policies, api, postgres, redis, minio, prometheus, grafana, backup };
}

describe('NetworkPolicies from a Topology (full system, fake peers)', () => {
  const f = fakeMarketplace();

  test('every declared path is allowed', () => {
    expect(f.t.connections.filter((c) => !f.world.allows(c)).map(describeConnection)).toEqual([]);
  });

  test.each([
    ['grafana', 'redis', 6379],
    ['grafana', 'postgres', 5432],
    ['nextgen-api', 'prometheus', 9090],
    ['backup', 'redis', 6379],
    ['backup', 'minio', 9000],
    ['redis', 'postgres', 5432],
    ['minio', 'nextgen-api', 3001],
  ])('%s cannot reach %s:%d', (from, to, port) => {
    const p = (n: string) => f.t.peers.find((x) => x.name === n)!;
    expect(allowed(f.policies, f.world.pod(p(from)), { pod: f.world.pod(p(to)), port })).toBe(false);
  });

  test('every undeclared pair is denied', () => {
    const open = f.t.peers.flatMap((from) =>
      endpointsOf(f.t)
        .filter((to) => !declared(f.t, from, to) && f.world.allows({ from, to }))
        .map((to) => describeConnection({ from, to })),
    );
    expect(open).toEqual([]);
  });

  test('internet egress is public addresses only: backup reaches S3 but not private ranges or the metadata service', () => {
    const backup = f.world.pod(f.backup);
    expect(allowed(f.policies, backup, { ip: PUBLIC_IP, port: 443 })).toBe(true);
    expect(allowed(f.policies, backup, { ip: '10.1.2.3', port: 443 })).toBe(false);
    expect(allowed(f.policies, backup, { ip: METADATA_IP, port: 80 })).toBe(false);
    expect(allowed(f.policies, f.world.pod(f.api), { ip: PUBLIC_IP, port: 443 })).toBe(false);
  });

  test('removing a declaration removes the path (the policies are derived, not hand-written)', () => {
    const without = fakeMarketplace('cache');
    expect(f.world.allows({ from: f.api, to: { peer: f.redis, port: 6379, portName: 'redis' } })).toBe(true);
    expect(without.world.allows({ from: without.api, to: { peer: without.redis, port: 6379, portName: 'redis' } })).toBe(false);
  });

  test('one policy per workload, named after it, plus default-deny and allow-dns', () => {
    expect(f.policies.map((p: any) => p.metadata.name).sort()).toEqual(
      ['allow-dns', 'backup', 'default-deny', 'grafana', 'minio', 'nextgen-api', 'postgres', 'prometheus', 'redis'].sort(),
    );
  });

  test('a connection declared after the policies were derived fails validation', () => {
    const chart = new Chart(Testing.app(), 'late', { namespace: 'x' });
    const t = Topology.of(chart);
    const a = t.addPeer({ name: 'a', selector: { app: 'a' } });
    new NetworkPolicies(chart, 'Network');
    t.allow(a, KUBE_DNS, 'late');
    const errors = chart.node.findAll().flatMap((c) => c.node.validate());
    expect(errors.join('\n')).toMatch(/declared after the NetworkPolicies were derived .*finalize\(\)/);
  });

  test('the evaluator itself: with no policy everything is open; a policy selecting a pod isolates it', () => {
    const a: Pod = { namespace: 'n', labels: { app: 'a' }, ip: '10.0.0.1' };
    const b: Pod = { namespace: 'n', labels: { app: 'b' }, ip: '10.0.0.2' };
    expect(allowed([], a, { pod: b, port: 80 })).toBe(true);
    const isolateB = { metadata: { namespace: 'n' }, spec: { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'] } };
    expect(allowed([isolateB], a, { pod: b, port: 80 })).toBe(false);
    const allowA = { metadata: { namespace: 'n' }, spec: { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 80 }] }] } };
    expect(allowed([isolateB, allowA], a, { pod: b, port: 80 })).toBe(true);
    expect(allowed([isolateB, allowA], a, { pod: b, port: 81 })).toBe(false);
  });
});

// ---------------------------------------------------------------- ingress hardening

describe.each(built.environments.map((c) => [c.env.name, c] as const))('Ingresses of %s', (_name, chart: MarketplaceChart) => {
  const manifests = chart.toJson() as any[];
  const ingresses = manifests.filter((m) => m.kind === 'Ingress');
  const tlsRequired = chart.env.tier !== 'development';

  test('outside development every Ingress serves TLS for all its hosts with a cert-manager issuer and forces HTTPS', () => {
    if (!tlsRequired) return;
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ing of ingresses) {
      const hosts = ing.spec.rules.map((r: any) => r.host).sort();
      const tlsHosts = (ing.spec.tls ?? []).flatMap((t: any) => t.hosts).sort();
      expect({ name: ing.metadata.name, tlsHosts }).toEqual({ name: ing.metadata.name, tlsHosts: hosts });
      for (const t of ing.spec.tls) expect(t.secretName).toBeTruthy();
      const a = ing.metadata.annotations;
      expect(a['cert-manager.io/cluster-issuer']).toBe(chart.env.tls.clusterIssuer);
      expect(a['nginx.ingress.kubernetes.io/force-ssl-redirect']).toBe('true');
    }
  });

  test('production uses letsencrypt-prod and staging a staging issuer', () => {
    if (chart.env.tier === 'production') expect(chart.env.tls.clusterIssuer).toBe('letsencrypt-prod');
    if (chart.env.tier === 'staging') expect(chart.env.tls.clusterIssuer).toMatch(/staging/);
  });

  test('HSTS is never switched off and no snippet can rewrite headers', () => {
    for (const ing of ingresses) {
      for (const [k, v] of Object.entries<string>(ing.metadata.annotations ?? {})) {
        expect(k).not.toMatch(/snippet/);
        expect(`${k}: ${v}`).not.toMatch(/hsts.*false|Strict-Transport-Security/i);
      }
    }
  });

  test('every Ingress limits body size and request rate; CORS origins are exactly ALLOWED_ORIGINS', () => {
    const origins = manifests.find((m) => m.kind === 'ConfigMap' && m.data?.ALLOWED_ORIGINS)?.data.ALLOWED_ORIGINS;
    const problems: string[] = [];
    for (const ing of ingresses) {
      const a = ing.metadata.annotations ?? {};
      const where = `Ingress/${ing.metadata.name}`;
      if (!/^[0-9]+m$/.test(a['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '')) problems.push(`${where}: no proxy-body-size`);
      if (!(Number(a['nginx.ingress.kubernetes.io/limit-rps']) > 0)) problems.push(`${where}: no limit-rps (hardenIngress rateLimitRps)`);
      if (a['nginx.ingress.kubernetes.io/enable-cors'] === 'true') {
        const allow = a['nginx.ingress.kubernetes.io/cors-allow-origin'];
        if (allow !== origins || allow.includes('*')) problems.push(`${where}: cors-allow-origin ${allow} is not ALLOWED_ORIGINS`);
      }
    }
    expect(problems).toEqual([]);
    const api = ingresses.find((i) => i.metadata.name === 'nextgen-api');
    expect(api.metadata.annotations['nginx.ingress.kubernetes.io/enable-cors']).toBe('true');
  });
});

// ---------------------------------------------------------------- traffic from outside, with cluster-specific data

describe('load-balancer clients and own public URLs (test charts)', () => {
  function lbChart(props: ConstructorParameters<typeof NetworkPolicies>[2]) {
    const chart = new Chart(Testing.app(), 'lb', { namespace: 'nextgen-test' });
    const t = Topology.of(chart);
    const api = t.addPeer({ name: 'nextgen-api', selector: { 'app.kubernetes.io/name': 'nextgen-api' } });
    const minio = t.addPeer({ name: 'minio', selector: { 'app.kubernetes.io/name': 'minio' } });
    t.allow(LOAD_BALANCER_CLIENTS, { peer: api, port: 3001, portName: 'http' }, 'clients through the LB');
    t.allow(INGRESS_CONTROLLER, { peer: minio, port: 9000, portName: 'api' }, 'S3 through the ingress');
    t.allow(api, OWN_PUBLIC_URL, 'calls its own public URL');
    new NetworkPolicies(chart, 'Network', props);
    const policies = Testing.synth(chart).filter((m: any) => m.kind === 'NetworkPolicy');
    return { policies, world: new World('nextgen-test', policies), api, minio };
  }
  const client = (ip: string): Pod => ({ namespace: '(outside)', labels: {}, ip });

  test('Local: the listed ranges reach the pods; inside 0.0.0.0/0 private and link-local addresses do not', () => {
    const f = lbChart({ loadBalancer: { sourceRanges: ['0.0.0.0/0'], externalTrafficPolicy: 'Local' } });
    const api = f.world.pod(f.api);
    expect(allowed(f.policies, client(PUBLIC_CLIENT_IP), { pod: api, port: 3001 })).toBe(true);
    expect(allowed(f.policies, client('10.0.1.10'), { pod: api, port: 3001 })).toBe(false);
    expect(allowed(f.policies, OTHER_NS_POD, { pod: api, port: 3001 })).toBe(false);
    expect(allowed(f.policies, client(PUBLIC_CLIENT_IP), { pod: api, port: 9229 })).toBe(false);
  });

  test('narrowed source ranges admit only those clients; an explicit private range (internal LB) is admitted as listed', () => {
    const f = lbChart({ loadBalancer: { sourceRanges: ['203.0.113.0/24', '10.20.0.0/16'], externalTrafficPolicy: 'Local' } });
    const api = f.world.pod(f.api);
    expect(allowed(f.policies, client('203.0.113.9'), { pod: api, port: 3001 })).toBe(true);
    expect(allowed(f.policies, client('10.20.3.4'), { pod: api, port: 3001 })).toBe(true);
    expect(allowed(f.policies, client(PUBLIC_CLIENT_IP), { pod: api, port: 3001 })).toBe(false);
  });

  test('Cluster: packets arrive from node addresses (SNAT), so the node ranges are admitted', () => {
    const f = lbChart({ loadBalancer: { sourceRanges: ['0.0.0.0/0'], externalTrafficPolicy: 'Cluster' }, nodeRanges: ['10.0.0.0/16'] });
    const api = f.world.pod(f.api);
    expect(allowed(f.policies, client('10.0.1.10'), { pod: api, port: 3001 })).toBe(true);
    expect(allowed(f.policies, client('10.1.1.10'), { pod: api, port: 3001 })).toBe(false);
  });

  test('the ingress controller is the namespace and pod labels of the environment data', () => {
    const f = lbChart({ ingressController: { namespace: 'edge', podLabels: { 'app.kubernetes.io/component': 'controller' } } });
    const minio = f.world.pod(f.minio);
    const at = (namespace: string, labels: Record<string, string>): Pod => ({ namespace, labels, ip: '10.244.9.11' });
    expect(allowed(f.policies, at('edge', { 'app.kubernetes.io/component': 'controller' }), { pod: minio, port: 9000 })).toBe(true);
    expect(allowed(f.policies, at('edge', { 'app.kubernetes.io/component': 'admission-webhook' }), { pod: minio, port: 9000 })).toBe(false);
    expect(allowed(f.policies, at('ingress-nginx', { 'app.kubernetes.io/component': 'controller' }), { pod: minio, port: 9000 })).toBe(false);
  });

  test('a pod calling our own public URL reaches the ingress controller (443), which reaches the backend', () => {
    const f = lbChart({});
    expect(f.world.allows({ from: f.api, to: OWN_PUBLIC_URL })).toBe(true);
    expect(allowed(f.policies, INGRESS_POD, { pod: f.world.pod(f.minio), port: 9000 })).toBe(true);
    expect(allowed(f.policies, f.world.pod(f.minio), { pod: INGRESS_POD, port: 443 })).toBe(false);
  });
});

describe('egress to the Kubernetes API server: address and port from the cluster config (network.apiServer)', () => {
  const APISERVER_ENDPOINT = '10.0.0.10';
  const build = (apiServer?: { port?: number; ranges?: string[] }) => {
    const env = testEnvironment(apiServer ? { network: { apiServer } } : {});
    const chart = synthEnvironments([env]).built.environments[0] as unknown as MarketplaceChart;
    const policies = chart.toJson().filter((m: any) => m.kind === 'NetworkPolicy');
    const callers = Topology.of(chart).connections.filter((c) => (c.to.peer as ExternalPeer).external === 'kube-apiserver').map((c) => c.from as Peer);
    return { policies, callers, world: new World(env.namespace, policies) };
  };

  test.each([
    ['the default, managed control planes (EKS, GKE)', undefined, 443, 6443],
    ['kubeadm and k3s', { port: 6443 }, 6443, 443],
  ] as const)('%s: every declared caller reaches the endpoint on its port, and not on the other', (_t, apiServer, port, other) => {
    const { policies, callers, world } = build(apiServer as any);
    expect(callers.map((p) => p.name)).toEqual(expect.arrayContaining(['prometheus', 'kube-state-metrics']));
    for (const peer of callers) {
      expect([peer.name, allowed(policies, world.pod(peer), { ip: APISERVER_ENDPOINT, port })]).toEqual([peer.name, true]);
      expect([peer.name, allowed(policies, world.pod(peer), { ip: APISERVER_ENDPOINT, port: other })]).toEqual([peer.name, false]);
    }
  });

  test('the addresses come from the config too (a public endpoint, as on some managed clusters)', () => {
    const { policies, callers, world } = build({ port: 443, ranges: ['34.120.0.0/16'] });
    const prometheus = callers.find((p) => p.name === 'prometheus')!;
    expect(allowed(policies, world.pod(prometheus), { ip: '34.120.1.2', port: 443 })).toBe(true);
    expect(allowed(policies, world.pod(prometheus), { ip: APISERVER_ENDPOINT, port: 443 })).toBe(false);
  });

  test('a port outside 1-65535 is refused by the schema, naming the field', () => {
    expect(() => testEnvironment({ network: { apiServer: { port: 0 } } })).toThrow(/network\.apiServer\.port/);
  });
});

describe('the NetworkPolicy enforcement check (runbooks/job-networkpolicy-check.yaml)', () => {
  const env = testEnvironment();
  const { byFolder } = synthEnvironments([env]);
  const job = byFolder.get(`${env.name}/runbooks`)!.find((m: any) => m.kind === 'Job' && m.metadata.name === 'networkpolicy-check') as any;
  const policies = byFolder.get(env.name)!.filter((m: any) => m.kind === 'NetworkPolicy');
  const pod: Pod = { namespace: env.namespace, labels: job.spec.template.metadata.labels, ip: '10.244.1.99' };
  const world = new World(env.namespace, policies);

  test('its pod is selected only by default-deny and allow-dns, so it may resolve names and nothing else', () => {
    const selecting = policies.filter((p: any) => Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => pod.labels[k] === v));
    expect(selecting.map((p: any) => p.metadata.name).sort()).toEqual(['allow-dns', 'default-deny']);
  });

  test('the policies deny what it probes (the database) and allow its control (cluster DNS over TCP)', () => {
    const postgres = world.pod({ name: 'postgres', selector: { 'app.kubernetes.io/name': 'postgres', 'app.kubernetes.io/instance': `nextgen-${env.name}` } });
    expect(job.spec.template.spec.containers[0].env).toEqual(expect.arrayContaining([{ name: 'TARGET_HOST', value: 'postgres' }, { name: 'CONTROL_PORT', value: '53' }]));
    expect(allowed(policies, pod, { pod: postgres, port: 5432 })).toBe(false);
    expect(allowed(policies, pod, { pod: DNS_POD, port: 53 })).toBe(true);
  });
});
