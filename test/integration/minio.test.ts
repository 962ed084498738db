/**
 * The bucket Job's script, run exactly as shipped in ConfigMap `minio-bucket` with the Job's
 * own environment (Secret values substituted), against a real MinIO server with `mc`.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BUCKET_SCRIPT_FILE } from '../../constructs/config/minio';
import { find, podSpec, synth } from '../lib/synth';
import { MinioServer, describeWith, startMinio, which } from './lib/servers';

const manifests = synth({ minio: { bucket: 'nextgen-uploads', lifecycle: { noncurrentVersionExpiryDays: 12 } } });
const shipped: string = find(manifests, 'ConfigMap', 'minio-bucket').data[BUCKET_SCRIPT_FILE];
const job = podSpec(find(manifests, 'Job', 'minio-bucket')).containers[0];

describeWith(['minio', 'mc'], 'minio-bucket.sh against a real MinIO', () => {
  let minio: MinioServer;
  let script: string;

  /** The Job's env with the Secret references resolved to the test server's credentials. */
  const jobEnv = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const e of job.env) {
      if (e.valueFrom) {
        const ref = e.valueFrom.secretKeyRef;
        expect(ref.name).toBe('minio-root');
        out[e.name] = ref.key === 'root-user' ? minio.accessKey : minio.secretKey;
      } else out[e.name] = e.value;
    }
    // In-cluster URL and paths -> the loopback server and a temp folder.
    out.MINIO_URL = minio.endpoint;
    out.MC_CONFIG_DIR = path.join(minio.dir, 'job-mc');
    out.HOME = minio.dir;
    return out;
  };
  const run = () => {
    const [shell, ...args] = job.command.map((a: string) => (a.startsWith('/scripts/') ? script : a));
    return cp.spawnSync(shell, args, { encoding: 'utf8', env: { PATH: path.dirname(which('mc')!) + ':' + process.env.PATH, ...jobEnv() } });
  };
  const mc = (...args: string[]) => cp.spawnSync('mc', args, { encoding: 'utf8', env: minio.env() });
  const state = () => ({
    buckets: mc('ls', '--json', 'local').stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).key),
    versioning: JSON.parse(mc('version', 'info', '--json', 'local/nextgen-uploads').stdout).versioning,
    lifecycle: JSON.parse(mc('ilm', 'rule', 'ls', '--json', 'local/nextgen-uploads').stdout),
  });

  beforeAll(async () => {
    minio = await startMinio();
    script = path.join(minio.dir, BUCKET_SCRIPT_FILE);
    fs.writeFileSync(script, shipped);
  });
  afterAll(async () => minio?.stop());

  test('the first run creates the bucket, enables versioning and sets the lifecycle rules', () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/bucket nextgen-uploads: created/);
    const s = state();
    expect(s.buckets).toContain('nextgen-uploads/');
    expect(s.versioning.status).toBe('Enabled');
    const rules = s.lifecycle.config.Rules;
    expect(rules.find((x: any) => x.ID === 'expire-noncurrent-versions').NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 12 });
    expect(rules.find((x: any) => x.ID === 'remove-expired-delete-markers').Expiration).toEqual({ ExpiredObjectDeleteMarker: true });
  });

  test('a second run changes nothing', () => {
    const before = state();
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['bucket nextgen-uploads: unchanged', 'versioning: unchanged', 'lifecycle: unchanged']);
    // updatedAt of the lifecycle configuration would move if it had been written again.
    expect(state()).toEqual(before);
  });

  test('a drifted lifecycle is put back', () => {
    expect(mc('ilm', 'rule', 'rm', '--all', '--force', 'local/nextgen-uploads').status).toBe(0);
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/lifecycle: updated/);
    expect(state().lifecycle.config.Rules).toHaveLength(2);
  });

  test('wrong credentials fail the Job, saying why', () => {
    const env = { ...jobEnv(), MINIO_SECRET_KEY: 'not-the-password', MINIO_WAIT_SECONDS: '5' };
    const r = cp.spawnSync('/bin/sh', [script], { encoding: 'utf8', env: { ...process.env, PATH: minio.env().PATH, ...env } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/credentials refused/);
  });
});
