import { imageRef } from '../../environments/schema';
import { find, findAll, podSpec, realEnvironments, realManifests, synth, findJob, testEnvironment } from '../support/synth';

const WAVE = 'argocd.argoproj.io/sync-wave';
const wave = (m: any) => Number(m.metadata.annotations?.[WAVE] ?? 0);

describe('migrations', () => {
  const prod = synth();
  const image = imageRef(testEnvironment().image);
  const job = findAll(prod, 'Job').find((j) => j.metadata.name.startsWith('nextgen-migrate-'));
  const pod = podSpec(job);
  const c = pod.containers[0];
  const env = (name: string) => c.env.find((e: any) => e.name === name);

  test('runs prisma migrate deploy from the API image', () => {
    expect(c.command).toEqual(['npx', 'prisma', 'migrate', 'deploy']);
    expect(c.image).toBe(image);
    expect(c.image).toBe(podSpec(find(prod, 'Deployment', 'nextgen-api')).containers[0].image);
  });

  test('a new image is a new Job name (Jobs are immutable); the same image keeps it', () => {
    const other = synth({ image: { digest: undefined, tag: '3.5.0' } });
    const names = findAll(other, 'Job').map((j) => j.metadata.name).filter((n: string) => n.startsWith('nextgen-migrate-'));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^nextgen-migrate-[0-9a-f]{8}$/);
    expect(names[0]).not.toBe(job.metadata.name);
    expect(findAll(synth(), 'Job').some((j) => j.metadata.name === job.metadata.name)).toBe(true);
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
  });

  test('an Argo CD Sync hook between the database wave and the API wave', () => {
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe('Sync');
    expect(job.metadata.annotations['argocd.argoproj.io/hook-delete-policy']).toBe('BeforeHookCreation');
    expect(wave(job)).toBeGreaterThan(wave(find(prod, 'StatefulSet', 'postgres')));
    expect(wave(job)).toBeLessThan(wave(find(prod, 'Deployment', 'nextgen-api')));
    // Everything the Job needs exists in an earlier or the same wave (first install).
    expect(wave(find(prod, 'ServiceAccount', pod.serviceAccountName))).toBeLessThanOrEqual(wave(job));
    expect(wave(find(prod, 'ExternalSecret', 'postgres-owner'))).toBeLessThan(wave(job));
  });

  test('DATABASE_URL is assembled from the owner Secret by $(VAR) expansion; no password literal', () => {
    const names = c.env.map((e: any) => e.name);
    expect(env('PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'password' });
    expect(env('PGUSER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-owner', key: 'username' });
    expect(env('DATABASE_URL').value).toBe('postgresql://$(PGUSER):$(PGPASSWORD)@$(PGHOST):$(PGPORT)/$(PGDATABASE)?schema=public');
    // Kubernetes expands only variables defined earlier in the list.
    for (const v of ['PGUSER', 'PGPASSWORD', 'PGHOST', 'PGPORT', 'PGDATABASE']) expect(names.indexOf(v)).toBeLessThan(names.indexOf('DATABASE_URL'));
  });

  test('deadline (the database startup budget + migrations.timeoutSeconds) and retries come from the environment', () => {
    expect(job.spec.activeDeadlineSeconds).toBe(600 + 600);
    expect(job.spec.backoffLimit).toBe(1);
    const tuned = findAll(synth({ migrations: { timeoutSeconds: 120, backoffLimit: 0 } }), 'Job').find((j) => j.metadata.name.startsWith('nextgen-migrate-'));
    expect(tuned.spec).toMatchObject({ activeDeadlineSeconds: 600 + 120, backoffLimit: 0 });
  });

  test('restricted pod as the API uid, writable /tmp only', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'tmp' }]);
    for (const init of pod.initContainers) expect(init.securityContext).toMatchObject({ runAsUser: 1000, readOnlyRootFilesystem: true });
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  test('network: migrations may reach PostgreSQL', () => {
    const np = find(prod, 'NetworkPolicy', 'nextgen-migrate');
    expect(job.spec.template.metadata.labels).toMatchObject(np.spec.podSelector.matchLabels);
    expect(np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toContain(5432);
  });

  test('the seed Job exists only when migrations.seed is on, and runs after migrations', () => {
    expect(findAll(prod, 'Job').some((j) => j.metadata.name.startsWith('nextgen-seed-'))).toBe(false);
    const dev = synth({ tier: 'development', migrations: { seed: true } });
    const seed = findAll(dev, 'Job').find((j) => j.metadata.name.startsWith('nextgen-seed-'));
    const migrate = findAll(dev, 'Job').find((j) => j.metadata.name.startsWith('nextgen-migrate-'));
    expect(podSpec(seed).containers[0].command).toEqual(['npx', 'prisma', 'db', 'seed']);
    expect(seed.metadata.annotations['argocd.argoproj.io/hook']).toBe('Sync');
    expect(wave(seed)).toBeGreaterThan(wave(migrate));
  });
});

describe('setup Jobs outlast the start of the store they need (fresh install: the Job may start first)', () => {
  const byFolder = realManifests();
  const budget = (p: any) => (p.initialDelaySeconds ?? 0) + (p.failureThreshold ?? 3) * (p.periodSeconds ?? 10);
  const startupOf = (ms: any[], name: string) => budget(podSpec(find(ms, 'StatefulSet', name)).containers.find((c: any) => c.name === name).startupProbe);
  const envOf = (c: any, n: string) => c.env?.find((e: any) => e.name === n);
  // The environment folders (runbook Jobs such as the restore are started by hand against a running database).
  const folders = realEnvironments().map((e) => e.name);

  test.each(folders)('%s: every Job that connects to PostgreSQL first waits for pg_isready, within a deadline longer than its startup budget', (folder) => {
    const ms = byFolder.get(folder)!;
    const pgStartup = startupOf(ms, 'postgres');
    const jobs = findAll(ms, 'Job').filter((j) => podSpec(j).containers.some((c: any) => envOf(c, 'PGHOST') || envOf(c, 'DB_HOST')));
    expect(jobs.map((j) => j.metadata.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^postgres-app-role-[0-9a-f]{8}$/), expect.stringMatching(/^nextgen-migrate-/)]));
    const problems: string[] = [];
    for (const j of jobs) {
      const main = podSpec(j).containers[0];
      const wait = (podSpec(j).initContainers ?? []).find((c: any) => /until pg_isready .*-h "\$PGHOST" -p "\$PGPORT"/.test(c.command.join(' ')));
      if (!wait) problems.push(`${j.metadata.name}: no init container waits for pg_isready`);
      else {
        for (const v of ['PGHOST', 'PGPORT']) if (JSON.stringify(envOf(wait, v)) !== JSON.stringify(envOf(main, v))) problems.push(`${j.metadata.name}: waits on another ${v}`);
        if (envOf(wait, 'PGPASSWORD')) problems.push(`${j.metadata.name}: the wait needs no password`);
      }
      if (!(j.spec.activeDeadlineSeconds > pgStartup)) problems.push(`${j.metadata.name}: deadline ${j.spec.activeDeadlineSeconds}s <= PostgreSQL startup budget ${pgStartup}s`);
    }
    expect(problems).toEqual([]);
  });

  test.each(folders)('%s: the MinIO bucket Job retries longer than MinIO may take to start, within its deadline', (folder) => {
    const ms = byFolder.get(folder)!;
    const job = findJob(ms, 'minio-bucket');
    const waitSeconds = Number(envOf(podSpec(job).containers[0], 'MINIO_WAIT_SECONDS')?.value);
    expect(waitSeconds).toBeGreaterThan(startupOf(ms, 'minio'));
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(waitSeconds);
  });
});
