/**
 * A fine-tuned classifier on disk: `FILE` is the BERTClassifier's state dict in PyTorch's format
 * with d2l's names (`torch.load` + d2l's `BERTClassifier.load_state_dict` accept it), and
 * `FILE.json` beside it holds what the state dict cannot: the vocabulary, the number of heads and
 * the sequence length the model was trained with, so that a classifier can be used by name alone.
 *
 * The two files are a pair, and a reader can tell whether they are: `FILE.json` records the
 * SHA-256 and the size of the `FILE` it was written with (`model`). `saveClassifier` writes the
 * state dict under a temporary name, hashes it, renames it to `FILE`, then writes `FILE.json`
 * atomically: a run killed between the two renames leaves a new `FILE` beside the old
 * `FILE.json`, whose recorded hash no longer matches, and `loadClassifier` refuses the pair
 * (naming both files and telling to save again) instead of reading a model with another
 * model's vocabulary. Every field of `FILE.json` is checked, types and bounds, and against the
 * state dict before any model is built: the vocabulary against the token embedding's rows, the
 * sizes against the weights' shapes, the sequence length against the position table.
 */
import { createHash } from 'crypto';

import { openRegularFile, replaceAtomically, writeFileAtomically } from '../core/atomic-file';
import { dispose } from '../core/scope';
import { load, save } from '../serialization';
import { Tensor } from '../core/tensor';
import { Device } from '../core/types';
import { BERTClassifier, BERTConfig, BERTModel } from './bert';
import { BERT_CONFIG_FIELDS, bertConfigProblem, bertStateShapes } from './bert-config';
import { Vocab } from './text';

/** The labels of the classifier's three outputs, in order (d2l's SNLI labels). */
export const NLI_LABELS = Object.freeze(['entailment', 'contradiction', 'neutral'] as const);

const FORMAT = 'torchbridge.bert-classifier';
/** 2: `model` (the state dict's SHA-256 and size) pairs the files; version 1 had no such check. */
const FORMAT_VERSION = 2;

/**
 * The bounds of the sizes `FILE.json` may give (beyond any model trained here), checked before
 * the state dict is read; the state dict's shapes then decide.
 */
export const CLASSIFIER_LIMITS = Object.freeze({
  vocabSize: 1 << 24,
  numHiddens: 65536,
  ffnNumHiddens: 65536,
  numHeads: 65536,
  numBlks: 1024,
  maxLen: 65536,
  /** The largest `FILE.json` read, in bytes. */
  infoBytes: 1 << 29,
});

/** The tokens SNLIBERTDataset looks up: the vocabulary must have each. */
const RESERVED_TOKENS = ['<unk>', '<pad>', '<cls>', '<sep>'];

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
  /** The state dict file this description belongs to: its SHA-256 (hex) and size in bytes. */
  model: { sha256: string; bytes: number };
}

/** The sidecar of a classifier file. */
export function classifierInfoPath(file: string): string {
  return `${file}.json`;
}

/** The SHA-256 (hex) and size of a regular file, streamed. */
async function digest(file: string): Promise<{ sha256: string; bytes: number }> {
  const handle = await openRegularFile(file);
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await handle.close();
  }
}

/**
 * Writes `net` to `file` (the state dict) and `file.json` (vocabulary, sizes and the state
 * dict's SHA-256), each atomically, the state dict first (see the file's comment for why the
 * pair stays recognisable when a run is killed between them).
 * @param maxLen the sequence length the examples were built with (SNLIBERTDataset's maxLen)
 */
export async function saveClassifier(file: string, net: BERTClassifier, vocab: Vocab, maxLen: number): Promise<void> {
  // The state dict goes to a temporary beside `file`, is hashed there, and only then replaces `file`.
  const info = await replaceAtomically(file, async (staging): Promise<ClassifierInfo> => {
    const state = net.stateDict();
    try {
      await save(state, staging);
    } finally {
      dispose([...state.values()]);
    }
    return {
      format: FORMAT, version: FORMAT_VERSION, config: { ...net.bert.config }, maxLen, vocab: [...vocab.idxToToken], labels: [...NLI_LABELS],
      model: await digest(staging),
    };
  });
  await writeFileAtomically(classifierInfoPath(file), `${JSON.stringify(info)}\n`);
}

/** A value as a message shows it: JSON, cut short; 'nothing (the field is missing)' for undefined. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A JSON value's kind, for messages: null, an array, a string, a number, an object. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The checks of one `FILE.json`: each failure names the file, the field, what was given and what is expected. */
class InfoChecker {
  constructor(private readonly infoFile: string) {}

  fail(field: string, given: string, expected: string): never {
    throw new Error(`${this.infoFile}: field ${field}: got ${given}, expected ${expected}; write it again with node lib/train.js --save`);
  }

  object(value: unknown, field: string, fields: readonly string[]): Record<string, unknown> {
    if (!isObject(value)) this.fail(field, value === undefined ? shown(value) : kindOf(value), `an object with fields ${fields.join(', ')}`);
    return value;
  }

  integer(value: unknown, field: string, min: number, max: number, why = ''): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, shown(value), `an integer from ${min} to ${max}${why}`);
    }
    return value;
  }
}

const INFO_FIELDS = ['format', 'version', 'config', 'maxLen', 'vocab', 'labels', 'model'] as const;

/** Reads and checks `FILE.json` on its own (the state dict's shapes are checked by `checkAgainstState`). */
async function readInfo(file: string): Promise<ClassifierInfo> {
  const infoFile = classifierInfoPath(file);
  let text: string;
  let handle;
  try {
    handle = await openRegularFile(infoFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${infoFile} does not exist: a classifier needs the vocabulary and sizes that \`node lib/train.js --save ${file}\` writes beside it`);
    }
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > CLASSIFIER_LIMITS.infoBytes) {
      throw new Error(`${infoFile} is ${size} bytes; a classifier description is at most ${CLASSIFIER_LIMITS.infoBytes} bytes: this is not one`);
    }
    const bytes = await handle.readFile();
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new Error(`${infoFile} is not UTF-8 text; write it again with node lib/train.js --save`);
    }
  } finally {
    await handle.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${infoFile} is not valid JSON (${(error as Error).message}); write it again with node lib/train.js --save`);
  }
  const check: InfoChecker = new InfoChecker(infoFile);
  if (!isObject(parsed)) {
    throw new Error(`${infoFile} holds ${kindOf(parsed)}, expected an object with fields ${INFO_FIELDS.join(', ')} (format ${FORMAT}); write it again with node lib/train.js --save`);
  }
  const info = parsed;
  if (info.format !== FORMAT) check.fail('format', shown(info.format), `${JSON.stringify(FORMAT)}: this is not a torchbridge classifier description`);
  if (typeof info.version === 'number' && Number.isInteger(info.version) && info.version > FORMAT_VERSION) {
    throw new Error(`${infoFile} has format version ${info.version}; this torchbridge reads up to ${FORMAT_VERSION}: upgrade torchbridge`);
  }
  if (info.version === 1) {
    throw new Error(`${infoFile} has format version 1, written by an older torchbridge without the hash that pairs it with ${file}; ` +
      `save the classifier again with node lib/train.js --save`);
  }
  check.integer(info.version, 'version', FORMAT_VERSION, FORMAT_VERSION);

  const config = check.object(info.config, 'config', BERT_CONFIG_FIELDS);
  const problem = bertConfigProblem(config, { limits: CLASSIFIER_LIMITS, nameOf: (field) => `config.${field}` });
  if (problem !== undefined) {
    check.fail(`config.${problem.field}`, shown(problem.given), problem.why === undefined ? problem.expected : `${problem.expected}: ${problem.why}`);
  }
  const positions = config.maxLen as number;
  check.integer(info.maxLen, 'maxLen', 3, positions, ` (config.maxLen, the position table's rows; 3: <cls> and two <sep>)`);

  if (!Array.isArray(info.vocab)) check.fail('vocab', info.vocab === undefined ? shown(info.vocab) : kindOf(info.vocab), 'an array of tokens (strings)');
  const vocab = info.vocab as unknown[];
  const vocabSize = config.vocabSize as number;
  if (vocab.length !== vocabSize) check.fail('vocab', `${vocab.length} tokens`, `config.vocabSize = ${vocabSize} tokens`);
  const seen = new Map<string, number>();
  vocab.forEach((token, k) => {
    if (typeof token !== 'string') check.fail(`vocab[${k}]`, shown(token), 'a string');
    const first = seen.get(token);
    if (first !== undefined) check.fail(`vocab[${k}]`, `${shown(token)}, already at vocab[${first}]`, 'each token once');
    seen.set(token, k);
  });
  for (const token of RESERVED_TOKENS) {
    if (!seen.has(token)) check.fail('vocab', `a vocabulary without ${JSON.stringify(token)}`, `the tokens ${RESERVED_TOKENS.join(', ')} among them`);
  }

  const labels = info.labels;
  if (!Array.isArray(labels) || labels.length !== NLI_LABELS.length || labels.some((label, k) => label !== NLI_LABELS[k])) {
    check.fail('labels', shown(labels), JSON.stringify(NLI_LABELS));
  }

  const model = check.object(info.model, 'model', ['sha256', 'bytes']);
  if (typeof model.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(model.sha256)) check.fail('model.sha256', shown(model.sha256), '64 lowercase hex digits');
  check.integer(model.bytes, 'model.bytes', 0, Number.MAX_SAFE_INTEGER);
  return info as unknown as ClassifierInfo;
}

/** Refuses a state dict whose shapes contradict `info`, before any model of `info`'s sizes is built. */
function checkAgainstState(file: string, info: ClassifierInfo, state: ReadonlyMap<string, Tensor>): void {
  const check: InfoChecker = new InfoChecker(classifierInfoPath(file));
  const shapes = bertStateShapes(state);
  const present = (name: string, shape: readonly number[] | undefined): readonly number[] => {
    if (shape === undefined) throw new Error(`${file} has no ${name}: it is not a BERTClassifier state dict`);
    return shape;
  };
  const { config } = info;
  const tokens = present('encoder.token_embedding.weight', shapes.tokenEmbedding);
  const positions = present('encoder.pos_embedding', shapes.positions);
  const ffn = present('encoder.blks.0.ffn.dense1.weight', shapes.ffn);
  const blocks = shapes.blocks;
  const inFile = (what: string) => `${what} in ${file}`;
  if (tokens.length !== 2 || positions.length !== 3 || ffn.length !== 2) {
    throw new Error(`${file}: encoder.token_embedding.weight [${tokens.join(', ')}], encoder.pos_embedding [${positions.join(', ')}] ` +
      `and encoder.blks.0.ffn.dense1.weight [${ffn.join(', ')}] are not a BERT encoder's shapes`);
  }
  if (config.vocabSize !== tokens[0]) check.fail('config.vocabSize', String(config.vocabSize), `${tokens[0]}, ${inFile('the rows of encoder.token_embedding.weight')}`);
  if (config.numHiddens !== tokens[1]) check.fail('config.numHiddens', String(config.numHiddens), `${tokens[1]}, ${inFile('the columns of encoder.token_embedding.weight')}`);
  if (config.maxLen !== positions[1]) check.fail('config.maxLen', String(config.maxLen), `${positions[1]}, ${inFile('the rows of encoder.pos_embedding')}`);
  if (info.maxLen > positions[1]) check.fail('maxLen', String(info.maxLen), `at most ${positions[1]}, ${inFile('the rows of encoder.pos_embedding')}`);
  if (config.ffnNumHiddens !== ffn[0]) check.fail('config.ffnNumHiddens', String(config.ffnNumHiddens), `${ffn[0]}, ${inFile('the rows of encoder.blks.0.ffn.dense1.weight')}`);
  if (config.numBlks !== blocks) check.fail('config.numBlks', String(config.numBlks), `${blocks}, ${inFile('the encoder blocks')}`);
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
 * Both files must be regular files; `FILE.json` must be well formed in every field (see
 * `readInfo`), record `FILE`'s SHA-256 and size, and fit the state dict's shapes.
 * @throws Error naming the file (and the field) when either part is missing, is not a regular
 *   file, is malformed, or does not match the other.
 */
export async function loadClassifier(file: string, options: { device?: Device } = {}): Promise<LoadedClassifier> {
  const info = await readInfo(file);
  const infoFile = classifierInfoPath(file);
  const actual = await digest(file);
  if (actual.sha256 !== info.model.sha256 || actual.bytes !== info.model.bytes) {
    throw new Error(`${file} and ${infoFile} are not a pair: ${infoFile} describes a model file of ${info.model.bytes} bytes with SHA-256 ` +
      `${info.model.sha256.slice(0, 12)}..., ${file} has ${actual.bytes} bytes with SHA-256 ${actual.sha256.slice(0, 12)}... ` +
      '(a --save interrupted between its two files, or one of them replaced); save the classifier again with node lib/train.js --save');
  }
  const vocab = Vocab.fromIdxToToken(info.vocab, infoFile);
  const state = await load(file);
  let bert: BERTModel | undefined;
  let net: BERTClassifier | undefined;
  try {
    checkAgainstState(file, info, state);
    bert = new BERTModel(info.config);
    net = new BERTClassifier(bert);
    net.loadStateDict(state);
  } catch (error) {
    net?.dispose();
    bert?.dispose();
    const message = (error as Error).message;
    throw new Error(message.startsWith(file) ? message : `${file} does not match ${infoFile}: ${message}`);
  } finally {
    dispose([...state.values()]);
  }
  if (options.device !== undefined) net.to({ device: options.device });
  net.eval();
  return { net, vocab, maxLen: info.maxLen, info };
}
