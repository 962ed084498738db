/**
 * A bad config fails `npm run synth`'s program with one line per problem and leaves the output
 * untouched. Synthesis is deterministic: two in-process synths and two through `npm run synth`'s program
 * give byte-identical trees, equal to the cached tree the other tests read; and the real
 * `kubectl kustomize` renders every folder that has a kustomization.
 */
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeTree } from '../constructs/lib/output';
import { buildApp, synthesize } from '../main';
import { ROOT, parseYaml, readTree, realEnvironments, realTree } from './support/synth';

function freshTree(): Map<string, string> {
  return synthesize(buildApp(realEnvironments()));
}

function runSynth(env: Record<string, string>): cp.SpawnSyncReturns<string> {
  return cp.spawnSync(process.execPath, ['scripts/synth.mjs'], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('dist/', () => {
  /** A copy of the tracked tree (node_modules linked), so the repository is never written. */
  function copyOfTree(stem: string): string {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), stem));
    for (const f of cp.execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean)) {
      if (f.startsWith('dist/') || !fs.existsSync(path.join(ROOT, f))) continue;
      fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    return copy;
  }
  const synthIn = (copy: string, out: string) => cp.spawnSync(process.execPath, ['scripts/synth.mjs'], { cwd: copy, env: { ...process.env, CDK8S_OUTDIR: out, SYNTH_QUIET: '1' }, encoding: 'utf8' });

  test('the cached app bundle follows every file it was built from: a version changed in versions.json reaches the output', () => {
    const copy = copyOfTree('bundle-key-');
    try {
      const synthInto = (out: string) => synthIn(copy, out);
      const kubectlImage = (out: string) => /image: (registry\.k8s\.io\/kubectl:\S+)/.exec(fs.readFileSync(path.join(out, 'prod', 'runbooks', 'job-postgres-switch.yaml'), 'utf8'))![1];
      const first = path.join(copy, 'out-1');
      expect(synthInto(first).status).toBe(0);
      const versions = path.join(copy, 'versions.json');
      const before = kubectlImage(first);
      fs.writeFileSync(versions, fs.readFileSync(versions, 'utf8').replace(before, 'registry.k8s.io/kubectl:v1.99.0'));
      const second = path.join(copy, 'out-2');
      const r = synthInto(second);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(kubectlImage(second)).toBe('registry.k8s.io/kubectl:v1.99.0');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  }, 120000);

  test("the bundle's V8 code cache is written after a run, used by the next, and a corrupt one is compiled over with the same output", () => {
    const copy = copyOfTree('bundle-cache-');
    try {
      const appDir = path.join(copy, '.build', 'app');
      const caches = () => (fs.existsSync(appDir) ? fs.readdirSync(appDir).filter((f) => f.endsWith('.v8cache')) : []);
      const run = (n: number) => {
        const out = path.join(copy, `out-${n}`);
        const r = synthIn(copy, out);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
        return readTree(out);
      };
      const first = run(1);
      expect(caches()).toEqual([expect.stringMatching(new RegExp(`^app-[0-9a-f]+\\.cjs\\.${process.version.replace(/\./g, '\\.')}-${process.arch}\\.v8cache$`))]);
      const file = path.join(appDir, caches()[0]);
      // (A digest, not the bytes: a failure's diff of 2 MB would take minutes to print.)
      const state = () => ({ sha256: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), bytes: fs.statSync(file).size, mtimeMs: fs.statSync(file).mtimeMs });
      const written = state();
      expect(written.bytes).toBeGreaterThan(100_000);
      // Accepted by V8: the second run leaves it as it was.
      expect(run(2)).toEqual(first);
      expect(state()).toEqual(written);
      // Rejected by V8: compiled from the source, same output, a sound cache written again.
      fs.writeFileSync(file, Buffer.alloc(4096, 7));
      expect(run(3)).toEqual(first);
      expect(state().bytes).toBeGreaterThan(100_000);
      expect(caches()).toHaveLength(1);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  }, 120000);

  test('two synths are byte-identical', () => {
    const a = freshTree();
    const b = freshTree();
    expect([...b.entries()]).toEqual([...a.entries()]);
    // The tree the other tests read from the cache is the one a fresh synth gives.
    expect([...realTree().entries()]).toEqual([...a.entries()]);
    // and through the CLI path, twice into two folders
    const outs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'synth-')));
    for (const o of outs) expect(runSynth({ CDK8S_OUTDIR: o, SYNTH_QUIET: '1' }).status).toBe(0);
    expect(readTree(outs[1])).toEqual(readTree(outs[0]));
  });

  const kubectl = cp.spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  (kubectl.status === 0 ? test : test.skip)('kubectl kustomize renders every applied folder (skips without kubectl)', () => {
    // What the synth writes (the tree checked against fresh synths above), written by its writer.
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kust-')), 'dist');
    expect(writeTree(out, realTree())).toEqual([]);
    const tree = readTree(out);
    for (const f of new Set([...tree.keys()].filter((k) => k.endsWith('/kustomization.yaml')).map((k) => path.dirname(k)))) {
      const r = cp.spawnSync('kubectl', ['kustomize', path.join(out, f)], { encoding: 'utf8' });
      expect({ folder: f, stderr: r.stderr, status: r.status }).toEqual({ folder: f, stderr: '', status: 0 });
      const listed = parseYaml(tree.get(`${f}/kustomization.yaml`)!).resources.length;
      expect(r.stdout.split(/^---$/m).length).toBe(listed);
    }
  });

  test('a bad value fails with one line per problem, no stack trace, and leaves the output untouched', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'envs-')), 'environments');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(ROOT, 'environments', 'define.ts'), path.join(dir, 'define.ts'));
    const prod = fs.readFileSync(path.join(ROOT, 'environments', 'prod.ts'), 'utf8');
    fs.writeFileSync(
      path.join(dir, 'prod.ts'),
      prod.replace("minReplicas: 3, maxReplicas: 6", 'minReplicas: -3, maxReplicas: 6').replace(/tag: '[0-9.]+'/, "tag: 'latest'"),
    );
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-'));
    fs.writeFileSync(path.join(out, 'marker.txt'), 'previous synth');
    const r = runSynth({ NEXTGEN_ENVIRONMENTS: dir, CDK8S_OUTDIR: out });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      'error: environments/prod.ts: api.autoscaling.minReplicas = -3: allowed: a number >= 1',
      'error: environments/prod.ts: image.tag = "latest": allowed: a pinned tag or a digest; "latest" is allowed only in development environments',
      expect.stringMatching(/^synthesis failed: 2 problem\(s\); .* was not changed$/),
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(out)).toEqual(['marker.txt']);
  });
});
