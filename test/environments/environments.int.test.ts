/**
 * The environment model through the real program: a fourth environment is one new file, and
 * `npm run synth`'s program writes its folder. The model itself: environments.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../support/synth';

describe('environment model, through the synth program', () => {
  test('a fourth environment is one new file and nothing else', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'envs-')), 'environments');
    fs.mkdirSync(dir);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-'));
    for (const f of ['define.ts', 'dev.ts', 'prod.ts', 'staging.ts']) fs.copyFileSync(path.join(ROOT, 'environments', f), path.join(dir, f));
    const preview = fs
      .readFileSync(path.join(ROOT, 'environments', 'staging.ts'), 'utf8')
      .replace(/name: 'staging'/, "name: 'preview'")
      .replace(/namespace: 'nextgen-staging'/, "namespace: 'nextgen-preview'")
      .replace(/\.staging\./g, '.preview.');
    fs.writeFileSync(path.join(dir, 'preview.ts'), preview);
    const r = cp.spawnSync(process.execPath, ['scripts/synth.mjs'], {
      cwd: ROOT,
      env: { ...process.env, NEXTGEN_ENVIRONMENTS: dir, CDK8S_OUTDIR: out },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const deploy = fs.readFileSync(path.join(out, 'preview', 'deployment-nextgen-api.yaml'), 'utf8');
    expect(deploy).toContain('namespace: nextgen-preview');
    expect(fs.existsSync(path.join(out, 'preview', 'kustomization.yaml'))).toBe(true);
  });
});
