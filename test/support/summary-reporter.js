// Prints one plain closing line after jest's own summary, e.g. "jest: 1325 passed, 0 failed,
// 0 skipped", so any CI log reader sees the counts without parsing jest's format.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(`\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
  }
}
module.exports = SummaryReporter;
