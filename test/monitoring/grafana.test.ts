/**
 * Grafana: credentials only by Secret reference, provisioning that points at our Prometheus,
 * dashboards as valid Grafana JSON. (Alertmanager: test/alertmanager.test.ts.)
 */
import { buildDashboard, dashboardQueries, dashboardSpecs } from '../../constructs/monitoring/dashboards';
import { find, parseYaml, podSpec, secretFileOf, synth, testEnvironment } from '../support/synth';

describe('Grafana', () => {
  const prod = synth();
  const deploy = find(prod, 'Deployment', 'grafana');
  const pod = podSpec(deploy);
  const c = pod.containers[0];
  const env = (name: string) => c.env.find((e: any) => e.name === name);

  test('readiness asks /api/health (which checks its database); startup and liveness only that 3000 accepts connections', () => {
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/api/health', port: 3000 });
    for (const p of [c.livenessProbe, c.startupProbe]) expect(p).toMatchObject({ tcpSocket: { port: 3000 } });
  });

  test('admin user and password come from Secret grafana-admin, never literals (in every environment)', () => {
    for (const m of [prod, synth({ tier: 'development', image: { digest: undefined, tag: 'latest' } })]) {
      const container = podSpec(find(m, 'Deployment', 'grafana')).containers[0];
      const get = (n: string) => container.env.find((e: any) => e.name === n);
      expect(get('GF_SECURITY_ADMIN_USER')).toEqual({ name: 'GF_SECURITY_ADMIN_USER', valueFrom: { secretKeyRef: { name: 'grafana-admin', key: 'admin-user' } } });
      // The password is a file (GF_SECURITY_ADMIN_PASSWORD__FILE), never in the environment.
      expect(get('GF_SECURITY_ADMIN_PASSWORD')).toBeUndefined();
      expect(secretFileOf(podSpec(find(m, 'Deployment', 'grafana')), container, 'GF_SECURITY_ADMIN_PASSWORD__FILE')).toEqual({ secret: 'grafana-admin', key: 'admin-password' });
    }
    const es = find(prod, 'ExternalSecret', 'grafana-admin');
    expect(es.spec.data.map((d: any) => d.secretKey).sort()).toEqual(['admin-password', 'admin-user']);
    // The default login admin/admin, as a word (the secret file path /run/secrets/grafana-admin/admin-password is fine).
    expect(JSON.stringify(prod)).not.toMatch(/(?<![\w-])admin\/admin(?![\w-])|"admin-password":"/);
  });

  test('runs as uid 472, read-only root, writable data only on an emptyDir (stateless provisioning)', () => {
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 472, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    const data = c.volumeMounts.find((m: any) => m.mountPath === '/var/lib/grafana');
    expect(pod.volumes.find((v: any) => v.name === data.name).emptyDir).toBeDefined();
    expect(env('GF_AUTH_ANONYMOUS_ENABLED').value).toBe('false');
  });

  test('provisions a Prometheus datasource pointing at the prometheus Service', () => {
    const prov = find(prod, 'ConfigMap', 'grafana-provisioning');
    const ds = parseYaml(prov.data['datasources.yaml']).datasources;
    const svc = find(prod, 'Service', 'prometheus');
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ type: 'prometheus', uid: 'prometheus', isDefault: true, url: `http://${svc.metadata.name}:${svc.spec.ports[0].port}` });
    const vol = pod.volumes.find((v: any) => v.configMap?.name === 'grafana-provisioning');
    expect(vol.configMap.items).toEqual(expect.arrayContaining([{ key: 'datasources.yaml', path: 'datasources/prometheus.yaml' }]));
    const providers = parseYaml(prov.data['dashboards.yaml']).providers;
    const dashMount = c.volumeMounts.find((m: any) => pod.volumes.find((v: any) => v.name === m.name)?.configMap?.name === 'grafana-dashboards');
    expect(providers[0].options.path).toBe(dashMount.mountPath);
  });

  test('the guide\'s four dashboards (API, database, resources, caching) plus backups and cluster state', () => {
    const cm = find(prod, 'ConfigMap', 'grafana-dashboards');
    const titles = Object.values(cm.data).map((j: any) => JSON.parse(j).title).sort();
    expect(titles).toEqual([
      'NextGen / API performance',
      'NextGen / Backups and recovery',
      'NextGen / Caching',
      'NextGen / Cluster state',
      'NextGen / Database health',
      'NextGen / Resource utilization',
    ]);
  });

  test('each dashboard is a Grafana dashboard model: uid, schemaVersion, panels with gridPos and Prometheus targets on the provisioned datasource', () => {
    const cm = find(prod, 'ConfigMap', 'grafana-dashboards');
    for (const [file, text] of Object.entries<string>(cm.data)) {
      const d = JSON.parse(text);
      expect(`${d.uid}.json`).toBe(file);
      expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
      const panels = d.panels.filter((p: any) => p.type !== 'row');
      expect(panels.length).toBeGreaterThan(0);
      for (const p of panels) {
        expect(['timeseries', 'stat']).toContain(p.type);
        expect(p.gridPos).toEqual({ x: expect.any(Number), y: expect.any(Number), w: expect.any(Number), h: expect.any(Number) });
        expect(p.targets.length).toBeGreaterThan(0);
        for (const t of p.targets) {
          expect(t.datasource).toEqual({ type: 'prometheus', uid: 'prometheus' });
          expect(t.expr).toMatch(/namespace="nextgen-test"/);
          expect(t.refId).toMatch(/^[A-Z]$/);
        }
      }
    }
  });

  test('every dashboard query knows the metrics it reads', () => {
    const queries = dashboardQueries(dashboardSpecs({ namespace: 'n', rateWindowSeconds: 300, datasourceUid: 'prometheus' }));
    for (const q of queries) {
      expect(q.expr.metrics.size).toBeGreaterThan(0);
      for (const m of q.expr.metrics) expect(q.expr.text).toContain(m.name);
    }
  });

  test('the SDK builds what the ConfigMap ships', () => {
    const spec = dashboardSpecs({ namespace: 'nextgen-test', rateWindowSeconds: 300, datasourceUid: 'prometheus' })[0];
    const shipped = JSON.parse(find(prod, 'ConfigMap', 'grafana-dashboards').data[`${spec.uid}.json`]);
    expect(shipped).toEqual(JSON.parse(JSON.stringify(buildDashboard(spec, 'prometheus'))));
  });

  test('Ingress on hosts.grafana only when asked for, with TLS from the environment', () => {
    const open = synth({ monitoring: { grafana: { ingress: true } }, network: { adminAccess: { sourceRanges: ['203.0.113.0/24'] } } });
    const ing = find(open, 'Ingress', 'grafana');
    const c = podSpec(find(open, 'Deployment', 'grafana')).containers[0];
    const env = (name: string) => c.env.find((e: any) => e.name === name);
    expect(ing.spec.rules[0].host).toBe(testEnvironment().hosts.grafana);
    expect(ing.spec.tls[0].secretName).toBe('grafana-tls');
    expect(ing.metadata.annotations['nginx.ingress.kubernetes.io/limit-rps']).toBe(String(testEnvironment().monitoring.grafana.ingressRateLimitRps));
    expect(env('GF_SERVER_ROOT_URL').value).toBe(`https://${testEnvironment().hosts.grafana}/`);
    expect(synth({ monitoring: { grafana: { ingress: false } } }).some((m) => m.kind === 'Ingress' && m.metadata.name === 'grafana')).toBe(false);
  });

  test('Grafana is an admin UI: its Ingress admits only network.adminAccess, and none is published without it', () => {
    const ranges = find(synth({ monitoring: { grafana: { ingress: true } }, network: { adminAccess: { sourceRanges: ['203.0.113.0/24'] } } }), 'Ingress', 'grafana');
    expect(ranges.metadata.annotations['nginx.ingress.kubernetes.io/whitelist-source-range']).toBe('203.0.113.0/24');
    const auth = find(synth({ monitoring: { grafana: { ingress: true } }, network: { adminAccess: { authUrl: 'https://sso.example.com/oauth2/auth' } } }), 'Ingress', 'grafana');
    expect(auth.metadata.annotations['nginx.ingress.kubernetes.io/auth-url']).toBe('https://sso.example.com/oauth2/auth');
    // Asking for an open Ingress is refused, naming the field.
    expect(() => testEnvironment({ monitoring: { grafana: { ingress: true } } })).toThrow(/monitoring\.grafana\.ingress.*network\.adminAccess/);
    // Prod's data publishes no admin UI.
    expect(prod.some((m) => m.kind === 'Ingress' && ['grafana', 'minio-console'].includes(m.metadata.name))).toBe(false);
  });
});
