/**
 * The Prometheus configuration file, derived from the chart's `Topology`: one scrape job per
 * declared `MetricsEndpoint` (pods found through the Kubernetes API, kept by their selector
 * labels and container port name), plus kubelet and cAdvisor for container and volume
 * metrics. Nothing here lists workloads by hand.
 *
 * @see https://prometheus.io/docs/prometheus/latest/configuration/configuration/
 */
import type { MetricsEndpoint } from '../lib/topology';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ScrapeConfigOptions {
  readonly namespace: string;
  readonly endpoints: readonly MetricsEndpoint[];
  readonly scrapeIntervalSeconds: number;
  /** Labels on every series and alert (`environment`). */
  readonly externalLabels: Record<string, string>;
  /** Where rule files are mounted (a glob is appended). */
  readonly rulesDir: string;
  /** `host:port` of Alertmanager. @default - no alerting section */
  readonly alertmanager?: string;
  /** Prometheus's own listen port, for the self-scrape job. */
  readonly selfPort: number;
  /**
   * Cluster add-ons' metrics Services in other namespaces (cert-manager, External Secrets),
   * scraped by address with `honor_labels`: their series carry the `namespace` of the
   * Certificate or ExternalSecret they describe, which must not be overwritten.
   * @default - none
   */
  readonly addons?: ReadonlyArray<{ readonly job: string; readonly address: string }>;
}

/** `__meta_kubernetes_pod_label_<name>` as Prometheus sanitizes it. */
export function podLabelMeta(label: string): string {
  return `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One scrape job for a workload's metrics port. */
export function podScrapeJob(namespace: string, e: MetricsEndpoint): Record<string, unknown> {
  const keys = Object.keys(e.peer.selector).sort();
  return {
    job_name: e.job,
    ...(e.honorLabels ? { honor_labels: true } : {}),
    metrics_path: e.path ?? '/metrics',
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
    relabel_configs: [
      {
        action: 'keep',
        source_labels: keys.map(podLabelMeta),
        separator: ';',
        regex: keys.map((k) => escapeRegex(e.peer.selector[k])).join(';'),
      },
      { action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: escapeRegex(e.portName) },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
    ],
  };
}

/** kubelet over HTTPS on every node, with our ServiceAccount token; only our namespace is kept. */
function kubeletJob(namespace: string, job: string, path: string): Record<string, unknown> {
  return {
    job_name: job,
    scheme: 'https',
    metrics_path: path,
    authorization: { credentials_file: `${SA_DIR}/token` },
    // Kubelet serving certificates are self-signed on most clusters (no serverTLSBootstrap),
    // so they cannot be verified against the cluster CA; kube-prometheus does the same.
    tls_config: { ca_file: `${SA_DIR}/ca.crt`, insecure_skip_verify: true },
    kubernetes_sd_configs: [{ role: 'node' }],
    relabel_configs: [{ source_labels: ['__meta_kubernetes_node_name'], target_label: 'node' }],
    // The kubelet reports every pod on the node; keep only this environment's.
    metric_relabel_configs: [{ action: 'keep', source_labels: ['namespace'], regex: escapeRegex(namespace) }],
  };
}

export const KUBELET_JOBS = { cadvisor: 'kubelet-cadvisor', kubelet: 'kubelet' } as const;

/** The whole `prometheus.yml` as an object. */
export function prometheusConfig(o: ScrapeConfigOptions): Record<string, unknown> {
  const jobs = new Set<string>();
  for (const e of o.endpoints) {
    if (jobs.has(e.job)) throw new Error(`two metrics endpoints share the scrape job name '${e.job}'`);
    jobs.add(e.job);
  }
  return {
    global: {
      scrape_interval: `${o.scrapeIntervalSeconds}s`,
      evaluation_interval: `${o.scrapeIntervalSeconds}s`,
      external_labels: o.externalLabels,
    },
    rule_files: [`${o.rulesDir}/*.yaml`],
    ...(o.alertmanager ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [o.alertmanager] }] }] } } : {}),
    scrape_configs: [
      {
        job_name: 'prometheus',
        static_configs: [{ targets: [`localhost:${o.selfPort}`], labels: { namespace: o.namespace } }],
      },
      ...[...o.endpoints].sort((a, b) => a.job.localeCompare(b.job)).map((e) => podScrapeJob(o.namespace, e)),
      ...(o.addons ?? []).map((a) => ({
        job_name: a.job,
        honor_labels: true,
        // `namespace` only where the add-on's series lack one (and on `up`, for the target-down alert).
        static_configs: [{ targets: [a.address], labels: { namespace: o.namespace } }],
        // The add-on reports on every namespace; keep this environment's objects.
        metric_relabel_configs: [{ action: 'keep', source_labels: ['namespace'], regex: escapeRegex(o.namespace) }],
      })),
      kubeletJob(o.namespace, KUBELET_JOBS.cadvisor, '/metrics/cadvisor'),
      kubeletJob(o.namespace, KUBELET_JOBS.kubelet, '/metrics'),
    ],
  };
}
