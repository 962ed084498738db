/**
 * The four dashboards of the guide's key metrics, as typed code with the Grafana Foundation
 * SDK: API performance, database health, resource utilization, caching; plus backups and
 * recovery (from what the backup pushes) and the cluster state of our namespace (from
 * kube-state-metrics). Every query is an `Expr`, so the metrics each panel reads are known
 * (and tested to exist); where an alert reads the same expression, both use one recording
 * rule (`recordings()`).
 *
 * Queries use fixed windows rather than Grafana's `$__rate_interval`, so each one is plain
 * PromQL that `promtool` and Prometheus can check as it is.
 */
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import type { BackupSource } from './alerts';
import { backupAgeLimitSeconds } from './cluster-alerts';
import { M, recordings } from './catalog';
import { Expr, duration, labels, promql } from './promql';

export interface Query {
  readonly expr: Expr;
  readonly legend: string;
}
export interface PanelSpec {
  readonly title: string;
  readonly kind: 'timeseries' | 'stat';
  /** Grafana unit id (`reqps`, `s`, `percent`, `bytes`). */
  readonly unit: string;
  readonly queries: Query[];
}
export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly rows: Array<{ title: string; panels: PanelSpec[] }>;
}

export interface DashboardContext {
  readonly namespace: string;
  readonly rateWindowSeconds: number;
  /** Uid of the Prometheus datasource. */
  readonly datasourceUid: string;
  /** Backups shown on the backups dashboard. @default - none (no backups dashboard) */
  readonly backups?: readonly BackupSource[];
}

/** The dashboards as data. */
export function dashboardSpecs(ctx: DashboardContext): DashboardSpec[] {
  const ns = labels({ namespace: ctx.namespace });
  const nsC = `{namespace="${ctx.namespace}",container!="",container!="POD"}`;
  const w = duration(ctx.rateWindowSeconds);
  const ts = (title: string, unit: string, ...queries: Query[]): PanelSpec => ({ title, kind: 'timeseries', unit, queries });
  const stat = (title: string, unit: string, ...queries: Query[]): PanelSpec => ({ title, kind: 'stat', unit, queries });
  const q = (expr: Expr, legend = ''): Query => ({ expr, legend });
  const rec = recordings(ctx.namespace);
  const hitRate = promql`sum(rate(${M.redisHits}${ns}[${w}])) / (sum(rate(${M.redisHits}${ns}[${w}])) + sum(rate(${M.redisMisses}${ns}[${w}]))) * 100`;

  return [
    {
      uid: 'nextgen-api',
      title: 'NextGen / API performance',
      rows: [
        {
          title: 'Traffic',
          panels: [
            ts('Request rate by status', 'reqps', q(promql`sum by (status) (rate(${M.httpRequests}${ns}[${w}]))`, '{{status}}')),
            ts('5xx error rate', 'percent', q(promql`sum(rate(${M.httpRequests}{namespace="${ctx.namespace}",status=~"5.."}[${w}])) / sum(rate(${M.httpRequests}${ns}[${w}])) * 100`, '5xx %')),
          ],
        },
        {
          title: 'Latency',
          panels: [0.5, 0.9, 0.99].map((quantile) =>
            ts(`p${quantile * 100} latency`, 's', q(promql`histogram_quantile(${quantile}, sum by (le) (rate(${M.httpDurationBucket}${ns}[${w}])))`, `p${quantile * 100}`)),
          ),
        },
      ],
    },
    {
      uid: 'nextgen-database',
      title: 'NextGen / Database health',
      rows: [
        {
          title: 'Availability and connections',
          panels: [
            stat('PostgreSQL up', 'none', q(promql`min(${M.pgUp}${ns})`)),
            ts('Connections used', 'percent', q(promql`sum(${M.pgBackends}${ns}) / max(${M.pgMaxConnections}${ns}) * 100`, 'used %')),
            ts('Connections by state', 'short', q(promql`sum by (state) (${M.pgActivityCount}${ns})`, '{{state}}')),
          ],
        },
        {
          title: 'Queries',
          panels: [
            ts('Oldest active transaction', 's', q(promql`max by (datname) (${M.pgMaxTxDuration}{namespace="${ctx.namespace}",state="active"})`, '{{datname}}')),
            ts('Transactions per second', 'ops', q(promql`sum(rate(${M.pgXactCommit}${ns}[${w}]))`, 'commit'), q(promql`sum(rate(${M.pgXactRollback}${ns}[${w}]))`, 'rollback')),
            ts('Buffer cache hit rate', 'percent', q(promql`sum(rate(${M.pgBlksHit}${ns}[${w}])) / (sum(rate(${M.pgBlksHit}${ns}[${w}])) + sum(rate(${M.pgBlksRead}${ns}[${w}]))) * 100`, 'hit %')),
            ts('Deadlocks', 'short', q(promql`sum(increase(${M.pgDeadlocks}${ns}[${w}]))`, 'deadlocks')),
            ts('Database size', 'bytes', q(promql`sum by (datname) (${M.pgDatabaseSize}${ns})`, '{{datname}}')),
            ts('Replication lag (standby, while WAL waits)', 's', q(promql`max by (instance) (${M.pgRecoveryLag}${ns})`, '{{instance}}')),
            ts('WAL retained by replication slots', 'bytes', q(promql`max by (slot_name) (${M.pgSlotRetainedBytes}${ns})`, '{{slot_name}}')),
          ],
        },
      ],
    },
    {
      uid: 'nextgen-resources',
      title: 'NextGen / Resource utilization',
      rows: [
        {
          title: 'Containers',
          panels: [
            ts('CPU (cores)', 'short', q(promql`sum by (pod, container) (rate(${M.cpuUsage}${nsC}[${w}]))`, '{{pod}}/{{container}}')),
            ts('CPU % of limit', 'percent', q(promql`sum by (pod, container) (rate(${M.cpuUsage}${nsC}[${w}])) / sum by (pod, container) (${M.cpuQuota}${nsC} / ${M.cpuPeriod}${nsC}) * 100`, '{{pod}}/{{container}}')),
            ts('Memory working set', 'bytes', q(promql`sum by (pod, container) (${M.memoryWorkingSet}${nsC})`, '{{pod}}/{{container}}')),
            ts('Memory % of limit', 'percent', q(promql`sum by (pod, container) (${M.memoryWorkingSet}${nsC}) / sum by (pod, container) (${M.memoryLimit}${nsC} > 0) * 100`, '{{pod}}/{{container}}')),
          ],
        },
        {
          title: 'Volumes',
          panels: [
            ts('Free space per volume', 'percent', q(promql`${M.volumeAvailable}${ns} / ${M.volumeCapacity}${ns} * 100`, '{{persistentvolumeclaim}}')),
            ts('Scrape targets up', 'short', q(promql`sum by (job) (${M.up}${ns})`, '{{job}}')),
          ],
        },
      ],
    },
    {
      uid: 'nextgen-cache',
      title: 'NextGen / Caching',
      rows: [
        {
          title: 'Redis',
          panels: [
            stat('Redis up', 'none', q(promql`min(${M.redisUp}${ns})`)),
            ts('Cache hit rate', 'percent', q(hitRate, 'hit %')),
            ts('Memory used vs maxmemory', 'bytes', q(promql`sum(${M.redisMemoryUsed}${ns})`, 'used'), q(promql`sum(${M.redisMemoryMax}${ns})`, 'maxmemory')),
            ts('Clients', 'short', q(promql`sum(${M.redisClients}${ns})`, 'clients')),
            ts('Evicted keys', 'short', q(promql`sum(increase(${M.redisEvicted}${ns}[${w}]))`, 'evicted')),
          ],
        },
      ],
    },
    ...backupDashboards(ctx, rec),
    {
      uid: 'nextgen-cluster',
      title: 'NextGen / Cluster state',
      rows: [
        {
          title: 'Pods',
          panels: [
            stat('Containers crash looping', 'none', q(promql`sum(${M.ksmPodWaitingReason}{namespace="${ctx.namespace}",reason="CrashLoopBackOff"}) or vector(0)`)),
            ts('Pods by phase', 'short', q(promql`sum by (phase) (${M.ksmPodPhase}${ns})`, '{{phase}}')),
            ts('Container restarts', 'short', q(promql`sum by (pod, container) (increase(${M.ksmPodRestarts}${ns}[${w}]))`, '{{pod}}/{{container}}')),
          ],
        },
        {
          title: 'Workloads',
          panels: [
            ts(
              'Deployment replicas: available / desired',
              'short',
              q(promql`max by (deployment) (${M.ksmDeploymentAvailable}${ns})`, '{{deployment}} available'),
              q(promql`max by (deployment) (${M.ksmDeploymentReplicas}${ns})`, '{{deployment}} desired'),
            ),
            ts(
              'StatefulSet replicas: ready / desired',
              'short',
              q(promql`max by (statefulset) (${M.ksmStatefulSetReady}${ns})`, '{{statefulset}} ready'),
              q(promql`max by (statefulset) (${M.ksmStatefulSetReplicas}${ns})`, '{{statefulset}} desired'),
            ),
            ts(
              'Autoscaler: current / max replicas',
              'short',
              q(promql`max by (horizontalpodautoscaler) (${M.ksmHpaCurrent}${ns})`, '{{horizontalpodautoscaler}} current'),
              q(promql`max by (horizontalpodautoscaler) (${M.ksmHpaMax}${ns})`, '{{horizontalpodautoscaler}} max'),
            ),
            stat('Failed Jobs', 'none', q(promql`sum(${M.ksmJobFailed}{namespace="${ctx.namespace}",condition="true"}) or vector(0)`)),
          ],
        },
        {
          title: 'Quota and volumes',
          panels: [
            ts('Quota used per resource', 'percent', q(promql`${rec.quotaUsedRatio}${ns} * 100`, '{{resource}}')),
            ts('Volume free space, 24 h ahead (linear, last 6 h)', 'bytes', q(promql`predict_linear(${M.volumeAvailable}${ns}[6h], 86400)`, '{{persistentvolumeclaim}}')),
          ],
        },
      ],
    },
  ];
}

/** One dashboard for the backups: freshness against the RPO, duration, size, failures. */
function backupDashboards(ctx: DashboardContext, rec: ReturnType<typeof recordings>): DashboardSpec[] {
  const backups = ctx.backups ?? [];
  if (!backups.length) return [];
  const ns = ctx.namespace;
  const ts = (title: string, unit: string, ...queries: Query[]): PanelSpec => ({ title, kind: 'timeseries', unit, queries });
  const stat = (title: string, unit: string, ...queries: Query[]): PanelSpec => ({ title, kind: 'stat', unit, queries });
  const q = (expr: Expr, legend = ''): Query => ({ expr, legend });
  return [
    {
      uid: 'nextgen-backups',
      title: 'NextGen / Backups and recovery',
      rows: backups.map((b) => {
        const sel = `{namespace="${ns}",job="${b.job}"}`;
        return {
          title: `${b.job} (${b.title}, late after ${duration(backupAgeLimitSeconds(b))})`,
          panels: [
            stat('Last success, age', 's', q(promql`${rec.backupAge}${sel}`)),
            stat('Headroom before late', 's', q(promql`${backupAgeLimitSeconds(b)} - ${rec.backupAge}${sel}`)),
            ts('Backup age vs its limit', 's', q(promql`${rec.backupAge}${sel}`, 'age'), q(promql`${rec.backupAge}${sel} * 0 + ${backupAgeLimitSeconds(b)}`, 'limit')),
            ts('Duration (dump start to upload end)', 's', q(promql`${M.backupDuration}${sel}`, 'duration')),
            ts('Size', 'bytes', q(promql`${M.backupSize}${sel}`, 'size')),
            stat(
              'Failed Jobs kept',
              'none',
              q(
                promql`count(${M.ksmJobFailed}{namespace="${ns}",condition="true"} == 1 and on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ns}",owner_kind="CronJob",owner_name="${b.job}"}) or vector(0)`,
              ),
            ),
            stat('CronJob suspended', 'none', q(promql`max(${M.ksmCronJobSuspend}{namespace="${ns}",cronjob="${b.job}"})`)),
          ],
        };
      }),
    },
  ];
}

/** Build one dashboard's JSON model with the SDK. */
export function buildDashboard(spec: DashboardSpec, datasourceUid: string): Dashboard {
  const ds = { type: 'prometheus', uid: datasourceUid };
  const b = new DashboardBuilder(spec.title).uid(spec.uid).tags(['nextgen', 'generated']).refresh('1m').time({ from: 'now-6h', to: 'now' }).timezone('utc').readonly();
  for (const row of spec.rows) {
    b.withRow(new RowBuilder(row.title));
    for (const p of row.panels) {
      const panel = p.kind === 'stat' ? new StatPanel() : new TimeseriesPanel();
      panel.title(p.title).unit(p.unit).datasource(ds).height(8).span(p.kind === 'stat' ? 6 : 12);
      p.queries.forEach((query, i) =>
        panel.withTarget(new DataqueryBuilder().datasource(ds).expr(query.expr.text).legendFormat(query.legend || '__auto').refId(String.fromCharCode(65 + i))),
      );
      b.withPanel(panel);
    }
  }
  return b.build();
}

/** Every query of every dashboard, for tests. */
export function dashboardQueries(specs: DashboardSpec[]): Array<{ dashboard: string; panel: string; expr: Expr }> {
  return specs.flatMap((d) => d.rows.flatMap((r) => r.panels.flatMap((p) => p.queries.map((q) => ({ dashboard: d.uid, panel: p.title, expr: q.expr })))));
}
