/**
 * The app: one chart per environment (plus the shared cluster folder), checked, rendered
 * and written into `dist/` (or `$CDK8S_OUTDIR`, which `cdk8s synth` sets).
 *
 * A configuration mistake prints one line per problem and exits 1 without touching dist/.
 */
import * as path from 'path';
import { App, Chart } from 'cdk8s';
import { ConfigError, loadAllEnvironments } from './environments/load';
import type { Environment } from './environments/schema';
import { storageClasses } from './environments/shared/cluster';
import { gitopsRepository } from './environments/shared/gitops';
import { ClusterChart } from './constructs/cluster';
import { GitopsChart } from './constructs/gitops';
import { finalizeChart } from './constructs/lib/identity';
import { Manifest, OutputFolder, chartManifests, isOutputFolder, renderCharts, writeTree } from './constructs/lib/output';
import { MarketplaceChart } from './constructs/marketplace';
import { runRules } from './rules/engine';
import { rules } from './rules';

export interface BuiltApp {
  readonly app: App;
  readonly cluster: ClusterChart;
  readonly environments: MarketplaceChart[];
  readonly gitops: GitopsChart;
  readonly charts: Array<Chart & OutputFolder>;
}

/** Build every chart for the given environments. Throws ConfigError on invalid combinations. */
export function buildApp(envs: Environment[]): BuiltApp {
  const app = new App({ outdir: 'dist' });
  const cluster = new ClusterChart(app, { storageClasses, environments: envs });
  const environments = envs.map((env) => new MarketplaceChart(app, env));
  const gitops = new GitopsChart(app, {
    repository: gitopsRepository,
    targets: environments.map((chart) => ({ chart, policy: chart.env.gitops })),
  });
  const charts = app.node.findAll().filter(isOutputFolder);
  for (const chart of charts) finalizeChart(chart);

  const errors: string[] = [];
  for (const c of app.node.findAll()) {
    for (const e of c.node.validate()) errors.push(`${c.node.path}: ${e}`);
  }
  if (errors.length) throw new ConfigError(errors);
  return { app, cluster, environments, gitops, charts };
}

/** Check the cross-resource rules and render the file tree. */
export function synthesize(built: BuiltApp): Map<string, string> {
  // Each chart is rendered to JSON once; rules and the writer share the result.
  const json = new Map<Chart, Manifest[]>();
  const manifestsOf = (c: Chart): Manifest[] => {
    if (!json.has(c)) json.set(c, chartManifests(c));
    return json.get(c)!;
  };
  const clusterManifests = manifestsOf(built.cluster);
  const findings = runRules(
    rules,
    built.environments.map((chart) => ({
      env: chart.env,
      chart,
      manifests: manifestsOf(chart),
      cluster: built.cluster,
      clusterManifests,
    })),
  );
  if (findings.length) throw new ConfigError(findings);
  return renderCharts(built.charts, manifestsOf);
}

export function main(root = __dirname, outdir = process.env.CDK8S_OUTDIR ?? 'dist'): number {
  const started = process.hrtime.bigint();
  try {
    const envs = loadAllEnvironments(root);
    const files = synthesize(buildApp(envs));
    writeTree(path.resolve(root, outdir), files);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (!process.env.SYNTH_QUIET) {
      console.log(`synthesized ${envs.map((e) => e.name).join(', ')} + cluster: ${files.size} files into ${outdir}/ in ${ms.toFixed(0)} ms`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines) console.error(`error: ${line}`);
      console.error(`synthesis failed: ${e.lines.length} problem(s); ${outdir}/ was not changed`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main();
