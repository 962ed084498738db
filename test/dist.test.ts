/**
 * The committed dist/ is exactly what the code synthesizes. The real program's runs (a bad
 * config failing with one line per problem and the output untouched, determinism in-process and
 * through the CLI, `kubectl kustomize` of every folder) are in dist.int.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderCharts } from '../constructs/lib/output';
import { ROOT, parseYaml, readTree, realTree, synthesisInputsHash } from './support/synth';

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
