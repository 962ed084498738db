/**
 * What the Kubernetes API server enforces on names, labels, hosts, ports, time zones and cron
 * schedules, as plain functions: each returns `undefined` for a value the API server accepts,
 * or one sentence saying what is wrong with it (never a regular expression).
 *
 * The schema uses them on the values operators write; `constructs/lib/admission.ts` uses the
 * same functions on every value we derive (labels, names, hosts) in the rendered objects.
 *
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax
 */

/** Longest DNS-1123 label: namespaces, Service names, label values and label name parts. */
export const DNS_LABEL_MAX = 63;
/** Longest DNS-1123 subdomain: most object names, label key prefixes, host names. */
export const DNS_SUBDOMAIN_MAX = 253;
/** Longest CronJob name: the controller appends an 11-character suffix to name its Jobs. */
export const CRONJOB_NAME_MAX = 52;
/** Largest value of an int32 field (replicas, ports, deadlines in some kinds). */
export const INT32_MAX = 2_147_483_647;

const LOWER_ALNUM = /[a-z0-9]/;

function firstBad(value: string, ok: RegExp): string | undefined {
  for (const ch of value) if (!ok.test(ch)) return ch;
  return undefined;
}

/** RFC 1123 label: at most 63 of [a-z0-9-], starting and ending with a letter or digit. */
export function dns1123LabelProblem(value: string, max = DNS_LABEL_MAX): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > max) return `is ${value.length} characters long, more than ${max}`;
  const bad = firstBad(value, /[a-z0-9-]/);
  if (bad !== undefined) return `contains ${JSON.stringify(bad)}; only lower-case letters, digits and "-" are allowed`;
  if (!LOWER_ALNUM.test(value[0]) || !LOWER_ALNUM.test(value[value.length - 1])) return 'must start and end with a letter or digit';
  return undefined;
}

/** RFC 1035 label (Service names): a DNS-1123 label that starts with a letter. */
export function dns1035LabelProblem(value: string): string | undefined {
  const p = dns1123LabelProblem(value);
  if (p) return p;
  if (!/[a-z]/.test(value[0])) return 'must start with a letter';
  return undefined;
}

/**
 * RFC 1123 subdomain as Kubernetes checks object names: dot-separated parts of [a-z0-9-]
 * starting and ending with a letter or digit, at most 253 characters in all. Kubernetes does
 * not limit each part to 63 (DNS does: `hostnameProblem` does).
 */
export function dns1123SubdomainProblem(value: string, max = DNS_SUBDOMAIN_MAX, partMax = max): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > max) return `is ${value.length} characters long, more than ${max}`;
  for (const part of value.split('.')) {
    if (part.length === 0) return 'has an empty part between dots';
    const p = dns1123LabelProblem(part, partMax);
    if (p) return `part ${JSON.stringify(part)} ${p}`;
  }
  return undefined;
}

/**
 * A host name for an Ingress rule and a certificate: a DNS-1123 subdomain with at least two
 * labels whose last label (the TLD) is not all digits (that would be an IP address). Punycode
 * labels such as `xn--p1ai` are ordinary DNS-1123 labels and are accepted.
 */
export function hostnameProblem(value: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'has a scheme; write the host only';
  if (/[:/]/.test(value)) return 'has a port or a path; write the host only';
  if (value.startsWith('*.')) return 'is a wildcard; cert-manager HTTP-01 certificates need an exact host';
  const p = dns1123SubdomainProblem(value, DNS_SUBDOMAIN_MAX, DNS_LABEL_MAX);
  if (p) return p;
  const labels = value.split('.');
  if (labels.length < 2) return 'has no domain; write a fully qualified name such as api.example.com';
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return 'is an IP address; Ingress rules need a host name';
  return undefined;
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A label value: empty, or at most 63 of [A-Za-z0-9-_.] starting and ending with a letter or digit. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > DNS_LABEL_MAX) return `is ${value.length} characters long, more than ${DNS_LABEL_MAX}`;
  const bad = firstBad(value, /[-A-Za-z0-9_.]/);
  if (bad !== undefined) return `contains ${JSON.stringify(bad)}; only letters, digits, "-", "_" and "." are allowed`;
  if (!LABEL_NAME.test(value)) return 'must start and end with a letter or digit';
  return undefined;
}

/** A label or annotation key: `[prefix/]name`, prefix a DNS-1123 subdomain, name like a label value (not empty). */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"; a key is [prefix/]name';
  const name = parts[parts.length - 1];
  if (parts.length === 2) {
    const p = dns1123SubdomainProblem(parts[0]);
    if (p) return `prefix ${JSON.stringify(parts[0])} ${p}`;
  }
  if (name.length === 0) return 'has an empty name part';
  const p = labelValueProblem(name);
  return p ? `name part ${JSON.stringify(name)} ${p}` : undefined;
}

/** A resource quantity (`250m`, `512Mi`, `1.5`, `2e3`). */
export function quantityProblem(q: string): string | undefined {
  if (!/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$/.test(q)) return 'is not a Kubernetes quantity such as 250m, 512Mi or 2';
  if (q.startsWith('-')) return 'is negative';
  return undefined;
}

/** A port number. */
export function portProblem(port: number): string | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `is not a port number (1 to 65535)`;
  return undefined;
}

/** A named port (IANA service name): at most 15 of [a-z0-9-], at least one letter, no "--", no "-" at either end. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return `is ${name.length} characters long; a port name has 1 to 15`;
  const bad = firstBad(name, /[a-z0-9-]/);
  if (bad !== undefined) return `contains ${JSON.stringify(bad)}; only lower-case letters, digits and "-" are allowed`;
  if (!/[a-z]/.test(name)) return 'has no letter';
  if (name.includes('--') || name.startsWith('-') || name.endsWith('-')) return 'has "--" or a "-" at an end';
  return undefined;
}

let zones: Set<string> | undefined;
/**
 * An IANA time zone name as the API server loads it (Go's `time.LoadLocation` over its
 * embedded tz database; `Local` is refused because it would be the API server's own zone).
 *
 * The source of names is the ICU time zone data built into Node.js (maintained with every
 * Node.js release): its canonical zones (`Intl.supportedValuesOf('timeZone')`), `UTC` and
 * `Etc/UTC`, and any other name ICU keeps as written (`Asia/Calcutta`, `Etc/GMT+5`). Names
 * are case-sensitive, as they are in the tz database. A legacy alias that ICU replaces by
 * another name (`US/Eastern`) is refused with that name as the suggestion.
 */
export function timeZoneProblem(tz: string): string | undefined {
  if (tz.toLowerCase() === 'local') return 'means the API server\'s own zone, which Kubernetes refuses';
  zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
  if (zones.has(tz)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return 'is not in the tz database';
  }
  if (resolved === tz) return undefined;
  if (resolved.toLowerCase() === tz.toLowerCase()) return `is spelt ${JSON.stringify(resolved)} in the tz database (names are case-sensitive)`;
  return `is a legacy alias; use ${JSON.stringify(resolved === 'UTC' ? 'Etc/UTC' : resolved)}`;
}

/** Fields of a standard cron expression, as the CronJob controller (robfig/cron) reads them. */
const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59, names: [] as string[] },
  { name: 'hour', min: 0, max: 23, names: [] as string[] },
  { name: 'day of month', min: 1, max: 31, names: [] as string[] },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  // robfig/cron reads day of week 0-6 (Sunday = 0); 7 is refused.
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The values one cron field selects, or a sentence saying why it is not valid. */
function cronFieldValues(text: string, f: (typeof CRON_FIELDS)[number]): Set<number> | string {
  const out = new Set<number>();
  const num = (s: string): number | undefined => {
    const i = f.names.indexOf(s.toLowerCase());
    if (i >= 0) return i + f.min;
    return /^[0-9]+$/.test(s) ? Number(s) : undefined;
  };
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) return `${f.name} "${part}" has more than one "/"`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0) return `${f.name} "${part}" has step "${stepText}"; a step is a whole number >= 1`;
      step = Number(stepText);
    }
    let lo: number | undefined;
    let hi: number | undefined;
    if (range === '*' || range === '?') [lo, hi] = [f.min, f.max];
    else {
      const ends = range.split('-');
      if (ends.length > 2) return `${f.name} "${part}" is not a number, a range a-b, a list or */n`;
      lo = num(ends[0]);
      hi = ends.length === 2 ? num(ends[1]) : stepText !== undefined ? f.max : lo;
      if (lo === undefined || hi === undefined) {
        const words = f.names.length ? ` or a name (${f.names[0]}...)` : '';
        return `${f.name} "${part}" is not a number${words}; L, W and # are not supported by Kubernetes`;
      }
    }
    for (const v of [lo, hi]) {
      if (v < f.min || v > f.max) return `${f.name} ${v} is out of range ${f.min}-${f.max}`;
    }
    if (lo > hi) return `${f.name} range "${range}" starts after it ends`;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/**
 * A cron schedule the CronJob controller accepts and that fires: five fields (minute, hour,
 * day of month, month, day of week) in range, no `TZ=` prefix (use the time zone field),
 * and at least one real date (`0 0 30 2 *` is valid syntax but February has no 30th).
 */
export function cronProblem(schedule: string): string | undefined {
  const s = schedule.trim();
  if (/^(CRON_)?TZ=/.test(s)) return 'sets its time zone inline; Kubernetes refuses TZ= in the schedule: use the timeZone field';
  if (s.startsWith('@')) {
    const five = DESCRIPTORS[s.toLowerCase()];
    return five ? `is a descriptor; write it as five fields: "${five}"` : `is not a known descriptor; write five fields such as "0 * * * *"`;
  }
  const fields = s.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) return `has ${fields.length} field(s); a schedule has five: minute hour day-of-month month day-of-week, such as "0 * * * *"`;
  const values: Array<Set<number>> = [];
  for (let i = 0; i < 5; i++) {
    const v = cronFieldValues(fields[i], CRON_FIELDS[i]);
    if (typeof v === 'string') return v;
    values.push(v);
  }
  const [, , dom, month] = values;
  // Day of month and day of week both restricted: the job runs when either matches.
  const domRestricted = !['*', '?'].includes(fields[2]) && dom.size < 31;
  const dowRestricted = !['*', '?'].includes(fields[4]);
  if (domRestricted && dowRestricted) return undefined;
  if (!domRestricted) return undefined;
  const fits = [...month].some((m) => [...dom].some((d) => d <= MONTH_DAYS[m - 1]));
  if (!fits) {
    const days = [...dom].sort((a, b) => a - b).join(',');
    const months = [...month].sort((a, b) => a - b).map((m) => MONTH_NAMES[m - 1]).join(', ');
    return `never fires: ${months} ${month.size > 1 ? 'have' : 'has'} no day ${days}`;
  }
  return undefined;
}
