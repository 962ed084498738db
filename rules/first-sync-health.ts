/**
 * A fresh install turns Healthy when its workloads do. Argo CD counts a Pending
 * PersistentVolumeClaim as Progressing, and a claim on a `WaitForFirstConsumer` class stays
 * Pending until a pod mounts it: a claim used only by a CronJob (the backups volume) would keep
 * the whole Application Progressing until the first scheduled run, hours after the sync.
 * So every standalone claim must bind at once: on an `Immediate` class, or mounted by a
 * workload that always runs (Deployment, StatefulSet, DaemonSet).
 *
 * @see https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode
 * @see https://argo-cd.readthedocs.io/en/stable/operator-manual/health/#persistentvolumeclaim
 */
import type { Finding, Rule, RuleContext } from './engine';
import { podTemplates } from '../constructs/lib/workloads';

const ALWAYS_RUNNING = ['Deployment', 'StatefulSet', 'DaemonSet'];

function check(ctx: RuleContext): Finding[] {
  const binding = new Map(
    (ctx.clusterManifests as any[]).filter((m) => m.kind === 'StorageClass').map((sc) => [sc.metadata.name, sc.volumeBindingMode ?? 'Immediate']),
  );
  const templates = podTemplates(ctx.manifests);
  const out: Finding[] = [];
  for (const claim of (ctx.manifests as any[]).filter((m) => m.kind === 'PersistentVolumeClaim')) {
    const name = claim.metadata.name;
    const sc = claim.spec?.storageClassName;
    const mode = binding.get(sc);
    if (mode === undefined || mode === 'Immediate') continue; // a missing class is reference-integrity's finding
    const users = templates.filter((t) => (t.spec.volumes ?? []).some((v: any) => v.persistentVolumeClaim?.claimName === name));
    if (users.some((t) => ALWAYS_RUNNING.includes(t.kind))) continue;
    out.push({
      resource: `PersistentVolumeClaim/${name}`,
      message:
        `storage class '${sc}' binds ${mode} and only ${users.map((u) => u.owner).join(', ') || 'nothing'} mounts it: ` +
        'the claim stays Pending (Argo CD: Progressing) until that first pod; use a class with volumeBindingMode Immediate',
    });
  }
  return out;
}

const rule: Rule = {
  id: 'first-sync-health',
  field: 'backup.storageClass',
  allowed: 'a storage class that binds Immediately for a claim only a CronJob mounts',
  description:
    'every standalone PersistentVolumeClaim binds on a fresh install: its StorageClass binds Immediately or a Deployment/StatefulSet/DaemonSet mounts it (a Pending claim keeps Argo CD Progressing)',
  check,
};
export default rule;
