#!/usr/bin/env node
/**
 * `node lib/predict.js --model FILE PREMISE HYPOTHESIS [PREMISE HYPOTHESIS ...]`: classifies
 * premise/hypothesis pairs with a classifier saved by `node lib/train.js --save FILE`, printing
 * the label and the probability of each of the three labels. `--help` lists the options.
 */
import { choiceFlag, formatFlagHelp, parseFlags, UsageError } from './cli/flags';
import { parseDevices } from './cli/devices';
import { runCli } from './cli/run';
import { classifyPairs } from './cli/classify';

const FLAGS = {
  model: { type: 'string', value: 'FILE', help: 'a classifier written by `node lib/train.js --save FILE` (FILE and FILE.json)' },
  device: { type: 'string', value: 'DEVICE', help: 'cpu (default) or cuda:N' },
  format: { type: 'string', value: 'text|json', help: 'text (default) or json: one JSON object per pair' },
  help: { type: 'boolean', help: 'print this help' },
} as const;

const HELP = `Usage: node lib/predict.js --model FILE PREMISE HYPOTHESIS [PREMISE HYPOTHESIS ...]

Classifies each premise/hypothesis pair as entailment, contradiction or neutral with a BERT
classifier fine-tuned by node lib/train.js, and prints the label and the three probabilities.
Sentences are lowercased and split into words and punctuation as SNLI's text is.

Options:
${formatFlagHelp(FLAGS)}

Example:
  node lib/predict.js --model bert-snli.pt "A man plays a guitar." "A person makes music."

Exit status: 0 done, 2 bad options or inputs (the message says which and how to fix it), 1 other failures.`;

runCli('predict', async (argv) => {
  const { flags, args } = parseFlags(argv, FLAGS, Infinity);
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (flags.model === undefined) throw new UsageError('--model FILE is required: a classifier written by node lib/train.js --save FILE');
  if (args.length === 0 || args.length % 2 !== 0) {
    throw new UsageError(`expected premise/hypothesis pairs, got ${args.length} sentence(s); quote each sentence: "A man plays a guitar." "A person makes music."`);
  }
  const devices = parseDevices(flags.device ?? 'cpu');
  if (devices.length !== 1) throw new UsageError('--device takes one device (cpu or cuda:N)');
  const format = choiceFlag('format', flags.format, ['text', 'json'] as const, 'text');
  const pairs = Array.from({ length: args.length / 2 }, (_, k): [string, string] => [args[2 * k], args[2 * k + 1]]);
  const results = await classifyPairs(flags.model, pairs, devices[0]);
  for (const r of results) {
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      const width = Math.max(...Object.keys(r.probabilities).map((label) => label.length));
      process.stdout.write(`premise:    ${r.premise}\nhypothesis: ${r.hypothesis}\nlabel:      ${r.label}\n` +
        `${Object.entries(r.probabilities).map(([label, p]) => `  ${label.padEnd(width)}  ${p.toFixed(4)}`).join('\n')}\n` +
        `${r === results[results.length - 1] ? '' : '\n'}`);
    }
  }
});
