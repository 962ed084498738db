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

/** jest's order with the cluster files moved: the first stays first, the others go last. */
function clusterAware(ordered) {
  const cluster = ordered.filter(isCluster);
  return [...cluster.slice(0, 1), ...ordered.filter((t) => !isCluster(t)), ...cluster.slice(1)];
}

class ClusterAwareSequencer extends Sequencer {
  async sort(tests) {
    return clusterAware(await super.sort(tests));
  }
}

module.exports = ClusterAwareSequencer;
module.exports.clusterAware = clusterAware;
