// mocha's spec reporter, then the time each test file took (the slowest first: where the suite's
// minutes go), then the one-line summary CI reads: "N passed, N failed[, N skipped]".
'use strict';
const path = require('path');
const Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END } = Mocha.Runner.constants;
const SHOWN = 15;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    // A file's time runs from its first top-level suite's start to its last one's end, hooks included.
    const files = new Map();
    const started = new Map();
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.file && suite.parent && suite.parent.root) started.set(suite, process.hrtime.bigint());
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      const start = started.get(suite);
      if (start === undefined) return;
      started.delete(suite);
      const file = path.relative(process.cwd(), suite.file);
      files.set(file, (files.get(file) || 0) + Number(process.hrtime.bigint() - start) / 1e9);
    });
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending, duration } = runner.stats;
      const sorted = [...files].sort((a, b) => b[1] - a[1]);
      if (sorted.length) {
        const total = duration !== undefined ? duration / 1000 : sorted.reduce((s, [, t]) => s + t, 0);
        process.stdout.write(`\n  time per test file (${total.toFixed(0)} s in all; the ${Math.min(SHOWN, sorted.length)} slowest of ${sorted.length}):\n`);
        for (const [file, seconds] of sorted.slice(0, SHOWN)) {
          process.stdout.write(`    ${seconds.toFixed(1).padStart(7)} s  ${file}\n`);
        }
        process.stdout.write('\n');
      }
      process.stdout.write(`${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}\n`);
    });
  }
}

module.exports = SummaryReporter;
