/**
 * The committed dist/ is exactly what the code synthesizes; a bad config fails with one line
 * per problem and leaves the output untouched. Determinism (two synths, in-process and through
 * the CLI) and `kubectl kustomize` of every folder are in dist.int.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderCharts } from '../constructs/lib/output';
import { ROOT, parseYaml, readTree, realTree, synthesisInputsHash } from './support/synth';

function runSynth(env: Record<string, string>): cp.SpawnSyncReturns<string> {
  return cp.spawnSync(process.execPath, ['scripts/synth.mjs'], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('dist/', () => {
  test('the committed dist/ equals a fresh synth (run `npm run synth` and commit if this fails)', () => {
    // The synth of these sources (test/support/synth.ts caches it by their hash; dist.int.test.ts checks the cache against fresh synths).
    const fresh = realTree();
    const committed = readTree(path.join(ROOT, 'dist'));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [file, content] of fresh) expect({ file, content: committed.get(file) }).toEqual({ file, content });
  });

  test('one folder per environment plus cluster/, with a kustomization in apply order and a README', () => {
    const tree = realTree();
    const folders = new Set([...tree.keys()].map((k) => k.split('/')[0]));
    for (const f of ['dev', 'staging', 'prod', 'cluster']) {
      expect(folders).toContain(f);
      const kust = parseYaml(tree.get(`${f}/kustomization.yaml`)!);
      expect(kust.sortOptions).toEqual({ order: 'fifo' });
      const listed: string[] = kust.resources;
      const files = [...tree.keys()].filter((k) => k.startsWith(`${f}/`) && k.split('/').length === 2 && !/(kustomization\.yaml|README\.md)$/.test(k));
      expect([...listed].sort()).toEqual(files.map((k) => k.slice(f.length + 1)).sort());
      const waves = listed.map((file) => Number(parseYaml(tree.get(`${f}/${file}`)!).metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0));
      expect(waves).toEqual([...waves].sort((x, y) => x - y));
      expect(tree.get(`${f}/README.md`)).toContain('npm run synth');
    }
  });

  test('StorageClasses fast-ssd (gp3, 3000 IOPS, 125 MiB/s) and standard (gp2) live only in cluster/', () => {
    const tree = realTree();
    const fast = parseYaml(tree.get('cluster/storageclass-fast-ssd.yaml')!);
    expect(fast.parameters).toEqual({ type: 'gp3', iops: '3000', throughput: '125' });
    expect(fast.metadata.namespace).toBeUndefined();
    expect(parseYaml(tree.get('cluster/storageclass-standard.yaml')!).parameters).toEqual({ type: 'gp2' });
    const elsewhere = [...tree.entries()].filter(([k, v]) => !k.startsWith('cluster/') && /\nkind: StorageClass\n/.test(v));
    expect(elsewhere).toEqual([]);
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

  test('the cache of the real output is keyed by the content of every input of synthesis', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inputs-'));
    try {
      const write = (f: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        fs.writeFileSync(path.join(root, f), text);
      };
      for (const f of ['main.ts', 'constructs/postgres/backup.sh', 'environments/prod.ts', 'rules/capacity.ts', 'imports/k8s.ts', 'package-lock.json']) write(f, `// ${f}\n`);
      const before = synthesisInputsHash(root);
      expect(synthesisInputsHash(root)).toBe(before);
      const changed = new Set<string>();
      for (const [f, text] of [
        ['constructs/postgres/backup.sh', '# an edited script\n'],
        ['environments/prod.ts', '// environments/PROD.ts\n'], // same size, other content
        ['environments/preview.ts', '// a new environment\n'],
        ['rules/capacity.ts', '// edited\n'],
        ['imports/k8s.ts', '// regenerated\n'],
        ['package-lock.json', '{}\n'],
        ['sealed-secrets/prod/postgres-owner.yaml', 'kind: SealedSecret\n'],
        ['main.ts', '// edited main\n'],
        ['versions.json', '{"images":{}}\n'],
      ]) {
        write(f, text);
        changed.add(synthesisInputsHash(root));
      }
      expect(changed.size).toBe(9);
      expect(changed.has(before)).toBe(false);
      // Files synthesis does not read (tests, docs) leave the key alone.
      const last = synthesisInputsHash(root);
      write('test/x.test.ts', '// a test\n');
      write('docs/x.md', 'docs\n');
      expect(synthesisInputsHash(root)).toBe(last);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  void renderCharts;
});
