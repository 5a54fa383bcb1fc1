/**
 * d2l.ai's "Natural Language Inference: Fine-Tuning BERT", reproduced: BERT blocks, pretrained
 * models, the SNLI pipeline, the data hub, train_ch13 and its chart.
 */
export * from './bert';
export { loadPretrainedModel } from './pretrained';
export type { PretrainedOptions } from './pretrained';
export { tokenize, Vocab, getTokensAndSegments, countCorpus } from './text';
export type { TokenType, VocabOptions, Tokens, Indices } from './text';
export { readSnli, extractText, splitLikeSnli, SNLI_LABELS } from './snli';
export type { SnliSplit, ReadSnliOptions, SnliData } from './snli';
export { SNLIBERTDataset } from './snli-dataset';
export type { SNLIBERTDatasetOptions, SNLIBERTExample } from './snli-dataset';
export { DataLoader, loadArray } from '../data/data-loader';
export type { BatchableDataset, DataLoaderOptions } from '../data/data-loader';
export { TensorDataset } from '../data/dataset';
export type { Dataset } from '../data/dataset';
export { DATA_HUB, DATA_URL, CACHE_DIR_ENV, DownloadError, cacheDir, download, downloadExtract } from './hub';
export type { HubEntry, HubName, DatasetName, CacheOptions, DownloadOptions, DownloadExtractOptions, ProgressSink } from './hub';
export { Accumulator, Timer, accuracy, evaluateAccuracyGpu, trainCh13 } from './train-ch13';
export type { BatchSource, StepInfo, ProgressPoint, EpochEnd, TrainCh13Options, TrainCh13Result } from './train-ch13';
export { Animator } from './animator';
export type { AnimatorOptions, AnimatorSeries, AxisScale } from './animator';
export { saveClassifier, loadClassifier, classifierInfoPath, NLI_LABELS } from './classifier-file';
export type { ClassifierInfo, LoadedClassifier } from './classifier-file';
