/**
 * What the API server would refuse, checked on every object we render, so a value derived
 * from an environment (the label `nextgen-<name>`, a Job named after an image, a host on an
 * Ingress) is held to the same rules as the value an operator writes. The rules themselves
 * live in `environments/schema/kube.ts`, shared with the schema.
 *
 * Also what two folders of the output could share and hurt each other with: the same object,
 * the same Ingress host, the same S3 destination, the same secret in the secret backend.
 */
import {
  CRONJOB_NAME_MAX,
  DNS_LABEL_MAX,
  DNS_SUBDOMAIN_MAX,
  INT32_MAX,
  cronProblem,
  dns1035LabelProblem,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  hostnameProblem,
  labelKeyProblem,
  labelValueProblem,
  portNameProblem,
  portProblem,
  quantityProblem,
  timeZoneProblem,
} from '../../environments/schema/kube';
import { fieldPath, show, sourceOf, writtenStrings } from '../../environments/load';
import type { Environment } from '../../environments/schema';
import type { Manifest } from './output';

/** One value of one object the API server would refuse. */
export interface Refusal {
  /** `Kind/name` of the object. */
  readonly object: string;
  /** Where in the object, e.g. `metadata.labels["app.kubernetes.io/instance"]`. */
  readonly field: string;
  readonly value: string;
  /** What is wrong, as a sentence fragment (`is 68 characters long, more than 63`). */
  readonly problem: string;
  /** The longest this value may be, when the rule is a length limit. */
  readonly max?: number;
}

/** Names are DNS-1123 subdomains except for these kinds. */
const NAME_RULE: Record<string, { check: (v: string) => string | undefined; max: number }> = {
  Namespace: { check: dns1123LabelProblem, max: DNS_LABEL_MAX },
  Service: { check: dns1035LabelProblem, max: DNS_LABEL_MAX },
  // The controller puts the Job name into the pods' job-name label (a label value).
  Job: { check: (v) => dns1123LabelProblem(v), max: DNS_LABEL_MAX },
  CronJob: { check: (v) => dns1123LabelProblem(v, CRONJOB_NAME_MAX), max: CRONJOB_NAME_MAX },
  // Pod names `<name>-<ordinal>` become the statefulset.kubernetes.io/pod-name label.
  StatefulSet: { check: (v) => dns1123LabelProblem(v, DNS_LABEL_MAX - 6), max: DNS_LABEL_MAX - 6 },
};
const SUBDOMAIN = { check: (v: string) => dns1123SubdomainProblem(v), max: DNS_SUBDOMAIN_MAX };

/** Objects whose cpu/memory/storage entries are quantities (resources, quotas, limit ranges, claims). */
const QUANTITY_PARENTS = new Set(['requests', 'limits', 'hard', 'default', 'defaultRequest', 'max', 'min', 'capacity']);

const INT32_FIELDS = new Set(['replicas', 'minReplicas', 'maxReplicas', 'backoffLimit', 'completions', 'parallelism']);

/** Label keys and values repeat on every object: each distinct one is checked once. */
function memo(f: (s: string) => string | undefined): (s: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  return (s) => {
    if (!cache.has(s)) cache.set(s, f(s));
    return cache.get(s);
  };
}
const keyProblem = memo(labelKeyProblem);
const valueProblem = memo(labelValueProblem);

/** Every refusal the API server would give for this object's names, labels, ports, hosts and schedules. */
export function admissionProblems(m: Manifest): Refusal[] {
  const out: Refusal[] = [];
  const object = `${m.kind}/${m.metadata?.name}`;
  // Paths are built only for a refusal: the walk visits every key of every object.
  type At = readonly (string | number)[];
  const show = (at: At) => at.map((p) => (typeof p === 'number' ? `[${p}]` : p.startsWith('[') ? p : `.${p}`)).join('').replace(/^\./, '');
  const add = (at: At, value: string, problem: string | undefined, max?: number) => {
    if (problem) out.push({ object, field: show(at), value, problem, max });
  };
  const rule = NAME_RULE[m.kind] ?? SUBDOMAIN;
  add(['metadata', 'name'], m.metadata.name, rule.check(m.metadata.name), rule.max);
  if (m.metadata.namespace !== undefined) add(['metadata', 'namespace'], m.metadata.namespace, dns1123LabelProblem(m.metadata.namespace), DNS_LABEL_MAX);
  const cronSpec = m.kind === 'CronJob' ? (m as { spec?: { schedule?: unknown; timeZone?: unknown } }).spec : undefined;
  if (typeof cronSpec?.schedule === 'string') add(['spec', 'schedule'], cronSpec.schedule, cronProblem(cronSpec.schedule));
  if (typeof cronSpec?.timeZone === 'string') add(['spec', 'timeZone'], cronSpec.timeZone, timeZoneProblem(cronSpec.timeZone));
  const ingress = m.kind === 'Ingress';
  const keyed = m.kind === 'ConfigMap' || m.kind === 'Secret';

  const walk = (node: unknown, at: At, parentKey: string): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) walk(node[i], [...at, i], parentKey);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    for (const k in obj) {
      const v = obj[k];
      if ((k === 'labels' || k === 'matchLabels' || (k === 'selector' && m.kind === 'Service')) && v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [lk, lv] of Object.entries(v as Record<string, unknown>)) {
          add([...at, k, `[${JSON.stringify(lk)}]`], lk, keyProblem(lk));
          if (typeof lv === 'string') add([...at, k, `[${JSON.stringify(lk)}]`], lv, valueProblem(lv), DNS_LABEL_MAX);
        }
        continue;
      }
      if (k === 'annotations' && v && typeof v === 'object') {
        for (const ak of Object.keys(v as Record<string, unknown>)) add([...at, k, `[${JSON.stringify(ak)}]`], ak, keyProblem(ak));
        continue;
      }
      if (typeof v === 'number') {
        if (k === 'containerPort' || k === 'port' || k === 'hostPort' || (k === 'targetPort' && parentKey === 'ports')) add([...at, k], String(v), portProblem(v));
        else if (k === 'number' && parentKey === 'port') add([...at, k], String(v), portProblem(v));
        else if (INT32_FIELDS.has(k) && (v < 0 || v > INT32_MAX || !Number.isInteger(v))) add([...at, k], String(v), `is not a whole number from 0 to ${INT32_MAX}`);
        continue;
      }
      if (typeof v === 'string') {
        if ((QUANTITY_PARENTS.has(parentKey) && /(^|\.)(cpu|memory|storage|ephemeral-storage)$/.test(k)) || k === 'sizeLimit') add([...at, k], v, quantityProblem(v));
        else if (k === 'name' && parentKey === 'ports') add([...at, k], v, portNameProblem(v), 15);
        else if (k === 'name' && (parentKey === 'containers' || parentKey === 'initContainers')) add([...at, k], v, dns1123LabelProblem(v), DNS_LABEL_MAX);
        else if (ingress && k === 'host' && parentKey === 'rules') add([...at, k], v, hostnameProblem(v), DNS_SUBDOMAIN_MAX);
        else if (ingress && k === 'secretName') add([...at, k], v, dns1123SubdomainProblem(v), DNS_SUBDOMAIN_MAX);
        continue;
      }
      if (ingress && k === 'hosts' && parentKey === 'tls' && Array.isArray(v)) v.forEach((h, i) => typeof h === 'string' && add([...at, k, i], h, hostnameProblem(h), DNS_SUBDOMAIN_MAX));
      if (keyed && (k === 'data' || k === 'stringData') && v && typeof v === 'object') {
        for (const dk of Object.keys(v as Record<string, unknown>)) {
          add([...at, k, `[${JSON.stringify(dk)}]`], dk, /^[-._a-zA-Z0-9]{1,253}$/.test(dk) ? undefined : 'is not a valid key (letters, digits, "-", "_", ".", at most 253)');
        }
        continue;
      }
      walk(v, [...at, k], k);
    }
  };
  walk(m, [], '');
  return out;
}

/** A folder of the output and the objects written into it. */
export interface OutputObjects {
  readonly folder: string;
  readonly manifests: readonly Manifest[];
}

/** Something two folders both claim. */
export interface Clash {
  /** What is shared, for the message (`Ingress host api.example.com`). */
  readonly what: string;
  readonly value: string;
  /** The folders that claim it, in output order. */
  readonly folders: readonly string[];
  /** Why that hurts. */
  readonly harm: string;
}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : 'core');

/** Environment of a backup container: S3 destination. */
function s3Destinations(ms: readonly Manifest[]): Array<{ dest: string; prefix: string }> {
  const out: Array<{ dest: string; prefix: string }> = [];
  for (const m of ms) {
    if (m.kind !== 'CronJob') continue;
    const pod = (m as any).spec?.jobTemplate?.spec?.template?.spec;
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      const env = new Map<string, string>((c.env ?? []).filter((e: any) => typeof e.value === 'string').map((e: any) => [e.name, e.value]));
      const bucket = env.get('S3_BUCKET');
      const prefix = env.get('S3_PREFIX');
      if (bucket && prefix !== undefined) out.push({ dest: `${env.get('S3_ENDPOINT') ? `${env.get('S3_ENDPOINT')!.replace(/\/+$/, '')}/` : 's3://'}${bucket}`, prefix });
    }
  }
  return out;
}

/**
 * What folders share and must not: the same object (kind, namespace, name) written twice,
 * the same Ingress host, overlapping S3 prefixes in one bucket, the same secret-backend key.
 */
export function clashes(folders: readonly OutputObjects[]): Clash[] {
  const out: Clash[] = [];
  const claim = (map: Map<string, string[]>, key: string, folder: string) => {
    const list = map.get(key) ?? [];
    if (!list.includes(folder)) list.push(folder);
    map.set(key, list);
  };
  const objects = new Map<string, string[]>();
  const hosts = new Map<string, string[]>();
  const keys = new Map<string, string[]>();
  const s3: Array<{ folder: string; dest: string; prefix: string }> = [];
  for (const f of folders) {
    for (const m of f.manifests) {
      claim(objects, `${groupOf(m.apiVersion)} ${m.kind} ${m.metadata.namespace ?? '(cluster)'}/${m.metadata.name}`, f.folder);
      if (m.kind === 'Ingress') for (const r of ((m as any).spec?.rules ?? []) as Array<{ host?: string }>) if (r.host) claim(hosts, r.host, f.folder);
      if (m.kind === 'ExternalSecret') {
        const store = (m as any).spec?.secretStoreRef ?? {};
        for (const d of ((m as any).spec?.data ?? []) as Array<{ remoteRef?: { key?: string; property?: string } }>) {
          if (d.remoteRef?.key) claim(keys, `${store.kind ?? 'SecretStore'}/${store.name} ${d.remoteRef.key}`, f.folder);
        }
      }
    }
    for (const d of s3Destinations(f.manifests)) if (!s3.some((x) => x.folder === f.folder && x.dest === d.dest && x.prefix === d.prefix)) s3.push({ folder: f.folder, ...d });
  }
  for (const [key, fs] of objects) {
    if (fs.length > 1) out.push({ what: 'the object', value: key.replace(/^\S+ /, ''), folders: fs, harm: 'each sync would overwrite the other\'s object' });
  }
  for (const [host, fs] of hosts) {
    if (fs.length > 1) out.push({ what: 'the Ingress host', value: host, folders: fs, harm: 'the ingress controller sends one host\'s traffic to one of them' });
  }
  const seenStoreKey = new Set<string>();
  for (const [key, fs] of keys) {
    const store = key.split(' ')[0];
    if (fs.length > 1 && !seenStoreKey.has(`${store} ${fs.join(',')}`)) {
      seenStoreKey.add(`${store} ${fs.join(',')}`);
      out.push({ what: `the secret of ${store} at`, value: key.split(' ')[1], folders: fs, harm: 'both read (and rotate) the same credentials' });
    }
  }
  const under = (a: string, b: string) => a === b || b.startsWith(`${a}/`) || a === '';
  for (let i = 0; i < s3.length; i++) {
    for (let j = i + 1; j < s3.length; j++) {
      const [a, b] = [s3[i], s3[j]];
      if (a.folder !== b.folder && a.dest === b.dest && (under(a.prefix, b.prefix) || under(b.prefix, a.prefix))) {
        const [outer, inner] = a.prefix.length <= b.prefix.length ? [a, b] : [b, a];
        out.push({
          what: a.prefix === b.prefix ? 'the S3 prefix' : `S3 prefixes, one inside the other: ${outer.dest}/${outer.prefix}/ and`,
          value: `${inner.dest}/${inner.prefix}/`,
          folders: [a.folder, b.folder],
          harm: "one environment's retention deletes the other's backups, and a restore may read the wrong database",
        });
      }
    }
  }
  return out;
}

/** A folder with the environment it was built from (none for `cluster`, `argocd`). */
export interface EnvironmentObjects extends OutputObjects {
  readonly env?: Environment;
}

/** The written field a derived value comes from: the longest written string it contains. */
function attribute(envs: readonly Environment[], derived: string): { env: Environment; path: PropertyKey[]; value: string } | undefined {
  let best: { env: Environment; path: PropertyKey[]; value: string } | undefined;
  for (const env of envs) {
    for (const w of writtenStrings(sourceOf(env).input)) {
      if (w.value.length >= 2 && derived.includes(w.value) && (!best || w.value.length > best.value.length)) best = { env, ...w };
    }
  }
  return best;
}

/**
 * Error lines for everything the API server would refuse and everything two folders clash
 * on, each on the environment file and field the value comes from. A length limit on a
 * derived value becomes a limit on the written one: `nextgen-<name>` must fit in 63, so
 * `name` may have 63 - 8 characters; with a new prefix the limit follows by itself.
 */
export function admissionErrors(folders: readonly EnvironmentObjects[]): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  const allEnvs = folders.flatMap((f) => (f.env ? [f.env] : []));
  for (const f of folders) {
    const candidates = f.env ? [f.env] : allEnvs;
    // Strictest refusal per written field first: the limit it implies is the binding one.
    const found = f.manifests.flatMap(admissionProblems).map((r) => ({ r, from: attribute(candidates, r.value) }));
    const limitOf = (x: (typeof found)[number]) => (x.r.max !== undefined && x.from ? x.r.max - (x.r.value.length - x.from.value.length) : Infinity);
    found.sort((a, b) => limitOf(a) - limitOf(b));
    for (const { r, from } of found) {
      if (!from) {
        const key = `${f.folder} ${r.object} ${r.field}`;
        if (seen.has(key)) continue;
        seen.add(key);
        lines.push(`folder ${f.folder}: ${r.object}: ${r.field} = ${show(r.value)}: ${r.problem}`);
        continue;
      }
      const file = sourceOf(from.env).file;
      const key = `${file} ${fieldPath(from.path)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const limit = r.max !== undefined ? r.max - (r.value.length - from.value.length) : undefined;
      const becomes = r.value === from.value ? `it is ${r.field} of ${r.object}, which` : `it becomes ${r.field} = ${show(r.value)} of ${r.object}, which`;
      const allowed =
        limit !== undefined && r.value.length > r.max!
          ? `at most ${Math.max(limit, 0)} characters: ${becomes} ${r.problem}`
          : `a value the API server accepts: ${becomes} ${r.problem}`;
      lines.push(`${file}: ${fieldPath(from.path)} = ${show(from.value)}: allowed: ${allowed}`);
    }
  }
  const envOf = new Map(folders.map((f) => [f.folder, f.env]));
  for (const c of clashes(folders)) {
    const owners = [...new Set(c.folders.map((folder) => envOf.get(folder)).filter((e): e is Environment => !!e))];
    // Blame the environment that wrote the value most explicitly (the longest written match,
    // e.g. dev's `backup.s3.prefix: 'prod'` rather than prod's own name `prod`); on a tie, the
    // less critical one.
    let blamed: Environment | undefined;
    let from: ReturnType<typeof attribute>;
    const rank = { production: 0, staging: 1, development: 2 } as const;
    for (const e of [...owners].sort((x, y) => rank[x.tier] - rank[y.tier])) {
      const a = attribute([e], c.value);
      const score = (x: NonNullable<typeof a>) => x.value.length * 2 + (fieldPath(x.path) === 'name' ? 0 : 1);
      if (a && (!from || score(a) >= score(from))) [blamed, from] = [e, a];
    }
    blamed ??= owners[owners.length - 1];
    const other = owners.find((e) => e !== blamed);
    if (!blamed || !from) {
      lines.push(`folders ${c.folders.join(', ')}: ${c.what} ${c.value}: claimed by more than one folder; ${c.harm}`);
      continue;
    }
    const file = sourceOf(blamed).file;
    const key = `${file} ${fieldPath(from.path)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const by = other ? sourceOf(other).file : `folder ${c.folders.find((x) => envOf.get(x) !== blamed)}`;
    lines.push(`${file}: ${fieldPath(from.path)} = ${show(from.value)}: allowed: a value not shared with ${by}: both would use ${c.what} ${c.value}; ${c.harm}`);
  }
  return lines;
}
