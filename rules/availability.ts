/**
 * Production keeps serving through a node drain: at least two API replicas, a disruption
 * budget that lets one pod go (so drains do not block) but never all, and replicas spread
 * across nodes. Applies to environments whose `tier` is `production`.
 */
import type { Finding, Rule } from './engine';
import { podTemplates, selects } from '../constructs/lib/workloads';

const MIN_REPLICAS = 2;

const rule: Rule = {
  id: 'availability',
  field: 'api.autoscaling.minReplicas',
  allowed: 'at least 2 API replicas in production, a disruption budget that lets one pod go but never all, and replicas spread across nodes',
  description:
    'Production runs at least 2 API replicas, its PodDisruptionBudget allows at least one voluntary disruption without allowing all, and replicas spread across nodes.',
  check(ctx) {
    if (ctx.env.tier !== 'production') return [];
    const findings: Finding[] = [];
    const name = ctx.chart.api.peer.name;
    const deploy = ctx.manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === name) as any;
    const hpa = ctx.manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && (m as any).spec.scaleTargetRef.name === name) as any;
    const resource = `Deployment/${name}`;
    if (!deploy) return [{ resource, message: 'the API Deployment is missing' }];
    const min = hpa ? (hpa.spec.minReplicas ?? 1) : (deploy.spec.replicas ?? 1);
    if (min < MIN_REPLICAS) {
      findings.push({ resource, message: `runs ${min} replica(s) at minimum (${hpa ? 'HPA minReplicas' : 'replicas'}); production needs >= ${MIN_REPLICAS}` });
    }
    const labels = deploy.spec.template.metadata.labels;
    const pdbs = ctx.manifests.filter((m) => m.kind === 'PodDisruptionBudget' && selects((m as any).spec.selector?.matchLabels, labels)) as any[];
    if (!pdbs.length) findings.push({ resource, message: 'no PodDisruptionBudget selects the API pods' });
    for (const pdb of pdbs) {
      const { maxUnavailable, minAvailable } = pdb.spec;
      let allowed: number;
      if (maxUnavailable !== undefined) {
        allowed = typeof maxUnavailable === 'number' ? maxUnavailable : Math.floor((min * parseInt(maxUnavailable, 10)) / 100);
      } else {
        const keep = typeof minAvailable === 'number' ? minAvailable : Math.ceil((min * parseInt(minAvailable ?? '0', 10)) / 100);
        allowed = min - keep;
      }
      if (allowed < 1) findings.push({ resource: `PodDisruptionBudget/${pdb.metadata.name}`, message: `allows ${allowed} disruption(s) at ${min} replicas; a node drain would block` });
      if (allowed >= min) findings.push({ resource: `PodDisruptionBudget/${pdb.metadata.name}`, message: `allows ${allowed} disruption(s) at ${min} replicas; a drain could take every API pod` });
    }
    const spec = podTemplates([deploy])[0].spec;
    const spread =
      (spec.topologySpreadConstraints ?? []).some((t: any) => t.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector?.matchLabels, labels)) ||
      (spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).some((t: any) => t.topologyKey === 'kubernetes.io/hostname');
    if (!spread) findings.push({ resource, message: 'replicas are not spread across nodes (no hostname topology spread or anti-affinity)' });
    // The spread is one pod per node only when there are nodes to spread over: on one node a
    // drain or a node failure takes every API pod at once.
    else if (ctx.env.cluster.nodes < MIN_REPLICAS) {
      findings.push({ resource, field: 'cluster.nodes', allowed: `at least ${MIN_REPLICAS} nodes in production (the API spreads one pod per node)`, message: `its ${min} replicas spread over ${ctx.env.cluster.nodes} node: losing it takes every API pod` });
    }
    return findings;
  },
};
export default rule;
