/**
 * A stand-in for metrics-server: the resource metrics API (`metrics.k8s.io/v1beta1`) the HPA
 * controller reads, served from the driver's process and registered with the API server's
 * aggregation layer like the real one (an APIService pointing at a Service). The Service is an
 * ExternalName to `localhost` because the simulated cluster has no pod network: the aggregator
 * resolves ExternalName Services to that name. Every running pod reports 10% of its requests, so
 * the HPA computes a real recommendation (and holds at minReplicas) instead of failing.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import type { SimCluster } from './cluster';

export interface MetricsApi {
  close(): void;
}

function cpuMillis(q: string | undefined): number {
  if (!q) return 0;
  if (q.endsWith('m')) return Number(q.slice(0, -1));
  return Number(q) * 1000;
}

function memBytes(q: string | undefined): number {
  if (!q) return 0;
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, K: 1e3, M: 1e6, G: 1e9 };
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  return m ? Number(m[1]) * (units[m[2]] ?? 1) : 0;
}

/**
 * Serve the metrics API (in a process of its own: the driver blocks on kubectl calls, and the
 * aggregator's requests must not wait for them).
 */
export async function serve(port: number, kubectl: string, kubeconfig: string, pki: string): Promise<void> {
  const podsOf = (ns: string, selector: string): Promise<any[]> =>
    new Promise((resolve) => {
      const args = ['-n', ns, 'get', 'pods', '-o', 'json', ...(selector ? ['-l', selector] : [])];
      cp.execFile(kubectl, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 64 << 20 }, (err, out) => {
        resolve(err ? [] : JSON.parse(out).items);
      });
    });
  const podMetrics = (p: any) => ({
    metadata: { name: p.metadata.name, namespace: p.metadata.namespace, labels: p.metadata.labels ?? {}, creationTimestamp: new Date().toISOString() },
    timestamp: new Date(Date.now() - 1000).toISOString(),
    window: '30s',
    containers: p.spec.containers.map((c: any) => ({
      name: c.name,
      usage: {
        cpu: `${Math.max(1, Math.round(cpuMillis(c.resources?.requests?.cpu) / 10))}m`,
        memory: `${Math.max(1024 * 1024, Math.round(memBytes(c.resources?.requests?.memory) / 10))}`,
      },
    })),
  });
  const server = https.createServer({ key: fs.readFileSync(path.join(pki, 'metrics.key')), cert: fs.readFileSync(path.join(pki, 'metrics.crt')) }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const p = url.pathname.replace(/\/$/, '');
    if (p === '/openapi/v2') return send(200, { swagger: '2.0', info: { title: 'metrics stand-in', version: 'v1beta1' }, paths: {} });
    if (p === '/openapi/v3') return send(200, { paths: {} });
    if (p === '/apis/metrics.k8s.io/v1beta1') {
      return send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'metrics.k8s.io/v1beta1',
        resources: [
          { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
          { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
        ],
      });
    }
    const m = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(p);
    if (m) {
      const pods = (await podsOf(m[1], url.searchParams.get('labelSelector') ?? '')).filter((x) => x.status?.phase === 'Running');
      if (m[2]) {
        const pod = pods.find((x) => x.metadata.name === m[2]);
        return pod ? send(200, { kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1', ...podMetrics(pod) }) : send(404, { kind: 'Status', code: 404 });
      }
      return send(200, { kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items: pods.map(podMetrics) });
    }
    return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

export async function startMetricsApi(cluster: SimCluster, port: number): Promise<MetricsApi> {
  const pki = path.join(cluster.dir, 'pki');
  const r = cp.spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'metrics.key', '-out', 'metrics.crt', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { cwd: pki, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  cluster.startProcess('metrics-api', process.execPath, ['-r', path.join(__dirname, '..', '..', '..', 'scripts', 'register.cjs'), __filename, String(port), cluster.bins.kubectl, cluster.kubeconfig, pki]);
  cluster.must(
    ['apply', '--server-side', '-f', '-'],
    [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'metrics-stand-in', namespace: 'kube-system' }, spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port }] } },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.metrics.k8s.io' },
        spec: { group: 'metrics.k8s.io', version: 'v1beta1', service: { name: 'metrics-stand-in', namespace: 'kube-system', port }, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100 },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
  await cluster.waitFor('the metrics API to be available', 60_000, () => cluster.kubectl(['get', '--raw', '/apis/metrics.k8s.io/v1beta1']).status === 0);
  return { close: () => undefined };
}

if (require.main === module) {
  const [port, kubectl, kubeconfig, pki] = process.argv.slice(2);
  serve(Number(port), kubectl, kubeconfig, pki).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
