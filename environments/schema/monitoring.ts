/** Monitoring section: Prometheus, Alertmanager, Grafana and alert thresholds. */
import { z } from 'zod';
import { image, labelKey, labelValue, percent, positiveInt, resources, res, volume } from './common';

export const thresholds = z
  .strictObject({
    /** Alert when the 5xx share of requests exceeds this percent. @default 5 */
    errorRatePercent: z.number().positive().max(100).default(5),
    /** Alert when p99 latency exceeds this. @default 1.5 */
    p99LatencySeconds: z.number().positive().default(1.5),
    /** Alert when request rate falls below this (API down or cut off). @default 0.1 */
    minRequestsPerSecond: z.number().nonnegative().default(0.1),
    /** Alert when connections exceed this percent of max_connections. @default 80 */
    dbConnectionsPercent: percent.default(80),
    /**
     * Alert when the oldest active transaction (a running query) is older than this:
     * postgres_exporter's `pg_stat_activity_max_tx_duration`, which needs no extension
     * (pg_stat_statements' mean time would need it preloaded). @default 60
     */
    dbActiveQuerySeconds: z.number().positive().default(60),
    /** Alert when replication lag exceeds this. @default 30 */
    replicationLagSeconds: positiveInt.default(30),
    /** Alert when a container uses more than this percent of its CPU limit. @default 90 */
    cpuPercentOfLimit: percent.default(90),
    /** Alert when a container uses more than this percent of its memory limit. @default 90 */
    memoryPercentOfLimit: percent.default(90),
    /** Alert when a volume has less than this percent free. @default 15 */
    diskFreePercent: percent.default(15),
    /** Alert when the Redis hit rate falls below this percent. @default 80 */
    redisHitRatePercent: percent.default(80),
    /** Alert when Redis uses more than this percent of maxmemory. @default 90 */
    redisMemoryPercent: percent.default(90),
    /** How long a condition must hold before an alert fires. @default 5 */
    forMinutes: positiveInt.default(5),
  })
  .prefault({});
export type Thresholds = z.infer<typeof thresholds>;

export const monitoring = z
  .strictObject({
    /**
     * `standalone` runs Prometheus, Alertmanager and Grafana in the namespace; `operator`
     * emits ServiceMonitor/PodMonitor/PrometheusRule for an existing kube-prometheus-stack.
     * @default standalone
     */
    mode: z.enum(['standalone', 'operator']).default('standalone'),
    prometheus: z
      .strictObject({
        /** @default quay.io/prometheus/prometheus:v3.5.0 */
        image: image.default({ registry: 'quay.io', repository: 'prometheus/prometheus', tag: 'v3.5.0' }),
        /** @default 15 */
        retentionDays: positiveInt.default(15),
        /** @default standard, 20 GiB */
        storage: volume.default({ storageClass: 'standard', sizeGiB: 20 }),
        /** @default requests 250m/1024Mi, limits 1000m/2048Mi */
        resources: resources.default(res(250, 1024, 1000, 2048)),
        /** @default 30 */
        scrapeIntervalSeconds: positiveInt.default(30),
      })
      .prefault({}),
    alertmanager: z
      .strictObject({
        /** @default true */
        enabled: z.boolean().default(true),
        /** @default quay.io/prometheus/alertmanager:v0.28.1 */
        image: image.default({ registry: 'quay.io', repository: 'prometheus/alertmanager', tag: 'v0.28.1' }),
        /** Page critical alerts through PagerDuty. @default false */
        pagerduty: z.boolean().default(false),
        /** Post alerts to Slack. @default true */
        slack: z.boolean().default(true),
        /** @default #nextgen-alerts */
        slackChannel: z.string().regex(/^#[a-z0-9_-]{1,80}$/, { message: 'a Slack channel such as #nextgen-alerts (lower-case, at most 80 characters)' }).default('#nextgen-alerts'),
        /** @default requests 50m/64Mi, limits 200m/256Mi */
        resources: resources.default(res(50, 64, 200, 256)),
      })
      .prefault({}),
    grafana: z
      .strictObject({
        /** @default grafana/grafana:12.1.1 */
        image: image.default({ registry: '', repository: 'grafana/grafana', tag: '12.1.1' }),
        /** @default requests 100m/256Mi, limits 500m/512Mi */
        resources: resources.default(res(100, 256, 500, 512)),
        /** Publish `hosts.grafana` through an Ingress. @default false */
        ingress: z.boolean().default(false),
        /** ingress-nginx `limit-rps` per client IP on the Grafana Ingress. @default 20 */
        ingressRateLimitRps: positiveInt.default(20),
      })
      .prefault({}),
    operator: z
      .strictObject({
        /**
         * Labels put on ServiceMonitor, PodMonitor and PrometheusRule objects so the cluster's
         * Prometheus selects them (kube-prometheus-stack selects `release: <helm release>`).
         * @default { release: 'kube-prometheus-stack' }
         */
        selectorLabels: z.record(labelKey, labelValue).default({ release: 'kube-prometheus-stack' }),
      })
      .prefault({}),
    thresholds,
    /** Base URL of the alert runbooks. @default https://runbooks.nextgen.example.com */
    runbookBaseUrl: z.url({ protocol: /^https$/ }).default('https://runbooks.nextgen.example.com'),
  })
  .prefault({});
export type MonitoringConfig = z.infer<typeof monitoring>;
