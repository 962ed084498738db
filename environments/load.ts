/**
 * Loading and validating environments. A bad value becomes one line per problem, naming the
 * environment file, the field, the value and what is allowed, e.g.
 *   environments/prod.ts: api.replicas = -1: allowed: a whole number >= 1
 */
import * as fs from 'fs';
import * as path from 'path';
import type { z } from 'zod';
import { Environment, environmentSchema } from './schema';

/** A mistake in configuration: printed as its lines, without a stack trace. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  const s = JSON.stringify(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function allowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small': {
      const i = issue as z.core.$ZodIssueTooSmall;
      const what = i.origin === 'number' || i.origin === 'int' ? 'a number' : `a ${i.origin} of length`;
      return `${what} ${i.inclusive === false ? '>' : '>='} ${i.minimum}`;
    }
    case 'too_big': {
      const i = issue as z.core.$ZodIssueTooBig;
      const what = i.origin === 'number' || i.origin === 'int' ? 'a number' : `a ${i.origin} of length`;
      return `${what} ${i.inclusive === false ? '<' : '<='} ${i.maximum}`;
    }
    case 'invalid_type':
      return `a value of type ${(issue as z.core.$ZodIssueInvalidType).expected}`;
    case 'invalid_value':
      return `one of ${(issue as z.core.$ZodIssueInvalidValue).values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no such field (${(issue as z.core.$ZodIssueUnrecognizedKeys).keys.join(', ')}); check the spelling`;
    case 'invalid_format':
    case 'custom':
    default:
      return issue.message;
  }
}

function fieldPath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(root)';
}

/** Parse one environment; `source` names it in errors (usually its file). */
export function loadEnvironment(source: string, input: unknown): Environment {
  const result = environmentSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const value = issue.code === 'unrecognized_keys' ? '' : ` = ${show(issue.input)}`;
    return `${source}: ${fieldPath(issue.path)}${value}: allowed: ${allowed(issue)}`;
  });
  throw new ConfigError(lines);
}

/** Every `environments/*.ts` file that default-exports an environment, sorted by name. */
export function environmentFiles(dir = path.join(__dirname)): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !['define.ts', 'load.ts', 'index.ts'].includes(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Load and validate every environment file; all problems of all files are reported at once. */
export function loadAllEnvironments(root: string, dir = process.env.NEXTGEN_ENVIRONMENTS ?? path.join(root, 'environments')): Environment[] {
  const envs: Environment[] = [];
  const errors: string[] = [];
  const names = new Map<string, string>();
  for (const file of environmentFiles(path.resolve(root, dir))) {
    const rel = `${path.basename(path.dirname(file))}/${path.basename(file)}`;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file);
    try {
      const env = loadEnvironment(rel, mod.default);
      const seen = names.get(env.namespace) ?? names.get(`name:${env.name}`);
      if (seen) errors.push(`${rel}: name/namespace = ${show(env.name)}: allowed: a name and namespace not used by ${seen}`);
      names.set(env.namespace, rel).set(`name:${env.name}`, rel);
      envs.push(env);
    } catch (e) {
      if (e instanceof ConfigError) errors.push(...e.lines);
      else throw e;
    }
  }
  if (errors.length) throw new ConfigError(errors);
  return envs;
}
