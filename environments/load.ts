/**
 * Loading and validating environments. A bad value becomes one line per problem, naming the
 * environment file, the field, the value and what is allowed, e.g.
 *   environments/prod.ts: api.replicas = -1: allowed: a whole number >= 1
 * and a file that cannot be loaded at all becomes one `file:line:col: message` line.
 *
 * Which files are environments: every `environments/<name>.ts` except the library files
 * below (`LIBRARY_FILES`); each must default-export one environment whose `name` is its file
 * name. Shared helpers and data live in `environments/shared/` or `environments/schema/`,
 * which are never read as environments. No environment file at all is an error, never an
 * empty `dist/`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { z } from 'zod';
import { crossEnvironmentProblems, tierProblems, type Problem } from './checks';
import { Environment, environmentSchema } from './schema';

/** A mistake in configuration: printed as its lines, without a stack trace. */
export class ConfigError extends Error {
  constructor(
    readonly lines: string[],
    /** Exceptions behind the lines (a file that threw while loading): their traces print with --verbose. */
    readonly causes: unknown[] = [],
  ) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Files in `environments/` that are the loader's library, not environments. */
export const LIBRARY_FILES: readonly string[] = ['define.ts', 'load.ts', 'checks.ts'];

/**
 * Folders of `environments/` (the schema, shared data). An environment file of the same name
 * (`schema.ts`) would take the folder's place in every `import ... from './schema'`.
 */
export const LIBRARY_FOLDERS: readonly string[] = ['schema', 'shared'];

/** Where a parsed environment came from: its file (as printed) and what the file declared. */
export interface EnvironmentSource {
  /** `environments/<name>.ts`, as printed in errors. */
  readonly file: string;
  /** The object the file exported, before defaults: what the operator wrote. */
  readonly input: unknown;
}

const sources = new WeakMap<Environment, EnvironmentSource>();

/** The file an environment was loaded from (for error lines about values derived from it). */
export function sourceOf(env: Environment): EnvironmentSource {
  return sources.get(env) ?? { file: `environments/${env.name}.ts`, input: env };
}

/** Every string the operator wrote in an environment file, with its field path. */
export function writtenStrings(input: unknown, at: PropertyKey[] = [], out: Array<{ path: PropertyKey[]; value: string }> = []) {
  if (typeof input === 'string') out.push({ path: at, value: input });
  else if (Array.isArray(input)) input.forEach((v, i) => writtenStrings(v, [...at, i], out));
  else if (input && typeof input === 'object') for (const [k, v] of Object.entries(input)) writtenStrings(v, [...at, k], out);
  return out;
}

export function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** What a value of zod's `origin`/`expected` type is called in an error line. */
const KINDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  string: 'text in quotes',
  boolean: 'true or false',
  array: 'a list [...]',
  set: 'a list [...]',
  object: 'an object { ... }',
  record: 'an object { ... }',
  date: 'a date',
};
const kind = (t: string) => KINDS[t] ?? t;

/** How long a value of `origin` is, in words ("2 characters", "3 entries"). */
function sized(origin: string, n: number | bigint): string {
  if (origin === 'string') return `text of ${n} character${n === 1 ? '' : 's'}`;
  if (origin === 'array' || origin === 'set') return `a list of ${n} entr${n === 1 ? 'y' : 'ies'}`;
  return `${n}`;
}

/** Zod formats, in the words of an environment file. */
const FORMATS: Record<string, string> = {
  email: 'an e-mail address such as ops@example.com',
  url: 'a URL such as https://example.com/path',
  uuid: 'a UUID',
  ipv4: 'an IPv4 address such as 10.0.0.1',
  ipv6: 'an IPv6 address',
  cidrv4: 'an IPv4 range such as 10.0.0.0/8',
};

/** The schema of the field at `at` (through defaults, optionals and pipes), if it can be found. */
function schemaAt(at: readonly PropertyKey[]): any {
  let node: any = environmentSchema;
  const unwrap = (n: any) => {
    while (n?._zod?.def?.innerType || n?._zod?.def?.in) n = n._zod.def.innerType ?? n._zod.def.in;
    return n;
  };
  for (const key of at) {
    node = unwrap(node);
    const def = node?._zod?.def;
    if (def?.type === 'object') node = def.shape?.[key as string];
    else if (def?.type === 'array') node = def.element;
    else return undefined;
  }
  return unwrap(node);
}

/** For a missing object: the fields it needs, e.g. `{ api, app, admin }`. */
function requiredFields(at: readonly PropertyKey[]): string | undefined {
  const def = schemaAt(at)?._zod?.def;
  if (def?.type !== 'object') return undefined;
  const keys = Object.entries(def.shape ?? {}).filter(([, v]: [string, any]) => v?._zod?.optin !== 'optional').map(([k]) => k);
  return keys.length ? `{ ${keys.join(', ')} }` : undefined;
}

/** What is allowed, in our words (never the validator's: no "Invalid email address", no "a array"). */
function allowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small': {
      const i = issue as z.core.$ZodIssueTooSmall;
      if (i.origin === 'number' || i.origin === 'int' || i.origin === 'bigint') return `${kind(i.origin)} ${i.inclusive === false ? '>' : '>='} ${i.minimum}`;
      if (Number(i.minimum) === 1 && i.inclusive !== false) return i.origin === 'string' ? 'text that is not empty' : `${kind(i.origin)} with at least one entry`;
      return `${sized(i.origin, i.minimum)} or more`;
    }
    case 'too_big': {
      const i = issue as z.core.$ZodIssueTooBig;
      if (i.origin === 'number' || i.origin === 'int' || i.origin === 'bigint') return `${kind(i.origin)} ${i.inclusive === false ? '<' : '<='} ${i.maximum}`;
      return `${sized(i.origin, i.maximum)} at most`;
    }
    case 'invalid_type': {
      const i = issue as z.core.$ZodIssueInvalidType;
      if (i.input === undefined) {
        const fields = i.expected === 'object' ? requiredFields(i.path) : undefined;
        return fields ? `an object ${fields} (this field is required; every environment declares it)` : `${kind(i.expected)} (this field is required)`;
      }
      if (i.expected === 'number' && typeof i.input === 'string' && i.input.trim() !== '' && !Number.isNaN(Number(i.input))) {
        return `a number, written without quotes: ${Number(i.input)}`;
      }
      return kind(i.expected);
    }
    case 'invalid_value':
      return `one of ${(issue as z.core.$ZodIssueInvalidValue).values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no such field (${(issue as z.core.$ZodIssueUnrecognizedKeys).keys.join(', ')}); check the spelling`;
    case 'invalid_key':
      return (issue as z.core.$ZodIssueInvalidKey).issues.map((i) => i.message).join('; ');
    case 'invalid_element':
      return (issue as z.core.$ZodIssueInvalidElement).issues.map((i) => i.message).join('; ');
    case 'invalid_format': {
      const i = issue as z.core.$ZodIssueInvalidStringFormat;
      // A regex with our own message keeps it; the validator's own words never reach the user.
      if (i.format === 'regex' || !/^Invalid /.test(i.message)) return i.message;
      return FORMATS[i.format] ?? `a value in ${i.format} format`;
    }
    case 'custom':
    default:
      return issue.message;
  }
}

/** `api.autoscaling.minReplicas`, `hosts[0]`, `selectorLabels["example.com/team"]`. */
export function fieldPath(p: readonly PropertyKey[]): string {
  const part = (k: PropertyKey, i: number) => {
    if (typeof k === 'number') return `[${k}]`;
    const s = String(k);
    if (i > 0 && !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s) && s !== 'export default') return `[${JSON.stringify(s)}]`;
    return `${i ? '.' : ''}${s}`;
  };
  return p.map(part).join('') || '(root)';
}

function line(source: string, p: Problem): string {
  const value = p.noValue ? '' : ` = ${show(p.value)}`;
  return `${source}: ${fieldPath(p.path)}${value}: allowed: ${p.allowed}`;
}

/** Parse one environment; `source` names it in errors (usually its file). */
export function loadEnvironment(source: string, input: unknown): Environment {
  const result = environmentSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) =>
        line(source, {
          path: issue.path,
          value: issue.code === 'invalid_key' ? (issue as z.core.$ZodIssueInvalidKey).input : issue.input,
          noValue: issue.code === 'unrecognized_keys',
          allowed: allowed(issue),
        }),
      ),
    );
  }
  const env = result.data;
  const tier = tierProblems(env);
  if (tier.length) throw new ConfigError(tier.map((p) => line(source, p)));
  sources.set(env, { file: source, input });
  return env;
}

/** Every `environments/<name>.ts` environment file, sorted by name. */
export function environmentFiles(dir = path.join(__dirname)): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !LIBRARY_FILES.includes(e.name))
    .map((e) => e.name)
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Where in `file` an error points: esbuild's syntax error location, else the first stack
 * frame in the file (source-mapped to the TypeScript when source maps are on).
 */
function locate(e: unknown, file: string): string {
  const err = e as { errors?: Array<{ text: string; location?: { line: number; column: number } | null }>; stack?: string; message?: string };
  const first = err?.errors?.[0];
  if (first?.location) return `:${first.location.line}:${first.location.column + 1}`;
  const stack = typeof err?.stack === 'string' ? err.stack : '';
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(stack) ?? new RegExp(`${escaped}:(\\d+)`).exec(stack);
  return m ? `:${m[1]}${m[2] ? `:${m[2]}` : ''}` : '';
}

/** One line for an exception thrown while loading `file`: its first line, no stack, no code. */
function loadFailure(e: unknown, file: string, rel: string): string {
  const err = e as { errors?: Array<{ text: string }>; message?: string; name?: string };
  const text = err?.errors?.[0]?.text ?? (err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(e));
  const first = text.split('\n').map((s) => s.trim()).find((s) => s && !/^[│|╭╰,`-]/.test(s)) ?? 'cannot be loaded';
  const where = locate(e, file);
  const kind = err?.errors ? 'syntax error' : 'fails to load';
  return `${rel}${where}: ${kind}: ${first.length > 200 ? `${first.slice(0, 197)}...` : first}`;
}

/**
 * Why a file name cannot be an environment's (its name, namespace stem and dist/ folder), with
 * the obvious fix; undefined when it can.
 */
function fileNameProblem(name: string, envDir: string, relDir: string): string | undefined {
  const folder = (() => {
    try {
      return fs.statSync(path.join(envDir, name)).isDirectory();
    } catch {
      return false;
    }
  })();
  if (LIBRARY_FOLDERS.includes(name) || folder) {
    return `a name other than ${[...new Set([...LIBRARY_FOLDERS, ...(folder ? [name] : [])])].join(', ')} (folders of ${relDir}/: ${relDir}/${name}.ts would take the place of ${relDir}/${name}/ in every import); rename the file, e.g. ${relDir}/${name}-env.ts`;
  }
  if (name === 'index') {
    return `environment files only: ${relDir}/ has no index (the loader reads every ${relDir}/<name>.ts); move shared code to ${relDir}/shared/`;
  }
  if (/[A-Z]/.test(name) && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name.toLowerCase())) {
    return `a lower-case file name, as the environment's name, namespace and dist/ folder are DNS-1123 labels: rename it to ${relDir}/${name.toLowerCase()}.ts`;
  }
  return undefined;
}

export interface LoadOptions {
  /**
   * Names an environment may not take because the output layout uses them for its own
   * folders (`cluster`, `argocd`).
   * @default - none
   */
  readonly reservedNames?: readonly string[];
}

/** Load and validate every environment file; all problems of all files are reported at once. */
export function loadAllEnvironments(
  root: string,
  dir = process.env.NEXTGEN_ENVIRONMENTS ?? path.join(root, 'environments'),
  options: LoadOptions = {},
): Environment[] {
  const envDir = path.resolve(root, dir);
  const relDir = path.basename(envDir);
  if (!fs.existsSync(envDir) || !fs.statSync(envDir).isDirectory()) {
    throw new ConfigError([`${relDir}/: folder = (missing): allowed: a folder of environment files (${relDir}/<name>.ts)`]);
  }
  const files = environmentFiles(envDir);
  if (files.length === 0) {
    throw new ConfigError([
      `${relDir}/: environment files = (none): allowed: at least one ${relDir}/<name>.ts; synthesis refuses to write a dist/ without environments`,
    ]);
  }
  const loaded: Array<{ file: string; env: Environment }> = [];
  const errors: string[] = [];
  const causes: unknown[] = [];
  for (const file of files) {
    const rel = `${relDir}/${path.basename(file)}`;
    const problem = fileNameProblem(path.basename(file, '.ts'), envDir, relDir);
    if (problem) {
      errors.push(line(rel, { path: ['file name'], value: path.basename(file), allowed: problem }));
      continue;
    }
    let mod: { default?: unknown };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(file);
    } catch (e) {
      errors.push(loadFailure(e, file, rel));
      causes.push(e);
      continue;
    }
    if (mod?.default === undefined || mod.default === null || typeof mod.default !== 'object') {
      errors.push(
        line(rel, {
          path: ['export default'],
          value: mod?.default,
          allowed: `an environment: ${rel} must end with \`export default defineEnvironment({ ... })\` (helpers and shared data belong in ${relDir}/shared/)`,
        }),
      );
      continue;
    }
    try {
      const env = loadEnvironment(rel, mod.default);
      const expected = path.basename(file, '.ts');
      if (env.name !== expected) {
        errors.push(line(rel, { path: ['name'], value: env.name, allowed: `${show(expected)}, the file's name (an environment is ${relDir}/<name>.ts)` }));
        continue;
      }
      loaded.push({ file: rel, env });
    } catch (e) {
      if (e instanceof ConfigError) errors.push(...e.lines);
      else {
        errors.push(loadFailure(e, file, rel));
        causes.push(e);
      }
    }
  }
  for (const p of crossEnvironmentProblems(loaded, options.reservedNames ?? [])) errors.push(line(p.file, p));
  if (errors.length) throw new ConfigError(errors, causes);
  return loaded.map((l) => l.env);
}
