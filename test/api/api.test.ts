import { ENDPOINTS_PROPAGATION_SECONDS } from '../../constructs/api/api';
import { find, podSpec, realManifests, synth, testEnvironment } from '../support/synth';

describe('API workload', () => {
  const prod = synth();
  const deploy = find(prod, 'Deployment', 'nextgen-api');
  const pod = podSpec(deploy);
  const api = pod.containers.find((c: any) => c.name === 'api');

  test('container port 3001 is named http', () => {
    expect(api.ports).toEqual([{ containerPort: 3001, name: 'http' }]);
  });

  test('readiness hits /api/v3/health on 3001 (it checks the database and Redis: it decides traffic)', () => {
    expect(api.readinessProbe.httpGet).toMatchObject({ path: '/api/v3/health', port: 3001 });
  });

  test.each(['livenessProbe', 'startupProbe'])('%s only asks whether 3001 accepts connections, so a database outage restarts no API pod', (probe) => {
    expect(api[probe]).toMatchObject({ tcpSocket: { port: 3001 } });
    expect(api[probe].httpGet).toBeUndefined();
  });

  test('requests and limits come from the environment', () => {
    expect(api.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  });

  test('restricted security context: non-root, read-only root, no escalation, drop ALL, RuntimeDefault seccomp', () => {
    expect(api.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(api.securityContext.runAsUser).toBeGreaterThan(0);
  });

  test('an emptyDir is mounted at /tmp', () => {
    const mount = api.volumeMounts.find((m: any) => m.mountPath === '/tmp');
    const vol = pod.volumes.find((v: any) => v.name === mount.name);
    expect(vol.emptyDir).toBeDefined();
  });

  test('rolling update never takes a pod away before its replacement is ready', () => {
    expect(deploy.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  test('pods spread across nodes', () => {
    const hostSpread = pod.topologySpreadConstraints.find((t: any) => t.topologyKey === 'kubernetes.io/hostname');
    expect(hostSpread).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
    expect(hostSpread.labelSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
  });

  test('images are pulled with regcred, by version tag while awaiting the first pin, by tag@digest once pinned', () => {
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(api.image).toMatch(/:[0-9]+\.[0-9]+\.[0-9]+$/);
    expect(api.imagePullPolicy).toBe('IfNotPresent');
    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = podSpec(find(synth({ image: { pin: undefined, digest } }), 'Deployment', 'nextgen-api')).containers[0];
    expect(pinned.image).toBe(`registry.example.com/nextgen/nextgen-marketplace:3.4.1@${digest}`);
    expect(pinned.imagePullPolicy).toBe('IfNotPresent');
  });

  test('non-secret settings live in a ConfigMap; ALLOWED_ORIGINS derives from the hosts', () => {
    const cm = find(prod, 'ConfigMap', 'nextgen-api-config');
    expect(api.envFrom).toEqual([{ configMapRef: { name: 'nextgen-api-config' } }]);
    expect(cm.data).toMatchObject({
      ALLOWED_ORIGINS: 'https://app.nextgen.example.com,https://admin.nextgen.example.com,https://vendor.nextgen.example.com',
      JWT_EXPIRATION: '7d',
      LOG_LEVEL: 'info',
      DATABASE_CONNECTION_LIMIT: '20',
      REDIS_CONNECTION_LIMIT: '50',
      SESSION_CACHE_TTL_SECONDS: '3600',
      QUERY_CACHE_TTL_SECONDS: '300',
      API_PORT: '3001',
    });
  });

  test('JWT_SECRET comes from a Secret reference, never a literal', () => {
    const jwt = api.env.find((e: any) => e.name === 'JWT_SECRET');
    expect(jwt.value).toBeUndefined();
    expect(jwt.valueFrom.secretKeyRef).toEqual({ name: 'nextgen-api-jwt', key: 'secret' });
    expect(prod.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  test('Service nextgen-api maps 80 to 3001 and selects the API pods', () => {
    const svc = find(prod, 'Service', 'nextgen-api');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 3001 }]);
    // The Deployment's own selector (the pod template also carries the guide's `app` label).
    expect(svc.spec.selector).toEqual(deploy.spec.selector.matchLabels);
    expect(deploy.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
  });

  test('LoadBalancer Service nextgen-api-lb exists only when asked for', () => {
    expect(find(prod, 'Service', 'nextgen-api-lb').spec.type).toBe('LoadBalancer');
    expect(synth({ api: { loadBalancer: false } }).some((m) => m.metadata.name === 'nextgen-api-lb')).toBe(false);
  });

  test('Ingress: class nginx, cert-manager issuer, TLS for the API host, backend nextgen-api:80', () => {
    const ing = find(prod, 'Ingress', 'nextgen-api');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.metadata.annotations['cert-manager.io/cluster-issuer']).toBe('letsencrypt-prod');
    expect(ing.spec.tls).toEqual([{ hosts: ['api.nextgen.example.com'], secretName: 'nextgen-api-tls' }]);
    expect(ing.spec.rules[0].host).toBe('api.nextgen.example.com');
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'nextgen-api', port: { number: 80 } });
  });

  test('Ingress without TLS has no issuer annotation and no tls block', () => {
    const ing = find(synth({ tier: 'development', tls: { enabled: false } }), 'Ingress', 'nextgen-api');
    expect(ing.spec.tls).toBeUndefined();
    expect(ing.metadata.annotations['cert-manager.io/cluster-issuer']).toBeUndefined();
  });

  test('HPA autoscaling/v2 on CPU and memory; with it on the Deployment sets no replicas', () => {
    const hpa = find(prod, 'HorizontalPodAutoscaler', 'nextgen-api');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 6, scaleTargetRef: { kind: 'Deployment', name: 'nextgen-api' } });
    expect(hpa.spec.metrics.map((m: any) => m.resource.name).sort()).toEqual(['cpu', 'memory']);
    expect(deploy.spec.replicas).toBeUndefined();
  });

  test('with autoscaling off the Deployment sets replicas and there is no HPA', () => {
    const off = synth({ api: { autoscaling: { enabled: false }, replicas: 4 } });
    expect(find(off, 'Deployment', 'nextgen-api').spec.replicas).toBe(4);
    expect(off.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  test('PodDisruptionBudget selects the API pods and allows one voluntary disruption', () => {
    const pdb = find(prod, 'PodDisruptionBudget', 'nextgen-api');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
  });

  test('every object carries the recommended labels', () => {
    for (const m of prod) {
      expect(m.metadata.labels).toMatchObject({
        'app.kubernetes.io/part-of': 'nextgen-marketplace',
        'app.kubernetes.io/managed-by': 'cdk8s',
        'app.kubernetes.io/instance': 'nextgen-test',
      });
      expect(m.metadata.labels?.['app.kubernetes.io/name']).toBeTruthy();
      expect(m.metadata.labels?.['app.kubernetes.io/component']).toBeTruthy();
    }
  });

  test('mutable tags are always re-pulled', () => {
    const dev = synth({ tier: 'development', image: { digest: undefined, tag: 'latest' } });
    expect(podSpec(find(dev, 'Deployment', 'nextgen-api')).containers[0].imagePullPolicy).toBe('Always');
  });
});

describe('liveness is not readiness, in every container of every environment', () => {
  // Readiness may check dependencies (database, cache); liveness restarts the container, so it
  // must not fail for a reason a restart cannot fix. A liveness probe identical to the
  // readiness probe turns every dependency outage into a restart of every pod.
  const byFolder = realManifests();
  const handler = (p: any) => JSON.stringify({ exec: p.exec, httpGet: p.httpGet, tcpSocket: p.tcpSocket, grpc: p.grpc });
  test.each([...byFolder.keys()])('%s', (folder) => {
    const same: string[] = [];
    for (const m of byFolder.get(folder)!.filter((x: any) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(x.kind))) {
      for (const c of podSpec(m).containers) {
        if (c.livenessProbe && c.readinessProbe && handler(c.livenessProbe) === handler(c.readinessProbe)) same.push(`${m.kind}/${m.metadata.name} ${c.name}: ${handler(c.livenessProbe)}`);
      }
    }
    expect(same).toEqual([]);
  });
});

describe('graceful shutdown: no request reaches a pod that has stopped serving', () => {
  const deploy = find(synth(), 'Deployment', 'nextgen-api');
  const pod = podSpec(deploy);
  const api = pod.containers.find((c: any) => c.name === 'api');

  test('preStop sleeps longer than the endpoints propagation, so SIGTERM comes after the endpoint is gone', () => {
    const command: string[] = api.lifecycle?.preStop?.exec?.command ?? [];
    expect(command[0]).toBe('sleep');
    expect(Number(command[1])).toBeGreaterThan(ENDPOINTS_PROPAGATION_SECONDS);
  });

  test('the grace period covers the preStop delay plus the drain', () => {
    const delay = Number(api.lifecycle.preStop.exec.command[1]);
    expect(pod.terminationGracePeriodSeconds).toBe(delay + 30);
    const custom = podSpec(find(synth({ api: { shutdown: { preStopSeconds: 20, drainSeconds: 40 } } }), 'Deployment', 'nextgen-api'));
    expect(custom.containers[0].lifecycle.preStop.exec.command).toEqual(['sleep', '20']);
    expect(custom.terminationGracePeriodSeconds).toBe(60);
  });

  test('a preStop delay not longer than the propagation is refused by the schema', () => {
    expect(() => testEnvironment({ api: { shutdown: { preStopSeconds: ENDPOINTS_PROPAGATION_SECONDS } } })).toThrow(/preStopSeconds/);
    expect(() => testEnvironment({ api: { shutdown: { preStopSeconds: ENDPOINTS_PROPAGATION_SECONDS + 1 } } })).not.toThrow();
  });
});
