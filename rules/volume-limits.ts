/**
 * Every volume claim is one its provider can create: its size within the limits of its
 * StorageClass's volume type (EBS gp3 and gp2: 1 GiB to 16 TiB), and large enough for the IOPS
 * the class provisions. The limits and their sources are in `environments/shared/cluster.ts`;
 * the classes are read from the cluster folder that ships. A claim the provider refuses stays
 * Pending, and its pod with it.
 */
import { volumeProblem } from '../environments/shared/cluster';
import { toMiB } from '../constructs/lib/quantity';
import type { Finding, Rule } from './engine';

/** The environment field holding a size of `gib` GiB, preferring one beside `storageClass: cls`. */
export function sizeField(env: unknown, gib: number, cls: string): string | undefined {
  const hits: Array<{ at: string; beside: boolean }> = [];
  const walk = (v: any, at: string) => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      const here = at ? `${at}.${k}` : k;
      if (/sizeGiB$/i.test(k) && x === gib) hits.push({ at: here, beside: v.storageClass === cls });
      else walk(x, here);
    }
  };
  walk(env, '');
  return (hits.find((h) => h.beside) ?? hits[0])?.at;
}

const rule: Rule = {
  id: 'volume-limits',
  field: 'postgres.storage.sizeGiB',
  allowed: "a size the storage class's provider can create",
  description:
    "Every volume claim (PersistentVolumeClaims and StatefulSet claim templates) is within its StorageClass's provider limits (size per volume type; enough GiB for the class's provisioned IOPS).",
  check(ctx) {
    const classes = new Map(
      (ctx.clusterManifests.filter((m) => m.kind === 'StorageClass') as any[]).map((sc) => [sc.metadata.name, { name: sc.metadata.name, provisioner: sc.provisioner, parameters: sc.parameters ?? {} }]),
    );
    const findings: Finding[] = [];
    const claims: Array<{ owner: string; name: string; spec: any }> = [];
    for (const m of ctx.manifests as any[]) {
      if (m.kind === 'PersistentVolumeClaim') claims.push({ owner: `PersistentVolumeClaim/${m.metadata.name}`, name: m.metadata.name, spec: m.spec });
      if (m.kind === 'StatefulSet') for (const t of m.spec.volumeClaimTemplates ?? []) claims.push({ owner: `StatefulSet/${m.metadata.name}`, name: t.metadata.name, spec: t.spec });
    }
    for (const c of claims) {
      const sc = classes.get(c.spec?.storageClassName);
      if (!sc) continue; // reference-integrity reports a class that does not exist
      const gib = Math.ceil(toMiB(c.spec.resources?.requests?.storage) / 1024);
      const problem = volumeProblem(sc, gib);
      if (problem) {
        findings.push({
          resource: c.owner,
          field: sizeField(ctx.env, gib, sc.name),
          allowed: problem,
          message: `claim '${c.name}' asks ${sc.name} for ${gib} GiB; the provider refuses the volume and the pod stays Pending`,
        });
      }
    }
    return findings;
  },
};
export default rule;
