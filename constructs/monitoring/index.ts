/**
 * Monitoring: Prometheus, Alertmanager, Grafana, kube-state-metrics, the Pushgateway, alert rules, the metric catalog and dashboards (the public face of constructs/monitoring/).
 */
export * from './monitoring';
export * from './prometheus';
export * from './alertmanager';
export * from './grafana';
export * from './kube-state-metrics';
export * from './pushgateway';
export * from './alerts';
export * from './dashboards';
export * from './alert-table';
