/**
 * The invariant engine: checks that span resources, run on the finished tree before
 * anything is written. A rule is one file in `rules/` that default-exports a `Rule`;
 * `rules/index.ts` registers it. Each finding becomes one error line in the form of every
 * configuration error, on the environment file and the field the operator changes:
 *   environments/prod.ts: postgres.maxConnections = 50: allowed: more than every client's pool can ask
 *   for at maximum scale, plus the reserved connections (connection-budget: StatefulSet/postgres:
 *   PostgreSQL can be asked for 151 connections (...) but max_connections is 50; ...)
 */
import type { Chart } from 'cdk8s';
import { fieldPath, show, sourceOf, writtenStrings } from '../environments/load';
import type { Environment } from '../environments/schema';
import type { Manifest } from '../constructs/lib/output';
import type { MarketplaceChart } from '../constructs/marketplace';
import type { ClusterChart } from '../constructs/platform/cluster';

export interface RuleContext {
  readonly env: Environment;
  readonly chart: MarketplaceChart;
  /** The environment's synthesized objects (what will be written). */
  readonly manifests: readonly Manifest[];
  readonly cluster: ClusterChart;
  /** The cluster folder's synthesized objects. */
  readonly clusterManifests: readonly Manifest[];
  /**
   * Another chart's synthesized objects (the environment's runbooks): main.ts passes the ones
   * it has already rendered, since rendering is the expensive part of synthesis.
   * @default - the chart rendered again (chartManifests)
   */
  readonly manifestsOf?: (chart: Chart) => readonly Manifest[];
}

export interface Finding {
  /** `Kind/name` of the resource at fault, or a config path such as `backup.schedule`. */
  readonly resource: string;
  /** What is wrong, with the numbers. */
  readonly message: string;
  /**
   * The environment field to change (`cluster.nodes`).
   * @default - `resource` when it is a field path, else the field whose written value the
   * message quotes, else the rule's `field`
   */
  readonly field?: string;
  /** What that field may be. @default - the rule's `allowed` */
  readonly allowed?: string;
}

export interface Rule {
  /** Short kebab-case id, printed in every finding. */
  readonly id: string;
  /** One sentence for the README's rule list. */
  readonly description: string;
  /** The field a finding blames when it names none (see `Finding.field`). */
  readonly field: string;
  /** What the rule allows, in the words of an error line (`allowed: ...`). */
  readonly allowed: string;
  check(ctx: RuleContext): Finding[];
}

const FIELD_PATH = /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*|\[[0-9]+\])*$/;

/** The value at `path` (`backup.walArchive.enabled`, `hosts.api`) of the parsed environment. */
export function valueAt(env: unknown, path: string): unknown {
  let v: any = env;
  for (const key of path.split(/\.|\[|\]/).filter(Boolean)) v = v?.[/^[0-9]+$/.test(key) ? Number(key) : key];
  return v;
}

/** Where a finding points: the file, the field and its value, and what is allowed. */
export function blame(rule: Rule, ctx: Pick<RuleContext, 'env'>, f: Finding): { file: string; field: string; shown: string; allowed: string; why: string } {
  const src = sourceOf(ctx.env);
  let field = f.field ?? (FIELD_PATH.test(f.resource) && f.resource.includes('.') ? f.resource : undefined);
  if (!field) {
    // The written value the message quotes ('fast-ssd', an image reference), longest first.
    const quoted = writtenStrings(src.input)
      .filter((w) => w.value.length >= 3 && (f.message.includes(`'${w.value}'`) || f.message.includes(` ${w.value} `) || f.message.includes(`"${w.value}"`)))
      .sort((a, b) => b.value.length - a.value.length)[0];
    if (quoted) field = fieldPath(quoted.path);
  }
  field ??= rule.field;
  const value = valueAt(ctx.env, field);
  const shown = value !== undefined && typeof value === 'object' ? '' : ` = ${show(value)}`;
  return { file: src.file, field, shown, allowed: f.allowed ?? rule.allowed, why: `${rule.id}: ${f.resource}: ${f.message}` };
}

/** One finding as a configuration error line: `file: field = value: allowed: ... (rule: resource: message)`. */
export function findingLine(rule: Rule, ctx: Pick<RuleContext, 'env'>, f: Finding): string {
  const b = blame(rule, ctx, f);
  return `${b.file}: ${b.field}${b.shown}: allowed: ${b.allowed} (${b.why})`;
}

/** Every finding of every rule as its own line (tests read them one by one; `runRules` groups them per field). */
export function findingLines(rules: readonly Rule[], contexts: readonly RuleContext[]): string[] {
  return contexts.flatMap((ctx) => rules.flatMap((rule) => rule.check(ctx).map((f) => findingLine(rule, ctx, f))));
}

/** Run every rule on every environment; return the error lines (empty when all pass), one per environment field. */
export function runRules(rules: readonly Rule[], contexts: readonly RuleContext[]): string[] {
  const lines: string[] = [];
  for (const ctx of contexts) {
    // One line per field: what the first rule allows, and every reason (a single node can
    // break scheduling and capacity at once; the operator changes one value).
    const byField = new Map<string, ReturnType<typeof blame> & { whys: string[] }>();
    for (const rule of rules) {
      for (const f of rule.check(ctx)) {
        const b = blame(rule, ctx, f);
        const seen = byField.get(b.field);
        if (seen) seen.whys.push(b.why);
        else byField.set(b.field, { ...b, whys: [b.why] });
      }
    }
    for (const b of byField.values()) lines.push(`${b.file}: ${b.field}${b.shown}: allowed: ${b.allowed} (${b.whys.join('; ')})`);
  }
  return lines;
}
