/**
 * The order jest hands test files to its workers (test/support/sequencer.js): the simulated
 * clusters run one at a time, so at most one cluster file may start ahead of the rest.
 */
import * as fs from 'fs';
import * as path from 'path';

interface FakeTest {
  path: string;
  duration?: number;
  context: { config: { cache: boolean; cacheDirectory: string; id: string }; hasteFS: { getSize(p: string): number } };
}
type Sequencer = { new (options: object): { sort(tests: FakeTest[]): Promise<FakeTest[]> } };
const seq = require('./support/sequencer') as Sequencer & { clusterAware<T extends { path: string }>(ordered: T[]): T[] };

const ROOT = path.resolve(__dirname, '..');
const isCluster = (p: string) => p.includes('/test/cluster/');

/** Test files as jest would see them, with their sizes (no timing cache: a fresh machine). */
function fakeTests(files: Array<[string, number]>): FakeTest[] {
  const sizes = new Map(files);
  const context = { config: { cache: false, cacheDirectory: '/nonexistent', id: 'order' }, hasteFS: { getSize: (p: string) => sizes.get(p) ?? 0 } };
  return files.map(([p]) => ({ path: p, context }));
}

/**
 * The wall time of a run: `workers` take files in order as they free up; a cluster file holds the
 * one cluster lock for its whole duration (a worker that takes it while the lock is held waits).
 */
function wallTime(order: Array<{ path: string; minutes: number }>, workers: number): number {
  const free = Array.from({ length: workers }, () => 0);
  let lockFreeAt = 0;
  for (const t of order) {
    const w = free.indexOf(Math.min(...free));
    let start = free[w];
    if (isCluster(t.path)) {
      start = Math.max(start, lockFreeAt);
      lockFreeAt = start + t.minutes;
    }
    free[w] = start + t.minutes;
  }
  return Math.max(...free);
}

describe('cluster files do not hold every worker', () => {
  // Minutes as measured in CI (the Argo CD drills, the newest and the oldest server's scenarios)
  // and 60 other files of half a minute each.
  const cluster = [
    { path: '/r/test/cluster/argocd.test.ts', minutes: 24, duration: 24 * 60_000 },
    { path: '/r/test/cluster/newest.test.ts', minutes: 8, duration: 8 * 60_000 },
    { path: '/r/test/cluster/oldest.test.ts', minutes: 6, duration: 6 * 60_000 },
  ];
  const rest = Array.from({ length: 60 }, (_, i) => ({ path: `/r/test/x/f${i}.test.ts`, minutes: 0.5, duration: 30_000 }));
  const slowestFirst = [...cluster, ...rest];

  test('the reorder keeps the first cluster file first, every other file in jest order, the other cluster files last', () => {
    const order = seq.clusterAware(slowestFirst).map((t) => t.path);
    expect(order[0]).toBe(cluster[0].path); // the slowest by jest's timings
    expect(order.slice(1, 1 + rest.length)).toEqual(rest.map((t) => t.path));
    expect(order.slice(-2)).toEqual([cluster[1].path, cluster[2].path]);
    expect([...order].sort()).toEqual(slowestFirst.map((t) => t.path).sort());
  });

  test('with jest order (slowest first) the clusters hold all three workers; reordered, the run takes the clusters own sum', () => {
    const sum = cluster.reduce((s, t) => s + t.minutes, 0);
    const before = wallTime(slowestFirst, 3);
    const after = wallTime(seq.clusterAware(slowestFirst), 3);
    expect(before).toBeGreaterThan(sum + 3);
    expect(after).toBe(sum);
  });

  test('the sequencer jest loads applies it to jest own order; without timings newest.test.ts (always built) goes first', async () => {
    const files = fs
      .readdirSync(path.join(ROOT, 'test', 'cluster'))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => path.join(ROOT, 'test', 'cluster', f));
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['argocd.test.ts', 'newest.test.ts', 'oldest.test.ts']));
    const docs = path.join(ROOT, 'test', 'docs.test.ts');
    const dist = path.join(ROOT, 'test', 'dist.test.ts');
    // A fresh machine: no timing cache, so jest goes by size (the cluster files made the largest here).
    const tests = fakeTests([...files.map((f): [string, number] => [f, 1_000_000 + fs.statSync(f).size]), [dist, 10], [docs, 20]]);
    const order = (await new seq({}).sort(tests)).map((t) => t.path);
    expect(order[0]).toBe(path.join(ROOT, 'test', 'cluster', 'newest.test.ts'));
    expect(order.slice(1, 3)).toEqual([docs, dist]);
    expect(order.slice(3).every(isCluster)).toBe(true);
  });

  test('jest is configured with it', () => {
    expect(require(path.join(ROOT, 'jest.config.js')).testSequencer).toBe('<rootDir>/test/support/sequencer.js');
  });
});
