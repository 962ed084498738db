/**
 * Helpers to build charts in tests and look objects up.
 *
 * Speed: synthesis is what most unit tests spend their time on, and jest gives every test file
 * fresh modules, so the same build used to run again in every file (cold, unoptimized code).
 * Two caches keep the results exact:
 *   - within a test file, `synthEnvironments` builds each distinct set of environments once
 *     (manifests handed out are copies, so a test that edits them cannot affect another);
 *   - across test files and jest workers, the rendered output of the real environments
 *     (`realTree`, `realManifests`) is kept on disk under `.build/test-cache/`, keyed by a hash
 *     of the content of every file synthesis reads (`synthesisInputsHash`). Any change to the
 *     code, the environments, the generated imports or the lockfile is a new key.
 *     test/dist.int.test.ts compares the cached tree with fresh synths.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CORE_SCHEMA, load, loadAll } from 'js-yaml';
import { loadAllEnvironments, loadEnvironment } from '../../environments/load';
import type { Environment, EnvironmentInput } from '../../environments/schema';
import { chartManifests, type Manifest } from '../../constructs/lib/output';
import { buildApp, BuiltApp, synthesize } from '../../main';
import prod from '../../environments/prod';

export const ROOT = path.resolve(__dirname, '..', '..');

/** The real environments (dev, prod, staging). */
export function realEnvironments(): Environment[] {
  return loadAllEnvironments(ROOT);
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (Array.isArray(over) || typeof over !== 'object' || over === null || typeof base !== 'object' || base === null) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out as T;
}

/** A test environment: prod's data with `overrides` merged in, named `test`. */
export function testEnvironmentInput(overrides: DeepPartial<EnvironmentInput> = {}): EnvironmentInput {
  return merge(merge(prod, { name: 'test', namespace: 'nextgen-test' }), overrides);
}

export function testEnvironment(overrides: DeepPartial<EnvironmentInput> = {}): Environment {
  return loadEnvironment('environments/test.ts', testEnvironmentInput(overrides));
}

const builds = new Map<string, { built: BuiltApp; byFolder: Map<string, Manifest[]> }>();

/** Deep copy of JSON data (manifests are plain JSON). */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Build the app for the given environments and return every chart's manifests. The same
 * environments (by value) are built once per test file: `built` is shared, the manifests are
 * fresh copies on every call.
 */
export function synthEnvironments(envs: Environment[]): { built: BuiltApp; byFolder: Map<string, Manifest[]> } {
  const key = JSON.stringify(envs);
  let hit = builds.get(key);
  if (!hit) {
    const built = buildApp(envs);
    const byFolder = new Map<string, Manifest[]>();
    // What ships: the writer's view of each chart (empty lists dropped, Jobs named by content).
    for (const c of built.charts) byFolder.set(c.folder, chartManifests(c));
    hit = { built, byFolder };
    builds.set(key, hit);
  }
  return { built: hit.built, byFolder: new Map([...hit.byFolder].map(([folder, ms]) => [folder, copy(ms)])) };
}

/** Everything synthesis reads: the app, the constructs and their scripts, environments, rules, generated imports, sealed secrets, dependencies. */
const SYNTHESIS_INPUTS = ['main.ts', 'constructs', 'environments', 'rules', 'imports', 'sealed-secrets', 'versions.json', 'package.json', 'package-lock.json'];

/**
 * A hash of the content of every file synthesis reads under `root` (and of the Node.js version
 * and `NEXTGEN_ENVIRONMENTS`, which pick the runtime and the environments): the key of the
 * on-disk cache of rendered output.
 */
export function synthesisInputsHash(root: string = ROOT): string {
  const h = crypto.createHash('sha256').update(`${process.version}\0${process.env.NEXTGEN_ENVIRONMENTS ?? ''}\0`);
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      h.update(`${rel}\0(missing)\0`);
      return;
    }
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) walk(path.posix.join(rel, name));
    } else {
      h.update(`${rel}\0${stat.size}\0`).update(fs.readFileSync(abs));
    }
  };
  for (const input of SYNTHESIS_INPUTS) walk(input);
  return h.digest('hex').slice(0, 20);
}

export const TEST_CACHE = path.join(ROOT, '.build', 'test-cache');

interface RealOutput {
  /** `npm run synth`'s files: relative path -> content. */
  tree: Array<[string, string]>;
  /** Each folder's manifests, as `synthEnvironments(realEnvironments()).byFolder`. */
  byFolder: Array<[string, Manifest[]]>;
}
let realOutputText: string | undefined;

/**
 * The real environments synthesized (checks, rules and rendering, as `npm run synth` does),
 * read from the on-disk cache when the sources are unchanged, else built and stored there.
 * Written atomically, so concurrent jest workers at worst build it twice.
 */
function realOutput(): RealOutput {
  if (realOutputText === undefined) {
    const file = path.join(TEST_CACHE, `real-${synthesisInputsHash()}.json`);
    try {
      realOutputText = fs.readFileSync(file, 'utf8');
    } catch {
      const built = buildApp(realEnvironments());
      const out: RealOutput = { tree: [...synthesize(built)], byFolder: built.charts.map((c) => [c.folder, chartManifests(c)]) };
      realOutputText = JSON.stringify(out);
      fs.mkdirSync(TEST_CACHE, { recursive: true });
      for (const old of fs.readdirSync(TEST_CACHE).filter((f) => /^real-[0-9a-f]+\.json$/.test(f))) fs.rmSync(path.join(TEST_CACHE, old), { force: true });
      const tmp = `${file}.${process.pid}`;
      fs.writeFileSync(tmp, realOutputText);
      fs.renameSync(tmp, file);
    }
  }
  return JSON.parse(realOutputText) as RealOutput;
}

/** What `npm run synth` writes for the real environments: relative path -> content (a fresh copy). */
export function realTree(): Map<string, string> {
  return new Map(realOutput().tree);
}

/** The real environments' manifests per output folder (fresh copies), as `synthEnvironments(realEnvironments()).byFolder`. */
export function realManifests(): Map<string, Manifest[]> {
  return new Map(realOutput().byFolder);
}

/** Manifests of one test environment (its own folder only). */
export function synth(overrides: DeepPartial<EnvironmentInput> = {}): Manifest[] {
  const env = testEnvironment(overrides);
  return synthEnvironments([env]).byFolder.get(env.name)!;
}

export function find(manifests: readonly Manifest[], kind: string, name: string): any {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind}/${name} among ${manifests.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return m;
}

/** A Job by its base name: applied Jobs are named `<name>-<hash of spec>` (immutableJobName). */
export function findJob(manifests: readonly Manifest[], name: string): any {
  const m = manifests.find((x) => x.kind === 'Job' && new RegExp(`^${name}-[0-9a-f]{8}$`).test(x.metadata.name));
  if (!m) throw new Error(`no Job ${name}-<hash> among ${manifests.filter((x) => x.kind === 'Job').map((x) => x.metadata.name).join(', ')}`);
  return m;
}

export function findAll(manifests: readonly Manifest[], kind: string): any[] {
  return manifests.filter((x) => x.kind === kind);
}

/** Pod spec of any workload kind. */
export function podSpec(m: any): any {
  if (m.kind === 'CronJob') return m.spec.jobTemplate.spec.template.spec;
  if (m.kind === 'Pod') return m.spec;
  return m.spec.template.spec;
}

export { WORKLOAD_KINDS } from '../../constructs/lib/workloads';
export { readTree } from '../../constructs/lib/output';

/**
 * One YAML document, read with js-yaml's core schema: YAML 1.2's core types (no timestamps, no
 * YAML 1.1 booleans), as the `yaml` package reads it, at several times its speed (parsing the
 * written output was a seventh of the in-process bad-input cases' time).
 */
export function parseYaml(text: string): any {
  return load(text, { schema: CORE_SCHEMA });
}

/** Every YAML document of a file, read as `parseYaml` reads one (a syntax error throws). */
export function parseYamlDocuments(text: string): any[] {
  return loadAll(text, undefined, { schema: CORE_SCHEMA });
}

/** Rule contexts (as main.ts builds them) for the given environments. */
export function ruleContexts(envs: Environment[]): import('../../rules/engine').RuleContext[] {
  const { built, byFolder } = synthEnvironments(envs);
  const clusterManifests = byFolder.get(built.cluster.folder)!;
  const manifestsOf = (c: import('cdk8s').Chart) => byFolder.get((c as import('cdk8s').Chart & { folder: string }).folder)!;
  return built.environments.map((chart) => ({ env: chart.env, chart, manifests: byFolder.get(chart.folder)!, cluster: built.cluster, clusterManifests, manifestsOf }));
}

/** Rule context for one test environment built from prod's data plus `overrides`. */
export function ruleContext(overrides: DeepPartial<EnvironmentInput> = {}): import('../../rules/engine').RuleContext {
  return ruleContexts([testEnvironment(overrides)])[0];
}

/** The same context with its manifests edited (to craft a broken reference). */
export function withManifests(
  ctx: import('../../rules/engine').RuleContext,
  edit: (manifests: any[]) => void,
): import('../../rules/engine').RuleContext {
  const manifests = JSON.parse(JSON.stringify(ctx.manifests));
  edit(manifests);
  return { ...ctx, manifests };
}

export function byKind(manifests: readonly Manifest[], kinds: readonly string[]): any[] {
  return manifests.filter((x) => kinds.includes(x.kind));
}

/**
 * The Secret key behind a `*_FILE` setting: the env var's path resolved through the
 * container's mounts to a Secret volume and its item, or a reason it does not resolve.
 */
export function secretFileOf(pod: any, container: any, envName: string): { secret: string; key: string } | string {
  const file = container.env?.find((e: any) => e.name === envName)?.value;
  if (typeof file !== 'string') return `${envName} is not set to a path`;
  const mount = (container.volumeMounts ?? []).find((m: any) => file.startsWith(`${m.mountPath}/`));
  if (!mount) return `${envName}=${file} is under no mount of container ${container.name}`;
  const vol = (pod.volumes ?? []).find((v: any) => v.name === mount.name);
  if (!vol?.secret) return `volume ${mount.name} is not a Secret`;
  const rel = file.slice(mount.mountPath.length + 1);
  const item = (vol.secret.items ?? []).find((i: any) => i.path === rel);
  return { secret: vol.secret.secretName, key: item ? item.key : rel };
}
