import { catalog } from '../../environments/shared/versions';
import { appRoleSql } from '../../constructs/postgres/config';
import { Postgres } from '../../constructs/postgres/primary';
import { K8S_VERSIONS, kubernetesValidator } from '../support/schema';
import { find, podSpec, realEnvironments, realManifests, synth, synthEnvironments, testEnvironment, findJob, secretFileOf } from '../support/synth';

const env = testEnvironment();
const { built, byFolder } = synthEnvironments([env]);
const prod = byFolder.get('test')!;
const chart = built.environments[0];
const sts = find(prod, 'StatefulSet', 'postgres');
const pod = podSpec(sts);
const server = pod.containers.find((c: any) => c.name === 'postgres');
const exporter = pod.containers.find((c: any) => c.name === 'exporter');
const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name);
const mountAt = (c: any, p: string) => c.volumeMounts.find((m: any) => m.mountPath === p);
const volumeOf = (c: any, p: string) => pod.volumes.find((v: any) => v.name === mountAt(c, p).name);
const args = (s: any) => Object.fromEntries(s.args.filter((_: string, i: number) => i % 2 === 1).map((a: string) => a.split(/=(.*)/s).slice(0, 2)));

describe('PostgreSQL', () => {
  test("official postgres image pinned to the catalog's major.minor tag, not Bitnami", () => {
    expect(server.image).toMatch(/^postgres:1[7-9]\.[0-9]+(-[a-z]+)?$/);
    expect(server.image).toBe(catalog.images.postgres.ref.split('@')[0]);
    expect(server.imagePullPolicy).toBe('IfNotPresent');
  });

  test('the server and its exporter read their passwords from mounted Secret files, never from the environment', () => {
    expect(envOf(server, 'POSTGRES_PASSWORD')).toBeUndefined();
    expect(secretFileOf(pod, server, 'POSTGRES_PASSWORD_FILE')).toEqual({ secret: 'postgres-owner', key: 'password' });
    expect(envOf(exporter, 'DATA_SOURCE_PASS')).toBeUndefined();
    expect(secretFileOf(pod, exporter, 'DATA_SOURCE_PASS_FILE')).toEqual({ secret: 'postgres-exporter', key: 'password' });
    // Readable by the exporter's user through the pod's fsGroup (a supplementary group of every container).
    const vol = pod.volumes.find((v: any) => v.secret?.secretName === 'postgres-exporter');
    expect(vol.secret.defaultMode & 0o040).toBe(0o040);
    expect(pod.securityContext.fsGroup).toBeDefined();
  });

  test('one volume claim template with the environment storage class and size, mounted above PGDATA', () => {
    expect(sts.spec.volumeClaimTemplates).toEqual([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data' },
        spec: { volumeMode: 'Filesystem', accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: '100Gi' } } },
        status: { phase: 'Pending' },
      },
    ]);
    expect(mountAt(server, '/var/lib/postgresql/data').name).toBe('data');
    expect(pod.volumes.some((v: any) => v.name === 'data')).toBe(false);
    const small = find(synth({ postgres: { storage: { storageClass: 'standard', sizeGiB: 7 } } }), 'StatefulSet', 'postgres');
    expect(small.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'standard', resources: { requests: { storage: '7Gi' } } });
  });

  test('PGDATA is a subdirectory of the volume (initdb needs an empty folder; volumes hold lost+found)', () => {
    const pgdata = envOf(server, 'PGDATA').value;
    expect(pgdata.startsWith(`${mountAt(server, '/var/lib/postgresql/data').mountPath}/`)).toBe(true);
  });

  test('headless Service governs the StatefulSet; client Service postgres:5432; both select the pods', () => {
    const headless = find(prod, 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    const client = find(prod, 'Service', 'postgres');
    expect(client.spec.ports).toContainEqual({ name: 'postgres', port: 5432, targetPort: 5432 });
    for (const svc of [headless, client]) expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);
    // The template has the selector's labels plus the guide's `app` (never in the immutable selector).
    expect(sts.spec.template.metadata.labels).toEqual({ ...sts.spec.selector.matchLabels, app: 'postgres' });
  });

  test('liveness asks only whether the postmaster accepts TCP connections on 5432', () => {
    expect(server.livenessProbe).toMatchObject({ tcpSocket: { port: 5432 } });
  });

  test.each(['startupProbe', 'readinessProbe'])('%s runs pg_isready over TCP', (probe) => {
    expect(server[probe].exec.command.join(' ')).toMatch(/pg_isready .*-h 127\.0\.0\.1 -p 5432/);
  });

  test('restricted: uid 999, fsGroup, read-only root with emptyDirs for the socket folder and /tmp', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext.runAsUser).toBeGreaterThan(0);
    }
    for (const p of ['/var/run/postgresql', '/tmp']) expect(volumeOf(server, p).emptyDir).toBeDefined();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('postgres');
  });

  test('credentials are Secret references to postgres-owner and postgres-app; no Secret objects, no literals', () => {
    expect(envOf(server, 'POSTGRES_USER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'username' });
    expect(secretFileOf(pod, server, 'POSTGRES_PASSWORD_FILE')).toEqual({ secret: 'postgres-owner', key: 'password' });
    expect(envOf(server, 'APP_DB_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-app', key: 'password' });
    // No password literal: a PASS variable is a Secret reference, or (`*_FILE`) a path under /run/secrets.
    for (const e of [...server.env, ...exporter.env]) if (/PASS/.test(e.name)) expect(e.value === undefined || (/_FILE$/.test(e.name) && e.value.startsWith('/run/secrets/'))).toBe(true);
    expect(prod.filter((m) => m.kind === 'Secret')).toEqual([]);
    const declared = chart.secrets.declared.filter((s) => s.name.startsWith('postgres-'));
    expect(declared).toEqual([
      { name: 'postgres-app', keys: ['password', 'username'], type: 'opaque' },
      { name: 'postgres-exporter', keys: ['password', 'username'], type: 'opaque' },
      { name: 'postgres-owner', keys: ['password', 'username'], type: 'opaque' },
      { name: 'postgres-replication', keys: ['password', 'username'], type: 'opaque' },
    ]);
  });

  test('postgresql.conf settings come from the environment; shared_buffers is a quarter of the memory limit', () => {
    expect(args(server)).toMatchObject({ max_connections: '200', superuser_reserved_connections: '3', shared_buffers: '512MB' });
    const big = find(synth({ postgres: { maxConnections: 321, resources: { limits: { cpuMillis: 2000, memoryMiB: 8192 }, requests: { cpuMillis: 500, memoryMiB: 4096 } } } }), 'StatefulSet', 'postgres');
    expect(args(podSpec(big).containers[0])).toMatchObject({ max_connections: '321', shared_buffers: '2048MB', effective_cache_size: '4096MB' });
  });

  test('reserved connections must leave room for clients', () => {
    expect(() => synth({ postgres: { maxConnections: 3, superuserReservedConnections: 3 } })).toThrow(/superuserReservedConnections \(3\) must be below postgres.maxConnections \(3\)/);
  });

  test('postgres_exporter sidecar: port 9187 named metrics, the monitoring role (not the owner), declared for scraping', () => {
    expect(exporter.image).toMatch(/postgres-exporter:v[0-9.]+$/);
    expect(exporter.ports).toEqual([{ containerPort: 9187, name: 'metrics' }]);
    expect(envOf(exporter, 'DATA_SOURCE_USER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-exporter', key: 'username' });
    expect(secretFileOf(pod, exporter, 'DATA_SOURCE_PASS_FILE')).toEqual({ secret: 'postgres-exporter', key: 'password' });
    expect(envOf(server, 'MONITOR_DB_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-exporter', key: 'password' });
    expect(chart.topology.metrics).toContainEqual(expect.objectContaining({ job: 'postgres', port: 9187, portName: 'metrics', serviceName: 'postgres' }));
  });

  test('the app-role script is mounted into docker-entrypoint-initdb.d', () => {
    const init = find(prod, 'ConfigMap', 'postgres-init');
    expect(Object.values(init.data)).toEqual([appRoleSql()]);
    expect(volumeOf(server, '/docker-entrypoint-initdb.d').configMap.name).toBe('postgres-init');
  });

  test('Job postgres-app-role re-runs the same script as the owner after the database (later sync wave), on every sync', () => {
    const job = findJob(prod, 'postgres-app-role');
    const c = podSpec(job).containers[0];
    const file = c.command[c.command.length - 1];
    const mount = c.volumeMounts.find((m: any) => file.startsWith(`${m.mountPath}/`));
    expect(podSpec(job).volumes.find((v: any) => v.name === mount.name).configMap.name).toBe('postgres-init');
    expect(c.command).toContain('ON_ERROR_STOP=1');
    expect(envOf(c, 'PGHOST').value).toBe('postgres');
    expect(envOf(c, 'PGUSER').valueFrom.secretKeyRef.name).toBe('postgres-owner');
    expect(envOf(c, 'APP_DB_USER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-app', key: 'username' });
    const wave = (m: any) => Number(m.metadata.annotations['argocd.argoproj.io/sync-wave']);
    expect(wave(job)).toBeGreaterThan(wave(sts));
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe('Sync');
    const allowed = chart.topology.connections.filter((x) => x.from.name === 'postgres-app-role').map((x) => [x.to.peer.name, x.to.port]);
    // The standby is the same Service's backend after a failover: the path is mirrored.
    expect(allowed).toEqual([['postgres', 5432], ['postgres-standby', 5432]]);
  });

  test('the API connects as the app role: DATABASE_URL from earlier Secret-backed variables and the env connection limit', () => {
    const api = podSpec(find(synth({ api: { databaseConnectionLimit: 7 } }), 'Deployment', 'nextgen-api')).containers[0];
    const names = api.env.map((e: any) => e.name);
    const url = envOf(api, 'DATABASE_URL').value;
    expect(url).toBe('postgresql://$(DB_USER):$(DB_PASSWORD)@postgres:5432/nextgen_marketplace_prod?schema=public&connection_limit=7');
    for (const v of ['DB_USER', 'DB_PASSWORD']) {
      expect(envOf(api, v).valueFrom.secretKeyRef.name).toBe('postgres-app');
      // $(VAR) only expands variables defined earlier in the list.
      expect(names.indexOf(v)).toBeLessThan(names.indexOf('DATABASE_URL'));
    }
    expect(chart.topology.connections).toContainEqual(expect.objectContaining({ from: chart.api.peer, to: chart.postgres.endpoint }));
  });

  test('contract: DatabaseTarget names the client Service, port, database and both Secrets', () => {
    const t = chart.postgres.target;
    expect(find(prod, 'Service', t.serviceName).spec.ports.map((p: any) => p.port)).toContain(t.port);
    expect([t.database, t.ownerSecret.name, t.appSecret.name, t.maxConnections]).toEqual(['nextgen_marketplace_prod', 'postgres-owner', 'postgres-app', 200]);
    expect(Object.keys(t.ownerEnv())).toEqual(['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD']);
    expect(t.endpoint).toMatchObject({ port: Postgres.PORT, portName: 'postgres' });
  });

  test('PodDisruptionBudget lets a drain evict the single replica', () => {
    const pdb = find(prod, 'PodDisruptionBudget', 'postgres');
    expect(pdb.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: sts.spec.selector.matchLabels } });
  });

  describe.each(K8S_VERSIONS)('strict schema validation against Kubernetes %s', (version) => {
    const validator = kubernetesValidator(version);
    const ours = ['postgres', 'postgres-app-role'];
    const mine = prod.filter((m) => ours.includes(m.metadata.labels?.['app.kubernetes.io/name'] ?? '') && m.kind !== 'NetworkPolicy');
    test.each(mine.map((m) => [`${m.kind}/${m.metadata.name}`, m]))('%s', (_n, m) => expect(validator.validate(m)).toEqual([]));
  });
});

describe('database name (DB_NAME) per environment', () => {
  const real = { byFolder: realManifests() };
  const dbNamesIn = (folder: string): string[] => {
    const names = new Set<string>();
    for (const m of real.byFolder.get(folder)!) {
      if (!['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(m.kind)) continue;
      for (const c of [...(podSpec(m).initContainers ?? []), ...podSpec(m).containers]) {
        for (const e of c.env ?? []) {
          if (['DB_NAME', 'PGDATABASE', 'POSTGRES_DB'].includes(e.name)) names.add(e.value);
          if (e.name !== 'DATABASE_URL' && e.name !== 'DATA_SOURCE_URI') continue;
          // The URL's path is the database; `$(PGDATABASE)` is already counted above.
          const db = String(e.value).replace(/\?.*$/, '').split('/').pop()!;
          if (db !== '$(PGDATABASE)') names.add(db);
        }
      }
    }
    return [...names];
  };

  test("prod uses the deployment guide's database name, nextgen_marketplace_prod, in every client and the server", () => {
    // The guide's `.env.production`: DB_NAME=nextgen_marketplace_prod.
    expect(dbNamesIn('prod')).toEqual(['nextgen_marketplace_prod']);
  });

  test('every environment names exactly one database, the one its data declares', () => {
    for (const e of realEnvironments()) expect([e.name, dbNamesIn(e.name)]).toEqual([e.name, [e.postgres.database]]);
  });
});
