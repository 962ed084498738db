/**
 * The order jest hands test files to its workers. The simulated-cluster files (test/cluster/)
 * run one cluster at a time (a lock, test/cluster/lib/netns.ts), so a worker that takes one
 * while another holds the lock waits, idle. With jest's own order (slowest first from its timing
 * cache, or largest file first on a machine without one) every worker could take a cluster file
 * at once and nothing else would run until they were done: a cold CI run spent its first 27 min
 * of `npm test` that way, 14 files done.
 *
 * So: jest's order, except that only the first cluster file comes first (it runs beside
 * everything else) and the other cluster files come last (they wait for the lock when nothing
 * else is left to do). The wall time is then close to the clusters' own sum.
 */
const Sequencer = require('@jest/test-sequencer').default;

const isCluster = (test) => /[\\/]test[\\/]cluster[\\/]/.test(test.path);

/**
 * jest's order with the cluster files moved: one first, the others last. The one that goes first
 * is jest's first (the slowest, from its timing cache); on a machine without timings (a fresh CI
 * machine, where jest would go by file size) it is newest.test.ts, the one cluster file whose
 * programs .ci/install always builds (it may skip Argo CD and the oldest server to keep its budget).
 */
function clusterAware(ordered) {
  const cluster = ordered.filter(isCluster);
  const first = cluster.find((t) => t.duration != null) ?? cluster.find((t) => /[\\/]newest\.test\.ts$/.test(t.path)) ?? cluster[0];
  const last = cluster.filter((t) => t !== first);
  return [...(first ? [first] : []), ...ordered.filter((t) => !isCluster(t)), ...last];
}

class ClusterAwareSequencer extends Sequencer {
  async sort(tests) {
    return clusterAware(await super.sort(tests));
  }
}

module.exports = ClusterAwareSequencer;
module.exports.clusterAware = clusterAware;
