/**
 * Config changes roll the pods that read them. Kubernetes restarts nothing when a ConfigMap
 * changes (environment variables are read at start; most programs read their files once), so
 * every long-running pod template (Deployment, StatefulSet, DaemonSet) carries a checksum of
 * the ConfigMaps of its chart that it mounts or reads environment from: a change of their data
 * changes the template, which rolls the pods.
 *
 * Jobs and CronJobs are left alone: each run starts a new pod that reads the current data, and a
 * Job's template is immutable. A ConfigMap read only once in a pod's life (PostgreSQL's
 * first-start scripts) opts out with `excludeFromChecksum`, with the reason kept on the object.
 */
import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { IConstruct } from 'constructs';
import { sharedRender, stampPodAnnotation } from './render';

export const CONFIG_CHECKSUM = 'nextgen.example.com/config-checksum';
/** On a ConfigMap: why changing it must not roll the pods that mount it. */
export const CHECKSUM_EXCLUDED = 'nextgen.example.com/config-checksum-excluded';

/** Opt a ConfigMap out of its readers' checksum; `reason` is written on the object. */
export function excludeFromChecksum(configMap: kplus.ConfigMap, reason: string): void {
  configMap.metadata.addAnnotation(CHECKSUM_EXCLUDED, reason);
}

/** The ConfigMap names a pod spec reads: volumes (also projected), envFrom and env. */
export function configMapsReadBy(podSpec: any): string[] {
  const names = new Set<string>();
  for (const v of podSpec?.volumes ?? []) {
    if (v.configMap?.name) names.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) if (s.configMap?.name) names.add(s.configMap.name);
  }
  for (const c of [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])]) {
    for (const f of c.envFrom ?? []) if (f.configMapRef?.name) names.add(f.configMapRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef?.name) names.add(e.valueFrom.configMapKeyRef.name);
  }
  return [...names].sort();
}

/** First 16 hex digits of SHA-256 over the ConfigMaps' names and data, in name order. */
export function configChecksum(configMaps: ReadonlyArray<{ name: string; data?: unknown; binaryData?: unknown }>): string {
  const canonical = [...configMaps].sort((a, b) => a.name.localeCompare(b.name)).map((c) => [c.name, c.data ?? {}, c.binaryData ?? {}]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

const LONG_RUNNING = [kplus.Deployment, kplus.StatefulSet, kplus.DaemonSet];

/** Stamp the checksum on every long-running pod template under `scope`. Run once the tree is complete. */
export function stampConfigChecksums(scope: IConstruct): void {
  const all = scope.node.findAll();
  const configMaps = new Map<string, { name: string; data?: unknown; binaryData?: unknown; excluded: boolean }>();
  for (const c of all) {
    if (!(c instanceof kplus.ConfigMap)) continue;
    const json = sharedRender(ApiObject.of(c));
    configMaps.set(c.name, { name: c.name, data: json.data, binaryData: json.binaryData, excluded: Boolean(json.metadata?.annotations?.[CHECKSUM_EXCLUDED]) });
  }
  for (const c of all) {
    if (!LONG_RUNNING.some((k) => c instanceof k)) continue;
    const workload = c as kplus.Deployment | kplus.StatefulSet | kplus.DaemonSet;
    const read = configMapsReadBy(sharedRender(ApiObject.of(workload)).spec?.template?.spec)
      .map((n) => configMaps.get(n))
      .filter((m): m is NonNullable<typeof m> => m !== undefined && !m.excluded);
    if (read.length) stampPodAnnotation(workload, CONFIG_CHECKSUM, configChecksum(read));
  }
}
