/**
 * The app: one chart per environment (plus the shared cluster folder), checked, rendered
 * and written into `dist/` (or `$CDK8S_OUTDIR` for `npm run synth`; under `cdk8s synth` into
 * `$NEXTGEN_DIST` or `dist/`, the CLI's own folder becoming a link to it).
 *
 * A configuration mistake prints one line per problem and exits 1 without touching dist/;
 * so does a failed write. A bug prints one line (its stack trace with --verbose).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Chart } from 'cdk8s';
import { ConfigError, fieldPath, loadAllEnvironments, show, sourceOf, writtenStrings } from './environments/load';
import type { Environment } from './environments/schema';
import { storageClassProblems, storageClasses } from './environments/shared/cluster';
import { gitopsRepository } from './environments/shared/gitops';
import { admissionErrors } from './constructs/lib/admission';
import { ClusterChart, GitopsChart } from './constructs/platform';
import { finalizeChart } from './constructs/lib/identity';
import { Manifest, OutputFolder, WriteError, chartManifests, isOutputFolder, renderCharts, writeTree } from './constructs/lib/output';
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
  const classes = storageClassProblems(storageClasses);
  if (classes.length) throw new ConfigError(classes);
  const app = new App({ outdir: 'dist' });
  const cluster = refusing(envs, () => new ClusterChart(app, { storageClasses, environments: envs }));
  const environments = envs.map((env) => refusing(envs, () => new MarketplaceChart(app, env), env));
  const gitops = refusing(envs, () =>
    new GitopsChart(app, {
      repository: gitopsRepository,
      targets: environments.map((chart) => ({ chart, policy: chart.env.gitops, operatorOwnedFields: chart.operatorOwnedFields })),
    }),
  );
  const charts = app.node.findAll().filter(isOutputFolder);
  for (const chart of charts) finalizeChart(chart);

  const errors: string[] = [];
  for (const c of app.node.findAll()) {
    for (const e of c.node.validate()) errors.push(`${c.node.path}: ${e}`);
  }
  if (errors.length) throw new ConfigError(errors);
  return { app, cluster, environments, gitops, charts };
}

/**
 * Run a constructor; an error it throws is a construct refusing the environments' values
 * (an issuer it cannot create, a chart id another chart uses): one line on the environment
 * file and the written value the message names, else on the environment's name.
 */
function refusing<T>(envs: readonly Environment[], build: () => T, building?: Environment): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const first = String((e as Error)?.message ?? e).split('\n')[0];
    // The value the message quotes (in any environment), else the longest written value of
    // the environment being built that it contains, else that environment's name.
    let best: { file: string; path: PropertyKey[]; value: string; score: number } | undefined;
    for (const env of envs) {
      for (const w of writtenStrings(sourceOf(env).input)) {
        const quoted = first.includes(`'${w.value}'`) || first.includes(`"${w.value}"`);
        const score = quoted ? 1000 + w.value.length : (!building || env === building) && first.includes(w.value) ? w.value.length : 0;
        if (w.value.length >= 3 && score > (best?.score ?? 0)) best = { file: sourceOf(env).file, ...w, score };
      }
    }
    if (!best && building) best = { file: sourceOf(building).file, path: ['name'], value: building.name, score: 0 };
    if (!best) throw e;
    throw new ConfigError([`${best.file}: ${fieldPath(best.path)} = ${show(best.value)}: allowed: a value the constructs can build: ${first}`]);
  }
}

/** Folders of the output layout that are not environments (`cluster`, `argocd`): names no environment may take. */
export function reservedFolders(): string[] {
  reserved ??= buildApp([]).charts.map((c) => c.folder.split('/')[0]);
  return reserved;
}
let reserved: string[] | undefined;

/** Check what the API server and the other environments would refuse, then the cross-resource rules, and render the file tree. */
export function synthesize(built: BuiltApp): Map<string, string> {
  // Each chart is rendered to JSON once; rules and the writer share the result.
  const json = new Map<Chart, Manifest[]>();
  const manifestsOf = (c: Chart): Manifest[] => {
    if (!json.has(c)) json.set(c, chartManifests(c));
    return json.get(c)!;
  };
  const refused = admissionErrors(
    built.charts.map((c) => ({ folder: c.folder, manifests: manifestsOf(c), env: built.environments.find((e) => c.folder === e.folder || c.folder.startsWith(`${e.folder}/`))?.env })),
  );
  if (refused.length) throw new ConfigError(refused);
  const clusterManifests = manifestsOf(built.cluster);
  const findings = runRules(
    rules,
    built.environments.map((chart) => ({
      env: chart.env,
      chart,
      manifests: manifestsOf(chart),
      cluster: built.cluster,
      clusterManifests,
      manifestsOf,
    })),
  );
  if (findings.length) throw new ConfigError(findings);
  return renderCharts(built.charts, manifestsOf);
}

export interface MainOptions {
  /** Repository root. @default - the folder of main.ts */
  readonly root?: string;
  /**
   * Output folder. Under the cdk8s CLI this is the CLI's own folder (`output` in cdk8s.yaml,
   * which the CLI deletes before every run): the tree is written to `destination` and the
   * CLI's folder becomes a link to it after a success.
   * @default - $CDK8S_OUTDIR, else dist
   */
  readonly outdir?: string;
  /**
   * Where the tree goes when the cdk8s CLI runs the app (`viaCdk8sCli`).
   * @default - $NEXTGEN_DIST, else <root>/dist
   */
  readonly destination?: string;
  /** Folder of the environment files. @default - $NEXTGEN_ENVIRONMENTS, else <root>/environments */
  readonly environmentsDir?: string;
  /**
   * Whether the cdk8s CLI runs the app. The CLI deletes its output folder before the app
   * runs, so cdk8s.yaml gives it a private one (`.build/cdk8s-out`) and the app writes
   * `destination` itself, atomically, as `npm run synth` does. @default false
   */
  readonly viaCdk8sCli?: boolean;
  /** Print stack traces of internal errors. @default - --verbose or SYNTH_VERBOSE=1 */
  readonly verbose?: boolean;
}

/**
 * Synthesize every environment into `outdir`. Exit code 0 on success, 1 for a mistake in the
 * configuration or a failed write (one line each, no stack trace), 2 for a bug (one line; the
 * stack trace with --verbose or SYNTH_VERBOSE=1).
 */
export function main(options: MainOptions | string = {}, outdirArg?: string): number {
  const o: MainOptions = typeof options === 'string' ? { root: options, outdir: outdirArg } : options;
  const root = o.root ?? __dirname;
  const cliOut = o.viaCdk8sCli ? (o.outdir ?? process.env.CDK8S_OUTDIR) : undefined;
  // The CLI's folder is ours only when the user pointed the CLI at it (`cdk8s synth -o dist`):
  // then it was deleted already and is written in place.
  // (The CLI passes its folder relative to the directory it runs in.)
  const cliOwnsOutput = cliOut !== undefined && path.resolve(cliOut) === path.resolve(root, o.destination ?? process.env.NEXTGEN_DIST ?? 'dist');
  const outdir = o.viaCdk8sCli ? (cliOwnsOutput ? path.resolve(cliOut!) : (o.destination ?? process.env.NEXTGEN_DIST ?? 'dist')) : (o.outdir ?? process.env.CDK8S_OUTDIR ?? 'dist');
  const verbose = o.verbose ?? (process.argv.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.SYNTH_VERBOSE ?? ''));
  const abs = path.resolve(root, outdir);
  const shown = (path.relative(root, abs).startsWith('..') || path.isAbsolute(path.relative(root, abs)) ? outdir : path.relative(root, abs) || '.').replace(/\/?$/, '/');
  const started = process.hrtime.bigint();
  const untouched = () => {
    let state: 'missing' | 'empty' | 'present' = 'missing';
    try {
      state = fs.readdirSync(abs).length === 0 ? 'empty' : 'present';
    } catch {
      /* missing */
    }
    if (cliOwnsOutput && state !== 'present') {
      return `nothing was written; ${shown} is ${state} because the cdk8s CLI removes it before the app runs (\`npm run synth\` would have kept it)`;
    }
    return `${shown} was not changed`;
  };
  try {
    const envs = loadAllEnvironments(root, o.environmentsDir ?? process.env.NEXTGEN_ENVIRONMENTS ?? path.join(root, 'environments'), {
      reservedNames: reservedFolders(),
    });
    const files = synthesize(buildApp(envs));
    const warnings = writeTree(abs, files);
    for (const w of warnings) console.error(`warning: ${w}`);
    if (cliOut !== undefined && !cliOwnsOutput) linkCliOutput(path.resolve(cliOut), abs);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (!process.env.SYNTH_QUIET) {
      console.log(`synthesized ${envs.map((e) => e.name).join(', ')} + cluster: ${files.size} files into ${shown} in ${ms.toFixed(0)} ms`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines) console.error(`error: ${line}`);
      if (verbose) for (const c of e.causes) console.error(String((c as Error)?.stack ?? c));
      console.error(`synthesis failed: ${e.lines.length} problem(s); ${untouched()}`);
      return 1;
    }
    if (e instanceof WriteError) {
      console.error(`error: ${e.message}`);
      console.error(`synthesis failed: nothing was written; ${e.unchanged ? untouched() : `${shown} may be incomplete: run the synth again`}`);
      return 1;
    }
    const err = e as Error;
    const first = String(err?.message ?? e).split('\n')[0];
    const at = /\(?([^()\s]+\.ts):(\d+):(\d+)\)?/.exec(String(err?.stack ?? ''));
    const where = at ? ` (at ${path.relative(root, at[1])}:${at[2]}:${at[3]})` : '';
    console.error(`error: internal error: ${first}${where}`);
    if (verbose) console.error(String(err?.stack ?? e));
    console.error(`synthesis failed: a bug, not your configuration; ${untouched()}${verbose ? '' : ' (--verbose or SYNTH_VERBOSE=1 prints the stack trace)'}`);
    return 2;
  }
}

/**
 * The cdk8s CLI checks that the app created its output folder and lists the YAML in it: make
 * that folder a link to the tree just written (the CLI's next run deletes the link, not dist/).
 */
function linkCliOutput(cliOut: string, target: string): void {
  fs.rmSync(cliOut, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(cliOut), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(cliOut), target), cliOut, 'dir');
}

// Run directly (`ts-node main.ts`, the cdk8s CLI's default app): the CLI sets CDK8S_OUTDIR.
if (require.main === module) process.exitCode = main({ viaCdk8sCli: process.env.CDK8S_OUTDIR !== undefined });
