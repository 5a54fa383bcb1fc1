#!/usr/bin/env node
/**
 * `node lib/train.js`: fine-tunes BERT on SNLI as d2l.ai's section does. `--help` lists the options.
 */
import { fineTune } from './cli/fine-tune';
import { runCli } from './cli/run';
import { parseTrainArgs, TRAIN_HELP } from './cli/train-options';
import { createReporter } from './cli/train-report';

runCli('train', async (argv) => {
  const options = parseTrainArgs(argv);
  if (options === null) {
    process.stdout.write(`${TRAIN_HELP}\n`);
    return;
  }
  const reporter = createReporter({ stdout: process.stdout, stderr: process.stderr }, {
    json: options.json, numEpochs: options.epochs, devices: options.devices,
  });
  await fineTune(options, reporter);
});
