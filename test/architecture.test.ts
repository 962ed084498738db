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

interface Violation { rule: { name: string }; from: string; to: string; cycle?: Array<{ name: string }> }
interface Cruise { cwd: string; roots: string[]; cache?: string }
/**
 * dependency-cruiser's own cache (`cache`, content strategy: checksums of the files and the
 * options) keeps the real tree's result while nothing it reads changed; it parses only what did.
 */
const CACHE = path.join(ROOT, '.build', 'test-cache', 'dependency-cruiser');
/** Run the cruises in one process (test/support/cruise.mjs): per cruise, its violations and module count. */
function cruiseAll(cruises: Cruise[]): Array<{ violations: Violation[]; modules: number }> {
  const jobs = cruises.map((c) => ({ ...c, config: CONFIG }));
  const r = cp.spawnSync(process.execPath, [path.join(ROOT, 'test', 'support', 'cruise.mjs'), JSON.stringify(jobs)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0 || !r.stdout) throw new Error(`dependency-cruiser failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A tree with a cycle, an upward import (constructs -> rules) and a composition that skips a component's face. */
function brokenTree(dir: string): void {
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
  let real: { violations: Violation[]; modules: number };
  let broken: { violations: Violation[]; modules: number };
  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-'));
    try {
      brokenTree(dir);
      [real, broken] = cruiseAll([
        { cwd: ROOT, roots: ['main.ts', 'constructs', 'rules', 'environments', 'scripts/lib'], cache: CACHE },
        { cwd: dir, roots: ['constructs', 'rules'] },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the real tree has no import cycle and no upward import', () => {
    expect(real.modules).toBeGreaterThan(100);
    expect(real.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  test('the check fails on a cycle, on constructs importing rules, and on the composition skipping a face', () => {
    const names = broken.violations.map((v) => v.rule.name);
    expect(names).toEqual(expect.arrayContaining(['no-circular', 'constructs-not-rules', 'components-through-faces']));
  });
});
