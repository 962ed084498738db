/** Helpers to build charts in tests and look objects up. */
import * as path from 'path';
import { parse } from 'yaml';
import { loadAllEnvironments, loadEnvironment } from '../../environments/load';
import type { Environment, EnvironmentInput } from '../../environments/schema';
import { chartManifests, type Manifest } from '../../constructs/lib/output';
import { buildApp, BuiltApp } from '../../main';
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

/** Build the app for the given environments and return every chart's manifests. */
export function synthEnvironments(envs: Environment[]): { built: BuiltApp; byFolder: Map<string, Manifest[]> } {
  const built = buildApp(envs);
  const byFolder = new Map<string, Manifest[]>();
  // What ships: the writer's view of each chart (empty lists dropped, Jobs named by content).
  for (const c of built.charts) byFolder.set(c.folder, chartManifests(c));
  return { built, byFolder };
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

export function parseYaml(text: string): any {
  return parse(text);
}

/** Rule contexts (as main.ts builds them) for the given environments. */
export function ruleContexts(envs: Environment[]): import('../../rules/engine').RuleContext[] {
  const { built } = synthEnvironments(envs);
  const clusterManifests = chartManifests(built.cluster);
  return built.environments.map((chart) => ({ env: chart.env, chart, manifests: chartManifests(chart), cluster: built.cluster, clusterManifests }));
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
