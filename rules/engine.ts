/**
 * The invariant engine: checks that span resources, run on the finished tree before
 * anything is written. A rule is one file in `rules/` that default-exports a `Rule`;
 * `rules/index.ts` registers it. Each finding becomes one error line:
 *   environment prod: Deployment/nextgen-api: connection-budget: 6 x 20 + 8 > 197 max_connections
 */
import type { Chart } from 'cdk8s';
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
}

export interface Rule {
  /** Short kebab-case id, printed in every finding. */
  readonly id: string;
  /** One sentence for the README's rule list. */
  readonly description: string;
  check(ctx: RuleContext): Finding[];
}

/** Run every rule on every environment; return the error lines (empty when all pass). */
export function runRules(rules: readonly Rule[], contexts: readonly RuleContext[]): string[] {
  const lines: string[] = [];
  for (const ctx of contexts) {
    for (const rule of rules) {
      for (const f of rule.check(ctx)) {
        lines.push(`environment ${ctx.env.name}: ${f.resource}: ${rule.id}: ${f.message}`);
      }
    }
  }
  return lines;
}
