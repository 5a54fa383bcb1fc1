#!/usr/bin/env python3
"""Fixtures for test/d2l-text.test.ts and test/d2l-snli.test.ts, from d2l's own code.

    /usr/bin/python3 scripts/gen_d2l_data_fixtures.py

writes test/fixtures/d2l/:
  snli_1.0_train.txt, snli_1.0_test.txt  small SNLI-format splits (d2l's column layout) with
                                         parse brackets, runs of whitespace, capitalised and
                                         out-of-vocabulary words, pairs long enough to be
                                         truncated (premise longer, hypothesis longer, equal),
                                         unlabelled ('-') and otherwise unknown labels, a CRLF line
  snli_1.0_train.jsonl                   the same training rows as JSON lines
  vocab.json                             a vocabulary as d2l's pretrained BERT archives hold one
  expected.json                          what d2l's functions return on all of the above,
                                         digests of what they return on the real dev and test
                                         splits when ../shared/data/snli_1.0 exists, and the
                                         epoch orders DataLoader's documented shuffle gives

    /usr/bin/python3 scripts/gen_d2l_data_fixtures.py --bench DIR MAX_LEN

times d2l's SNLIBERTDataset (with its multiprocessing.Pool(4)) on DIR/snli_1.0_train.txt and
DIR/vocab.json and prints one JSON line; scripts/bench-snli-dataset.js runs it.

There is no d2l package here: the code below is copied verbatim from d2l 1.0.3, the release
of the section this project reproduces (Dive into Deep Learning, https://d2l.ai; code under the
MIT-0 license): tokenize, Vocab, get_tokens_and_segments and read_snli from d2l/torch.py (the
d2l==1.0.3 wheel, identical to d2l-en's tag v1.0.3), and SNLIBERTDataset and the vocabulary
lines of load_pretrained_model from the PyTorch tab of the chapter "Natural Language Inference:
Fine-Tuning BERT" (d2l-en v1.0.3). The only additions are `SingleProcessSNLIBERTDataset`, whose
`_preprocess` maps in this process instead of a `multiprocessing.Pool(4)`, for the fixtures, and
`load_vocab`, a function around load_pretrained_model's vocabulary lines.
"""
import collections
import hashlib
import json
import locale
import multiprocessing
import os
import re
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'test', 'fixtures', 'd2l')
REAL_SNLI = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data', 'snli_1.0'))


class d2l:  # noqa: N801 -- stands in for `from d2l import torch as d2l`
    pass


# ---- verbatim from d2l 1.0.3 (d2l/torch.py, then the fine-tuning chapter) ----------------------

def tokenize(lines, token='word'):
    """Split text lines into word or character tokens.

    Defined in :numref:`sec_utils`"""
    assert token in ('word', 'char'), 'Unknown token type: ' + token
    return [line.split() if token == 'word' else list(line) for line in lines]


class Vocab:
    """Vocabulary for text."""
    def __init__(self, tokens=[], min_freq=0, reserved_tokens=[]):
        """Defined in :numref:`sec_text-sequence`"""
        # Flatten a 2D list if needed
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        # Count token frequencies
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1],
                                  reverse=True)
        # The list of unique tokens
        self.idx_to_token = list(sorted(set(['<unk>'] + reserved_tokens + [
            token for token, freq in self.token_freqs if freq >= min_freq])))
        self.token_to_idx = {token: idx
                             for idx, token in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        if hasattr(indices, '__len__') and len(indices) > 1:
            return [self.idx_to_token[int(index)] for index in indices]
        return self.idx_to_token[indices]

    @property
    def unk(self):  # Index for the unknown token
        return self.token_to_idx['<unk>']


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """Get tokens of the BERT input sequence and their segment IDs."""
    tokens = ['<cls>'] + tokens_a + ['<sep>']
    # 0 and 1 are marking segment A and B, respectively
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += tokens_b + ['<sep>']
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def read_snli(data_dir, is_train):
    """Read the SNLI dataset into premises, hypotheses, and labels."""
    def extract_text(s):
        # Remove information that will not be used by us
        s = re.sub('\\(', '', s)
        s = re.sub('\\)', '', s)
        # Substitute two or more consecutive whitespace with space
        s = re.sub('\\s{2,}', ' ', s)
        return s.strip()
    label_set = {'entailment': 0, 'contradiction': 1, 'neutral': 2}
    file_name = os.path.join(data_dir, 'snli_1.0_train.txt'
                             if is_train else 'snli_1.0_test.txt')
    with open(file_name, 'r') as f:
        rows = [row.split('\t') for row in f.readlines()[1:]]
    premises = [extract_text(row[1]) for row in rows if row[0] in label_set]
    hypotheses = [extract_text(row[2]) for row in rows if row[0] in label_set]
    labels = [label_set[row[0]] for row in rows if row[0] in label_set]
    return premises, hypotheses, labels


d2l.tokenize = tokenize
d2l.Vocab = Vocab
d2l.get_tokens_and_segments = get_tokens_and_segments


class SNLIBERTDataset(torch.utils.data.Dataset):
    def __init__(self, dataset, max_len, vocab=None):
        all_premise_hypothesis_tokens = [[
            p_tokens, h_tokens] for p_tokens, h_tokens in zip(
            *[d2l.tokenize([s.lower() for s in sentences])
              for sentences in dataset[:2]])]

        self.labels = torch.tensor(dataset[2])
        self.vocab = vocab
        self.max_len = max_len
        (self.all_token_ids, self.all_segments,
         self.valid_lens) = self._preprocess(all_premise_hypothesis_tokens)
        print('read ' + str(len(self.all_token_ids)) + ' examples')

    def _preprocess(self, all_premise_hypothesis_tokens):
        pool = multiprocessing.Pool(4)  # Use 4 worker processes
        out = pool.map(self._mp_worker, all_premise_hypothesis_tokens)
        all_token_ids = [
            token_ids for token_ids, segments, valid_len in out]
        all_segments = [segments for token_ids, segments, valid_len in out]
        valid_lens = [valid_len for token_ids, segments, valid_len in out]
        return (torch.tensor(all_token_ids, dtype=torch.long),
                torch.tensor(all_segments, dtype=torch.long),
                torch.tensor(valid_lens))

    def _mp_worker(self, premise_hypothesis_tokens):
        p_tokens, h_tokens = premise_hypothesis_tokens
        self._truncate_pair_of_tokens(p_tokens, h_tokens)
        tokens, segments = d2l.get_tokens_and_segments(p_tokens, h_tokens)
        token_ids = self.vocab[tokens] + [self.vocab['<pad>']] \
                             * (self.max_len - len(tokens))
        segments = segments + [0] * (self.max_len - len(segments))
        valid_len = len(tokens)
        return token_ids, segments, valid_len

    def _truncate_pair_of_tokens(self, p_tokens, h_tokens):
        # Reserve slots for '<CLS>', '<SEP>', and '<SEP>' tokens for the BERT
        # input
        while len(p_tokens) + len(h_tokens) > self.max_len - 3:
            if len(p_tokens) > len(h_tokens):
                p_tokens.pop()
            else:
                h_tokens.pop()

    def __getitem__(self, idx):
        return (self.all_token_ids[idx], self.all_segments[idx],
                self.valid_lens[idx]), self.labels[idx]

    def __len__(self):
        return len(self.all_token_ids)


def load_vocab(data_dir):
    """The vocabulary part of d2l's `load_pretrained_model` (its first five lines; the rest
    builds the BERTModel, with num_heads=4, num_blks=2 and dropout=0.2 hard-coded, and loads
    pretrained.params into it)."""
    # Define an empty vocabulary to load the predefined vocabulary
    vocab = d2l.Vocab()
    vocab.idx_to_token = json.load(open(os.path.join(data_dir, 'vocab.json')))
    vocab.token_to_idx = {token: idx for idx, token in enumerate(
        vocab.idx_to_token)}
    return vocab

# ---- end of d2l's code ------------------------------------------------------------------------


class SingleProcessSNLIBERTDataset(SNLIBERTDataset):
    """d2l's SNLIBERTDataset with `_preprocess` mapping in this process (same results, no pool)."""
    def _preprocess(self, all_premise_hypothesis_tokens):
        out = list(map(self._mp_worker, all_premise_hypothesis_tokens))
        return (torch.tensor([token_ids for token_ids, _, _ in out], dtype=torch.long),
                torch.tensor([segments for _, segments, _ in out], dtype=torch.long),
                torch.tensor([valid_len for _, _, valid_len in out]))


HEADER = ['gold_label', 'sentence1_binary_parse', 'sentence2_binary_parse', 'sentence1_parse',
          'sentence2_parse', 'sentence1', 'sentence2', 'captionID', 'pairID',
          'label1', 'label2', 'label3', 'label4', 'label5']


def binary_parse(words):
    """A right-branching binary parse of `words`, in SNLI's bracket notation."""
    if len(words) == 1:
        return words[0]
    return '( ' + words[0] + ' ' + binary_parse(words[1:]) + ' )'


def long_sentence(first, n):
    return ' '.join([first] + ['word%d' % k for k in range(1, n)])


# (gold_label, sentence1_binary_parse, sentence2_binary_parse): raw column text, brackets included.
TRAIN_ROWS = [
    ('neutral',
     '( ( Two women ) ( ( are ( embracing ( while ( holding ( to ( go packages ) ) ) ) ) ) . ) )',
     '( ( The sisters ) ( ( are ( ( hugging goodbye ) ( while ( holding ( to ( go packages ) ) ) ) ) ) . ) )'),
    ('entailment',
     '( ( Two women ) ( ( are ( embracing ( while ( holding ( to ( go packages ) ) ) ) ) ) . ) )',
     '( ( Two woman ) ( ( are ( holding packages ) ) . ) )'),
    ('-', '( A ( man ( is sleeping ) ) )', '( ( A man ) ( is awake ) )'),
    ('contradiction',
     '( ( The MEN ) ( ( are ( fighting ( outside ( a deli ) ) ) ) . ) )',
     '( ( Two men ) ( ( are ( eating ( in ( a ZEPPELIN ) ) ) ) . ) )'),
    # Premise longer than the hypothesis: the premise is cut.
    ('entailment', binary_parse(long_sentence('A', 30).split()), '( Someone ( is here ) )'),
    # Hypothesis longer: the hypothesis is cut.
    ('neutral', '( A dog )', binary_parse(long_sentence('The', 25).split())),
    # Equal lengths: the hypothesis loses a token first, then they alternate.
    ('contradiction', binary_parse(long_sentence('Many', 12).split()), binary_parse(long_sentence('Few', 12).split())),
    # Runs of whitespace (spaces, NBSP, ideographic space, U+001C) and leading/trailing spaces.
    ('entailment', '   A  cat\u00a0sits   on\u3000\u3000the  mat   ', ' ( A\u00a0\u00a0cat ) \u001c is\u001cthere  '),
    ('', 'Unlabelled pair', 'with an empty label'),
    ('Entailment', 'Capitalised label', 'is not in the label set'),
    ('neutral', '( ( Café CROWDS ) ( watch ( a ( Flamenco show ) ) ) )', '( People ( are ( at ( the ÉCOLE ) ) ) )'),
    ('contradiction', 'Quokkas xylophone zyzzyva', 'Unseen words only'),
    ('-', 'Another unlabelled', 'pair'),
]

TEST_ROWS = [
    ('contradiction', '( ( A man ) ( ( is ( playing ( a guitar ) ) ) . ) )', '( ( A woman ) ( ( is sleeping ) . ) )'),
    ('-', '( Nobody ( agreed here ) )', '( So ( it ( is dropped ) ) )'),
    ('entailment', '( ( A man ) ( ( is ( playing ( a guitar ) ) ) . ) )', '( ( Someone ( makes music ) ) . )'),
]


def plain(parse):
    return re.sub(r'\s+', ' ', parse.replace('(', '').replace(')', '')).strip()


def write_txt(path, rows, crlf_row=None, blank_after=None, three_column_row=None):
    """rows in d2l's column layout; one row may end with CRLF, one may have only three columns."""
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write('\t'.join(HEADER) + '\n')
        for k, (label, s1, s2) in enumerate(rows):
            if k == three_column_row:
                columns = [label, s1, s2]
            else:
                columns = [label, s1, s2, '', '', plain(s1), plain(s2), 'cap%d' % k, 'pair%d' % k,
                           label, '', '', '', '']
            f.write('\t'.join(columns) + ('\r\n' if k == crlf_row else '\n'))
            if k == blank_after:
                f.write('\n')


def write_jsonl(path, rows):
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for k, (label, s1, s2) in enumerate(rows):
            record = {'annotator_labels': [label], 'captionID': 'cap%d' % k, 'gold_label': label,
                      'pairID': 'pair%d' % k, 'sentence1': plain(s1),
                      'sentence1_binary_parse': s1, 'sentence1_parse': '',
                      'sentence2': plain(s2), 'sentence2_binary_parse': s2, 'sentence2_parse': ''}
            f.write(json.dumps(record, ensure_ascii=False) + '\n')


def dataset_record(dataset):
    return {
        'tokens': dataset.all_token_ids.tolist(),
        'segments': dataset.all_segments.tolist(),
        'validLens': dataset.valid_lens.tolist(),
        'labels': dataset.labels.tolist(),
        'dtypes': [str(t.dtype) for t in (dataset.all_token_ids, dataset.all_segments,
                                          dataset.valid_lens, dataset.labels)],
    }


def vocab_record(vocab, lookups):
    return {
        'idxToToken': vocab.idx_to_token,
        'tokenToIdx': vocab.token_to_idx,
        'tokenFreqs': [list(pair) for pair in vocab.token_freqs],
        'length': len(vocab),
        'unk': vocab.unk,
        'lookups': [[tokens, vocab[tokens]] for tokens in lookups],
    }


def outcome(fn):
    """{'value': fn()} or, when it raises, {'error': the exception's class name}."""
    try:
        return {'value': fn()}
    except Exception as e:  # noqa: BLE001 -- which exception is the record
        return {'error': type(e).__name__}


def loaded_vocab(idx_to_token):
    """d2l's load_pretrained_model vocabulary of a vocab.json holding idx_to_token."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, 'vocab.json'), 'w', encoding='utf-8') as f:
            json.dump(idx_to_token, f, ensure_ascii=False)
        return load_vocab(tmp)


# Tokens whose code-point order (Python's) differs from UTF-16 code-unit order (JS's default
# sort): U+E000..U+FFFF sort below the characters beyond U+FFFF in Python, above them in UTF-16.
CODE_POINT_TOKENS = ['\ue000', '\U0001F600', '\uffff', '\ufffd', '\U00010000', '\ud7ff', 'a\U0001F600', 'a\ufffd',
                     'a', 'Z', '~', '\x7f', '\u00e9', 'e\u0301', '\U0010FFFF', '<unk>x', '<un', '<Unk>',
                     '\U0001F600', '\ue000', '\U0001F600', 'a\ufffd']
# A vocab.json with '<unk>' in the middle and repeated tokens (the last index wins), and one without '<unk>'.
DUPLICATES_VOCAB = ['b', '<unk>', 'a', 'b', '<pad>', '<unk>', 'c', '\U0001F600', '\ue000']
NO_UNK_VOCAB = ['<pad>', 'a', 'b']


def sha256(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def split_digest(data):
    """Digest of read_snli's output: sha256 of 'premise\\thypothesis\\tlabel' lines joined by '\\n'."""
    premises, hypotheses, labels = data
    return {
        'count': len(labels),
        'labelCounts': [labels.count(k) for k in range(3)],
        'first': [premises[0], hypotheses[0], labels[0]],
        'last': [premises[-1], hypotheses[-1], labels[-1]],
        'sha256': sha256('\n'.join('%s\t%s\t%d' % row for row in zip(premises, hypotheses, labels))),
    }


def tensor_digest(t):
    """sha256 of the elements in row-major order, as decimal integers joined by ' '."""
    return sha256(' '.join(str(v) for v in t.flatten().tolist()))


def real_split_digests():
    """d2l's read_snli, vocabulary and dataset on the real dev and test splits."""
    if not os.path.isdir(REAL_SNLI):
        print('no %s: leaving out the real-split digests' % REAL_SNLI)
        return None
    test = read_snli(REAL_SNLI, False)
    # read_snli knows only train and test: give it the dev split under the test split's name.
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(os.path.join(REAL_SNLI, 'snli_1.0_dev.txt'), os.path.join(tmp, 'snli_1.0_test.txt'))
        dev = read_snli(tmp, False)
    vocab = d2l.Vocab(d2l.tokenize([s.lower() for s in dev[0] + dev[1]]), min_freq=5,
                      reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
    dataset = SingleProcessSNLIBERTDataset(dev, 128, vocab)
    return {
        'dev': split_digest(dev),
        'test': split_digest(test),
        'devVocab': {
            'minFreq': 5,
            'reservedTokens': ['<pad>', '<mask>', '<cls>', '<sep>'],
            'length': len(vocab),
            'idxToTokenSha256': sha256('\n'.join(vocab.idx_to_token)),
            'tokenFreqsHead': [list(pair) for pair in vocab.token_freqs[:20]],
        },
        'devDataset': {
            'maxLen': 128,
            'shape': list(dataset.all_token_ids.shape),
            'dtypes': [str(t.dtype) for t in (dataset.all_token_ids, dataset.all_segments,
                                              dataset.valid_lens, dataset.labels)],
            'tokensSha256': tensor_digest(dataset.all_token_ids),
            'segmentsSha256': tensor_digest(dataset.all_segments),
            'validLensSha256': tensor_digest(dataset.valid_lens),
            'labelsSha256': tensor_digest(dataset.labels),
            'truncated': int((dataset.valid_lens == 128).sum()),
        },
    }


TOKENIZE_LINES = [
    'The time machine, by H. G. Wells',
    '  leading and trailing  ',
    'tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeeds',
    'nbsp\u00a0ideographic\u3000separators\u001c\u001d\u001e\u001fnel\u0085line\u2028para\u2029end',
    'zero\u200bwidth and bom\ufeffstay inside words',
    '',
    '   ',
    'emoji \U0001F600 and accents: café',
]


M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


def splitmix64(state):
    """SplitMix64 (Steele, Lea and Flood): the next state and one output."""
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


class Xoshiro128StarStar:
    """xoshiro128** 1.1 (Blackman and Vigna), state = two SplitMix64 outputs, low word first."""
    def __init__(self, seed):
        self.s = []
        state = seed
        for _ in range(2):
            state, out = splitmix64(state)
            self.s += [out & M32, out >> 32]

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (32 - k))) & M32  # noqa: E731
        result = (rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
        return result

    def below(self, bound):
        """Uniform in [0, bound): rejection as OpenBSD's arc4random_uniform."""
        threshold = (2 ** 32 - bound) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound


def epoch_orders(seed, n, epochs):
    """The orders DataLoader documents: Fisher-Yates (from the end) per epoch, one generator throughout."""
    rng = Xoshiro128StarStar(seed)
    orders = []
    for _ in range(epochs):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = rng.below(i + 1)
            order[i], order[j] = order[j], order[i]
        orders.append(order)
    return orders


def generate():
    if locale.getpreferredencoding(False).lower().replace('-', '') != 'utf8':
        sys.exit('run with a UTF-8 locale: read_snli opens files with the default encoding')
    os.makedirs(OUT, exist_ok=True)
    write_txt(os.path.join(OUT, 'snli_1.0_train.txt'), TRAIN_ROWS, crlf_row=3, blank_after=8, three_column_row=11)
    write_jsonl(os.path.join(OUT, 'snli_1.0_train.jsonl'), TRAIN_ROWS)
    write_txt(os.path.join(OUT, 'snli_1.0_test.txt'), TEST_ROWS)

    train = read_snli(OUT, True)
    test = read_snli(OUT, False)
    corpus = d2l.tokenize([s.lower() for s in train[0] + train[1]])

    bert_reserved = ['<pad>', '<mask>', '<cls>', '<sep>']
    vocab_for_json = d2l.Vocab(corpus, min_freq=2, reserved_tokens=bert_reserved)
    with open(os.path.join(OUT, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab_for_json.idx_to_token, f, ensure_ascii=False)
    vocab = load_vocab(OUT)

    lookups = ['two', 'women', 'Two', 'zyzzyva', '<pad>', '<unk>', '',
               ['two', 'women', 'unknown-word'], [['a', 'man'], ['<cls>', 'nobody']], []]
    vocabs = {
        'default': vocab_record(d2l.Vocab(corpus), lookups),
        'minFreq2Reserved': vocab_record(d2l.Vocab(corpus, min_freq=2, reserved_tokens=bert_reserved), lookups),
        'oneDimensional': vocab_record(d2l.Vocab(['b', 'a', 'b', 'c', 'a', 'b', 'd']), ['a', 'b', 'z']),
        'repeatedReserved': vocab_record(
            d2l.Vocab([['x', 'y'], ['<pad>', 'x']], reserved_tokens=['<pad>', '<unk>', '<pad>']), ['<pad>', '<unk>', 'x']),
        'empty': vocab_record(d2l.Vocab(), ['anything']),
        'minFreq3': vocab_record(d2l.Vocab(corpus, min_freq=3), lookups),
        'minFreqFloat': vocab_record(d2l.Vocab(corpus, min_freq=1.5, reserved_tokens=bert_reserved), lookups),
        'minFreqNaN': vocab_record(d2l.Vocab(corpus, min_freq=float('nan'), reserved_tokens=['<pad>']), lookups),
        'reservedOnly': vocab_record(d2l.Vocab([], reserved_tokens=['<sep>', '<cls>', 'Zebra', 'apple']), ['apple', 'zebra']),
        # a string among token lists is iterated (by character) when Vocab flattens
        'stringLine': vocab_record(d2l.Vocab([['a', 'b'], 'cab', ['b']]), ['a', 'c', 'cab']),
        'codePoints': vocab_record(d2l.Vocab(CODE_POINT_TOKENS), CODE_POINT_TOKENS + ['\U0001F601', 'a\U0001F601']),
        'loaded': vocab_record(vocab, lookups),
        'loadedDuplicates': vocab_record(loaded_vocab(DUPLICATES_VOCAB), ['b', '<unk>', '<pad>', 'c', 'unknown', ['a', 'zz']]),
    }
    no_unk = loaded_vocab(NO_UNK_VOCAB)
    loaded_lists = {
        'duplicates': DUPLICATES_VOCAB,
        'noUnk': NO_UNK_VOCAB,
        # what d2l's vocabulary without '<unk>' does: __getitem__ evaluates self.unk first
        'noUnkOutcomes': {
            'length': outcome(lambda: len(no_unk)),
            'unk': outcome(lambda: no_unk.unk),
            'known': outcome(lambda: no_unk['a']),
            'unknown': outcome(lambda: no_unk['zzz']),
            'emptyList': outcome(lambda: no_unk[[]]),
            'toTokens': outcome(lambda: no_unk.to_tokens(1)),
        },
    }
    to_tokens = {'index': [0, 3, 7, -1], 'indices': [[0, 1, 2, 3], [5, -2]]}
    to_tokens['results'] = {
        'index': [vocab.to_tokens(i) for i in to_tokens['index']],
        'indices': [vocab.to_tokens(ix) for ix in to_tokens['indices']],
    }

    datasets = {}
    for max_len in (12, 16, 64):
        datasets[str(max_len)] = dataset_record(SingleProcessSNLIBERTDataset(train, max_len, vocab))

    expected = {
        'tokenize': [{'line': line, 'word': tokenize([line])[0], 'char': tokenize([line], 'char')[0]}
                     for line in TOKENIZE_LINES],
        'tokensAndSegments': [
            {'a': a, 'b': b, 'result': list(get_tokens_and_segments(a, b))}
            for a, b in [(['a', 'b'], None), (['a'], ['b', 'c']), ([], []), ([], None)]],
        'readSnli': {'train': list(train), 'test': list(test)},
        'vocabs': vocabs,
        'loadedLists': loaded_lists,
        'toTokens': to_tokens,
        'datasets': datasets,
        'real': real_split_digests(),
        'shuffle': [{'seed': seed, 'n': n, 'orders': epoch_orders(seed, n, 3)}
                    for seed, n in [(0, 10), (42, 10), (2 ** 40 + 7, 37)]],
        'torch': torch.__version__,
    }
    with open(os.path.join(OUT, 'expected.json'), 'w', encoding='utf-8') as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, name)) for name in os.listdir(OUT))
    print('wrote %s (%d bytes)' % (OUT, total))


def bench(data_dir, max_len):
    dataset = read_snli(data_dir, True)
    vocab = load_vocab(data_dir)
    start = time.perf_counter()
    result = SNLIBERTDataset(dataset, max_len, vocab)
    seconds = time.perf_counter() - start
    print(json.dumps({'seconds': seconds, 'torch': torch.__version__,
                      'shape': list(result.all_token_ids.shape), 'dtype': str(result.all_token_ids.dtype)}))


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--bench':
        bench(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
