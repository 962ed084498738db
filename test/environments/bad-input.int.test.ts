/**
 * Bad input through the real programs: the CLI in a subprocess (syntax error, a file that
 * throws, an empty set, write failures on read-only and full file systems and mount points,
 * the cdk8s CLI), and a bug told apart from a user mistake. Each refused with exit code 1
 * (2 for a bug), one line, no stack trace, and the output folder as it was.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, hashTree, type Edits, scratch, environmentsWith, out, type Run, tz } from './bad-input-support';

describe('the real CLI', () => {
  function cli(edits: Edits, args: string[] = ['scripts/synth.mjs'], env: Record<string, string> = {}, outdir?: string) {
    const dir = environmentsWith(edits);
    const o = outdir ?? fs.mkdtempSync(path.join(scratch, 'cli-'));
    if (!outdir) fs.cpSync(out, o, { recursive: true });
    const before = hashTree(o);
    const r = cp.spawnSync(args[0] === 'npx' ? 'npx' : process.execPath, args[0] === 'npx' ? args.slice(1) : args, {
      cwd: ROOT,
      env: { ...process.env, NEXTGEN_ENVIRONMENTS: dir, CDK8S_OUTDIR: o, SYNTH_QUIET: '1', CDK8S_CHECK_UPGRADE: 'false', ...env },
      encoding: 'utf8',
    });
    return { ...r, errors: r.stderr.split('\n').filter((l) => l.startsWith('error: ')), unchanged: hashTree(o) === before, outdir: o };
  }

  test('a syntax error in an environment file is one file:line:col line', () => {
    const prod = fs.readFileSync(path.join(ROOT, 'environments', 'prod.ts'), 'utf8').replace('maxReplicas: 6 }', 'maxReplicas: 6 ');
    const r = cli({ 'prod.ts': prod });
    expect(r.status).toBe(1);
    expect(r.errors).toEqual([expect.stringMatching(/^error: environments\/prod\.ts:\d+:\d+: syntax error: Expected "}" but found/)]);
    expect(r.stderr).not.toMatch(/\n\s+at |\.cjs/);
    expect(r.unchanged).toBe(true);
  });

  test('a file that throws on import is one file:line:col line; --verbose is not needed to find it', () => {
    const r = cli({ 'prod.ts': "import { defineEnvironment } from './define';\n\nconst base = undefined as any;\nexport default defineEnvironment({ ...base.prod });\n" });
    expect(r.status).toBe(1);
    expect(r.errors).toEqual(['error: environments/prod.ts:4:44: fails to load: TypeError: Cannot read properties of undefined (reading \'prod\')']);
    expect(r.unchanged).toBe(true);
  });

  test('--verbose (or SYNTH_VERBOSE=1) adds the trace of a file that throws, mapped to our TypeScript sources', () => {
    const r = cli({ 'prod.ts': "export default (undefined as any).prod;\n" }, ['scripts/synth.mjs', '--verbose']);
    expect(r.status).toBe(1);
    expect(r.errors).toEqual([expect.stringMatching(/^error: environments\/prod\.ts:1:\d+: fails to load: TypeError/)]);
    expect(r.stderr).toMatch(/\n\s+at .*environments\/prod\.ts:1:\d+\)/);
    expect(r.stderr).toMatch(/\n\s+at loadAllEnvironments \(.*environments\/load\.ts:\d+:\d+\)/);
    expect(r.stderr).not.toMatch(/app-[0-9a-f]+\.cjs/);
    expect(r.unchanged).toBe(true);
  });

  test('deleting every environment file is an error, not an empty dist/', () => {
    const r = cli({ 'dev.ts': null, 'prod.ts': null, 'staging.ts': null });
    expect(r.status).toBe(1);
    expect(r.errors).toEqual([expect.stringMatching(/^error: environments\/: environment files = \(none\)/)]);
    expect(r.unchanged).toBe(true);
  });

  test('`cdk8s synth` after a success and then with a bad value leaves dist/ byte-identical and nothing beside it', () => {
    // The CLI deletes its own output folder (a private one under .build/, here a temporary one)
    // before the app runs; the app writes dist/ ($NEXTGEN_DIST here) itself.
    const parent = fs.mkdtempSync(path.join(scratch, 'cdk8s-'));
    const dist = path.join(parent, 'dist');
    fs.cpSync(out, dist, { recursive: true });
    const cliOut = path.join(fs.mkdtempSync(path.join(scratch, 'cdk8s-private-')), 'out');
    const args = ['npx', 'cdk8s', 'synth', '--no-check-upgrade', '-o', cliOut];
    const ok = cli({}, args, { NEXTGEN_DIST: dist }, dist);
    expect(ok.status).toBe(0);
    expect(ok.unchanged).toBe(true);
    // The CLI found the manifests through its folder, a link to dist/.
    expect(fs.realpathSync(cliOut)).toBe(fs.realpathSync(dist));
    fs.writeFileSync(path.join(dist, 'marker.txt'), 'previous synth');
    const r = cli(tz('Local'), args, { NEXTGEN_DIST: dist }, dist);
    expect(r.status).not.toBe(0);
    expect(r.errors).toEqual([expect.stringMatching(/^error: environments\/prod\.ts: backup\.timeZone = "Local"/)]);
    expect(r.stderr).toMatch(/synthesis failed: 1 problem\(s\); .*dist\/ was not changed/);
    expect(r.unchanged).toBe(true);
    expect(fs.readFileSync(path.join(dist, 'marker.txt'), 'utf8')).toBe('previous synth');
    expect(fs.readdirSync(parent)).toEqual(['dist']);
  });

  test('cdk8s.yaml gives the CLI a private output folder, never dist/', () => {
    const config = fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'), 'utf8');
    expect(/^output: (.+)$/m.exec(config)?.[1]).toBe('.build/cdk8s-out');
  });

  // Write failures need a small or read-only file system: a private mount namespace (root).
  const unshare = cp.spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
  function inMount(size: string, setup: string, viaCdk8sCli = false) {
    const m = fs.mkdtempSync(path.join(scratch, 'mnt-'));
    // The cdk8s CLI's own (private) output folder lives outside the mount, as .build/ does.
    const cliOut = path.join(fs.mkdtempSync(path.join(scratch, 'cli-out-')), 'out');
    const run = viaCdk8sCli
      ? `NEXTGEN_DIST=${m}/dist SYNTH_QUIET=1 CDK8S_CHECK_UPGRADE=false npx cdk8s synth --no-check-upgrade -o ${cliOut} >/dev/null; echo "exit=$?"`
      : `CDK8S_OUTDIR=${m}/dist SYNTH_QUIET=1 ${process.execPath} scripts/synth.mjs; echo "exit=$?"`;
    const script = [
      `mount -t tmpfs -o size=${size} tmpfs ${m}`,
      `cp -a ${out} ${m}/dist`,
      `sha() { (cd ${m} && find . -type f | sort | xargs sha256sum | sha256sum); }`,
      'before=$(sha)',
      setup.replace(/\$M/g, m),
      run,
      'after=$(sha)',
      '[ "$before" = "$after" ] && echo unchanged',
      `ls -A ${m}`,
    ].join('\n');
    return cp.spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { cwd: ROOT, encoding: 'utf8' });
  }
  // Room for the current dist/ and a little more, so the new tree cannot fit beside it.
  const distKiB = Number(cp.spawnSync('du', ['-sk', path.join(ROOT, 'dist')], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const writeCases: Array<[string, string, string, RegExp]> = [
    ['a full disk', `${distKiB + 200}k`, '', /^error: cannot write dist\/: ENOSPC \((write|mkdir|open) dist\.tmp-\d+(\/.+)?\)$/],
    ['a read-only file system', '8m', 'mount -o remount,ro $M', /^error: cannot write dist\/: EROFS \(mkdir dist\.tmp-\d+\)$/],
    ['a read-only dist/ mount point', '8m', 'mount --bind $M/dist $M/dist && mount -o remount,bind,ro $M/dist', /^error: cannot write dist\/: EROFS/],
  ];
  (unshare ? test : test.skip)('dist/ as a mount point (it cannot be renamed) is refreshed in place, nothing left beside it (skips without unshare/mount)', () => {
    const setup = 'mv $M/dist $M/was && mkdir $M/dist && mount -t tmpfs tmpfs $M/dist && cp -a $M/was/. $M/dist/ && rm -rf $M/was && echo stale > $M/dist/stale.yaml';
    const r = inMount('8m', setup);
    expect(r.stderr).toBe('');
    // The stale file is gone and the rest is the committed tree again.
    expect(r.stdout.trim().split('\n')).toEqual(['exit=0', 'unchanged', 'dist']);
  });

  (unshare ? test.each(writeCases) : test.skip.each(writeCases))('%s leaves dist/ as it was and nothing beside it (skips without unshare/mount)', (_what, size, setup, says) => {
    const r = inMount(size, setup);
    const lines = r.stdout.trim().split('\n');
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors).toEqual([expect.stringMatching(says)]);
    expect(r.stderr).toMatch(/synthesis failed: nothing was written; .*dist\/ was not changed/);
    expect(lines).toEqual(['exit=1', 'unchanged', 'dist']);
  });

  (unshare ? test.each(writeCases) : test.skip.each(writeCases))('through `cdk8s synth`, %s leaves dist/ as it was and nothing beside it (skips without unshare/mount)', (_what, size, setup, says) => {
    const r = inMount(size, setup, true);
    const lines = r.stdout.trim().split('\n');
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors).toEqual([expect.stringMatching(says)]);
    expect(r.stderr).toMatch(/synthesis failed: nothing was written; .*dist\/ was not changed/);
    expect(lines).toEqual(['exit=1', 'unchanged', 'dist']);
  });
});

describe('a bug, not a user mistake', () => {
  test('is one line naming where in our sources it happened, exit 2; --verbose adds the stack trace', () => {
    // One isolated module registry (loading the app again is the slow part) for both runs.
    let isolated: typeof import('../../main') | undefined;
    jest.isolateModules(() => {
      jest.doMock('../../rules', () => ({
        rules: [{ id: 'broken-rule', description: 'a rule with a bug in it', check: () => [].concat((undefined as any).findings) }],
      }));
      isolated = require('../../main');
    });
    const run = (verbose: boolean): Run => {
      const lines: string[] = [];
      const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
      try {
        const code = isolated!.main({ root: ROOT, outdir: out, environmentsDir: environmentsWith({}), verbose });
        return { code, errors: lines.filter((l) => l.startsWith('error: ')), stderr: lines.join('\n') };
      } finally {
        err.mockRestore();
      }
    };
    const before = hashTree(out);
    const quiet = run(false);
    expect(quiet.code).toBe(2);
    expect(quiet.errors).toEqual([expect.stringMatching(/^error: internal error: Cannot read properties of undefined \(reading 'findings'\) \(at test\/environments\/bad-input\.int\.test\.ts:\d+:\d+\)$/)]);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    expect(quiet.stderr).toMatch(/a bug, not your configuration; .*dist\/ was not changed \(--verbose or SYNTH_VERBOSE=1 prints the stack trace\)$/);
    const verbose = run(true);
    expect(verbose.code).toBe(2);
    expect(verbose.stderr).toMatch(/\n\s+at .*main\.ts:\d+:\d+/);
    expect(hashTree(out)).toBe(before);
  });
});
