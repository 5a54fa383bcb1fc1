/**
 * d2l's `load_pretrained_model`: a pretrained BERT (d2l's `bert.small` or `bert.base`, or a
 * directory holding `vocab.json` and `pretrained.params`) and its vocabulary.
 */
import { promises as fs } from 'fs';
import * as path from 'path';

import { load } from '../serialization';
import { dispose } from '../core/scope';
import { Tensor } from '../core/tensor';
import { Device } from '../core/types';
import { BERTConfig, BERTModel } from './bert';
import { bertStateShapes } from './bert-config';
import { DATA_HUB, downloadExtract, DownloadExtractOptions } from './hub';
import { Vocab } from './text';

/** The model sizes (everything but the vocabulary size, which `vocab.json` gives). */
export interface PretrainedOptions extends Omit<BERTConfig, 'vocabSize'> {
  /** The model moves to devices[0] (d2l's try_all_gpus() order). */
  devices?: readonly Device[];
  /** Options of the download when a hub name is given (cache directory, progress, ...). */
  download?: DownloadExtractOptions;
}

// The sizes a d2l BERT state dict implies, for error messages.
function inferConfig(params: Map<string, Tensor>): string {
  const { positions, ffn, blocks } = bertStateShapes(params);
  if (positions === undefined || ffn === undefined) return '';
  return ` The checkpoint was made with numHiddens ${positions[2]}, ffnNumHiddens ${ffn[0]}, numBlks ${blocks}, maxLen ${positions[1]}` +
    ` (the number of heads cannot be read from it).`;
}

/**
 * Loads a pretrained BERT: `nameOrDir` is a hub name ('bert.small', 'bert.base'; downloaded and
 * cached) or a directory with `vocab.json` and `pretrained.params`. Every size option is
 * honoured (d2l's PyTorch code hard-codes 4 heads, 2 blocks and dropout 0.2); a checkpoint whose
 * shapes do not match them is an error naming each differing shape and the sizes the checkpoint
 * implies. The sizes d2l's section loads bert.small and bert.base with are `BERT_PRESETS`
 * (lib/d2l/bert-config.ts).
 */
export async function loadPretrainedModel(nameOrDir: string, options: PretrainedOptions): Promise<{ bert: BERTModel; vocab: Vocab }> {
  const dir = await resolveDir(nameOrDir, options.download);
  const vocab = await Vocab.load(path.join(dir, 'vocab.json'));
  const params = await load(path.join(dir, 'pretrained.params'));
  const bert = new BERTModel({
    vocabSize: vocab.length,
    numHiddens: options.numHiddens,
    ffnNumHiddens: options.ffnNumHiddens,
    numHeads: options.numHeads,
    numBlks: options.numBlks,
    dropout: options.dropout,
    maxLen: options.maxLen,
  });
  try {
    bert.loadStateDict(params);
  } catch (err) {
    bert.dispose();
    throw new Error(`loadPretrainedModel(${JSON.stringify(nameOrDir)}): ${path.join(dir, 'pretrained.params')} does not match the ` +
      `options (vocabulary of ${vocab.length} from vocab.json).${inferConfig(params)}\n${(err as Error).message}`);
  } finally {
    dispose([...params.values()]);
  }
  if (options.devices !== undefined && options.devices.length > 0) bert.to({ device: options.devices[0] });
  return { bert, vocab };
}

async function resolveDir(nameOrDir: string, download: DownloadExtractOptions | undefined): Promise<string> {
  const stat = await fs.stat(nameOrDir).catch(() => undefined);
  if (stat?.isDirectory()) return nameOrDir;
  const hub = download?.hub ?? DATA_HUB;
  if (Object.prototype.hasOwnProperty.call(hub, nameOrDir)) return downloadExtract(nameOrDir, download);
  throw new Error(`loadPretrainedModel: ${JSON.stringify(nameOrDir)} is neither a directory (with vocab.json and pretrained.params) ` +
    `nor a pretrained model name (${Object.keys(hub).filter((k) => k.startsWith('bert')).join(', ')})`);
}
