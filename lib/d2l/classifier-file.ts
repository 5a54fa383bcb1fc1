/**
 * A fine-tuned classifier on disk: `FILE` is the BERTClassifier's state dict in PyTorch's format
 * with d2l's names (`torch.load` + d2l's `BERTClassifier.load_state_dict` accept it), and
 * `FILE.json` beside it holds what the state dict cannot: the vocabulary, the number of heads and
 * the sequence length the model was trained with, so that a classifier can be used by name alone.
 */
import { promises as fs } from 'fs';

import { writeFileAtomically } from '../atomic-file';
import { dispose } from '../scope';
import { load, save } from '../serialization';
import { Device } from '../types';
import { BERTClassifier, BERTConfig, BERTModel } from './bert';
import { Vocab } from './text';

/** The labels of the classifier's three outputs, in order (d2l's SNLI labels). */
export const NLI_LABELS = Object.freeze(['entailment', 'contradiction', 'neutral'] as const);

const FORMAT = 'torchbridge.bert-classifier';
const FORMAT_VERSION = 1;

/** What `FILE.json` holds. */
export interface ClassifierInfo {
  format: typeof FORMAT;
  version: number;
  /** The BERT sizes (dropout as trained; eval mode ignores it). */
  config: Required<BERTConfig>;
  /** The sequence length examples were padded to in training (SNLIBERTDataset's maxLen). */
  maxLen: number;
  /** idx_to_token of the vocabulary the token ids index. */
  vocab: string[];
  labels: string[];
}

/** The sidecar of a classifier file. */
export function classifierInfoPath(file: string): string {
  return `${file}.json`;
}

/**
 * Writes `net` to `file` (the state dict) and `file.json` (vocabulary and sizes), each atomically.
 * @param maxLen the sequence length the examples were built with (SNLIBERTDataset's maxLen)
 */
export async function saveClassifier(file: string, net: BERTClassifier, vocab: Vocab, maxLen: number): Promise<void> {
  const info: ClassifierInfo = {
    format: FORMAT, version: FORMAT_VERSION, config: { ...net.bert.config }, maxLen, vocab: [...vocab.idxToToken], labels: [...NLI_LABELS],
  };
  const state = net.stateDict();
  try {
    await save(state, file);
  } finally {
    dispose([...state.values()]);
  }
  await writeFileAtomically(classifierInfoPath(file), `${JSON.stringify(info)}\n`);
}

async function readInfo(file: string): Promise<ClassifierInfo> {
  const infoFile = classifierInfoPath(file);
  let text: string;
  try {
    text = await fs.readFile(infoFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${infoFile} does not exist: a classifier needs the vocabulary and sizes that \`node lib/train.js --save ${file}\` writes beside it`);
    }
    throw error;
  }
  let info: Partial<ClassifierInfo>;
  try {
    info = JSON.parse(text) as Partial<ClassifierInfo>;
  } catch (error) {
    throw new Error(`${infoFile} is not valid JSON (${(error as Error).message}); write it again with node lib/train.js --save`);
  }
  if (info.format !== FORMAT || typeof info.version !== 'number' || info.config === undefined || !Array.isArray(info.vocab) ||
      !Number.isInteger(info.maxLen)) {
    throw new Error(`${infoFile} is not a torchbridge classifier description (format ${FORMAT}); write it again with node lib/train.js --save`);
  }
  if (info.version > FORMAT_VERSION) throw new Error(`${infoFile} has format version ${info.version}; this torchbridge reads up to ${FORMAT_VERSION}: upgrade torchbridge`);
  return info as ClassifierInfo;
}

/** A classifier read back: the model (eval mode), its vocabulary and its training sequence length. */
export interface LoadedClassifier {
  net: BERTClassifier;
  vocab: Vocab;
  maxLen: number;
  info: ClassifierInfo;
}

/**
 * Reads a classifier that `saveClassifier` wrote, onto `device` (default cpu), in eval mode.
 * @throws Error naming the file when either part is missing or does not match the other.
 */
export async function loadClassifier(file: string, options: { device?: Device } = {}): Promise<LoadedClassifier> {
  const info = await readInfo(file);
  const vocab = Vocab.fromIdxToToken(info.vocab, classifierInfoPath(file));
  const state = await load(file);
  const bert = new BERTModel(info.config);
  const net = new BERTClassifier(bert);
  try {
    net.loadStateDict(state);
  } catch (error) {
    net.dispose();
    bert.dispose();
    throw new Error(`${file} does not match ${classifierInfoPath(file)}: ${(error as Error).message}`);
  } finally {
    dispose([...state.values()]);
  }
  if (options.device !== undefined) net.to({ device: options.device });
  net.eval();
  return { net, vocab, maxLen: info.maxLen, info };
}
