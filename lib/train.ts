#!/usr/bin/env node
/**
 * `node lib/train.js`: fine-tunes BERT on SNLI as d2l.ai's section does. `--help` lists the options.
 */
import { fineTune } from './cli/fine-tune';
import { runCli } from './cli/run';
import { parseTrainArgs, TRAIN_HELP } from './cli/train-options';
import { createReporter, SilentReporter } from './cli/train-report';
import { distributedEnv } from './distributed/env';

// In a distributed job only rank 0 reports; a malformed launch environment is reported by
// fineTune (as a usage error) on every rank.
function jobRank(): number | undefined {
  try {
    return distributedEnv()?.rank;
  } catch {
    return undefined;
  }
}

const rank = jobRank();
runCli('train', async (argv) => {
  const options = parseTrainArgs(argv);
  if (options === null) {
    process.stdout.write(`${TRAIN_HELP}\n`);
    return;
  }
  const reporter = rank !== undefined && rank > 0 ? new SilentReporter() : createReporter({ stdout: process.stdout, stderr: process.stderr }, {
    json: options.json, numEpochs: options.epochs, devices: options.devices,
  });
  await fineTune(options, reporter);
}, { exitOnFailure: rank !== undefined, prefix: rank === undefined ? '' : `rank ${rank}: ` });
