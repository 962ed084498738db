/**
 * recovery-objectives through the real program: an RPO the WAL archive cannot meet fails
 * `npm run synth`'s program with one line and leaves the output untouched. The rule itself:
 * recovery-schedule.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../support/synth';

describe('recovery-objectives rule, through the synth program', () => {
  test('an RPO the WAL archive cannot meet fails a real synth with one line and leaves the output untouched', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'envs-')), 'environments');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(ROOT, 'environments', 'define.ts'), path.join(dir, 'define.ts'));
    const prod = fs.readFileSync(path.join(ROOT, 'environments', 'prod.ts'), 'utf8');
    const crafted = prod.replace(/rpoMinutes: 5,/, 'rpoMinutes: 1,');
    expect(crafted).not.toBe(prod);
    fs.writeFileSync(path.join(dir, 'prod.ts'), crafted);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-'));
    const r = cp.spawnSync(process.execPath, ['scripts/synth.mjs'], {
      cwd: ROOT,
      env: { ...process.env, NEXTGEN_ENVIRONMENTS: dir, CDK8S_OUTDIR: out },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: environments/prod.ts: backup.walArchive.archiveTimeoutSeconds = 60: allowed: at most backup.rpoMinutes x 60 (60 s) less the upload interval and one upload ' +
        '(recovery-objectives: backup.walArchive: the WAL archive can lag 105 s behind the primary ' +
        '(archive_timeout 60 s + upload interval 15 s + one upload), more than backup.rpoMinutes = 1 (60 s))',
      expect.stringMatching(/^synthesis failed: 1 problem\(s\); .* was not changed$/),
    ]);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
