/**
 * Building blocks shared by every section of the environment schema.
 *
 * Units live in field names (`cpuMillis`, `memoryMiB`, `sizeGiB`, `...Seconds`) because an
 * environment file is plain data; constructs turn them into typed `Cpu`, `Size`, `Duration`.
 */
import { z } from 'zod';
import { AWAITING_FIRST_PIN } from '../shared/versions';
import {
  INT32_MAX,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  hostnameProblem,
  labelKeyProblem,
  labelValueProblem,
  timeZoneProblem,
} from './kube';

/**
 * A string checked by one of the API server's rules in `./kube`: the error line says what is
 * allowed, then what is wrong with this value (`...; this value is 70 characters long, more than 63`).
 */
export function kubeString(problem: (value: string) => string | undefined, allowed: string) {
  return z.string().superRefine((value, ctx) => {
    const p = problem(value);
    if (p) ctx.addIssue({ code: 'custom', input: value, message: `${allowed}; this value ${p}` });
  });
}

/** RFC 1123 label: what Kubernetes accepts for namespaces, Service names and most names. */
export const dnsLabel = kubeString(
  dns1123LabelProblem,
  'a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters)',
);

/** RFC 1123 subdomain: storage classes, issuers, secret names. */
export const dnsSubdomain = kubeString(
  dns1123SubdomainProblem,
  'a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", at most 253 characters)',
);

/** A fully qualified host name for an Ingress rule (no scheme, no port, no wildcard). */
export const hostname = kubeString(hostnameProblem, 'a host name such as api.example.com (no scheme, port or path)');

/** A label key (`[prefix/]name`). */
export const labelKey = kubeString(labelKeyProblem, 'a label key such as release or example.com/team');

/** A label value (at most 63 letters, digits, "-", "_", "."). */
export const labelValue = kubeString(labelValueProblem, 'a label value (at most 63 letters, digits, "-", "_" and ".")');

/** An IANA time zone name, as a CronJob's `timeZone`. */
export const timeZone = kubeString(timeZoneProblem, 'an IANA time zone name such as Etc/UTC or Europe/Berlin');

/**
 * A path of an object store or secret backend: segments of letters, digits, "-", "_" and "."
 * separated by single "/", no "." or ".." segment, no "/" at either end (at the start only
 * with `absolute`).
 */
export function keyPath(chars: RegExp, what: string, options: { absolute?: boolean } = {}) {
  return kubeString((value) => {
    const v = options.absolute && value.startsWith('/') ? value.slice(1) : value;
    if (v.length === 0) return 'is empty';
    if (v.length > 512) return `is ${v.length} characters long, more than 512`;
    for (const ch of v) if (ch !== '/' && !chars.test(ch)) return `contains ${JSON.stringify(ch)}`;
    const segments = v.split('/');
    if (segments.some((s) => s === '')) return 'has an empty segment ("//" or a "/" at an end)';
    if (segments.some((s) => s === '.' || s === '..')) return 'has a "." or ".." segment';
    return undefined;
  }, what);
}

// Whole numbers end up in int32 fields (replicas, ports, deadlines): larger ones are refused.
export const positiveInt = z.number().int().min(1).max(INT32_MAX);
export const nonNegativeInt = z.number().int().min(0).max(INT32_MAX);
export const percent = z.number().int().min(1).max(100);

/**
 * A container image reference as data: a tag, a digest, or both (`tag@sha256:...`, the form
 * Renovate pins). Defaults come from the version catalog (`versions.json`, environments/versions.ts).
 */
export const image = z
  .strictObject({
    /** Registry host and path, e.g. `registry.example.com/nextgen`; empty for Docker Hub. */
    registry: z.string().regex(/^$|^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/, {
      message: 'a registry host with optional path, e.g. registry.example.com/team',
    }),
    repository: z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, {
      message: 'a lower-case repository path such as nextgen-marketplace',
    }),
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: 'a Docker tag (letters, digits, "_", "." and "-")' })
      .optional(),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { message: 'a digest of the form sha256:<64 hex digits>' })
      .optional(),
    /**
     * `awaiting-first-pin`: this image has no digest yet and its first pin is expected
     * (production refuses an undigested image without this mark). @default - none: a digest is expected in production
     */
    pin: z.literal(AWAITING_FIRST_PIN).optional(),
  })
  .refine((i) => i.tag !== undefined || i.digest !== undefined, {
    message: 'a tag, a digest, or both',
  });
export type ImageConfig = z.infer<typeof image>;

/** Render an image config as a pull reference (`registry/repo:tag`, `registry/repo@sha256:...` or `registry/repo:tag@sha256:...`). */
export function imageRef(i: ImageConfig): string {
  const base = i.registry ? `${i.registry}/${i.repository}` : i.repository;
  return `${base}${i.tag !== undefined ? `:${i.tag}` : ''}${i.digest ? `@${i.digest}` : ''}`;
}

/** Requests and limits for one container, validated so limits are never below requests. */
export const resources = z
  .strictObject({
    requests: z.strictObject({ cpuMillis: positiveInt, memoryMiB: positiveInt }),
    limits: z.strictObject({ cpuMillis: positiveInt, memoryMiB: positiveInt }),
  })
  .refine((r) => r.limits.cpuMillis >= r.requests.cpuMillis, {
    message: 'limits.cpuMillis must be >= requests.cpuMillis',
    path: ['limits', 'cpuMillis'],
  })
  .refine((r) => r.limits.memoryMiB >= r.requests.memoryMiB, {
    message: 'limits.memoryMiB must be >= requests.memoryMiB',
    path: ['limits', 'memoryMiB'],
  });
export type ResourcesConfig = z.infer<typeof resources>;

export function res(cpuReq: number, memReq: number, cpuLim: number, memLim: number): ResourcesConfig {
  return { requests: { cpuMillis: cpuReq, memoryMiB: memReq }, limits: { cpuMillis: cpuLim, memoryMiB: memLim } };
}

/** A persistent volume: storage class (must exist in the cluster folder) and size. */
export const volume = z.strictObject({
  storageClass: dnsSubdomain,
  sizeGiB: positiveInt,
});

/** `local@domain.tld`: what an SMTP server and Let's Encrypt accept as a plain address. */
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** What is wrong with one address (`ops@example.com` or `Ops Team <ops@example.com>`), if anything. */
function addressProblem(a: string, named: boolean): string | undefined {
  const m = named ? /^[^<>@,]*<([^<>]+)>$/.exec(a) : null;
  const bare = m ? m[1] : a;
  if (bare === '') return 'is empty';
  if (!bare.includes('@')) return `${JSON.stringify(a)} has no "@"`;
  if (!ADDRESS.test(bare)) return `${JSON.stringify(a)} is not an address of the form name@example.com`;
  return undefined;
}

/** One e-mail address. */
export const emailAddress = kubeString((v) => addressProblem(v, false), 'an e-mail address such as alertmanager@example.com');

/**
 * One or more e-mail addresses, comma-separated, optionally with display names: what
 * Alertmanager's `email_configs[].to` accepts (it parses the field as an RFC 5322 address list).
 * @see https://prometheus.io/docs/alerting/latest/configuration/#email_config
 */
export const emailList = kubeString((v) => {
  const parts = v.split(',').map((p) => p.trim());
  for (const p of parts) {
    const problem = p === '' ? 'has an empty entry (a "," too many)' : addressProblem(p, true);
    if (problem) return problem;
  }
  return undefined;
}, 'one or more e-mail addresses separated by ",", such as oncall@example.com, team@example.com');

/** `host:port` of a server outside the cluster, port 1 to 65535. */
export const hostPort = kubeString((v) => {
  const m = /^(.*):([0-9]+)$/.exec(v);
  if (!m) return 'has no ":port"';
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(m[1])) return `has host ${JSON.stringify(m[1])}, not a lower-case host name or address`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `has port ${port}, outside 1-65535`;
  return undefined;
}, 'host:port with a port from 1 to 65535, e.g. smtp.example.com:587');
