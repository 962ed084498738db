import { appPolicy, bucketScript } from '../../constructs/minio/config';
import { toYaml } from '../../constructs/lib/output';
import { K8S_VERSIONS, kubernetesValidator } from '../support/schema';
import { find, podSpec, synth, synthEnvironments, testEnvironment, findJob, secretFileOf } from '../support/synth';

const { built, byFolder } = synthEnvironments([testEnvironment()]);
const prod = byFolder.get('test')!;
const chart = built.environments[0];
const sts = find(prod, 'StatefulSet', 'minio');
const pod = podSpec(sts);
const server = pod.containers[0];
const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name);

describe('MinIO', () => {
  test('root credentials come from Secret minio-root', () => {
    expect(envOf(server, 'MINIO_ROOT_USER').valueFrom.secretKeyRef).toEqual({ name: 'minio-root', key: 'root-user' });
    // The password is a file (MINIO_ROOT_PASSWORD_FILE), never in the environment.
    expect(envOf(server, 'MINIO_ROOT_PASSWORD')).toBeUndefined();
    expect(secretFileOf(pod, server, 'MINIO_ROOT_PASSWORD_FILE')).toEqual({ secret: 'minio-root', key: 'root-password' });
    expect(chart.secrets.declared.find((s) => s.name === 'minio-root')?.keys).toEqual(['root-password', 'root-user']);
  });

  test('Services: minio on 9000 (S3 API) and minio-console on 9001, both selecting the pods', () => {
    const api = find(prod, 'Service', 'minio');
    const consoleSvc = find(prod, 'Service', 'minio-console');
    expect(api.spec.ports).toEqual([{ name: 'api', port: 9000, targetPort: 9000 }]);
    expect(consoleSvc.spec.ports).toEqual([{ name: 'console', port: 9001, targetPort: 9001 }]);
    for (const s of [api, consoleSvc, find(prod, 'Service', sts.spec.serviceName)]) expect(s.spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(server.ports).toEqual([
      { containerPort: 9000, name: 'api' },
      { containerPort: 9001, name: 'console' },
    ]);
  });

  test('liveness and startup probe /minio/health/live, readiness /minio/health/ready', () => {
    expect(server.livenessProbe.httpGet).toMatchObject({ path: '/minio/health/live', port: 9000 });
    expect(server.startupProbe.httpGet).toMatchObject({ path: '/minio/health/live', port: 9000 });
    expect(server.readinessProbe.httpGet).toMatchObject({ path: '/minio/health/ready', port: 9000 });
  });

  test('data on a claim from the environment storage class, served from the mount', () => {
    const claim = sts.spec.volumeClaimTemplates[0];
    expect(claim.spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '200Gi' } } });
    const mount = server.volumeMounts.find((m: any) => m.name === claim.metadata.name);
    expect(server.command.slice(0, 3)).toEqual(['minio', 'server', mount.mountPath]);
  });

  test('restricted: non-root uid with fsGroup, read-only root (certs and temp in an emptyDir)', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(server.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(server.securityContext.runAsUser).toBeGreaterThan(0);
    const certs = server.command[server.command.indexOf('--certs-dir') + 1];
    const tmp = server.volumeMounts.find((m: any) => certs.startsWith(`${m.mountPath}/`));
    expect(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir).toBeDefined();
  });

  test('Prometheus scrapes /minio/v2/metrics/cluster on 9000 without a token', () => {
    expect(envOf(server, 'MINIO_PROMETHEUS_AUTH_TYPE').value).toBe('public');
    expect(chart.topology.metrics).toContainEqual(expect.objectContaining({ job: 'minio', port: 9000, path: '/minio/v2/metrics/cluster', serviceName: 'minio' }));
  });

  test('stale multipart uploads expire after the environment lifecycle days', () => {
    const m = find(synth({ minio: { lifecycle: { abortIncompleteUploadDays: 3 } } }), 'StatefulSet', 'minio');
    expect(envOf(podSpec(m).containers[0], 'MINIO_API_STALE_UPLOADS_EXPIRY').value).toBe('72h');
  });

  test('bucket Job runs the shipped script with the environment bucket and lifecycle, after MinIO, allowed to reach it', () => {
    const job = findJob(prod, 'minio-bucket');
    const c = podSpec(job).containers[0];
    expect(Object.values(find(prod, 'ConfigMap', 'minio-bucket').data)).toEqual([bucketScript()]);
    expect(envOf(c, 'BUCKET').value).toBe('nextgen-uploads');
    expect(envOf(c, 'NONCURRENT_EXPIRY_DAYS').value).toBe('30');
    expect(envOf(c, 'MINIO_URL').value).toBe('http://minio:9000');
    expect(envOf(c, 'MINIO_SECRET_KEY').valueFrom.secretKeyRef).toEqual({ name: 'minio-root', key: 'root-password' });
    expect(envOf(c, 'APP_SECRET_KEY').valueFrom.secretKeyRef).toEqual({ name: 'minio-app', key: 'secret-key' });
    expect(JSON.parse(envOf(c, 'POLICY_JSON').value).Statement.flatMap((st: any) => st.Resource)).toEqual([
      'arn:aws:s3:::nextgen-uploads',
      'arn:aws:s3:::nextgen-uploads/*',
    ]);
    const wave = (m: any) => Number(m.metadata.annotations['argocd.argoproj.io/sync-wave']);
    expect(wave(job)).toBeGreaterThan(wave(sts));
    expect(podSpec(job).securityContext.runAsNonRoot).toBe(true);
    expect(chart.topology.connections).toContainEqual(expect.objectContaining({ from: chart.minio.bucketJob.peer, to: chart.minio.endpoint }));
    const other = findJob(synth({ minio: { bucket: 'other-uploads' } }), 'minio-bucket');
    expect(envOf(podSpec(other).containers[0], 'BUCKET').value).toBe('other-uploads');
  });

  test('Ingresses for the MINIO_SERVER_URL and MINIO_BROWSER_URL hosts when enabled, with TLS', () => {
    const ing = find(prod, 'Ingress', 'minio');
    expect(ing.spec.rules[0]).toMatchObject({ host: 'minio.nextgen.example.com' });
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'minio', port: { number: 9000 } });
    expect(ing.spec.tls[0].hosts).toEqual(['minio.nextgen.example.com']);
    expect(ing.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-body-size': '1024m',
      'nginx.ingress.kubernetes.io/limit-rps': '100',
    });
    // The console is an admin UI: closed without network.adminAccess (prod's data has none).
    expect(prod.some((m) => m.kind === 'Ingress' && m.metadata.name === 'minio-console')).toBe(false);
    expect(envOf(server, 'MINIO_BROWSER_REDIRECT_URL')).toBeUndefined();
    const open = synth({ network: { adminAccess: { sourceRanges: ['203.0.113.0/24'] } } });
    const con = find(open, 'Ingress', 'minio-console');
    expect(con.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'minio-console', port: { number: 9001 } });
    expect(envOf(podSpec(find(open, 'StatefulSet', 'minio')).containers[0], 'MINIO_BROWSER_REDIRECT_URL').value).toBe('https://minio-console.nextgen.example.com');
  });

  test('the console Ingress admits only the clients network.adminAccess names (ranges and/or external auth)', () => {
    const ranges = find(synth({ network: { adminAccess: { sourceRanges: ['203.0.113.0/24', '198.51.100.7/32'] } } }), 'Ingress', 'minio-console');
    expect(ranges.metadata.annotations['nginx.ingress.kubernetes.io/whitelist-source-range']).toBe('203.0.113.0/24,198.51.100.7/32');
    expect(ranges.metadata.annotations['nginx.ingress.kubernetes.io/auth-url']).toBeUndefined();
    const auth = find(synth({ network: { adminAccess: { authUrl: 'https://sso.example.com/oauth2/auth', authSignin: 'https://sso.example.com/oauth2/start' } } }), 'Ingress', 'minio-console');
    expect(auth.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/auth-url': 'https://sso.example.com/oauth2/auth',
      'nginx.ingress.kubernetes.io/auth-signin': 'https://sso.example.com/oauth2/start',
    });
    expect(auth.metadata.annotations['nginx.ingress.kubernetes.io/whitelist-source-range']).toBeUndefined();
    // The public S3 API is not an admin UI: browsers fetch presigned URLs from anywhere.
    expect(find(synth({ network: { adminAccess: { sourceRanges: ['203.0.113.0/24'] } } }), 'Ingress', 'minio').metadata.annotations['nginx.ingress.kubernetes.io/whitelist-source-range']).toBeUndefined();
  });

  test('the console logs in against the server in its own pod: no MINIO_SERVER_URL on the server (the public URL would be a call out through the load balancer)', () => {
    // With MINIO_SERVER_URL set, the embedded console sends its login to that URL; unset, to
    // 127.0.0.1 in the same pod, which needs no network path at all.
    expect(envOf(server, 'MINIO_SERVER_URL')).toBeUndefined();
    expect(JSON.stringify(server.env)).not.toContain('https://minio.nextgen.example.com');
  });

  test('no Ingress and no public URLs on the server when disabled', () => {
    const off = synth({ minio: { ingress: false } });
    expect(off.filter((m) => m.kind === 'Ingress' && m.metadata.name.startsWith('minio'))).toEqual([]);
    expect(envOf(podSpec(find(off, 'StatefulSet', 'minio')).containers[0], 'MINIO_SERVER_URL')).toBeUndefined();
  });

  test('the API gets endpoint, port, bucket, public URLs and Secret-backed credentials', () => {
    const api = podSpec(find(synth({ tier: 'development', tls: { enabled: false } }), 'Deployment', 'nextgen-api')).containers[0];
    expect(envOf(api, 'MINIO_ENDPOINT').value).toBe(chart.minio.target.serviceName);
    expect(envOf(api, 'MINIO_PORT').value).toBe('9000');
    expect(envOf(api, 'MINIO_BUCKET').value).toBe(chart.minio.target.bucket);
    // The guide's variable names, but the bucket-scoped user: the API never holds root credentials.
    expect(envOf(api, 'MINIO_ROOT_USER').valueFrom.secretKeyRef).toEqual({ name: 'minio-app', key: 'access-key' });
    expect(envOf(api, 'MINIO_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'minio-app', key: 'secret-key' });
    expect(api.env.some((e: any) => e.valueFrom?.secretKeyRef?.name === 'minio-root')).toBe(false);
    expect(envOf(api, 'MINIO_SERVER_URL').value).toBe('http://minio.nextgen.example.com');
    // No console Ingress (no network.adminAccess): no MINIO_BROWSER_URL leading nowhere.
    expect(envOf(api, 'MINIO_BROWSER_URL')).toBeUndefined();
    const open = podSpec(find(synth({ tier: 'development', tls: { enabled: false }, network: { adminAccess: { sourceRanges: ['203.0.113.0/24'] } } }), 'Deployment', 'nextgen-api')).containers[0];
    expect(envOf(open, 'MINIO_BROWSER_URL').value).toBe('http://minio-console.nextgen.example.com');
    const off = podSpec(find(synth({ minio: { ingress: false } }), 'Deployment', 'nextgen-api')).containers[0];
    expect(envOf(off, 'MINIO_SERVER_URL')).toBeUndefined();
    expect(chart.topology.connections).toContainEqual(expect.objectContaining({ from: chart.api.peer, to: chart.minio.endpoint }));
  });

  test('the policy name changes exactly when the policy does', () => {
    expect(appPolicy('nextgen-uploads').name).toBe(appPolicy('nextgen-uploads').name);
    expect(appPolicy('nextgen-uploads').name).not.toBe(appPolicy('other-uploads').name);
    expect(appPolicy('nextgen-uploads').name).toMatch(/^nextgen-app-[0-9a-f]{8}$/);
  });

  test('PodDisruptionBudget for the single replica', () => {
    expect(find(prod, 'PodDisruptionBudget', 'minio').spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: sts.spec.selector.matchLabels } });
  });

  describe.each(K8S_VERSIONS)('strict schema validation against Kubernetes %s', (version) => {
    const validator = kubernetesValidator(version);
    const ours = ['minio', 'minio-bucket'];
    const mine = prod.filter((m) => ours.includes(m.metadata.labels?.['app.kubernetes.io/name'] ?? '') && m.kind !== 'NetworkPolicy');
    test.each(mine.map((m) => [`${m.kind}/${m.metadata.name}`, m]))('%s', (_n, m) => expect(validator.validate(m)).toEqual([]));
  });
});

describe('MinIO YAML', () => {
  test('no environment value is a bare YAML 1.1 boolean word (kubectl would read `off` as false)', () => {
    const text: string = toYaml(sts);
    expect(text).not.toMatch(/value: (on|off|yes|no|y|n)$/im);
  });
});
