/**
 * BERT's sizes in one place: the sizes of d2l's pretrained models (`bert.small`, `bert.base`),
 * the one check of a BERT config that the model's constructor, the classifier files and the
 * command line all run (with their own bounds and their own names for the fields), and the
 * shapes of a d2l BERT state dict that tell the sizes it was made with.
 */
import type { Tensor } from '../core/tensor';
import type { NativeBERTConfig } from '../native';

/**
 * The sizes of a BERT model. d2l's bert.small: 256, 512, 4 heads, 2 blocks; bert.base: 768,
 * 3072, 12, 12 (`BERT_PRESETS`).
 */
export interface BERTConfig extends Omit<NativeBERTConfig, 'dropout' | 'maxLen'> {
  /** Dropout probability in attention and AddNorm. */
  dropout: number;
  /** Length of the learnable position table (d2l's default 1000; the pretrained models use 512). */
  maxLen?: number;
}

/** A BERT's sizes but its vocabulary's, which comes with the vocabulary. */
export type BERTSizes = Omit<Required<BERTConfig>, 'vocabSize'>;

/** d2l's default length of the position table (BERTEncoder's `max_len=1000`). */
export const DEFAULT_BERT_MAX_LEN = 1000;

/**
 * The sizes of d2l's pretrained BERTs as d2l's section loads them (`load_pretrained_model(...,
 * num_hiddens=256, ffn_num_hiddens=512, num_heads=4, num_blks=2, dropout=0.1, max_len=512)` for
 * bert.small); each model's vocabulary size is that of its vocab.json.
 */
export const BERT_PRESETS: Readonly<Record<'bert.small' | 'bert.base', Readonly<BERTSizes>>> = Object.freeze({
  'bert.small': Object.freeze({ numHiddens: 256, ffnNumHiddens: 512, numHeads: 4, numBlks: 2, dropout: 0.1, maxLen: 512 }),
  'bert.base': Object.freeze({ numHiddens: 768, ffnNumHiddens: 3072, numHeads: 12, numBlks: 12, dropout: 0.1, maxLen: 512 }),
});

/** The fields of a BERT config, in `BERTConfig`'s order. */
export const BERT_CONFIG_FIELDS = Object.freeze(['vocabSize', 'numHiddens', 'ffnNumHiddens', 'numHeads', 'numBlks', 'dropout', 'maxLen'] as const);

/** One field of a BERT config. */
export type BERTConfigField = typeof BERT_CONFIG_FIELDS[number];

/** The largest value each integer field may take, where there is a bound (the smallest is 1). */
export type BERTConfigLimits = Readonly<Partial<Record<Exclude<BERTConfigField, 'dropout'>, number>>>;

/** What is wrong with a BERT config: the first field at fault, what it holds, and what it must be. */
export interface BERTConfigProblem {
  readonly field: BERTConfigField;
  /** The field's value as given (undefined when it is missing). */
  readonly given: unknown;
  /**
   * What the field must be: 'a positive integer', 'an integer from 1 to 65536', 'a number at
   * least 0 and below 1', 'a divisor of numHiddens (8)' (other fields named as `nameOf` names them).
   */
  readonly expected: string;
  /** Why, where the rule needs saying: 'each head gets numHiddens / numHeads units'. */
  readonly why?: string;
  /** 'type': not a whole number at least 1 (or not a number); 'range': beyond a bound, or at odds with another field. */
  readonly kind: 'type' | 'range';
}

/** How `bertConfigProblem` checks. */
export interface BERTConfigCheckOptions {
  /** Upper bounds of the integer fields (default: none). */
  readonly limits?: BERTConfigLimits;
  /** The fields to check (default: all of `BERT_CONFIG_FIELDS`); the command line checks the sizes before any vocabulary exists. */
  readonly fields?: readonly BERTConfigField[];
  /** A field's name in `expected` texts (default: the field's own: 'numHiddens'; the classifier files say 'config.numHiddens'). */
  readonly nameOf?: (field: BERTConfigField) => string;
}

/**
 * The one check of a BERT config: each integer field (in `BERT_CONFIG_FIELDS`' order) a whole
 * number from 1 (to its limit, if any), then dropout a number at least 0 and below 1, then
 * numHiddens divisible by numHeads (each head gets numHiddens / numHeads units).
 * @returns the first problem found, or undefined when the config is sound
 */
export function bertConfigProblem(config: Readonly<Record<string, unknown>>, options: BERTConfigCheckOptions = {}): BERTConfigProblem | undefined {
  const fields = options.fields ?? BERT_CONFIG_FIELDS;
  const nameOf = options.nameOf ?? ((field: BERTConfigField) => field);
  for (const field of fields) {
    if (field === 'dropout') continue;
    const value = config[field];
    const limit = options.limits?.[field];
    const expected = limit === undefined ? 'a positive integer' : `an integer from 1 to ${limit}`;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return { field, given: value, expected, kind: 'type' };
    if (limit !== undefined && value > limit) return { field, given: value, expected, kind: 'range' };
  }
  if (fields.includes('dropout')) {
    const dropout = config.dropout;
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      return { field: 'dropout', given: dropout, expected: 'a number at least 0 and below 1', kind: 'range' };
    }
  }
  if (fields.includes('numHiddens') && fields.includes('numHeads')) {
    const numHiddens = config.numHiddens as number;
    const numHeads = config.numHeads as number;
    if (numHiddens % numHeads !== 0) {
      return {
        field: 'numHeads', given: numHeads, expected: `a divisor of ${nameOf('numHiddens')} (${numHiddens})`,
        why: 'each head gets numHiddens / numHeads units', kind: 'range',
      };
    }
  }
  return undefined;
}

/** The shapes of a d2l BERT state dict that tell its sizes; a shape is undefined where its tensor is missing. */
export interface BERTStateShapes {
  /** encoder.token_embedding.weight: [vocabSize, numHiddens]. */
  readonly tokenEmbedding: readonly number[] | undefined;
  /** encoder.pos_embedding: [1, maxLen, numHiddens]. */
  readonly positions: readonly number[] | undefined;
  /** encoder.blks.0.ffn.dense1.weight: [ffnNumHiddens, numHiddens]. */
  readonly ffn: readonly number[] | undefined;
  /** The encoder blocks: encoder.blks.0, encoder.blks.1, ... in a row (numBlks). */
  readonly blocks: number;
}

/** The shapes of `state` (a BERTModel's or BERTClassifier's state dict, d2l's names) that its sizes show in. */
export function bertStateShapes(state: ReadonlyMap<string, Tensor>): BERTStateShapes {
  const shape = (name: string): readonly number[] | undefined => state.get(name)?.shape;
  let blocks = 0;
  while (state.has(`encoder.blks.${blocks}.ffn.dense1.weight`)) ++blocks;
  return {
    tokenEmbedding: shape('encoder.token_embedding.weight'),
    positions: shape('encoder.pos_embedding'),
    ffn: shape('encoder.blks.0.ffn.dense1.weight'),
    blocks,
  };
}
