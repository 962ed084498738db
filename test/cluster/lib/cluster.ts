/**
 * A simulated Kubernetes cluster made of the real control plane: etcd, kube-apiserver (with its
 * whole admission chain: PodSecurity, ResourceQuota, LimitRanger, ...), kube-controller-manager
 * and kube-scheduler, built from source at a pinned version, plus kwok, which plays the
 * kubelets (and, through its stages, the few outside controllers we lean on: see stages.yaml).
 *
 * Safety: it refuses to start outside a network namespace that has nothing but loopback (run it
 * under `unshare --net`, see run.ts), listens on 127.0.0.1 only, keeps every file in its own
 * temporary folder and stops exactly the processes it started.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../../integration/lib/servers';
import { ROOT, type ControlPlaneBinaries } from './binaries';

export { freePort };

export interface NodeSpec {
  readonly name: string;
  readonly cpuMillis: number;
  readonly memoryMiB: number;
  /** `topology.kubernetes.io/zone`. */
  readonly zone: string;
  /** @default 110 */
  readonly pods?: number;
}

export interface KubectlResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

const TOKEN = 'sim-admin-token';

/** The CRDs of the custom resources we create (vendored); kwok's stages watch some of them. */
export function vendoredCrds(): string[] {
  const dir = path.join(ROOT, 'vendor', 'crds', 'bundles');
  return fs.readdirSync(dir).sort().map((f) => path.join(dir, f));
}

/** Whether this process's network namespace has no interface but loopback (/proc/net/dev is per namespace). */
export function isolatedNetwork(): boolean {
  try {
    const ifaces = fs
      .readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0].trim())
      .filter(Boolean);
    return ifaces.length === 1 && ifaces[0] === 'lo';
  } catch {
    return false;
  }
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SimCluster {
  readonly dir: string;
  readonly kubeconfig: string;
  /** The admin's bearer token and the API server's port (set at boot). */
  readonly token = TOKEN;
  apiPort = 0;
  private readonly procs: Array<{ name: string; proc: cp.ChildProcess; log: string }> = [];
  private stopped = false;

  private constructor(readonly bins: ControlPlaneBinaries) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nextgen-simcluster-'));
    this.kubeconfig = path.join(this.dir, 'kubeconfig');
  }

  /** Start etcd, the control plane and kwok; resolve when the API server is ready and `nodes` are Ready. */
  static async start(bins: ControlPlaneBinaries, nodes: readonly NodeSpec[], crdFiles: readonly string[] = vendoredCrds()): Promise<SimCluster> {
    if (!isolatedNetwork()) {
      throw new Error('refusing to start: run the simulated cluster in its own network namespace with only loopback (unshare --net)');
    }
    const c = new SimCluster(bins);
    try {
      await c.boot(nodes, crdFiles);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Start a process that belongs to this cluster: stopped with it, its log kept with the others. */
  startProcess(name: string, bin: string, args: string[]): void {
    this.spawn(name, bin, args);
  }

  private spawn(name: string, bin: string, args: string[]): void {
    const log = path.join(this.dir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    const proc = cp.spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: this.dir });
    fs.closeSync(fd);
    this.procs.push({ name, proc, log });
  }

  /** The last lines of a component's log, for error messages. */
  logTail(name: string, lines = 30): string {
    const p = this.procs.find((x) => x.name === name);
    if (!p || !fs.existsSync(p.log)) return '';
    return fs.readFileSync(p.log, 'utf8').split('\n').slice(-lines).join('\n');
  }

  private assertRunning(): void {
    for (const p of this.procs) {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) {
        throw new Error(`${p.name} exited (${p.proc.exitCode ?? p.proc.signalCode}):\n${this.logTail(p.name)}`);
      }
    }
  }

  private async boot(nodes: readonly NodeSpec[], crdFiles: readonly string[]): Promise<void> {
    const d = this.dir;
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
    const pki = path.join(d, 'pki');
    fs.mkdirSync(pki);
    const ossl = (...args: string[]) => {
      const r = cp.spawnSync('openssl', args, { cwd: pki, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    };
    // A CA, the API server's serving certificate for 127.0.0.1, and the service-account key.
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=sim-ca');
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver');
    fs.writeFileSync(path.join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n');
    ossl('x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '2', '-extfile', 'san.ext');
    ossl('genrsa', '-out', 'sa.key', '2048');
    ossl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
    fs.writeFileSync(path.join(d, 'tokens.csv'), `${TOKEN},sim-admin,sim-admin,"system:masters"\n`);
    this.apiPort = apiPort;
    const server = `https://127.0.0.1:${apiPort}`;
    fs.writeFileSync(
      this.kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: sim\n  cluster:\n    server: ${server}\n    certificate-authority: ${path.join(pki, 'ca.crt')}`,
        'users:',
        `- name: admin\n  user:\n    token: ${TOKEN}`,
        'contexts:',
        '- name: sim\n  context:\n    cluster: sim\n    user: admin',
        'current-context: sim',
        '',
      ].join('\n'),
    );

    this.spawn('etcd', this.bins.etcd, [
      '--name=sim',
      `--data-dir=${path.join(d, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=sim=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    this.spawn('kube-apiserver', this.bins.apiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${path.join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${path.join(pki, 'apiserver.key')}`,
      `--client-ca-file=${path.join(pki, 'ca.crt')}`,
      `--token-auth-file=${path.join(d, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // The admission chain a managed cluster runs; PodSecurity, ResourceQuota and LimitRanger
      // are the ones our manifests must pass.
      '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,ResourceQuota,PodSecurity,StorageObjectInUseProtection,PersistentVolumeClaimResize,RuntimeClass,Priority,TaintNodesByCondition,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy',
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=1',
    ]);
    await this.waitFor('the API server to be ready', 90_000, () => this.kubectl(['get', '--raw', '/readyz']).status === 0);
    const common = [`--kubeconfig=${this.kubeconfig}`, `--authentication-kubeconfig=${this.kubeconfig}`, `--authorization-kubeconfig=${this.kubeconfig}`, '--bind-address=127.0.0.1', '--leader-elect=false', '--profiling=false'];
    this.spawn('kube-controller-manager', this.bins.controllerManager, [
      ...common,
      `--secure-port=${kcmPort}`,
      `--service-account-private-key-file=${path.join(pki, 'sa.key')}`,
      `--root-ca-file=${path.join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      // No cloud here: the cloud controllers off (1.37 and newer no longer have them; naming
      // an unknown one is an error), and no node IPAM.
      `--controllers=${['*', ...['nodeipam', 'cloud-node-lifecycle', 'service-lb-controller', 'node-route-controller'].filter((c) => c === 'nodeipam' || knownControllers(this.bins.controllerManager).includes(c)).map((c) => `-${c}`)].join(',')}`,
      // Fast enough for a test: HPA and quota resync sooner than in production.
      '--resource-quota-sync-period=10s',
      '--v=1',
    ]);
    this.spawn('kube-scheduler', this.bins.scheduler, [...common, `--secure-port=${schedPort}`, '--v=1']);
    // CRDs before kwok: its stages watch custom resources and it resolves their kinds at start.
    for (const f of crdFiles) this.must(['apply', '--server-side', '-f', f]);
    if (crdFiles.length) this.must(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    const kwokConfig = path.join(d, 'kwok.yaml');
    fs.writeFileSync(
      kwokConfig,
      [
        'apiVersion: config.kwok.x-k8s.io/v1alpha1',
        'kind: KwokConfiguration',
        'options:',
        '  manageNodesWithLabelSelector: type=kwok',
        '  cidr: 10.244.0.1/16',
        '  nodeIP: 10.0.0.1',
        '  enableCRDs: []',
        // kwok applies these defaults only to a configuration it generates itself.
        '  podPlayStageParallelism: 4',
        '  nodePlayStageParallelism: 4',
        '  nodeLeaseParallelism: 4',
        '  nodeLeaseDurationSeconds: 40',
        '  podsOnNodeSyncParallelism: 1',
        '  enablePodsOnNodeSyncListPager: true',
        '  enablePodsOnNodeSyncStreamWatch: true',
        '---',
        fs.readFileSync(path.join(__dirname, 'stages.yaml'), 'utf8'),
      ].join('\n'),
    );
    this.spawn('kwok', this.bins.kwok, [`--kubeconfig=${this.kubeconfig}`, `--config=${kwokConfig}`, `--server-address=127.0.0.1:${kwokPort}`]);
    // The default ServiceAccount appears when the controllers run; nodes join after.
    await this.waitFor('the controllers to run', 60_000, () => this.kubectl(['-n', 'default', 'get', 'serviceaccount', 'default']).status === 0);
    this.addNodes(nodes);
    await this.waitFor(`${nodes.length} nodes to be Ready`, 60_000, () => {
      const r = this.kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      return r.status === 0 && r.stdout.split('\n').filter((s) => s === 'True').length === nodes.length;
    });
  }

  /** Register worker nodes with the given allocatable capacity, as a kubelet would. */
  addNodes(nodes: readonly NodeSpec[]): void {
    for (const n of nodes) {
      const node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.name,
          labels: {
            type: 'kwok',
            'kubernetes.io/hostname': n.name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'topology.kubernetes.io/zone': n.zone,
            'node-role.kubernetes.io/worker': '',
          },
        },
      };
      this.must(['apply', '--server-side', '--field-manager=kubelet', '-f', '-'], JSON.stringify(node));
      const capacity = { cpu: `${n.cpuMillis}m`, memory: `${n.memoryMiB}Mi`, pods: String(n.pods ?? 110), 'ephemeral-storage': '100Gi' };
      this.must(['patch', 'node', n.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { capacity, allocatable: capacity } })]);
    }
  }

  kubectl(args: string[], input?: string): KubectlResult {
    this.assertRunning();
    const r = cp.spawnSync(this.bins.kubectl, args, {
      input,
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: this.kubeconfig, KUBECTL_KUBERC: 'false' },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    });
    return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  }

  /** kubectl that must succeed; returns stdout. */
  must(args: string[], input?: string): string {
    const r = this.kubectl(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout;
  }

  getJson<T = any>(args: string[]): T {
    return JSON.parse(this.must([...args, '-o', 'json']));
  }

  async waitFor(what: string, timeoutMs: number, ok: () => boolean, describe?: () => string): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (ok()) return;
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${describe ? `: ${describe()}` : ''}`);
      await sleep(250);
    }
  }

  /** Stop every process this cluster started (and nothing else), then remove its folder. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const alive = (p: cp.ChildProcess) => p.exitCode === null && p.signalCode === null;
    const exited = (p: cp.ChildProcess, ms: number) =>
      new Promise<void>((resolve) => {
        if (!alive(p)) return resolve();
        const t = setTimeout(resolve, ms);
        p.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    for (const { proc } of [...this.procs].reverse()) {
      if (!alive(proc)) continue;
      proc.kill('SIGTERM');
      await exited(proc, 10_000);
      if (alive(proc)) {
        proc.kill('SIGKILL');
        await exited(proc, 5_000);
      }
    }
    if (!process.env.SIMCLUSTER_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): SIGKILL whatever is still running. */
  kill(): void {
    for (const { proc } of this.procs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (!process.env.SIMCLUSTER_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The controllers a kube-controller-manager binary knows (its `--help` lists them). */
function knownControllers(binary: string): string[] {
  const help = cp.spawnSync(binary, ['--help'], { encoding: 'utf8' });
  const m = /All controllers: ([^\n]*)/.exec(`${help.stdout}${help.stderr}`);
  return m ? m[1].split(',').map((c) => c.trim()).filter(Boolean) : [];
}
