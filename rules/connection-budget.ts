/**
 * PostgreSQL and Redis must accept every connection their clients can open at once: the
 * API's pool at maximum scale (HPA max + rollout surge), every other declared client, the
 * exporter sidecars, and PostgreSQL's reserved superuser slots.
 */
import type { Connection, Endpoint } from '../constructs/lib/topology';
import type { Finding, Rule, RuleContext } from './engine';
import { PodTemplate, podTemplates } from '../constructs/lib/workloads';

interface Store {
  label: string;
  endpoint: Endpoint;
  /** The API's per-pod pool, as the API receives it. */
  apiPoolKey: string;
  limit: number;
  limitName: string;
  reserved: number;
  exporterImage: RegExp;
}

function storesOf(ctx: RuleContext): Store[] {
  const chart = ctx.chart as unknown as { postgres?: { target: { endpoint: Endpoint } }; redis?: { target: { endpoint: Endpoint } } };
  const out: Store[] = [];
  if (chart.postgres) {
    out.push({
      label: 'PostgreSQL',
      endpoint: chart.postgres.target.endpoint,
      apiPoolKey: 'DATABASE_CONNECTION_LIMIT',
      limit: ctx.env.postgres.maxConnections,
      limitName: 'max_connections',
      reserved: ctx.env.postgres.superuserReservedConnections,
      exporterImage: /postgres[-_]exporter/,
    });
  }
  if (chart.redis) {
    out.push({
      label: 'Redis',
      endpoint: chart.redis.target.endpoint,
      apiPoolKey: 'REDIS_CONNECTION_LIMIT',
      limit: ctx.env.redis.maxclients,
      limitName: 'maxclients',
      reserved: 0,
      exporterImage: /redis[-_]exporter/,
    });
  }
  return out;
}

const rule: Rule = {
  id: 'connection-budget',
  field: 'postgres.maxConnections',
  allowed: "more than every client's pool can ask for at maximum scale, plus the reserved connections",
  description:
    'At maximum scale, API pool x pods + other clients + exporters + superuser_reserved_connections fit PostgreSQL max_connections; likewise Redis maxclients.',
  check(ctx) {
    const findings: Finding[] = [];
    const pods = podTemplates(ctx.manifests);
    const byName = new Map<string, PodTemplate>(pods.map((p) => [p.name, p]));
    const apiName = ctx.chart.api.peer.name;
    const api = byName.get(apiName);
    const config = ctx.manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === ctx.chart.api.config.name) as any;
    for (const store of storesOf(ctx)) {
      const clients = ctx.chart.topology.connections.filter(
        (c: Connection) => 'peer' in c.to && c.to.peer.name === store.endpoint.peer.name && c.to.port === store.endpoint.port,
      );
      const parts: string[] = [];
      let total = 0;
      for (const c of clients) {
        const pod = byName.get(c.from.name);
        const n = pod?.maxPods ?? 1;
        if (c.from.name === apiName) {
          const pool = Number(config?.data?.[store.apiPoolKey] ?? c.connections ?? 1);
          total += n * pool;
          parts.unshift(`${n} API pods (${api?.maxPodsWhy ?? 'replicas'}) x ${pool} ${store.apiPoolKey}`);
        } else {
          const per = c.connections ?? 1;
          total += n * per;
          parts.push(`${c.from.name} ${n * per}`);
        }
      }
      const owner = byName.get(store.endpoint.peer.name);
      const exporters = (owner?.spec.containers ?? []).filter((k: any) => store.exporterImage.test(k.image ?? '')).length * (owner?.maxPods ?? 1);
      if (exporters) {
        total += exporters;
        parts.push(`exporter ${exporters}`);
      }
      if (store.reserved) {
        total += store.reserved;
        parts.push(`superuser_reserved_connections ${store.reserved}`);
      }
      if (total > store.limit) {
        findings.push({
          resource: owner?.owner ?? store.endpoint.peer.name,
          message: `${store.label} can be asked for ${total} connections (${parts.join(' + ')}) but ${store.limitName} is ${store.limit}; raise ${store.label === 'Redis' ? 'redis.maxclients' : 'postgres.maxConnections'} or lower the pool or api.autoscaling.maxReplicas`,
        });
      }
    }
    return findings;
  },
};
export default rule;
