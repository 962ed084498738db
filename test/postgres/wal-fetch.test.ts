/**
 * WAL from the archive for a server in recovery: with a WAL archive, every server pod (the
 * primary's and the standby's, since either may be the standby after a failover) has the
 * shipped restore_command, the `wal-fetch` sidecar on the archive's aws-cli image with the same
 * hardened container settings as the archiver, a folder both share, the archive's bucket, prefix
 * and credentials, and egress to S3; without an archive, none of it.
 */
import { imageRef } from '../../environments/schema';
import { catalogImage } from '../../environments/shared/versions';
import { find, findAll, podSpec, realManifests, synth, synthEnvironments, testEnvironment } from '../support/synth';

const SERVERS = ['postgres', 'postgres-standby'];
const RESTORE = 'restore_command=bash /wal-fetch-scripts/wal-fetch.sh restore %f %p || exit 1';

describe('WAL fetch (restore_command and its sidecar)', () => {
  const ms = synth();
  const pod = (m: any[], sts: string) => podSpec(find(m, 'StatefulSet', sts));
  const container = (spec: any, name: string) => spec.containers.find((c: any) => c.name === name);
  const env = (c: any, name: string) => c.env.find((e: any) => e.name === name);
  const mountOf = (spec: any, c: any, path: string) => {
    const m = c.volumeMounts.find((v: any) => v.mountPath === path);
    return m && { ...m, volume: spec.volumes.find((v: any) => v.name === m.name) };
  };

  test.each(SERVERS)('%s: the server asks its sidecar through a shared folder (restore_command, env, mounts)', (sts) => {
    const spec = pod(ms, sts);
    const server = container(spec, 'postgres');
    const i = server.args.indexOf(RESTORE);
    expect(i).toBeGreaterThan(0);
    expect(server.args[i - 1]).toBe('-c');
    expect(server.args.filter((a: string) => a.startsWith('restore_command='))).toHaveLength(1);
    expect(env(server, 'WAL_FETCH_DIR').value).toBe('/wal-fetch');
    expect(env(server, 'FETCH_TIMEOUT_SECONDS').value).toBe('60');
    const sidecar = container(spec, 'wal-fetch');
    // One emptyDir, the same in both containers, with a size limit.
    const shared = mountOf(spec, server, '/wal-fetch');
    expect(shared.volume.emptyDir.sizeLimit).toBe('64Mi');
    expect(mountOf(spec, sidecar, '/wal-fetch').name).toBe(shared.name);
    // The script from ConfigMap postgres-wal-fetch in both: the server's path is the restore_command's.
    expect(mountOf(spec, server, '/wal-fetch-scripts')).toMatchObject({ readOnly: true, volume: { configMap: { name: 'postgres-wal-fetch', defaultMode: 0o555 } } });
    expect(mountOf(spec, sidecar, '/scripts')).toMatchObject({ readOnly: true, volume: { configMap: { name: 'postgres-wal-fetch' } } });
  });

  test.each(SERVERS)('%s: the sidecar runs the serve loop on the catalog aws-cli image, hardened like the archiver', (sts) => {
    const spec = pod(ms, sts);
    const sidecar = container(spec, 'wal-fetch');
    const uploader = container(podSpec(find(ms, 'Deployment', 'postgres-wal-archive')), 'upload');
    expect(sidecar.image).toBe(imageRef(catalogImage('awsCli')));
    expect(sidecar.command).toEqual(['bash', '/scripts/wal-fetch.sh', 'serve']);
    expect(sidecar.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 999,
      runAsNonRoot: true,
      runAsUser: 999,
    });
    expect(sidecar.securityContext).toEqual(uploader.securityContext);
    for (const kind of ['requests', 'limits']) {
      expect([kind, Object.keys(sidecar.resources[kind]).sort()]).toEqual([kind, ['cpu', 'memory']]);
    }
    // The aws CLI's cache on a writable emptyDir ($HOME) under the read-only root.
    expect(env(sidecar, 'HOME').value).toBe('/tmp');
    expect(mountOf(spec, sidecar, '/tmp').volume.emptyDir.sizeLimit).toBeDefined();
    // Alive while its loop beats; never a readiness probe (it must not take the server out of its Services).
    expect(sidecar.livenessProbe.exec.command).toEqual(['bash', '/scripts/wal-fetch.sh', 'serve-alive']);
    expect(Number(env(sidecar, 'ALIVE_SECONDS').value)).toBeGreaterThan(60);
    expect(sidecar.readinessProbe).toBeUndefined();
    expect(spec.securityContext.runAsNonRoot).toBe(true);
  });

  test.each(SERVERS)('%s: the sidecar reads the archive the uploader writes: same bucket, prefix, endpoint and credentials', (sts) => {
    const sidecar = container(pod(ms, sts), 'wal-fetch');
    const uploader = container(podSpec(find(ms, 'Deployment', 'postgres-wal-archive')), 'upload');
    for (const name of ['S3_BUCKET', 'S3_PREFIX', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      expect([name, env(sidecar, name)]).toEqual([name, env(uploader, name)]);
    }
    expect(env(sidecar, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef).toEqual({ name: 'backup-s3', key: 'access-key-id' });
    const custom = synth({ backup: { s3: { endpoint: 'https://minio.example.com', prefix: 'elsewhere' } } });
    const c = container(pod(custom, sts), 'wal-fetch');
    expect([env(c, 'S3_ENDPOINT').value, env(c, 'S3_PREFIX').value]).toEqual(['https://minio.example.com', 'elsewhere']);
  });

  test('the script fetches the layout wal-archive.sh uploads: <prefix>/wal/<segment>.gz and <timeline>.history', () => {
    const fetch = find(ms, 'ConfigMap', 'postgres-wal-fetch');
    expect(fetch.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe(find(ms, 'StatefulSet', 'postgres').metadata.annotations['argocd.argoproj.io/sync-wave']);
    const script: string = fetch.data['wal-fetch.sh'];
    const upload: string = find(ms, 'ConfigMap', 'postgres-wal-scripts').data['wal-archive.sh'];
    expect(upload).toContain('"s3://$S3_BUCKET/$S3_PREFIX/wal/$name"');
    expect(script).toContain('"s3://$S3_BUCKET/$S3_PREFIX/wal/$object"');
    expect(script).toMatch(/object="\$file\.gz"/);
  });

  test('the server pods may reach S3 (NetworkPolicy egress on the archive port), as the archiver does', () => {
    const { built } = synthEnvironments([testEnvironment()]);
    const t = built.environments[0].topology;
    const toS3 = t.connections.filter((c) => c.to.peer.name === 's3').map((c) => c.from.name);
    expect(toS3).toEqual(expect.arrayContaining([...SERVERS, 'postgres-wal-archive']));
    const egress443 = (np: any) => (np.spec.egress ?? []).some((r: any) => r.ports?.some((p: any) => p.port === 443) && r.to?.some((x: any) => x.ipBlock));
    for (const name of SERVERS) expect([name, egress443(find(ms, 'NetworkPolicy', name))]).toEqual([name, true]);
  });

  test('every environment with a WAL archive has it on every server (dev: the primary alone)', () => {
    const real = realManifests();
    for (const [folder, servers] of [['dev', ['postgres']], ['staging', SERVERS], ['prod', SERVERS]] as const) {
      const m = real.get(folder)!;
      expect([folder, findAll(m, 'StatefulSet').filter((s) => container(podSpec(s), 'wal-fetch')).map((s) => s.metadata.name).sort()]).toEqual([folder, [...servers]]);
    }
  });

  test('without a WAL archive: no sidecar, no restore_command, no script, no egress to S3 from the servers', () => {
    const off = synth({ backup: { walArchive: { enabled: false } } });
    for (const sts of SERVERS) {
      const spec = pod(off, sts);
      expect(spec.containers.map((c: any) => c.name)).toEqual(['postgres', 'exporter']);
      expect(container(spec, 'postgres').args.some((a: string) => a.startsWith('restore_command='))).toBe(false);
      expect(spec.volumes.map((v: any) => v.name)).not.toContain('wal-fetch');
      expect((find(off, 'NetworkPolicy', sts).spec.egress ?? []).some((r: any) => r.to?.some((x: any) => x.ipBlock))).toBe(false);
    }
    expect(findAll(off, 'ConfigMap').map((c) => c.metadata.name)).not.toContain('postgres-wal-fetch');
  });
});
