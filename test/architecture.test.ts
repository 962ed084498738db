/**
 * The house rules of the layout (issue: "a house by component"): one folder per component under
 * constructs/, each with an index.ts; imports point one way (.dependency-cruiser.cjs), checked by
 * dependency-cruiser over the real tree, and shown to fail on a cycle and on an upward import.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './support/synth';

const COMPONENTS = ['api', 'postgres', 'redis', 'minio', 'monitoring', 'platform'];
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const BIN = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation { rule: { name: string }; from: string; to: string; cycle?: Array<{ name: string }> }
/**
 * dependency-cruiser's own cache (`--cache`, content strategy: checksums of the files and the
 * options) keeps the real tree's result while nothing it reads changed; it parses only what did.
 */
const CACHE = path.join(ROOT, '.build', 'test-cache', 'dependency-cruiser');
function cruise(cwd: string, roots: string[], cache?: string): Violation[] {
  const cacheArgs = cache ? ['--cache', cache, '--cache-strategy', 'content'] : [];
  const r = cp.spawnSync(process.execPath, [BIN, '--config', CONFIG, ...cacheArgs, '--output-type', 'json', ...roots], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (!r.stdout) throw new Error(`dependency-cruiser failed: ${r.stderr}`);
  return JSON.parse(r.stdout).summary.violations;
}

describe('constructs/ is one folder per component', () => {
  test('each component folder has an index.ts, its public face', () => {
    for (const c of COMPONENTS) expect(fs.existsSync(path.join(ROOT, 'constructs', c, 'index.ts'))).toBe(true);
  });

  test('no construct file sits directly under constructs/ but the composition', () => {
    const loose = fs.readdirSync(path.join(ROOT, 'constructs'), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    expect(loose).toEqual(['marketplace.ts']);
  });

  test('every folder under constructs/ is a component or lib', () => {
    const dirs = fs.readdirSync(path.join(ROOT, 'constructs'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(dirs).toEqual([...COMPONENTS, 'lib'].sort());
  });

  test('tests mirror the layout: a test folder per component', () => {
    for (const c of COMPONENTS) expect(fs.readdirSync(path.join(ROOT, 'test', c)).some((f) => f.endsWith('.test.ts'))).toBe(true);
  });
});

describe('imports point one way', () => {
  test('the real tree has no import cycle and no upward import', () => {
    const violations = cruise(ROOT, ['main.ts', 'constructs', 'rules', 'environments', 'scripts/lib'], CACHE);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  test('the check fails on a cycle, on constructs importing rules, and on the composition skipping a face', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-'));
    try {
      const write = (f: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
      };
      write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16' } }));
      write('constructs/postgres/a.ts', "import { b } from './b';\nexport const a = () => b;\n");
      write('constructs/postgres/b.ts', "import { a } from './a';\nexport const b = () => a;\n");
      write('constructs/postgres/index.ts', "export * from './a';\n");
      write('constructs/lib/helper.ts', "import { r } from '../../rules/lib';\nexport const h = r;\n");
      write('rules/lib.ts', 'export const r = 1;\n');
      write('constructs/marketplace.ts', "import { a } from './postgres/a';\nexport const m = a;\n");
      const names = cruise(dir, ['constructs', 'rules']).map((v) => v.rule.name);
      expect(names).toEqual(expect.arrayContaining(['no-circular', 'constructs-not-rules', 'components-through-faces']));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
