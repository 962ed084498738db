/**
 * Turning charts into the committed `dist/` tree: one folder per chart, one file per
 * resource, a kustomization.yaml in apply order and a short README. Pure: returns the file
 * map; `writeTree` swaps it into place atomically.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ApiObject, Chart } from 'cdk8s';
import { SYNC_WAVE } from './identity';
import { finalRender } from './render';
import { dumpYaml } from './yaml';

/** A chart that becomes one folder of `dist/`. */
export interface OutputFolder {
  /** Path below dist/ (`prod`, `cluster`, `prod/runbooks`). */
  readonly folder: string;
  /** One line for the folder README. */
  readonly title: string;
  /** Whether GitOps applies it: applied folders get a kustomization.yaml. */
  readonly applied: boolean;
  /**
   * Annotations every object of the folder carries (merged over its own), e.g. the Argo CD
   * options that keep a runbook object an operator created from being pruned.
   * @default - none
   */
  readonly objectAnnotations?: Readonly<Record<string, string>>;
}

export const isOutputFolder = (c: unknown): c is Chart & OutputFolder =>
  c instanceof Chart && typeof (c as unknown as OutputFolder).folder === 'string';

/**
 * A chart's objects as JSON. `Chart.toJson()` re-resolves construct dependencies across the
 * whole App on every call, which makes rendering N environments cost O(N^2); rendering the
 * chart's own ApiObjects directly is linear (order does not matter: the writer sorts). An
 * object the quota, the probes or the checksums already rendered is not rendered again
 * (`finalRender`).
 */
export function chartManifests(chart: Chart): Manifest[] {
  const manifests = chart.node
    .findAll()
    .filter((c): c is ApiObject => c instanceof ApiObject && Chart.of(c) === chart)
    .map((o) => asStored(finalRender(o) as Manifest))
    .map((m) => withAnnotations(m, (chart as Partial<OutputFolder>).objectAnnotations));
  return (chart as Partial<OutputFolder>).applied ? manifests.map(immutableJobName) : manifests;
}

function withAnnotations(m: Manifest, extra: Readonly<Record<string, string>> | undefined): Manifest {
  if (!extra) return m;
  const meta = (m.metadata ?? {}) as { annotations?: Record<string, string> };
  return { ...m, metadata: { ...meta, annotations: { ...(meta.annotations ?? {}), ...extra } } } as Manifest;
}

/** API groups whose objects the API server stores typed (protobuf), not as written JSON. */
const TYPED_GROUPS = new Set(['', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'storage.k8s.io']);

/**
 * Non-pointer `omitempty` fields that cdk8s-plus writes with their zero value: the API server
 * drops them on storage. (Pointer fields such as `automountServiceAccountToken: false` or
 * `allowPrivilegeEscalation: false` are stored and must stay.)
 */
const DROPPED_ZERO_VALUES: Record<string, unknown> = {
  hostNetwork: false,
  hostPID: false,
  hostIPC: false,
  minReadySeconds: 0,
  readOnly: false,
  stdin: false,
  tty: false,
  paused: false,
  publishNotReadyAddresses: false,
  apiGroup: '',
};

/** Keys whose values (or whose maps' values) are resource quantities. */
const QUANTITY_KEYS = new Set(['requests', 'limits', 'hard', 'max', 'min', 'default', 'defaultRequest', 'capacity']);
const QUANTITY_SCALARS = new Set(['sizeLimit']);

const DECIMAL_SUFFIX: Record<string, number> = { m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

/**
 * A resource quantity in the form the API server stores and returns (`resource.Quantity`'s
 * canonical form): the largest suffix of the same family that keeps an integer mantissa
 * (`1000m` -> `1`, `1024Mi` -> `1Gi`, `0.5` -> `500m`). Values it cannot parse are returned as given.
 * @see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
export function canonicalQuantity(q: string): string {
  const m = /^(\d+)(?:\.(\d+))?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  if (!m) return q;
  const [, int, frac = '', suffix = ''] = m;
  if (suffix in BINARY_SUFFIX) {
    // bytes = int.frac x 1024^k; the server keeps binary form only for whole bytes >= 1024.
    const scale = 1024n ** BigInt(BINARY_SUFFIX[suffix]);
    const num = BigInt(int + frac) * scale;
    const den = 10n ** BigInt(frac.length);
    if (num % den !== 0n) return q;
    const bytes = num / den;
    if (bytes === 0n) return '0';
    if (bytes < 1024n) return canonicalQuantity(String(bytes));
    let k = 0;
    let v = bytes;
    while (k < 6 && v % 1024n === 0n) {
      v /= 1024n;
      k++;
    }
    if (k === 0) return canonicalQuantity(String(bytes));
    return `${v}${Object.keys(BINARY_SUFFIX)[k - 1]}`;
  }
  // Decimal: count in units of 10^-3 (milli); finer values are left alone.
  const exp = DECIMAL_SUFFIX[suffix] + 3 - frac.length;
  if (exp < 0) return q;
  let v = BigInt(int + frac) * 10n ** BigInt(exp);
  if (v === 0n) return '0';
  let e = -3;
  while (e < 18 && v % 1000n === 0n) {
    v /= 1000n;
    e += 3;
  }
  const suffixOf = Object.fromEntries(Object.entries(DECIMAL_SUFFIX).map(([k, x]) => [x, k]));
  return `${v}${suffixOf[e]}`;
}

const DROPPED = new Map(Object.entries(DROPPED_ZERO_VALUES));

/** `v` as the server stores it, under `key` (see `asStored`); a copy, the input is not changed. */
function storedValue(v: unknown, key: string, inQuantityMap: boolean): unknown {
  if (typeof v === 'string') return inQuantityMap || QUANTITY_SCALARS.has(key) ? canonicalQuantity(v) : v;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => storedValue(x, '', false));
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // Zero values are data inside maps of user keys.
  const userMap = key === 'labels' || key === 'annotations' || key === 'data';
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (Array.isArray(x) && x.length === 0) continue;
    if (!userMap && DROPPED.has(k) && DROPPED.get(k) === x) continue;
    // A quantity map's own values are quantities (`limits: {cpu: 1000m}`), nothing deeper.
    out[k] = storedValue(x, k, (inQuantityMap && typeof x === 'string') || (QUANTITY_KEYS.has(k) && key !== 'metadata'));
  }
  return out;
}

/**
 * A built-in object exactly as the API server will store it: no empty lists, no zero values it
 * drops, quantities in canonical form. Anything else makes server-side apply see a difference on
 * every apply (before Kubernetes 1.31 a write each time: endless churn for a GitOps controller)
 * and a conflict for any second field manager (`kubectl apply --server-side` after Argo CD).
 * Custom resources are stored as written and are left alone. The simulated-cluster test compares
 * every field we apply with what the server stored.
 */
export function asStored(m: Manifest): Manifest {
  const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
  if (!TYPED_GROUPS.has(group)) return m;
  const stored = storedValue(m, '', false) as Manifest;
  // `volumeClaimTemplates` is an atomic list: the server's defaults inside it (type meta,
  // `volumeMode`, `status.phase`) would conflict with any second field manager. Write them.
  const vcts = m.kind === 'StatefulSet' ? (stored.spec as { volumeClaimTemplates?: any[] }).volumeClaimTemplates : undefined;
  if (vcts) {
    (stored.spec as { volumeClaimTemplates?: any[] }).volumeClaimTemplates = vcts.map((t) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      ...t,
      spec: { volumeMode: 'Filesystem', ...t.spec },
      status: { phase: 'Pending', ...t.status },
    }));
  }
  return stored;
}

/**
 * A Job's pod template is immutable, so a Job applied by `kubectl apply` (the README's path
 * without Argo CD) under a fixed name fails on the first upgrade that changes it. Jobs in applied
 * folders are named after their content (`<name>-<hash of spec>`): a changed Job is a new Job,
 * an unchanged one applies as a no-op. Argo CD runs them as hooks either way.
 */
export function immutableJobName(m: Manifest): Manifest {
  if (m.kind !== 'Job' || m.apiVersion !== 'batch/v1') return m;
  const hash = crypto.createHash('sha256').update(JSON.stringify(m.spec)).digest('hex').slice(0, 8);
  return { ...m, metadata: { ...m.metadata, name: `${m.metadata.name}-${hash}` } };
}

/** Within one sync wave, kinds in the order Helm and Argo CD apply them. */
const KIND_ORDER = [
  'Namespace',
  'ResourceQuota',
  'LimitRange',
  'StorageClass',
  'ClusterIssuer',
  'ClusterSecretStore',
  'SecretStore',
  'AppProject',
  'NetworkPolicy',
  'ServiceAccount',
  'Secret',
  'SealedSecret',
  'ExternalSecret',
  'ConfigMap',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'StatefulSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'Job',
  'CronJob',
  'Ingress',
  'Certificate',
  'ServiceMonitor',
  'PodMonitor',
  'PrometheusRule',
  'Application',
  'ApplicationSet',
];

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [k: string]: unknown;
}

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

export function waveOf(m: Manifest): number {
  return Number(m.metadata.annotations?.[SYNC_WAVE] ?? 0);
}

/** Apply order: sync wave, then kind, then name. */
export function applyOrder(a: Manifest, b: Manifest): number {
  return waveOf(a) - waveOf(b) || kindRank(a.kind) - kindRank(b.kind) || a.metadata.name.localeCompare(b.metadata.name);
}

export function fileNameOf(m: Manifest): string {
  return `${m.kind.toLowerCase()}-${m.metadata.name}.yaml`;
}

const HEADER = '# Generated by `npm run synth` (cdk8s). Do not edit: change the code and synthesize again.\n';

/**
 * YAML as Kubernetes tools read it. kubectl and Argo CD parse with a YAML 1.1 reader, where
 * unquoted `on`, `off`, `yes`, `no`, `y` are booleans; js-yaml quotes every such string (and
 * is about four times faster than the `yaml` package here, which matters at 50 environments).
 * `dumpYaml` writes js-yaml's output faster still (see yaml.ts).
 */
export function toYaml(m: unknown): string {
  return dumpYaml(m);
}

/** Render every output chart into `relative path -> file content`. */
export function renderCharts(
  charts: Array<Chart & OutputFolder>,
  manifestsOf: (chart: Chart) => Manifest[] = chartManifests,
): Map<string, string> {
  const files = new Map<string, string>();
  for (const chart of [...charts].sort((a, b) => a.folder.localeCompare(b.folder))) {
    const manifests = [...manifestsOf(chart)].sort(applyOrder);
    const names: string[] = [];
    for (const m of manifests) {
      const file = fileNameOf(m);
      if (names.includes(file)) throw new Error(`${chart.folder}: two resources would be written to ${file}`);
      names.push(file);
      files.set(`${chart.folder}/${file}`, HEADER + toYaml(m));
    }
    if (chart.applied) {
      files.set(
        `${chart.folder}/kustomization.yaml`,
        HEADER +
          toYaml({
            apiVersion: 'kustomize.config.k8s.io/v1beta1',
            kind: 'Kustomization',
            // Keep our order (sync waves) instead of kustomize's built-in kind order.
            sortOptions: { order: 'fifo' },
            resources: names,
          }),
      );
    }
    const apply = chart.applied
      ? `Apply with \`kubectl apply -k dist/${chart.folder}\` (or let Argo CD sync it).`
      : 'Not applied by GitOps: these are run by hand, see the README runbook section.';
    files.set(
      `${chart.folder}/README.md`,
      `# dist/${chart.folder}\n\n${chart.title}.\n\nGenerated by \`npm run synth\` from this repository's TypeScript (cdk8s); ` +
        `do not edit by hand. ${apply}\n\n` +
        `| # | file | kind | name | sync wave |\n|---|---|---|---|---|\n` +
        manifests.map((m, i) => `| ${i + 1} | ${fileNameOf(m)} | ${m.kind} | ${m.metadata.name} | ${waveOf(m)} |`).join('\n') +
        '\n',
    );
  }
  return files;
}

/** Writing the output failed; `outdir` is as it was (the message says so only when true). */
export class WriteError extends Error {
  constructor(
    message: string,
    /** Whether `outdir` still holds exactly what it held before. */
    readonly unchanged: boolean,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

/** The file-system calls `writeTree` makes (tests pass failing ones). */
export type TreeIo = Pick<
  typeof fs,
  'mkdirSync' | 'writeFileSync' | 'renameSync' | 'rmSync' | 'existsSync' | 'readdirSync' | 'copyFileSync' | 'chmodSync' | 'lstatSync'
>;

function describe(e: unknown, parent: string): string {
  const err = e as NodeJS.ErrnoException;
  const where = err.path ? path.relative(parent, err.path) || '.' : '';
  return err.code ? `${err.code} (${err.syscall ?? 'write'}${where ? ` ${where}` : ''})` : String(err.message ?? e).split('\n')[0];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove a folder even when parts of it were made read-only; false when it cannot. */
function removeTree(dir: string, io: TreeIo): boolean {
  try {
    io.rmSync(dir, { recursive: true, force: true });
    return true;
  } catch {
    const open = (d: string) => {
      try {
        io.chmodSync(d, 0o700);
        for (const e of io.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) open(path.join(d, e.name));
      } catch {
        /* best effort */
      }
    };
    open(dir);
    try {
      io.rmSync(dir, { recursive: true, force: true });
      return true;
    } catch {
      return !io.existsSync(dir);
    }
  }
}

/**
 * Write `files` as the whole content of `outdir`, atomically: everything goes to a sibling
 * temporary folder first, which then replaces `outdir`. Any failure (permissions, a full
 * disk, an `outdir` that cannot be renamed) removes the temporary folders and leaves `outdir`
 * as it was, and throws a `WriteError` saying so. Leftovers of an earlier run that was killed
 * (`<outdir>.tmp-<pid>`, `<outdir>.old-<pid>` of a process that is gone) are removed first.
 * When `outdir` itself cannot be renamed (a mount point), the complete staged tree is copied
 * into it instead. Returns warnings (a leftover that could not be removed), one line each.
 */
export function writeTree(outdir: string, files: Map<string, string>, io: TreeIo = fs): string[] {
  const abs = path.resolve(outdir);
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  const tmp = `${abs}.tmp-${process.pid}`;
  const old = `${abs}.old-${process.pid}`;
  const warnings: string[] = [];
  const leftover = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-([0-9]+)$`);
  try {
    for (const name of io.readdirSync(parent)) {
      const m = leftover.exec(String(name));
      if (m && (Number(m[2]) === process.pid || !alive(Number(m[2])))) removeTree(path.join(parent, String(name)), io);
    }
  } catch {
    /* the parent cannot be listed: the write below reports it */
  }

  const cleanup = () => {
    if (!removeTree(tmp, io)) warnings.push(`could not remove ${path.basename(tmp)}`);
  };
  const fail = (e: unknown, unchanged: boolean): never => {
    cleanup();
    throw new WriteError(`cannot write ${base}/: ${describe(e, parent)}${warnings.length ? `; ${warnings.join('; ')}` : ''}`, unchanged);
  };

  const entries = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  let current = tmp;
  try {
    // The folder itself first: a recursive mkdir reports a read-only parent as ENOENT.
    io.mkdirSync(tmp);
    for (const dir of new Set(entries.map(([rel]) => path.dirname(path.join(tmp, rel))))) io.mkdirSync((current = dir), { recursive: true });
    for (const [rel, content] of entries) io.writeFileSync((current = path.join(tmp, rel)), content);
  } catch (e) {
    fail(Object.assign(e as object, { path: (e as NodeJS.ErrnoException).path ?? current }), true);
  }

  const existed = io.existsSync(abs);
  if (existed) {
    try {
      io.renameSync(abs, old);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' || code === 'EBUSY') {
        // Nothing is touched unless a file can be created in it.
        const probe = path.join(abs, `.write-probe-${process.pid}`);
        try {
          io.writeFileSync(probe, '');
          io.rmSync(probe);
        } catch (p) {
          fail(p, true);
        }
        copyInto(tmp, abs, entries, io, fail);
        cleanup();
        return warnings;
      }
      fail(e, true);
    }
  }
  try {
    io.renameSync(tmp, abs);
  } catch (e) {
    if (existed) {
      try {
        io.renameSync(old, abs);
      } catch {
        fail(e, false);
      }
    }
    fail(e, true);
  }
  if (existed && !removeTree(old, io)) warnings.push(`could not remove the previous tree ${path.basename(old)}; delete it by hand`);
  return warnings;
}

/**
 * `outdir` cannot be renamed (it is a mount point): the staged tree is complete, so copy it
 * in file by file and delete what the new tree no longer has.
 */
function copyInto(tmp: string, abs: string, entries: Array<[string, string]>, io: TreeIo, fail: (e: unknown, unchanged: boolean) => never): void {
  const keep = new Set(entries.map(([rel]) => rel));
  try {
    for (const dir of new Set(entries.map(([rel]) => path.dirname(path.join(abs, rel))))) io.mkdirSync(dir, { recursive: true });
    for (const [rel] of entries) io.copyFileSync(path.join(tmp, rel), path.join(abs, rel));
    const prune = (d: string, rel: string) => {
      for (const e of io.readdirSync(d, { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          prune(path.join(d, e.name), r);
          if (io.readdirSync(path.join(d, e.name)).length === 0) io.rmSync(path.join(d, e.name), { recursive: true });
        } else if (!keep.has(r)) io.rmSync(path.join(d, e.name));
      }
    };
    prune(abs, '');
  } catch (e) {
    fail(e, false);
  }
}

/** Every file under `dir` (recursively): relative path with `/` separators -> text. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p).split(path.sep).join('/'), fs.readFileSync(p, 'utf8'));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}
