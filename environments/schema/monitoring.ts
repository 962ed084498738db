/** Monitoring section: Prometheus, Alertmanager, Grafana and alert thresholds. */
import { z } from 'zod';
import { catalogImage } from '../shared/versions';
import { dnsLabel, emailAddress, emailList, hostPort, image, labelKey, labelValue, percent, positiveInt, resources, res, volume } from './common';

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
    /**
     * The hit-rate alert needs at least this many lookups per second (over the rate window):
     * below it, a few misses on a quiet night are noise, not a cold cache. @default 1
     */
    redisMinLookupsPerSecond: z.number().nonnegative().default(1),
    /** Alert when Redis uses more than this percent of maxmemory. @default 90 */
    redisMemoryPercent: percent.default(90),
    /** How long a condition must hold before an alert fires. @default 5 */
    forMinutes: positiveInt.default(5),
    /** Alert when a ResourceQuota's `used` exceeds this percent of `hard` for any resource. @default 90 */
    quotaPercent: percent.default(90),
    /** Alert when an HPA has run at its maximum replicas for this long (too small a maximum). @default 30 */
    hpaAtMaxMinutes: positiveInt.default(30),
    /** Alert when a volume's free space, extrapolated from the last 6 hours, reaches zero within this many hours. @default 24 */
    volumeFullWithinHours: positiveInt.default(24),
    /** Alert when a cert-manager certificate expires within this many days. @default 14 */
    certificateExpiryDays: positiveInt.default(14),
  })
  .prefault({});
export type Thresholds = z.infer<typeof thresholds>;

/** A Service of a cluster add-on in another namespace. */
const addonService = z.strictObject({
  namespace: dnsLabel,
  service: dnsLabel,
  port: positiveInt.max(65535),
});

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
        /** @default - the version catalog's image (versions.json) */
        image: image.default(catalogImage('prometheus')),
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
        /** @default - the version catalog's image (versions.json) */
        image: image.default(catalogImage('alertmanager')),
        /** Page critical alerts through PagerDuty. @default false */
        pagerduty: z.boolean().default(false),
        /** Post alerts to Slack. @default true */
        slack: z.boolean().default(true),
        /** @default #nextgen-alerts */
        slackChannel: z.string().regex(/^#[a-z0-9_-]{1,80}$/, { message: 'a Slack channel such as #nextgen-alerts (lower-case, at most 80 characters)' }).default('#nextgen-alerts'),
        /** @default requests 50m/64Mi, limits 200m/256Mi */
        resources: resources.default(res(50, 64, 200, 256)),
        /** Volume for silences and the notification log (`--storage.path`), so both survive a restart. @default standard, 1 GiB */
        storage: volume.default({ storageClass: 'standard', sizeGiB: 1 }),
        /**
         * Also send alerts by e-mail. The SMTP password is key `smtp-password` of Secret
         * `alertmanager-receivers`; the rest is not secret and lives here.
         * @default - no e-mail receiver
         */
        email: z
          .strictObject({
            /** Recipient address(es), comma-separated as Alertmanager accepts them. @default - the environment's `opsEmail` */
            to: emailList.optional(),
            /** Sender address. */
            from: emailAddress,
            /** SMTP server `host:port` (587 with STARTTLS is the usual submission port). */
            smarthost: hostPort,
            /** SMTP login. @default - the `from` address */
            authUsername: z.string().min(1).optional(),
            /** Only alerts of these severities are e-mailed. @default ['critical', 'warning'] */
            severities: z.array(z.enum(['critical', 'warning'])).min(1).default(['critical', 'warning']),
          })
          .optional(),
      })
      .prefault({}),
    /**
     * kube-state-metrics in standalone mode: cluster-state metrics (pods, deployments, jobs,
     * quotas...) of this namespace only. In operator mode the cluster's own kube-state-metrics
     * is used instead (see docs/alerts.md for the labels it must keep).
     */
    kubeStateMetrics: z
      .strictObject({
        /** @default - the version catalog's image (versions.json) */
        image: image.default(catalogImage('kubeStateMetrics')),
        /** @default requests 10m/64Mi, limits 100m/128Mi */
        resources: resources.default(res(10, 64, 100, 128)),
      })
      .prefault({}),
    /**
     * Prometheus Pushgateway: backup Jobs push their last success time, duration and size here
     * (Jobs end before a scrape could see them). Deployed in both modes.
     */
    pushgateway: z
      .strictObject({
        /** @default - the version catalog's image (versions.json) */
        image: image.default(catalogImage('pushgateway')),
        /** @default requests 10m/32Mi, limits 100m/64Mi */
        resources: resources.default(res(10, 32, 100, 64)),
        /** Volume for `--persistence.file`, so the last success survives a restart. @default standard, 1 GiB */
        storage: volume.default({ storageClass: 'standard', sizeGiB: 1 }),
      })
      .prefault({}),
    /**
     * Metrics endpoints of cluster add-ons that standalone Prometheus scrapes for the
     * certificate-expiry and ExternalSecret alerts (the Services their Helm charts create).
     */
    clusterAddons: z
      .strictObject({
        /** cert-manager controller metrics. @default cert-manager/cert-manager:9402 */
        certManager: addonService.default({ namespace: 'cert-manager', service: 'cert-manager', port: 9402 }),
        /** External Secrets Operator metrics. @default external-secrets/external-secrets-metrics:8080 */
        externalSecrets: addonService.default({ namespace: 'external-secrets', service: 'external-secrets-metrics', port: 8080 }),
      })
      .prefault({}),
    grafana: z
      .strictObject({
        /** @default - the version catalog's image (versions.json) */
        image: image.default(catalogImage('grafana')),
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
    traffic: z
      .strictObject({
        /**
         * The traffic assumption behind `NextgenApiRequestRateLow`: when real users keep the
         * request rate above `thresholds.minRequestsPerSecond`. `always`: less is an outage
         * (a page, at any hour). `{ from, to }` (UTC hours, `to` exclusive, may wrap past
         * midnight): quiet nights are normal, so less is a ticket (warning), and only inside
         * those hours. `never`: idle is normal (development, pre-launch): no alert.
         * @default never
         */
        busyHoursUtc: z
          .union([z.literal('always'), z.literal('never'), z.strictObject({ from: z.number().int().min(0).max(23), to: z.number().int().min(0).max(24) })], {
            error: '"always", "never" or { from, to }: whole UTC hours, from 0 to 23 and to 0 to 24',
          })
          .default('never'),
      })
      .prefault({}),
    /**
     * Where the repository is browsable: each alert's `runbook_url` is its section of the shipped
     * `docs/alerts.md` under it (`<base>/docs/alerts.md#backuptooold`).
     * @default https://runbooks.nextgen.example.com
     */
    runbookBaseUrl: z.url({ protocol: /^https$/ }).default('https://runbooks.nextgen.example.com'),
  })
  .prefault({});
export type MonitoringConfig = z.infer<typeof monitoring>;
