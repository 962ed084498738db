/**
 * `npm run diff` (scripts/diff.mjs), run for real: it compares two rendered folders or the
 * committed dist/ read from git, and refuses an unknown option. The diffing itself: diff.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderCharts } from '../../constructs/lib/output';
import { buildApp } from '../../main';
import { ROOT, readTree, testEnvironment } from '../support/synth';

type Overrides = Parameters<typeof testEnvironment>[0];
const render = (overrides: Overrides = {}) => renderCharts(buildApp([testEnvironment(overrides)]).charts);

describe('npm run diff (the command)', () => {
  const run = (...args: string[]) => cp.spawnSync(process.execPath, ['scripts/diff.mjs', ...args], { cwd: ROOT, encoding: 'utf8' });
  const writeTree = (files: Map<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'difftree-'));
    for (const [f, c] of files) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), c);
    }
    return dir;
  };

  test('compares two rendered folders, prints the change and exits 0 (1 with --exit-code)', () => {
    const a = writeTree(render({ api: { logLevel: 'info' } }));
    const b = writeTree(render({ api: { logLevel: 'warn' } }));
    const r = run('--base-dir', a, '--head-dir', b, '--no-color');
    expect({ status: r.status, stdout: r.stdout }).toEqual({
      status: 0,
      stdout: expect.stringContaining('  ~ ConfigMap nextgen-api-config\n      data.LOG_LEVEL: "info" → "warn"\n'),
    });
    expect(r.stderr).toMatch(/^diff: read \d+ files, compared with .* in \d+ ms\n$/);
    expect(run('--base-dir', a, '--head-dir', b, '--exit-code').status).toBe(1);
    expect(run('--base-dir', a, '--head-dir', a, '--exit-code').status).toBe(0);
  });

  const git = cp.spawnSync('git', ['rev-parse', 'HEAD:dist'], { cwd: ROOT, encoding: 'utf8' });
  (git.status === 0 ? test : test.skip)('reads the committed dist/ from git exactly (skips outside a git checkout with dist/ committed)', () => {
    // Extract HEAD's dist/ with `git archive` (independent of the script's cat-file reader).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'headdist-'));
    const tar = cp.spawnSync('sh', ['-c', `git archive HEAD dist | tar -x -C "${dir}"`], { cwd: ROOT, encoding: 'utf8' });
    expect(tar.status).toBe(0);
    const r = run('--base', 'HEAD', '--head-dir', path.join(dir, 'dist'), '--no-color');
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'No changes to dist/ compared with HEAD:dist/.\n' });
    expect(readTree(path.join(dir, 'dist')).size).toBeGreaterThan(0);
  });

  test('an unknown option is a usage error', () => {
    const r = run('--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });
});
