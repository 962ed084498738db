/**
 * The test harness's module sharing (test/support/runtime.js, environment.js): the app's
 * modules are loaded once per jest worker and shared by its test files; test files and their
 * helpers are not; each file has its own `process.env`; values the shared code makes belong to
 * the file's realm; `jest.isolateModules` still gives fresh copies; NEXTGEN_JEST_ISOLATE=1
 * turns the sharing off. Three probe files (test/fixtures/isolation/) run in one worker of a
 * jest of their own, with this repository's runtime and environment.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const config = require(path.join(ROOT, 'jest.config.js')) as Record<string, unknown>;

interface Seen {
  file: string;
  visits: number;
  helperInstance: number;
  errorOfThisRealm: boolean;
  errorProtoOfThisRealm: boolean;
  envBefore: string | null;
  isolatedVisits: number | null;
}

function runProbes(env: Record<string, string> = {}): Seen[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isolation-'));
  const out = path.join(dir, 'seen.jsonl');
  const probeConfig = {
    rootDir: ROOT,
    roots: ['<rootDir>/test/fixtures/isolation'],
    testMatch: ['**/*.probe.ts'],
    testEnvironment: config.testEnvironment,
    runtime: config.runtime,
    transform: config.transform,
    moduleFileExtensions: config.moduleFileExtensions,
    cacheDirectory: path.join(dir, 'cache'),
  };
  try {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(probeConfig), '--runInBand', '--ci'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ISOLATION_PROBE_OUT: out, NEXTGEN_JEST_ISOLATE: '', ...env },
    });
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    return fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Seen);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('three files of one worker share the app modules, not their own helpers or process.env', () => {
  const seen = runProbes();
  expect(seen).toHaveLength(3);
  // One instance of the app module: each file sees the marks of the files before it.
  expect(seen.map((s) => s.visits)).toEqual([1, 2, 3]);
  // The helper under test/ is loaded afresh by every file.
  expect(new Set(seen.map((s) => s.helperInstance)).size).toBe(3);
  for (const s of seen) {
    expect(s).toMatchObject({ errorOfThisRealm: true, errorProtoOfThisRealm: true, envBefore: null });
    // jest.isolateModules loads a fresh copy, which has no mark.
    expect(s.isolatedVisits).toBeNull();
  }
});

test('NEXTGEN_JEST_ISOLATE=1 gives every file its own modules, as jest does by default', () => {
  const seen = runProbes({ NEXTGEN_JEST_ISOLATE: '1' });
  expect(seen.map((s) => s.visits)).toEqual([1, 1, 1]);
  for (const s of seen) expect(s).toMatchObject({ errorOfThisRealm: true, errorProtoOfThisRealm: true, envBefore: null, isolatedVisits: null });
});
