"""Generate test/fixtures/train/: a tiny fine-tuning run of d2l's BERTClassifier in PyTorch.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_train_fixtures.py

The CLI test runs `node lib/train.js` on these files and compares what it reaches with what
PyTorch reaches from the same start, with d2l 1.0.3's own definitions: read_snli, tokenize, Vocab,
SNLIBERTDataset and load_pretrained_model's vocabulary lines (in-process, from
gen_d2l_data_fixtures.py), BERTModel and BERTClassifier (from gen_bert_fixtures.py), and d2l's
train_batch_ch13 / accuracy / Accumulator / evaluate_accuracy_gpu below (verbatim from d2l
1.0.3's d2l/torch.py but for the "Defined in" lines of their docstrings; chapters
"Implementation of Softmax Regression from Scratch", "Convolutional Neural Networks (LeNet)" and
"Image Augmentation"; code under the MIT-0 license) and its train_ch13 loop, run on the CPU
without nn.DataParallel (which on one CPU device only forwards to the module).

Writes, deterministically (every model is built right after torch.manual_seed; running the
script again rewrites the same bytes):

- `snli/snli_1.0_train.txt`: the header and the first 40 data rows of the real dev split
  (../shared/data/snli_1.0/snli_1.0_dev.txt), byte for byte; `snli/snli_1.0_test.txt`: the
  header and the first 16 data rows of the real test split. Every one of them has a gold label.
- `pretrained/vocab.json`: idx_to_token of a d2l 1.0 Vocab of the lowercased word tokens of all
  premises and hypotheses of both fixture splits (min_freq 2, d2l's BERT reserved tokens), so
  some words map to '<unk>' as with a real pretrained vocabulary; d2l 1.0 sorts idx_to_token, so
  '<unk>' is not at index 0 (punctuation sorts before it), and unknown words must map to where
  it stands;
  `pretrained/pretrained.params`: torch.save(bert.state_dict()) of a small BERTModel (CONFIG,
  dropout 0.2 as a pretrained d2l BERT has) over that vocabulary: a directory laid out as d2l's
  load_pretrained_model reads one.
- `init.pt`: torch.save(net.state_dict()) of BERTClassifier over the pretrained BERT (dropout
  0), its new output layer drawn after torch.manual_seed(1): the start given to the CLI with
  --init, so that both sides start from the same weights.
- `expected.pt`: torch.save(net.state_dict()) after 2 epochs of d2l's loop from init.pt
  (DataLoader batch 8 without shuffling, max_len 32, Adam lr 1e-3, CrossEntropyLoss
  reduction='none' summed per batch).
- `expected.json`: `config` (torchbridge's names), `args` (the CLI arguments that reproduce
  the run, relative to this directory), `steps` (per training step: epoch (0-based), batch
  (1-based), lossSum, correct, count), `epochs` (trainLoss, trainAcc, testAcc after each
  epoch), `lines` (d2l's first summary line; the second one is a timing), `trainExamples`,
  `testExamples`, `predictions`: the trained classifier's softmax probabilities (eval mode)
  for the first test pairs, with their text as read_snli gives it (already tokenized the way
  SNLI is, so node lib/predict.js gets the same words), and `randomVocab`: the idx_to_token of
  the vocabulary `--pretrained random` builds from the training split, as d2l 1.0 builds its
  pretraining vocabulary (`d2l.Vocab(sentences, min_freq=5, reserved_tokens=['<pad>', '<mask>',
  '<cls>', '<sep>'])` in _WikiTextDataset) of the lowercased word tokens of the training premises,
  then hypotheses.

The test suite also runs this script in check mode:

    /usr/bin/python3 scripts/gen_train_fixtures.py check STATE_DICT_PT

which loads the file into d2l's BERTClassifier of the fixture config with
load_state_dict(strict=True) and prints {"maxAbsDiff": <largest |loaded - expected.pt| over
every element of every entry>, "keys": <entries>} as one JSON line; when the file does not load
it prints why on stderr and exits 1.
"""

import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_d2l_data_fixtures import SingleProcessSNLIBERTDataset, Vocab, load_vocab, read_snli, tokenize  # noqa: E402
from gen_bert_fixtures import BERTClassifier, BERTModel  # noqa: E402  (also silences LazyModule warnings)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'test', 'fixtures', 'train')
REAL_SNLI = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data', 'snli_1.0'))

# Data rows taken from the real splits: enough for 5 training batches and 2 test batches of 8.
TRAIN_ROWS = 40
TEST_ROWS = 16
RESERVED_TOKENS = ['<pad>', '<mask>', '<cls>', '<sep>']
MIN_FREQ = 2
RANDOM_MIN_FREQ = 5  # d2l's pretraining vocabulary

# d2l's argument names; vocab_size comes from the fixture vocabulary. max_len 64 is the BERT's
# positional-embedding length, longer than the datasets' max_len 32, as bert.small's 512 is
# longer than the 128 of d2l's fine-tuning section.
CONFIG = dict(num_hiddens=16, ffn_num_hiddens=32, num_heads=4, num_blks=2, max_len=64)
PRETRAINED_DROPOUT = 0.2
# Fine-tuning without dropout: d2l fine-tunes with dropout 0.1, but dropout's random masks
# cannot be reproduced outside PyTorch's generator, and without them both sides compute the same.
DROPOUT = 0.0
MAX_LEN = 32
BATCH_SIZE = 8
LR = 1e-3
PREDICTION_PAIRS = 3
NUM_EPOCHS = 2
PRETRAINED_SEED = 0
CLASSIFIER_SEED = 1

ARGS = ['--pretrained', 'pretrained', '--data-dir', 'snli', '--train-split', 'train', '--test-split', 'test',
        '--epochs', str(NUM_EPOCHS), '--lr', '0.001', '--batch-size', str(BATCH_SIZE), '--max-len', str(MAX_LEN),
        '--bert-max-len', str(CONFIG['max_len']), '--num-hiddens', str(CONFIG['num_hiddens']),
        '--ffn-num-hiddens', str(CONFIG['ffn_num_hiddens']), '--num-heads', str(CONFIG['num_heads']),
        '--num-blks', str(CONFIG['num_blks']), '--dropout', '0', '--devices', 'cpu', '--no-shuffle',
        '--init', 'init.pt']


class d2l:  # noqa: N801 -- stands in for `from d2l import torch as d2l` in the code below
    pass


# ---- verbatim from d2l 1.0.3 (d2l/torch.py) ---------------------------------------------------

class Accumulator:
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = d2l.argmax(y_hat, axis=1)
    cmp = d2l.astype(y_hat, y.dtype) == y
    return float(d2l.reduce_sum(d2l.astype(cmp, y.dtype)))


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Compute the accuracy for a model on a dataset using a GPU."""
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions
    metric = d2l.Accumulator(2)

    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                # Required for BERT Fine-tuning (to be covered later)
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            metric.add(d2l.accuracy(net(X), y), d2l.size(y))
    return metric[0] / metric[1]


def train_batch_ch13(net, X, y, loss, trainer, devices):
    """Train for a minibatch with multiple GPUs (defined in Chapter 13)."""
    if isinstance(X, list):
        # Required for BERT fine-tuning (to be covered later)
        X = [x.to(devices[0]) for x in X]
    else:
        X = X.to(devices[0])
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    pred = net(X)
    l = loss(pred, y)
    l.sum().backward()
    trainer.step()
    train_loss_sum = l.sum()
    train_acc_sum = d2l.accuracy(pred, y)
    return train_loss_sum, train_acc_sum


d2l.argmax = lambda x, *args, **kwargs: x.argmax(*args, **kwargs)
d2l.astype = lambda x, *args, **kwargs: x.type(*args, **kwargs)
d2l.reduce_sum = lambda x, *args, **kwargs: x.sum(*args, **kwargs)
d2l.size = lambda x, *args, **kwargs: x.numel(*args, **kwargs)
d2l.Accumulator = Accumulator
d2l.accuracy = accuracy
d2l.evaluate_accuracy_gpu = evaluate_accuracy_gpu

# ---- end of d2l's code ------------------------------------------------------------------------


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices):
    """d2l's train_ch13 without the animator, timer and nn.DataParallel, recording every step.

    The loop, the Accumulator sums (Python floats of each batch's tensors) and the summary line
    are d2l's; the second summary line (examples/sec) is a timing and left out.
    """
    steps, epochs = [], []
    for epoch in range(num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples, no. of predictions
        metric = d2l.Accumulator(4)
        for i, (features, labels) in enumerate(train_iter):
            l, acc = train_batch_ch13(net, features, labels, loss, trainer, devices)
            metric.add(l, acc, labels.shape[0], labels.numel())
            steps.append({'epoch': epoch, 'batch': i + 1, 'lossSum': float(l), 'correct': acc,
                          'count': labels.numel()})
        test_acc = d2l.evaluate_accuracy_gpu(net, test_iter)
        epochs.append({'epoch': epoch, 'trainLoss': metric[0] / metric[2], 'trainAcc': metric[1] / metric[3],
                       'testAcc': test_acc})
    line = (f'loss {metric[0] / metric[2]:.3f}, train acc '
            f'{metric[1] / metric[3]:.3f}, test acc {test_acc:.3f}')
    return steps, epochs, line


# ---- fixtures ---------------------------------------------------------------------------------


def copy_rows(src, dst, n):
    """The header and the first n data rows of src, byte for byte (no decoding, no newline changes)."""
    with open(src, 'rb') as f:
        lines = f.readlines()[:n + 1]
    if len(lines) != n + 1 or not lines[-1].endswith(b'\n'):
        raise SystemExit(f'{src}: fewer than {n} complete data rows')
    with open(dst, 'wb') as f:
        f.writelines(lines)


def js_config(vocab_size):
    return {'vocabSize': vocab_size, 'numHiddens': CONFIG['num_hiddens'], 'ffnNumHiddens': CONFIG['ffn_num_hiddens'],
            'numHeads': CONFIG['num_heads'], 'numBlks': CONFIG['num_blks'], 'dropout': 0, 'maxLen': CONFIG['max_len']}


def materialise_inputs(vocab):
    """A one-pair batch of length 4 (<cls> <unk> <sep> <pad>): any input gives the lazy layers
    their shapes; the values they draw depend only on the seed and the order of the layers."""
    tokens = torch.tensor([vocab[['<cls>', '<unk>', '<sep>', '<pad>']]])
    segments = torch.zeros_like(tokens)
    return tokens, segments


def materialised_bert(vocab, dropout, seed):
    """d2l's BERTModel with its LazyLinears (hidden, MLM, NSP, attention, FFN) materialised by one
    forward that includes the MLM head (pred_positions given)."""
    torch.manual_seed(seed)
    bert = BERTModel(vocab_size=len(vocab), dropout=dropout, **CONFIG)
    tokens, segments = materialise_inputs(vocab)
    with torch.no_grad():
        bert(tokens, segments, None, torch.tensor([[1]]))
    return bert


def materialised_classifier(bert, vocab, seed):
    """d2l's BERTClassifier over bert; its new output LazyLinear(3) is drawn right after seed."""
    torch.manual_seed(seed)
    net = BERTClassifier(bert)
    tokens, segments = materialise_inputs(vocab)
    with torch.no_grad():
        net((tokens, segments, None))
    return net


def fixture_classifier(vocab):
    """A classifier of the fixture's fine-tuning config, to load init.pt or expected.pt into."""
    return materialised_classifier(materialised_bert(vocab, DROPOUT, PRETRAINED_SEED), vocab, CLASSIFIER_SEED)


def main():
    if not os.path.isdir(REAL_SNLI):
        raise SystemExit(f'{REAL_SNLI} is missing: the fixture rows are taken from the real SNLI splits')
    snli_dir = os.path.join(OUT, 'snli')
    pretrained_dir = os.path.join(OUT, 'pretrained')
    os.makedirs(snli_dir, exist_ok=True)
    os.makedirs(pretrained_dir, exist_ok=True)

    # The dev split's rows serve as the fixture's training split (read_snli knows only the names
    # snli_1.0_train.txt and snli_1.0_test.txt).
    copy_rows(os.path.join(REAL_SNLI, 'snli_1.0_dev.txt'), os.path.join(snli_dir, 'snli_1.0_train.txt'), TRAIN_ROWS)
    copy_rows(os.path.join(REAL_SNLI, 'snli_1.0_test.txt'), os.path.join(snli_dir, 'snli_1.0_test.txt'), TEST_ROWS)
    train_data = read_snli(snli_dir, True)
    test_data = read_snli(snli_dir, False)
    assert len(train_data[2]) == TRAIN_ROWS and len(test_data[2]) == TEST_ROWS, 'every fixture row has a gold label'

    # The vocabulary, tokenized as SNLIBERTDataset tokenizes (lowercased, split on whitespace);
    # the sentences in the order train premises, train hypotheses, test premises, test
    # hypotheses (the order breaks frequency ties).
    sentences = train_data[0] + train_data[1] + test_data[0] + test_data[1]
    vocab = Vocab(tokenize([s.lower() for s in sentences]), min_freq=MIN_FREQ, reserved_tokens=RESERVED_TOKENS)
    with open(os.path.join(pretrained_dir, 'vocab.json'), 'w') as f:
        json.dump(vocab.idx_to_token, f)
    vocab = load_vocab(pretrained_dir)  # as the CLI and d2l read it
    assert vocab.unk != 0, "d2l 1.0's sorted vocabulary puts '<unk>' after the punctuation"

    bert = materialised_bert(vocab, PRETRAINED_DROPOUT, PRETRAINED_SEED)
    torch.save(bert.state_dict(), os.path.join(pretrained_dir, 'pretrained.params'))

    # The start: the pretrained weights (as d2l's load_pretrained_model loads them into a model
    # of the fine-tuning dropout) and a new output layer.
    bert0 = materialised_bert(vocab, DROPOUT, PRETRAINED_SEED)
    bert0.load_state_dict(torch.load(os.path.join(pretrained_dir, 'pretrained.params')), strict=True)
    net0 = materialised_classifier(bert0, vocab, CLASSIFIER_SEED)
    torch.save(net0.state_dict(), os.path.join(OUT, 'init.pt'))

    # The reference run: a fresh classifier loaded from init.pt, as the CLI starts with --init.
    train_set = SingleProcessSNLIBERTDataset(train_data, MAX_LEN, vocab)
    test_set = SingleProcessSNLIBERTDataset(test_data, MAX_LEN, vocab)
    train_iter = torch.utils.data.DataLoader(train_set, BATCH_SIZE, shuffle=False)
    test_iter = torch.utils.data.DataLoader(test_set, BATCH_SIZE, shuffle=False)
    net = fixture_classifier(vocab)
    net.load_state_dict(torch.load(os.path.join(OUT, 'init.pt')), strict=True)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.Adam(net.parameters(), lr=LR)
    steps, epochs, line = train_ch13(net, train_iter, test_iter, loss, trainer, NUM_EPOCHS, [torch.device('cpu')])
    torch.save(net.state_dict(), os.path.join(OUT, 'expected.pt'))

    # What predict.js must print for a few pairs: the trained model's probabilities.
    net.eval()
    with torch.no_grad():
        X, _ = next(iter(torch.utils.data.DataLoader(test_set, PREDICTION_PAIRS, shuffle=False)))
        probabilities = torch.softmax(net(X), dim=1)
    predictions = [{'premise': test_data[0][k], 'hypothesis': test_data[1][k], 'probabilities': probabilities[k].tolist()}
                   for k in range(PREDICTION_PAIRS)]

    expected = {
        'config': js_config(len(vocab)),
        'args': ARGS,
        'steps': steps,
        'epochs': epochs,
        'lines': [line],
        'trainExamples': len(train_set),
        'testExamples': len(test_set),
        'predictions': predictions,
        'randomVocab': Vocab(tokenize([s.lower() for s in train_data[0] + train_data[1]]), min_freq=RANDOM_MIN_FREQ,
                             reserved_tokens=RESERVED_TOKENS).idx_to_token,
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')

    print(f'wrote {OUT}: vocab size {len(vocab)}, {len(train_set)} training and {len(test_set)} test examples, '
          f'{len(steps)} steps')
    for e in epochs:
        print(f"epoch {e['epoch']}: loss {e['trainLoss']:.6f}, train acc {e['trainAcc']:.4f}, "
              f"test acc {e['testAcc']:.4f}")
    print(line)


def check(path):
    """Loads a state dict written elsewhere into d2l's BERTClassifier and compares it with expected.pt."""
    vocab = load_vocab(os.path.join(OUT, 'pretrained'))
    net = fixture_classifier(vocab)
    try:
        net.load_state_dict(torch.load(path), strict=True)
    except Exception as e:  # noqa: BLE001 -- any failure to read or load is the answer
        print(f'{path}: {e}', file=sys.stderr)
        sys.exit(1)
    expected = torch.load(os.path.join(OUT, 'expected.pt'))
    loaded = net.state_dict()
    assert list(loaded) == list(expected)
    diff = max(float((loaded[k].double() - expected[k].double()).abs().max()) for k in expected)
    print(json.dumps({'maxAbsDiff': diff, 'keys': len(loaded)}))


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'check':
        if len(sys.argv) != 3:
            sys.exit('usage: gen_train_fixtures.py check STATE_DICT_PT')
        check(sys.argv[2])
    else:
        main()
