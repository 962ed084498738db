/**
 * Checks on parsed environments that a single field's schema cannot express:
 *   - what the README promises per tier (TLS outside development, alerting, recovery
 *     objectives in production, ...), in `tierProblems`;
 *   - what two environments could share and hurt each other with (names, namespaces, hosts,
 *     issuers), names the output layout reserves and system namespaces, in
 *     `crossEnvironmentProblems`.
 * Values we derive from the environments (labels, S3 prefixes, secret paths, object names) are
 * checked on the rendered objects, in `constructs/lib/admission.ts`.
 */
import type { Environment, ImageConfig } from './schema';
import { AWAITING_FIRST_PIN } from './shared/versions';
import { gitopsRepository } from './shared/gitops';

/** One problem: the field, its value and what is allowed (printed as one line). */
export interface Problem {
  readonly path: readonly PropertyKey[];
  readonly value: unknown;
  readonly allowed: string;
  /** Print no ` = value` (the value is an object or nothing). */
  readonly noValue?: boolean;
}

/**
 * Namespaces an environment may not take: Kubernetes' own, and those of the platform
 * components the environments rely on (Argo CD's comes from the GitOps settings).
 */
export const SYSTEM_NAMESPACES: readonly string[] = [
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
  gitopsRepository.argocdNamespace,
  'cert-manager',
  'external-secrets',
  'sealed-secrets',
  'ingress-nginx',
  'monitoring',
];

/** The README's promises per tier, as checks. */
export function tierProblems(env: Environment): Problem[] {
  const out: Problem[] = [];
  const tier = env.tier;
  if (tier !== 'development') {
    if (!env.tls.enabled) {
      out.push({ path: ['tls', 'enabled'], value: false, allowed: `true in ${tier} environments (TLS on every Ingress outside development)` });
    }
    if (env.migrations.seed) {
      out.push({ path: ['migrations', 'seed'], value: true, allowed: `false in ${tier} environments (prisma db seed runs in development only)` });
    }
    if (env.monitoring.mode === 'standalone') {
      const am = env.monitoring.alertmanager;
      if (!am.enabled) {
        out.push({ path: ['monitoring', 'alertmanager', 'enabled'], value: false, allowed: `true in ${tier} environments (alerts must reach someone)` });
      } else if (!am.slack && !am.pagerduty && !am.email) {
        out.push({ path: ['monitoring', 'alertmanager'], value: { slack: false, pagerduty: false, email: undefined }, allowed: `at least one receiver (slack, pagerduty or email) in ${tier} environments` });
      }
    }
  }
  if (tier === 'production') {
    const am = env.monitoring.alertmanager;
    if (env.monitoring.mode === 'standalone' && am.enabled && !am.pagerduty) {
      out.push({ path: ['monitoring', 'alertmanager', 'pagerduty'], value: false, allowed: 'true in production (critical alerts page the on-call)' });
    }
    if (env.tls.clusterIssuer === 'letsencrypt-staging') {
      out.push({ path: ['tls', 'clusterIssuer'], value: env.tls.clusterIssuer, allowed: 'a trusted issuer such as letsencrypt-prod in production (browsers do not trust Let\'s Encrypt staging certificates)' });
    }
    for (const { path, image } of images(env)) {
      if (!image.digest && image.pin !== AWAITING_FIRST_PIN) {
        out.push({ path: [...path, 'tag'], value: image.tag, allowed: `a digest (tag@sha256:...) in production, or pin: '${AWAITING_FIRST_PIN}' while its first pin is awaited (versions.json for catalog images)` });
      }
    }
  }
  return out;
}

/** Every image an environment holds (the catalog's defaults included), with its field path. */
export function images(env: Environment): Array<{ path: readonly PropertyKey[]; image: ImageConfig }> {
  const out: Array<{ path: readonly PropertyKey[]; image: ImageConfig }> = [];
  const walk = (v: unknown, path: PropertyKey[]) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return;
    const o = v as Record<string, unknown>;
    if (typeof o.repository === 'string' && 'registry' in o) {
      out.push({ path, image: o as ImageConfig });
      return;
    }
    for (const [k, child] of Object.entries(o)) walk(child, [...path, k]);
  };
  walk(env, []);
  return out;
}

const HOSTS = ['api', 'app', 'admin', 'vendor', 'minio', 'minioConsole', 'grafana'] as const;

/**
 * Problems between environments (and against the output layout). A clash is reported on the
 * less critical of the two environments (development before staging before production, then
 * the later file), which is usually the one that copied the other's value.
 */
export function crossEnvironmentProblems(
  loaded: ReadonlyArray<{ file: string; env: Environment }>,
  reservedNames: readonly string[],
): Array<Problem & { file: string }> {
  const out: Array<Problem & { file: string }> = [];
  const names = new Map<string, string>();
  const namespaces = new Map<string, string>();
  const hosts = new Map<string, string>();
  const issuers = new Map<string, { email: string; file: string }>();
  // Production first: on a clash the less critical environment is the one told to change.
  const rank = { production: 0, staging: 1, development: 2 } as const;
  const ordered = [...loaded].sort((a, b) => rank[a.env.tier] - rank[b.env.tier] || a.file.localeCompare(b.file));
  for (const { file, env } of ordered) {
    if (reservedNames.includes(env.name)) {
      out.push({ file, path: ['name'], value: env.name, allowed: `a name other than ${reservedNames.map((n) => JSON.stringify(n)).join(', ')} (dist/${env.name}/ is a folder of the output layout)` });
    }
    const sameName = names.get(env.name);
    if (sameName) out.push({ file, path: ['name'], value: env.name, allowed: `a name not used by ${sameName}` });
    names.set(env.name, file);

    if (SYSTEM_NAMESPACES.includes(env.namespace) || env.namespace.startsWith('kube-')) {
      out.push({ file, path: ['namespace'], value: env.namespace, allowed: `a namespace of its own; ${JSON.stringify(env.namespace)} belongs to Kubernetes or a platform component (${SYSTEM_NAMESPACES.join(', ')}, kube-*)` });
    }
    const sameNs = namespaces.get(env.namespace);
    if (sameNs) out.push({ file, path: ['namespace'], value: env.namespace, allowed: `a namespace not used by ${sameNs} (its objects would be overwritten and pruned)` });
    namespaces.set(env.namespace, file);

    for (const key of HOSTS) {
      const host = env.hosts[key];
      const owner = hosts.get(host);
      if (owner) {
        out.push({ file, path: ['hosts', key], value: host, allowed: `a host not already claimed by ${owner} (one host routes to one place)` });
      } else {
        hosts.set(host, `${file} hosts.${key}`);
      }
    }

    if (env.tls.enabled && env.tls.createIssuer) {
      const seen = issuers.get(env.tls.clusterIssuer);
      if (seen && seen.email !== env.opsEmail) {
        out.push({ file, path: ['opsEmail'], value: env.opsEmail, allowed: `${JSON.stringify(seen.email)}, as ${seen.file} creates the same ClusterIssuer ${env.tls.clusterIssuer} with it (there is one issuer per cluster)` });
      } else if (!seen) {
        issuers.set(env.tls.clusterIssuer, { email: env.opsEmail, file });
      }
    }
  }
  return out;
}
