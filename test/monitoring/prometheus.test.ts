/**
 * Prometheus (standalone mode) and operator mode: storage, retention, RBAC, security, and
 * scrape jobs derived from the chart's Topology rather than a second hand-written list.
 */
import { App } from 'cdk8s';
import { MarketplaceChart } from '../../constructs/marketplace';
import { Topology } from '../../constructs/lib/topology';
import { podLabelMeta } from '../../constructs/monitoring/scrape';
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { K8S_VERSIONS, SCHEMAS, kubernetesValidator } from '../support/schema';
import { find, findAll, parseYaml, podSpec, synth, synthEnvironments, testEnvironment } from '../support/synth';

describe('Prometheus (standalone)', () => {
  const env = testEnvironment();
  const { built, byFolder } = synthEnvironments([env]);
  const prod = byFolder.get(env.name)!;
  const chart = built.environments[0];
  const sts = find(prod, 'StatefulSet', 'prometheus');
  const pod = podSpec(sts);
  const container = pod.containers[0];
  const config = parseYaml(find(prod, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
  const jobs = new Map<string, any>(config.scrape_configs.map((j: any) => [j.job_name, j]));

  test('StatefulSet keeps its TSDB on a PVC sized and classed by the environment', () => {
    expect(sts.spec.volumeClaimTemplates).toEqual([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data' },
        status: { phase: 'Pending' },
        spec: {
          volumeMode: 'Filesystem',
          accessModes: ['ReadWriteOnce'],
          storageClassName: env.monitoring.prometheus.storage.storageClass,
          resources: { requests: { storage: `${env.monitoring.prometheus.storage.sizeGiB}Gi` } },
        },
      },
    ]);
    expect(container.volumeMounts).toContainEqual({ name: 'data', mountPath: '/prometheus' });
    expect(container.args).toContain('--storage.tsdb.path=/prometheus');
  });

  test('retention time comes from the environment; retention size leaves 15% of the volume free', () => {
    expect(container.args).toContain(`--storage.tsdb.retention.time=${env.monitoring.prometheus.retentionDays}d`);
    const small = podSpec(find(synth({ monitoring: { prometheus: { retentionDays: 4, storage: { storageClass: 'standard', sizeGiB: 10 } } } }), 'StatefulSet', 'prometheus')).containers[0];
    expect(small.args).toContain('--storage.tsdb.retention.time=4d');
    expect(small.args).toContain(`--storage.tsdb.retention.size=${Math.floor(10 * 1024 * 0.85)}MB`);
  });

  test('restricted security context with uid 65534 and RuntimeDefault seccomp', () => {
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } });
  });

  test('config and rules are mounted from the ConfigMaps the tests check with promtool', () => {
    const vols = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v.configMap?.name]));
    expect(vols).toMatchObject({ config: 'prometheus-config', rules: 'prometheus-rules' });
    expect(config.rule_files).toEqual(['/etc/prometheus/rules/*.yaml']);
    expect(sts.spec.template.metadata.annotations['nextgen.example.com/config-checksum']).toMatch(/^[0-9a-f]{16}$/);
  });

  test('a config change changes the checksum, so the pod rolls', () => {
    const other = find(synth({ monitoring: { thresholds: { errorRatePercent: 9 } } }), 'StatefulSet', 'prometheus');
    expect(other.spec.template.metadata.annotations['nextgen.example.com/config-checksum']).not.toBe(sts.spec.template.metadata.annotations['nextgen.example.com/config-checksum']);
  });

  test('RBAC is read-only discovery: pods/services/endpoints in the namespace, nodes and nodes/metrics cluster-wide', () => {
    const role = find(prod, 'Role', 'prometheus');
    const allowed = role.rules.flatMap((r: any) => r.resources.map((res: string) => `${res}:${[...r.verbs].sort().join(',')}`)).sort();
    expect(allowed).toEqual(['endpoints:get,list,watch', 'pods:get,list,watch', 'services:get,list,watch']);
    expect(role.rules.every((r: any) => r.apiGroups.length === 1 && r.apiGroups[0] === '')).toBe(true);
    const cr = find(prod, 'ClusterRole', 'nextgen-test-prometheus');
    const granted = cr.rules.flatMap((r: any) => r.resources.map((res: string) => `${res}:${[...r.verbs].sort().join(',')}`)).sort();
    expect(granted).toEqual(['nodes/metrics:get', 'nodes:list,watch']);
    expect(cr.metadata.namespace).toBeUndefined();
    const crb = find(prod, 'ClusterRoleBinding', 'nextgen-test-prometheus');
    expect(crb.subjects).toEqual([expect.objectContaining({ kind: 'ServiceAccount', name: 'prometheus', namespace: 'nextgen-test' })]);
    expect(pod.serviceAccountName).toBe('prometheus');
    expect(JSON.stringify([role, cr])).not.toMatch(/secrets|"\*"/);
  });

  test('one scrape job per metrics endpoint in the Topology, keeping exactly that workload\'s pods and port', () => {
    const endpoints = chart.topology.metrics;
    expect(endpoints.length).toBeGreaterThan(0);
    for (const e of endpoints) {
      const job = jobs.get(e.job);
      expect(job).toBeDefined();
      expect(job.metrics_path).toBe(e.path ?? '/metrics');
      expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: ['nextgen-test'] } }]);
      const [selectorKeep, portKeep] = job.relabel_configs;
      const keys = Object.keys(e.peer.selector).sort();
      expect(selectorKeep.source_labels).toEqual(keys.map(podLabelMeta));
      expect(selectorKeep.regex).toBe(keys.map((k) => e.peer.selector[k].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(';'));
      expect(portKeep).toMatchObject({ action: 'keep', regex: e.portName });
      expect(job.relabel_configs).toContainEqual({ source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' });
    }
    const derived = [...jobs.keys()].filter((j) => !['prometheus', 'kubelet', 'kubelet-cadvisor', 'cert-manager', 'external-secrets'].includes(j));
    expect(derived.sort()).toEqual(endpoints.map((e) => e.job).sort());
  });

  test('the Pushgateway is scraped with honor_labels, so pushed groups keep their own job label', () => {
    expect(jobs.get('pushgateway').honor_labels).toBe(true);
    expect(jobs.get('kube-state-metrics').honor_labels).toBeUndefined();
    expect(jobs.get('postgres').honor_labels).toBeUndefined();
  });

  test('cert-manager and External Secrets metrics are scraped by Service address, keeping only this namespace, with a network path', () => {
    expect(jobs.get('cert-manager')).toEqual({
      job_name: 'cert-manager',
      honor_labels: true,
      static_configs: [{ targets: ['cert-manager.cert-manager.svc:9402'], labels: { namespace: 'nextgen-test' } }],
      metric_relabel_configs: [{ action: 'keep', source_labels: ['namespace'], regex: 'nextgen-test' }],
    });
    expect(jobs.get('external-secrets').static_configs[0].targets).toEqual(['external-secrets-metrics.external-secrets.svc:8080']);
    const np = find(prod, 'NetworkPolicy', 'prometheus');
    const toNs = (ns: string) => np.spec.egress.find((r: any) => r.to?.some((t: any) => t.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === ns));
    expect(toNs('cert-manager').ports).toEqual([{ port: 9402, protocol: 'TCP' }]);
    expect(toNs('external-secrets').ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
  });

  test('without TLS there are no cert-manager certificates to watch: no scrape job, no network path', () => {
    const other = synth({ tier: 'development', tls: { enabled: false } });
    const cfg = parseYaml(find(other, 'ConfigMap', 'prometheus-config').data['prometheus.yml']);
    const names = cfg.scrape_configs.map((j: any) => j.job_name);
    expect(names).toContain('external-secrets');
    expect(names).not.toContain('cert-manager');
    expect(JSON.stringify(find(other, 'NetworkPolicy', 'prometheus'))).not.toMatch(/cert-manager/);
  });

  test('the API, postgres_exporter and redis_exporter are all scraped', () => {
    expect(jobs.get('nextgen-api').metrics_path).toBe('/metrics');
    for (const job of ['postgres', 'redis']) expect(jobs.has(job)).toBe(true);
  });

  test('kubelet and cAdvisor are scraped over HTTPS with the ServiceAccount token, keeping only this namespace', () => {
    for (const [name, path] of [['kubelet-cadvisor', '/metrics/cadvisor'], ['kubelet', '/metrics']]) {
      const job = jobs.get(name);
      expect(job).toMatchObject({ scheme: 'https', metrics_path: path, kubernetes_sd_configs: [{ role: 'node' }] });
      expect(job.authorization.credentials_file).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
      expect(job.metric_relabel_configs).toEqual([{ action: 'keep', source_labels: ['namespace'], regex: 'nextgen-test' }]);
    }
  });

  test('network paths: Prometheus to every metrics port, the kubelet and the API server; Grafana to Prometheus', () => {
    const paths = Topology.of(chart).connections.map((c) => `${c.from.name}->${c.to.peer.name}:${c.to.port}`);
    for (const e of chart.topology.metrics) expect(paths).toContain(`prometheus->${e.peer.name}:${e.port}`);
    expect(paths).toEqual(expect.arrayContaining(['prometheus->kubelet:10250', 'prometheus->kube-apiserver:443', 'prometheus->alertmanager:9093', 'grafana->prometheus:9090']));
  });

  test('a metrics endpoint declared after Monitoring fails the synth instead of going unscraped', () => {
    const app = new App();
    const late = new MarketplaceChart(app, testEnvironment());
    Topology.of(late).addMetrics({ peer: { name: 'late', selector: { a: 'b' } }, port: 1, portName: 'm', job: 'late' });
    const errors = late.node.findAll().flatMap((c) => c.node.validate());
    expect(errors).toContainEqual(expect.stringMatching(/metrics endpoint 'late' was declared after Monitoring was built/));
  });
});

describe('operator mode', () => {
  const env = testEnvironment({ monitoring: { mode: 'operator' } });
  const { built, byFolder } = synthEnvironments([env]);
  const m = byFolder.get(env.name)!;
  const endpoints = built.environments[0].topology.metrics;

  test('emits no Prometheus, Alertmanager or Grafana workloads', () => {
    for (const name of ['prometheus', 'alertmanager', 'grafana']) {
      expect(m.filter((x) => x.metadata.name === name && ['StatefulSet', 'Deployment', 'Service'].includes(x.kind))).toEqual([]);
    }
    expect(m.filter((x) => x.kind === 'ClusterRole')).toEqual([]);
  });

  test('a PodMonitor per metrics endpoint, selecting the same pods and port as standalone mode, labelled for the cluster\'s Prometheus', () => {
    const monitors = findAll(m, 'PodMonitor');
    expect(monitors.map((x) => x.metadata.name).sort()).toEqual(endpoints.map((e) => e.job).sort());
    for (const mon of monitors) {
      const e = endpoints.find((x) => x.job === mon.metadata.name)!;
      expect(mon.metadata.labels.release).toBe('kube-prometheus-stack');
      expect(mon.spec.namespaceSelector).toEqual({ matchNames: ['nextgen-test'] });
      expect(mon.spec.selector.matchLabels).toEqual(e.peer.selector);
      const ep = mon.spec.podMetricsEndpoints[0];
      expect(ep).toMatchObject({ port: e.portName, path: e.path ?? '/metrics' });
      expect(ep.relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: e.job });
    }
  });

  test('each PodMonitor\'s selector matches exactly one workload\'s pod template, which has the named port', () => {
    const templates: any[] = m.filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind));
    for (const mon of findAll(m, 'PodMonitor')) {
      const matching = templates.filter((w) => Object.entries(mon.spec.selector.matchLabels).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v));
      expect(matching).toHaveLength(1);
      const ports = podSpec(matching[0]).containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
      expect(ports).toContain(mon.spec.podMetricsEndpoints[0].port);
    }
  });

  test('PrometheusRule carries the same rules as standalone mode', () => {
    const rule = find(m, 'PrometheusRule', 'nextgen-alerts');
    const standalone = parseYaml(find(synth(), 'ConfigMap', 'prometheus-rules').data['nextgen.rules.yaml']);
    expect(rule.spec.groups).toEqual(standalone.groups);
  });

  test('dashboards ship as a ConfigMap for the stack\'s Grafana sidecar', () => {
    const cm = find(m, 'ConfigMap', 'nextgen-dashboards');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(Object.keys(cm.data).sort()).toEqual([
      'nextgen-api.json',
      'nextgen-backups.json',
      'nextgen-cache.json',
      'nextgen-cluster.json',
      'nextgen-database.json',
      'nextgen-resources.json',
    ]);
  });

  test.each(K8S_VERSIONS.map((v) => [v]))('PodMonitors and the dashboards ConfigMap pass strict schema validation (Kubernetes %s)', (version) => {
    const validator = kubernetesValidator(version);
    const errors = m.filter((x) => ['PodMonitor', 'ConfigMap'].includes(x.kind)).flatMap((x) => validator.validate(x).map((e) => `${x.kind}/${x.metadata.name}: ${e}`));
    expect(errors).toEqual([]);
  });

  test('the PrometheusRule passes strict validation against its CRD schema', () => {
    // The shared validator cannot compile this CRD: its Go regex `^(?i)(abort|warn)?$` is not
    // valid in JavaScript. Spell the case-insensitivity out and validate strictly here.
    const text = fs.readFileSync(path.join(SCHEMAS, 'crds', 'monitoring.coreos.com', 'prometheusrule_v1.json'), 'utf8');
    const schema = JSON.parse(text.replace('^(?i)(abort|warn)?$', '^([Aa][Bb][Oo][Rr][Tt]|[Ww][Aa][Rr][Nn])?$'));
    const strict = (o: any): void => {
      if (!o || typeof o !== 'object') return;
      if (o.properties && o.additionalProperties === undefined && !o['x-kubernetes-preserve-unknown-fields']) o.additionalProperties = false;
      if (o['x-kubernetes-int-or-string']) {
        delete o.type;
        o.anyOf = [{ type: 'integer' }, { type: 'string' }];
      }
      Object.values(o).forEach(strict);
    };
    strict(schema);
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    const rule = find(m, 'PrometheusRule', 'nextgen-alerts');
    expect(validate(rule) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...rule, spec: { ...rule.spec, bogus: 1 } })).toBe(false);
  });

  test('selector labels are environment data', () => {
    const custom = synth({ monitoring: { mode: 'operator', operator: { selectorLabels: { prometheus: 'platform' } } } });
    expect(find(custom, 'PrometheusRule', 'nextgen-alerts').metadata.labels).toMatchObject({ prometheus: 'platform' });
  });
});
