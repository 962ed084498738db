/**
 * Everything fits: at maximum scale the sum of pod requests fits the environment's node pool
 * minus its headroom; every container's limits are at least its requests; and a namespace
 * ResourceQuota, when present, admits the maximum scale.
 */
import type { Finding, Rule } from './engine';
import { formatCpu, formatMiB, toMiB, toMillicores } from '../constructs/lib/quantity';
import { allContainers, podResources, podTemplates } from '../constructs/lib/workloads';

const rule: Rule = {
  id: 'capacity',
  field: 'cluster.nodes',
  allowed: "enough nodes for every pod's requests at maximum scale, with the headroom, and limits >= requests",
  description:
    'Requests at maximum scale fit the node pool with its headroom; limits >= requests in every container; the namespace ResourceQuota covers maximum scale.',
  check(ctx) {
    const findings: Finding[] = [];
    const pods = podTemplates(ctx.manifests);
    let cpu = 0;
    let mem = 0;
    let cpuLimit = 0;
    let memLimit = 0;
    for (const p of pods) {
      const r = podResources(p.spec);
      cpu += r.cpuRequestMillis * p.maxPods;
      mem += r.memoryRequestMiB * p.maxPods;
      cpuLimit += r.cpuLimitMillis * p.maxPods;
      memLimit += r.memoryLimitMiB * p.maxPods;
      for (const c of allContainers(p.spec)) {
        const req = c.resources?.requests ?? {};
        const lim = c.resources?.limits ?? {};
        if (req.cpu === undefined || lim.cpu === undefined || req.memory === undefined || lim.memory === undefined) {
          findings.push({ resource: p.owner, message: `container '${c.name}' must set cpu and memory requests and limits` });
          continue;
        }
        if (toMillicores(lim.cpu) < toMillicores(req.cpu)) {
          findings.push({ resource: p.owner, message: `container '${c.name}' cpu limit ${lim.cpu} < request ${req.cpu}` });
        }
        if (toMiB(lim.memory) < toMiB(req.memory)) {
          findings.push({ resource: p.owner, message: `container '${c.name}' memory limit ${lim.memory} < request ${req.memory}` });
        }
      }
    }
    const c = ctx.env.cluster;
    const usable = (1 - c.headroomPercent / 100) * c.nodes;
    const cpuPool = usable * c.nodeCpuMillis;
    const memPool = usable * c.nodeMemoryMiB;
    const pool = `${c.nodes} node(s) x ${formatCpu(c.nodeCpuMillis)}/${formatMiB(c.nodeMemoryMiB)} less ${c.headroomPercent}% headroom`;
    if (cpu > cpuPool) {
      findings.push({ resource: 'cluster', message: `CPU requests at maximum scale are ${formatCpu(cpu)} but ${pool} leaves ${formatCpu(cpuPool)}` });
    }
    if (mem > memPool) {
      findings.push({ resource: 'cluster', message: `memory requests at maximum scale are ${formatMiB(mem)} but ${pool} leaves ${formatMiB(memPool)}` });
    }
    for (const q of ctx.manifests.filter((m) => m.kind === 'ResourceQuota') as any[]) {
      const hard = q.spec?.hard ?? {};
      const checks: Array<[string, number, number, (n: number) => string]> = [
        ['requests.cpu', toMillicores(hard['requests.cpu'] ?? hard.cpu), cpu, formatCpu],
        ['requests.memory', toMiB(hard['requests.memory'] ?? hard.memory), mem, formatMiB],
        ['limits.cpu', toMillicores(hard['limits.cpu']), cpuLimit, formatCpu],
        ['limits.memory', toMiB(hard['limits.memory']), memLimit, formatMiB],
      ];
      for (const [key, quota, need, fmt] of checks) {
        const given = key.startsWith('requests') ? (hard[key] ?? hard[key.split('.')[1]]) : hard[key];
        if (given !== undefined && quota < need) {
          findings.push({ resource: `ResourceQuota/${q.metadata.name}`, field: 'quota.rolloutSurgePercent', allowed: 'a quota that admits maximum scale', message: `${key} is ${fmt(quota)} but maximum scale needs ${fmt(need)}` });
        }
      }
    }
    return findings;
  },
};
export default rule;
