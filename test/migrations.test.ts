import { find, findAll, podSpec, synth } from './lib/synth';

const WAVE = 'argocd.argoproj.io/sync-wave';
const wave = (m: any) => Number(m.metadata.annotations?.[WAVE] ?? 0);

describe('migrations', () => {
  const prod = synth();
  const image = 'registry.example.com/nextgen/nextgen-marketplace@sha256:4b6f3d1c9a0e8b7d2f5a6c3e1b9d8f7a6e5c4b3a2d1f0e9c8b7a6d5e4f3c2b1a';
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

  test('deadline and retries come from the environment', () => {
    expect(job.spec.activeDeadlineSeconds).toBe(600);
    expect(job.spec.backoffLimit).toBe(1);
    const tuned = findAll(synth({ migrations: { timeoutSeconds: 120, backoffLimit: 0 } }), 'Job').find((j) => j.metadata.name.startsWith('nextgen-migrate-'));
    expect(tuned.spec).toMatchObject({ activeDeadlineSeconds: 120, backoffLimit: 0 });
  });

  test('restricted pod as the API uid, writable /tmp only', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.volumeMounts).toEqual([{ mountPath: '/tmp', name: 'tmp' }]);
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  test('network: migrations may reach PostgreSQL', () => {
    const np = find(prod, 'NetworkPolicy', 'nextgen-migrate');
    expect(np.spec.podSelector.matchLabels).toEqual(job.spec.template.metadata.labels);
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
