/**
 * Classifying premise/hypothesis pairs with a saved classifier, as `node lib/predict.js` does:
 * each pair becomes SNLIBERTDataset's input (same truncation and padding as in training) and
 * the classifier's softmax gives the three probabilities.
 */
import { loadClassifier, NLI_LABELS } from '../d2l/classifier-file';
import { splitLikeSnli } from '../d2l/snli';
import { SNLIBERTDataset } from '../d2l/snli-dataset';
import { noGrad } from '../core/runtime';
import { tidy } from '../core/scope';
import { Device } from '../core/types';
import { UsageError } from './flags';
import { exists, notRegularFile } from './paths';

/** One pair's prediction. */
export interface PairPrediction {
  premise: string;
  hypothesis: string;
  /** The most probable label. */
  label: string;
  /** Probability of each label (entailment, contradiction, neutral), summing to 1. */
  probabilities: Record<string, number>;
}

/** Classifies `pairs` with the classifier saved at `modelFile`, on `device`. */
export async function classifyPairs(modelFile: string, pairs: readonly [string, string][], device: Device): Promise<PairPrediction[]> {
  if (!(await exists(modelFile))) {
    throw new UsageError(`--model ${modelFile} does not exist; write one with node lib/train.js --save ${modelFile}`);
  }
  const kind = await notRegularFile(modelFile);
  if (kind !== undefined) {
    throw new UsageError(`--model ${modelFile} is ${kind}, not a regular file; give a classifier written by node lib/train.js --save FILE`);
  }
  let loaded;
  try {
    loaded = await loadClassifier(modelFile, { device });
  } catch (error) {
    throw new UsageError(`--model ${modelFile}: ${(error as Error).message}`);
  }
  const { net, vocab, maxLen } = loaded;
  const { bert } = net;
  const data = [pairs.map((p) => splitLikeSnli(p[0])), pairs.map((p) => splitLikeSnli(p[1])), pairs.map(() => 0)] as [string[], string[], number[]];
  const dataset = await SNLIBERTDataset.create(data, maxLen, vocab, { workers: 0, log: null });
  try {
    const probabilities = tidy(() => noGrad(() => {
      const [tokens, segments, validLens] = [dataset.tokens, dataset.segments, dataset.validLens].map((t) => t.to(device));
      return net.forward(tokens, segments, validLens).softmax(1).toArray() as number[][];
    }));
    return pairs.map(([premise, hypothesis], k) => {
      const row = probabilities[k];
      const best = row.indexOf(Math.max(...row));
      return { premise, hypothesis, label: NLI_LABELS[best], probabilities: Object.fromEntries(NLI_LABELS.map((label, j) => [label, row[j]])) };
    });
  } finally {
    dataset.dispose();
    net.dispose();
    bert.dispose();
  }
}
