/**
 * The job `node lib/train.js` runs: d2l's section end to end. Load the pretrained BERT (or build
 * a random one), read SNLI, build SNLIBERTDataset and the loaders, wrap BERT in the
 * classifier, train with trainCh13 (Adam, CrossEntropyLoss(reduction='none')) while the
 * chart is redrawn, then save the classifier when asked.
 */
import * as path from 'path';

import { BERTClassifier, BERTModel } from '../d2l/bert';
import { saveClassifier } from '../d2l/classifier-file';
import { DataLoader } from '../data/data-loader';
import { DATA_HUB, DownloadError, downloadExtract, ProgressSink } from '../d2l/hub';
import { loadPretrainedModel } from '../d2l/pretrained';
import { readSnli, SnliData, SnliFileError } from '../d2l/snli';
import { SNLIBERTDataset } from '../d2l/snli-dataset';
import { tokenize, Vocab } from '../d2l/text';
import { Animator } from '../d2l/animator';
import { trainCh13, TrainCh13Result } from '../d2l/train-ch13';
import { manualSeed } from '../core/creation';
import { CrossEntropyLoss } from '../nn/loss';
import { Adam } from '../optim/optimizers';
import { setNumThreads, version } from '../core/runtime';
import { dispose } from '../core/scope';
import { load } from '../serialization';
import { UsageError } from './flags';
import { exists, isDirectory, notRegularFile } from './paths';
import { TrainCliOptions } from './train-options';
import { TrainReporter } from './train-report';
import { DistributedSampler, Sampler } from '../data/distributed-sampler';
import { DistributedEnv, DistributedEnvError, distributedEnv } from '../distributed/env';
import { initProcessGroup, ProcessGroup } from '../distributed/process-group';
import { Device } from '../core/types';

/** d2l builds its pretraining vocabulary with min_freq 5 and these reserved tokens (d2l 1.0's `_WikiTextDataset`). */
const RANDOM_VOCAB = { minFreq: 5, reservedTokens: ['<pad>', '<mask>', '<cls>', '<sep>'] };

/** The SNLI directory: --data-dir checked, or SNLI downloaded (and cached) from its hub entry. */
async function snliDirectory(options: TrainCliOptions, progress: ProgressSink | boolean): Promise<string> {
  const needed = [options.trainSplit, options.testSplit].map((split) => `snli_1.0_${split}.txt`);
  if (options.dataDir !== undefined) {
    if (!(await isDirectory(options.dataDir))) throw new UsageError(`--data-dir ${options.dataDir} is not a directory; give the directory that holds ${needed.join(' and ')}`);
    for (const file of needed) {
      if (!(await exists(path.join(options.dataDir, file)))) {
        const hint = file === 'snli_1.0_train.txt' ? ' (without the training split, train on the dev split: --train-split dev)' : '';
        throw new UsageError(`--data-dir ${options.dataDir} has no ${file}${hint}; point --data-dir at an unzipped snli_1.0.zip`);
      }
    }
    return options.dataDir;
  }
  try {
    return await downloadExtract('SNLI', { progress });
  } catch (error) {
    if (!(error instanceof DownloadError)) throw error;
    throw new UsageError(`cannot get SNLI: ${error.message}; or pass --data-dir DIR with ${needed.join(' and ')}`);
  }
}

/**
 * A split read for training or testing: what is wrong with the file (not a regular file, rows
 * without columns, not UTF-8, binary, no labelled example) is a usage error naming it.
 */
async function readSplit(dataDir: string, flag: 'train-split' | 'test-split', split: 'train' | 'dev' | 'test'): Promise<SnliData> {
  try {
    return await readSnli(dataDir, split, { requireExamples: true });
  } catch (error) {
    if (!(error instanceof SnliFileError)) throw error;
    const fix = flag === 'train-split' ? 'training needs labelled pairs' : 'the test accuracy needs labelled pairs';
    throw new UsageError(`--${flag} ${split}: ${error.message.replace(/^readSnli: /, '')} (${fix})`);
  }
}

/** The pretrained BERT and its vocabulary, or a random BERT over a vocabulary of the training split. */
async function bertAndVocab(options: TrainCliOptions, train: SnliData, progress: ProgressSink | boolean): Promise<{ bert: BERTModel; vocab: Vocab }> {
  const sizes = {
    numHiddens: options.numHiddens, ffnNumHiddens: options.ffnNumHiddens, numHeads: options.numHeads, numBlks: options.numBlks,
    dropout: options.dropout, maxLen: options.bertMaxLen,
  };
  if (options.pretrained === 'random') {
    const sentences = [...train[0], ...train[1]].map((s) => s.toLowerCase());
    const vocab = new Vocab(tokenize(sentences), RANDOM_VOCAB);
    return { bert: new BERTModel({ vocabSize: vocab.length, ...sizes }, { device: options.devices[0] }), vocab };
  }
  const isHubName = Object.prototype.hasOwnProperty.call(DATA_HUB, options.pretrained) && options.pretrained.startsWith('bert.');
  if (!isHubName) {
    if (!(await isDirectory(options.pretrained))) {
      throw new UsageError(`--pretrained ${options.pretrained} is neither bert.small, bert.base, random nor a directory`);
    }
    for (const file of ['vocab.json', 'pretrained.params']) {
      const full = path.join(options.pretrained, file);
      if (!(await exists(full))) {
        throw new UsageError(`--pretrained ${options.pretrained} has no ${file}; a pretrained directory holds vocab.json and pretrained.params (as d2l's bert.small.torch.zip)`);
      }
      const kind = await notRegularFile(full);
      if (kind !== undefined) throw new UsageError(`--pretrained ${options.pretrained}: ${full} is ${kind}, not a regular file`);
    }
  }
  try {
    const loaded = await loadPretrainedModel(options.pretrained, { ...sizes, devices: options.devices, download: { progress } });
    try {
      void loaded.vocab.unk;  // every lookup of SNLIBERTDataset needs '<unk>': say so before building it
    } catch (error) {
      loaded.bert.dispose();
      throw error;
    }
    return loaded;
  } catch (error) {
    if (error instanceof DownloadError) {
      throw new UsageError(`cannot get ${options.pretrained}: ${error.message}; or pass --pretrained DIR (vocab.json and pretrained.params), or --pretrained random`);
    }
    // a directory is the user's input: whatever is wrong with its files is theirs to fix
    if (!isHubName) throw new UsageError(`--pretrained ${options.pretrained}: ${(error as Error).message}`);
    throw error;
  }
}

async function loadInit(net: BERTClassifier, file: string): Promise<void> {
  if (!(await exists(file))) throw new UsageError(`--init ${file} does not exist; give a classifier state dict (e.g. a --save output)`);
  const kind = await notRegularFile(file);
  if (kind !== undefined) throw new UsageError(`--init ${file} is ${kind}, not a regular file; give a classifier state dict (e.g. a --save output)`);
  let state;
  try {
    state = await load(file);
  } catch (error) {
    throw new UsageError(`--init ${file} is not a readable state dict: ${(error as Error).message}`);
  }
  try {
    net.loadStateDict(state);
  } catch (error) {
    throw new UsageError(`--init ${file} does not fit this classifier (check --num-hiddens, --ffn-num-hiddens, --num-blks, --bert-max-len and the vocabulary): ${(error as Error).message}`);
  } finally {
    dispose([...state.values()]);
  }
}

/** d2l's chart: train loss and train acc at each progress point, test acc per epoch, redrawn into `file`. */
class Chart {
  private readonly animator: Animator;
  private failure: Error | undefined;
  private lastSave: Promise<void> = Promise.resolve();

  constructor(private readonly file: string, numEpochs: number, private readonly reporter: TrainReporter) {
    // d2l's xlim [1, num_epochs]; a single epoch would give matplotlib's singular limits, so autoscale then
    const xlim: [number, number] | undefined = numEpochs > 1 ? [1, numEpochs] : undefined;
    this.animator = new Animator({ xlabel: 'epoch', xlim, ylim: [0, 1], legend: ['train loss', 'train acc', 'test acc'] });
  }

  add(x: number, y: (number | null)[]): void {
    this.animator.add(x, y);
    // A chart that cannot be written is reported once; training goes on.
    this.lastSave = this.animator.save(this.file).catch((error: Error) => {
      if (this.failure === undefined) this.reporter.info(`warning: the chart was not written: ${error.message}`);
      this.failure = error;
    });
  }

  /** Waits for the last save (saves complete in call order). */
  flush(): Promise<void> {
    return this.lastSave;
  }
}

/** The distributed job the launch environment describes, or undefined for a single process. */
function launchEnv(): DistributedEnv | undefined {
  try {
    return distributedEnv();
  } catch (error) {
    if (error instanceof DistributedEnvError) throw new UsageError(`the launch environment: ${error.message}`);
    throw error;
  }
}

/** The device of this rank: --devices[LOCAL_RANK], or the one device every rank shares. */
function rankDevice(options: TrainCliOptions, env: DistributedEnv): Device {
  const devices = options.devices;
  if (devices.length === 1) return devices[0];
  if (devices.length < env.localWorldSize) {
    throw new UsageError(`--devices lists ${devices.length} devices for the ${env.localWorldSize} ranks on this machine (LOCAL_WORLD_SIZE); ` +
      'give one per rank, or one that they share');
  }
  return devices[env.localRank];
}

/**
 * c10d's backend for a rank training on `device`: --dist-backend, where 'auto' is NCCL for a GPU
 * rank of a binary that has it (as PyTorch's jobs pick 'nccl' for GPUs), Gloo otherwise.
 */
function distBackend(options: TrainCliOptions, device: Device): 'gloo' | 'nccl' {
  const onGpu = device.startsWith('cuda');
  if (options.distBackend === 'auto') return onGpu && version().nccl !== null ? 'nccl' : 'gloo';
  if (options.distBackend === 'nccl') {
    if (!onGpu) throw new UsageError(`--dist-backend nccl reduces CUDA tensors, and this rank trains on ${device}; use --dist-backend gloo`);
    if (version().nccl === null) {
      throw new UsageError("--dist-backend nccl: this torchbridge binary has no NCCL (a CUDA libtorch 2.x built with CUDA's and NCCL's headers has: " +
        '`node scripts/find-libtorch.js` says which are missing); use --dist-backend gloo');
    }
  }
  return options.distBackend;
}

/** Rank `rank`'s part of the test set: every worldSize-th example, none twice (counts are summed over the ranks). */
function testShard(length: number, rank: number, worldSize: number): Sampler {
  const order = Int32Array.from({ length: Math.max(0, Math.ceil((length - rank) / worldSize)) }, (_, k) => rank + k * worldSize);
  return { length: order.length, indices: () => order };
}

/**
 * Runs the fine-tuning `options` describe, reporting through `reporter`. In a distributed job
 * (the launch environment), this rank trains on its device with its shard of each global batch.
 */
export async function fineTune(options: TrainCliOptions, reporter: TrainReporter): Promise<TrainCh13Result> {
  const env = launchEnv();
  if (env === undefined) return fineTuneOn(options, reporter, undefined);
  // what is wrong with the options is said before waiting for the other ranks
  if (options.batchSize % env.worldSize !== 0) {
    throw new UsageError(`--batch-size ${options.batchSize} does not split evenly over the ${env.worldSize} ranks (WORLD_SIZE); ` +
      `give a multiple of ${env.worldSize}`);
  }
  const device = rankDevice(options, env);
  const group = await initProcessGroup({ timeoutMs: options.distTimeout * 1000, backend: distBackend(options, device) }).catch((error: unknown) => {
    throw error instanceof DistributedEnvError ? new UsageError(error.message) : error;
  });
  try {
    return await fineTuneOn({ ...options, devices: [device], batchSize: options.batchSize / env.worldSize }, reporter, group);
  } finally {
    group?.dispose();
  }
}

async function fineTuneOn(options: TrainCliOptions, reporter: TrainReporter, group: ProcessGroup | undefined): Promise<TrainCh13Result> {
  if (options.threads !== undefined) setNumThreads(options.threads);
  if (options.seed !== undefined) manualSeed(options.seed);
  // Downloads draw their own bar on a terminal; as lines they go where the reporter's messages go.
  const progress: ProgressSink | boolean = options.json ? (line) => reporter.info(line) : true;
  const dataDir = await snliDirectory(options, progress);
  const trainData = await readSplit(dataDir, 'train-split', options.trainSplit);
  const testData = await readSplit(dataDir, 'test-split', options.testSplit);
  const { bert, vocab } = await bertAndVocab(options, trainData, progress);
  const net = new BERTClassifier(bert);
  const log = (line: string) => reporter.info(line);
  const trainSet = await SNLIBERTDataset.create(trainData, options.maxLen, vocab, { log });
  const testSet = await SNLIBERTDataset.create(testData, options.maxLen, vocab, { log });
  try {
    if (options.init !== undefined) await loadInit(net, options.init);
    const transform = options.trim ? SNLIBERTDataset.trimBatch : undefined;
    const bucket = options.bucket ? { lengths: trainSet.validLens.toArray() as number[] } : undefined;
    // a rank's shard (DistributedSampler: shuffled by the shared seed and the epoch, padded to equal shards)
    const sampler = group === undefined ? undefined
      : new DistributedSampler(trainSet, { numReplicas: group.worldSize, rank: group.rank, shuffle: options.shuffle, seed: options.seed ?? 0 });
    const trainIter = sampler === undefined
      ? new DataLoader(trainSet, options.batchSize, { shuffle: options.shuffle, seed: options.seed, transform, bucket })
      : new DataLoader(trainSet, options.batchSize, { sampler, transform, bucket });
    const testIter = new DataLoader(testSet, options.batchSize,
      { transform, ...(group === undefined ? {} : { sampler: testShard(testSet.length, group.rank, group.worldSize) }) });
    const optimizer = new Adam(net.parameters(), { lr: options.lr, fused: options.kernels === 'fused' });
    const loss = new CrossEntropyLoss({ reduction: 'none' });
    const lead = group === undefined || group.rank === 0;  // only rank 0 draws and saves
    const chart = options.plot === null || !lead ? undefined : new Chart(options.plot, options.epochs, reporter);
    try {
      const result = await trainCh13(net, trainIter, testIter, loss, optimizer, options.epochs, options.devices, {
        maxSteps: options.maxSteps,
        trainer: {
          dropoutRng: options.dropoutRng,
          attention: options.attention,
          kernels: options.kernels,
          precision: options.precision,
          // SNLIBERTDataset's inputs: [tokens, segments, validLens]
          lengthGroups: options.lengthGroups > 1 ? { groups: options.lengthGroups, lengthsInput: 2, trimmedInputs: [0, 1] } : undefined,
          processGroup: group,
        },
        onEpochStart: (epoch) => sampler?.setEpoch(epoch),
        onStep: (step) => reporter.step(step),
        onProgress: (point) => {
          reporter.progress(point);
          chart?.add(point.x, [point.trainLoss, point.trainAcc, null]);
        },
        onEpochEnd: (end) => {
          reporter.epochEnd(end);
          chart?.add(end.epoch + 1, [null, null, end.testAcc]);
        },
        log: () => undefined,
      });
      reporter.done(result);
      if (options.save !== undefined && lead) {
        await saveClassifier(options.save, net, vocab, options.maxLen);
        reporter.info(`saved the classifier to ${options.save} (and ${options.save}.json)`);
      }
      return result;
    } finally {
      optimizer.dispose();
      await chart?.flush();
    }
  } finally {
    trainSet.dispose();
    testSet.dispose();
    net.dispose();
    bert.dispose();
  }
}
