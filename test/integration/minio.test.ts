/**
 * The bucket Job's script, run exactly as shipped in ConfigMap `minio-bucket` with the Job's
 * own environment (Secret values substituted), against a real MinIO server with `mc`.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUCKET_SCRIPT_FILE, appPolicy } from '../../constructs/minio/config';
import { find, podSpec, synth, findJob } from '../support/synth';
import { MinioServer, describeWith, freePort, startMinio, waitForValue, which } from './lib/servers';

const manifests = synth({ minio: { bucket: 'nextgen-uploads', lifecycle: { noncurrentVersionExpiryDays: 12 } } });
const shipped: string = find(manifests, 'ConfigMap', 'minio-bucket').data[BUCKET_SCRIPT_FILE];
const job = podSpec(findJob(manifests, 'minio-bucket')).containers[0];

describeWith(['minio', 'mc'], 'minio-bucket.sh against a real MinIO', () => {
  let minio: MinioServer;
  let script: string;

  /** What the secret backend would hold: the test server's root, and a generated app user. */
  let secretValues: Record<string, string>;
  const APP = { access: 'nextgen-api', secret: `app-secret-${process.pid}` };

  /** The Job's env with the Secret references resolved to the test server's credentials. */
  const jobEnv = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const e of job.env) {
      if (e.valueFrom) {
        const ref = e.valueFrom.secretKeyRef;
        out[e.name] = secretValues[`${ref.name}/${ref.key}`];
        expect(out[e.name]).toBeDefined();
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
    secretValues = {
      'minio-root/root-user': minio.accessKey,
      'minio-root/root-password': minio.secretKey,
      'minio-app/access-key': APP.access,
      'minio-app/secret-key': APP.secret,
    };
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
    expect(r.stdout.trim().split('\n')).toEqual([
      'bucket nextgen-uploads: unchanged',
      'versioning: unchanged',
      'lifecycle: unchanged',
      `policy ${jobEnv().POLICY_NAME}: unchanged`,
      'app user: unchanged',
      'app user policy: unchanged',
    ]);
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

  test("the API's user can read and write objects of the bucket and nothing else", () => {
    const env = minio.env({ MC_HOST_app: `http://${APP.access}:${APP.secret}@127.0.0.1:${minio.port}` });
    const asApp = (...args: string[]) => cp.spawnSync('mc', args, { encoding: 'utf8', env, input: 'hello' });
    expect(asApp('pipe', 'app/nextgen-uploads/a.txt').status).toBe(0);
    expect(asApp('cat', 'app/nextgen-uploads/a.txt').stdout).toBe('hello');
    expect(asApp('ls', 'app/nextgen-uploads').stdout).toMatch(/a\.txt/);
    expect(asApp('rm', 'app/nextgen-uploads/a.txt').status).toBe(0);
    expect(mc('mb', 'local/elsewhere').status).toBe(0);
    expect(asApp('pipe', 'app/elsewhere/x.txt').status).not.toBe(0); // another bucket
    expect(asApp('mb', 'app/more').status).not.toBe(0); // new buckets
    expect(asApp('ilm', 'rule', 'rm', '--all', '--force', 'app/nextgen-uploads').status).not.toBe(0); // bucket settings
    expect(asApp('admin', 'user', 'list', 'app').status).not.toBe(0); // the admin API
  });

  test('a rotated app secret is applied, and a changed policy replaces the old one', () => {
    APP.secret = `rotated-${process.pid}`;
    secretValues['minio-app/secret-key'] = APP.secret;
    const rotated = run();
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/app user: created or secret updated/);
    const old = jobEnv().POLICY_NAME;
    const next = appPolicy('nextgen-uploads-v2');
    const env = { ...jobEnv(), POLICY_NAME: next.name, POLICY_JSON: next.json };
    const r = cp.spawnSync('/bin/sh', [script], { encoding: 'utf8', env: { ...process.env, PATH: minio.env().PATH, ...env } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`app user policy: attached ${next.name}`);
    expect(r.stdout).toContain(`app user policy: detached ${old}`);
    const entities = mc('admin', 'policy', 'entities', 'local', '--user', APP.access).stdout;
    expect(entities).toContain(next.name);
    expect(entities).not.toContain(old);
  });

  test('wrong credentials fail the Job, saying why', () => {
    const env = { ...jobEnv(), MINIO_SECRET_KEY: 'not-the-password', MINIO_WAIT_SECONDS: '5' };
    const r = cp.spawnSync('/bin/sh', [script], { encoding: 'utf8', env: { ...process.env, PATH: minio.env().PATH, ...env } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/credentials refused/);
  });
});

describeWith(['minio', 'mc'], 'the MinIO server as the StatefulSet configures it', () => {
  const sts = find(manifests, 'StatefulSet', 'minio');
  const server = podSpec(sts).containers.find((c: any) => c.name === 'minio');

  test('reads its root password from the mounted Secret file (MINIO_ROOT_PASSWORD_FILE), never from the environment', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minio-file-'));
    const secret: Record<string, string> = { 'root-user': 'fileadmin', 'root-password': `file-secret-${process.pid}` };
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' };
    for (const e of server.env) {
      if (e.valueFrom?.secretKeyRef) env[e.name] = secret[e.valueFrom.secretKeyRef.key];
      else if (/_FILE$/.test(e.name)) {
        // The Secret key the StatefulSet mounts at that path, written to a file of our own.
        const file = path.join(dir, path.basename(e.value));
        fs.writeFileSync(file, secret[path.basename(e.value)], { mode: 0o400 });
        env[e.name] = file;
      }
    }
    expect(env.MINIO_ROOT_PASSWORD).toBeUndefined();
    expect(env.MINIO_ROOT_PASSWORD_FILE).toBeDefined();
    const port = await freePort();
    const proc = cp.spawn(which('minio')!, ['server', path.join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${await freePort()}`, '--quiet'], { env, stdio: 'ignore' });
    try {
      await waitForValue('minio ready', async () => ((await fetch(`http://127.0.0.1:${port}/minio/health/ready`)).ok ? true : undefined), 60000);
      const mcAs = (password: string) =>
        cp.spawnSync(which('mc')!, ['admin', 'info', 'f'], { encoding: 'utf8', env: { PATH: process.env.PATH, MC_CONFIG_DIR: path.join(dir, 'mc'), MC_HOST_f: `http://fileadmin:${password}@127.0.0.1:${port}` } });
      expect(mcAs(secret['root-password']).status).toBe(0);
      expect(mcAs('not-the-password').status).not.toBe(0);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90000);
});
