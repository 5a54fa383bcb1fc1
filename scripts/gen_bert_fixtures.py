"""Generate test/fixtures/bert/: what PyTorch computes with d2l's BERT definitions.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_bert_fixtures.py

There is no d2l package here, so the d2l definitions below are copied verbatim from d2l 1.0.3's
PyTorch code (d2l-ai/d2l-en v1.0.3, d2l/torch.py and the chapters it is generated from):
masked_softmax, DotProductAttention ("Attention Scoring Functions"), MultiHeadAttention with
transpose_qkv / transpose_output ("Multi-Head Attention"), PositionWiseFFN, AddNorm,
TransformerEncoderBlock ("The Transformer Architecture"), BERTEncoder, MaskLM,
NextSentencePred, BERTModel ("Bidirectional Encoder Representations from Transformers") and
BERTClassifier ("Natural Language Inference: Fine-Tuning BERT"). Three mechanical changes:
MultiHeadAttention derives from nn.Module instead of d2l.Module (which only adds plotting and
training helpers: no parameters, submodules or repr), its transpose_qkv/transpose_output are
written in the class instead of attached with @d2l.add_to_class, and d2l's own classes are
named without their `d2l.` prefix (d2l.MultiHeadAttention, d2l.TransformerEncoderBlock). The
lazy layers are materialised with one forward before anything is saved or recorded.

Writes, deterministically (every model is built right after torch.manual_seed):

- `bert.pt`: `torch.save(bert.state_dict())` of a small BERTModel (CONFIG), `classifier.pt`:
  `torch.save(net.state_dict())` of `BERTClassifier(bert)` (whose output layer is new).
- `blocks/<case>.pt`: the state dicts of the individual blocks (none for DotProductAttention).
- `bert.json`:
  - `config` (torchbridge's names), `inputs` (tokens, segments, validLens [batch] int64 as
    SNLIBERTDataset makes them, validLensFloat (the same, float32, as d2l's pretraining data),
    predPositions, labels);
  - `model` (eval mode): BERTModel's `encoded`, `mlm`, `nsp` for (tokens, segments,
    validLensFloat, predPositions), and `noValidLens`: encoded and nsp with valid_lens and
    pred_positions None;
  - `classifier` (eval mode): `logits` and `losses` (nn.CrossEntropyLoss(reduction='none'));
  - `trainSeeded`: torch.manual_seed(seed), then the classifier's logits in train mode (dropout
    0.2 active);
  - `grads`: the same weights in a dropout-0 model in train mode, after one `l.sum().backward()`
    of the per-example losses: `logits`, `losses`, every classifier parameter's gradient (by
    name) and `bertNoGrad`, the BERTModel parameters whose .grad stayed None;
  - `blocks`: per case the constructor arguments (torchbridge's names), the weights file, the
    inputs and PyTorch's output in eval mode;
  - `architectures`: state_dict() keys and shapes of d2l's BERTModel and BERTClassifier in the
    bert.small configuration (SMALL_CONFIG; the values are not saved);
  - `repr`: repr() of the fixture's BERTClassifier and BERTModel;
  - `loadErrors`: what load_state_dict says when bert.pt is loaded into models of another
    numHiddens or maxLen.

The test suite also runs this script in check mode:

    /usr/bin/python3 scripts/gen_bert_fixtures.py check-classifier STATE_DICT_PT

which builds d2l's BERTClassifier of CONFIG, loads the file with load_state_dict(strict=True)
and prints the eval-mode logits on the fixture inputs as JSON ({"logits": [...]}).
"""

import json
import math
import os
import sys
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_op_fixtures import encode_tensor  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "bert")

# Lazy modules warn that they are new; the warning says nothing about the values.
warnings.filterwarnings("ignore", message="Lazy modules are a new feature")

# d2l's argument names on the left, the fixture's (torchbridge's) in the JSON.
CONFIG = dict(vocab_size=60, num_hiddens=16, ffn_num_hiddens=32, num_heads=4, num_blks=2, dropout=0.2, max_len=20)
# d2l's bert.small as the fine-tuning section builds it; the vocabulary size is the one of
# bert.small's vocab.json (any size gives the same names).
SMALL_CONFIG = dict(vocab_size=20256, num_hiddens=256, ffn_num_hiddens=512, num_heads=4, num_blks=2, dropout=0.2,
                    max_len=512)


# ---- d2l's definitions (d2l.ai, PyTorch tab), verbatim -----------------------------------


def masked_softmax(X, valid_lens):  #@save
    """Perform softmax operation by masking elements on the last axis."""
    # X: 3D tensor, valid_lens: 1D or 2D tensor
    def _sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = torch.arange((maxlen), dtype=torch.float32,
                            device=X.device)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    else:
        shape = X.shape
        if valid_lens.dim() == 1:
            valid_lens = torch.repeat_interleave(valid_lens, shape[1])
        else:
            valid_lens = valid_lens.reshape(-1)
        # On the last axis, replace masked elements with a very large negative
        # value, whose exponentiation outputs 0
        X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
        return nn.functional.softmax(X.reshape(shape), dim=-1)


class DotProductAttention(nn.Module):  #@save
    """Scaled dot product attention."""
    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    # Shape of queries: (batch_size, no. of queries, d)
    # Shape of keys: (batch_size, no. of key-value pairs, d)
    # Shape of values: (batch_size, no. of key-value pairs, value dimension)
    # Shape of valid_lens: (batch_size,) or (batch_size, no. of queries)
    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        # Swap the last two dimensions of keys with keys.transpose(1, 2)
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class MultiHeadAttention(nn.Module):  #@save  (d2l.Module in d2l)
    """Multi-head attention."""
    def __init__(self, num_hiddens, num_heads, dropout, bias=False, **kwargs):
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_o = nn.LazyLinear(num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens):
        # Shape of queries, keys, or values:
        # (batch_size, no. of queries or key-value pairs, num_hiddens)
        # Shape of valid_lens: (batch_size,) or (batch_size, no. of queries)
        # After transposing, shape of output queries, keys, or values:
        # (batch_size * num_heads, no. of queries or key-value pairs,
        # num_hiddens / num_heads)
        queries = self.transpose_qkv(self.W_q(queries))
        keys = self.transpose_qkv(self.W_k(keys))
        values = self.transpose_qkv(self.W_v(values))

        if valid_lens is not None:
            # On axis 0, copy the first item (scalar or vector) for num_heads
            # times, then copy the next item, and so on
            valid_lens = torch.repeat_interleave(
                valid_lens, repeats=self.num_heads, dim=0)

        # Shape of output: (batch_size * num_heads, no. of queries,
        # num_hiddens / num_heads)
        output = self.attention(queries, keys, values, valid_lens)
        # Shape of output_concat: (batch_size, no. of queries, num_hiddens)
        output_concat = self.transpose_output(output)
        return self.W_o(output_concat)

    def transpose_qkv(self, X):
        """Transposition for parallel computation of multiple attention heads."""
        # Shape of input X: (batch_size, no. of queries or key-value pairs,
        # num_hiddens). Shape of output X: (batch_size, no. of queries or
        # key-value pairs, num_heads, num_hiddens / num_heads)
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
        # Shape of output X: (batch_size, num_heads, no. of queries or key-value
        # pairs, num_hiddens / num_heads)
        X = X.permute(0, 2, 1, 3)
        # Shape of output: (batch_size * num_heads, no. of queries or key-value
        # pairs, num_hiddens / num_heads)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        """Reverse the operation of transpose_qkv."""
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
        X = X.permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)


class PositionWiseFFN(nn.Module):  #@save
    """The positionwise feed-forward network."""
    def __init__(self, ffn_num_hiddens, ffn_num_outputs):
        super().__init__()
        self.dense1 = nn.LazyLinear(ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.LazyLinear(ffn_num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class AddNorm(nn.Module):  #@save
    """The residual connection followed by layer normalization."""
    def __init__(self, norm_shape, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(norm_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class TransformerEncoderBlock(nn.Module):  #@save
    """The Transformer encoder block."""
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout,
                 use_bias=False):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads,
                                            dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class BERTEncoder(nn.Module):
    """BERT encoder."""
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                 num_blks, dropout, max_len=1000, **kwargs):
        super(BERTEncoder, self).__init__(**kwargs)
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
        self.segment_embedding = nn.Embedding(2, num_hiddens)
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module(f"{i}", TransformerEncoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, dropout, True))
        # In BERT, positional embeddings are learnable, thus we create a
        # parameter of positional embeddings that are long enough
        self.pos_embedding = nn.Parameter(torch.randn(1, max_len,
                                                      num_hiddens))

    def forward(self, tokens, segments, valid_lens):
        # Shape of `X` remains unchanged in the following code snippet:
        # (batch size, max sequence length, `num_hiddens`)
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        X = X + self.pos_embedding[:, :X.shape[1], :]
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X


class MaskLM(nn.Module):
    """The masked language model task of BERT."""
    def __init__(self, vocab_size, num_hiddens, **kwargs):
        super(MaskLM, self).__init__(**kwargs)
        self.mlp = nn.Sequential(nn.LazyLinear(num_hiddens),
                                 nn.ReLU(),
                                 nn.LayerNorm(num_hiddens),
                                 nn.LazyLinear(vocab_size))

    def forward(self, X, pred_positions):
        num_pred_positions = pred_positions.shape[1]
        pred_positions = pred_positions.reshape(-1)
        batch_size = X.shape[0]
        batch_idx = torch.arange(0, batch_size)
        # Suppose that `batch_size` = 2, `num_pred_positions` = 3, then
        # `batch_idx` is `torch.tensor([0, 0, 0, 1, 1, 1])`
        batch_idx = torch.repeat_interleave(batch_idx, num_pred_positions)
        masked_X = X[batch_idx, pred_positions]
        masked_X = masked_X.reshape((batch_size, num_pred_positions, -1))
        mlm_Y_hat = self.mlp(masked_X)
        return mlm_Y_hat


class NextSentencePred(nn.Module):
    """The next sentence prediction task of BERT."""
    def __init__(self, **kwargs):
        super(NextSentencePred, self).__init__(**kwargs)
        self.output = nn.LazyLinear(2)

    def forward(self, X):
        # `X` shape: (batch size, `num_hiddens`)
        return self.output(X)


class BERTModel(nn.Module):
    """The BERT model."""
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens,
                 num_heads, num_blks, dropout, max_len=1000):
        super(BERTModel, self).__init__()
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens,
                                   num_heads, num_blks, dropout,
                                   max_len=max_len)
        self.hidden = nn.Sequential(nn.LazyLinear(num_hiddens),
                                    nn.Tanh())
        self.mlm = MaskLM(vocab_size, num_hiddens)
        self.nsp = NextSentencePred()

    def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
        encoded_X = self.encoder(tokens, segments, valid_lens)
        if pred_positions is not None:
            mlm_Y_hat = self.mlm(encoded_X, pred_positions)
        else:
            mlm_Y_hat = None
        # The hidden layer of the MLP classifier for next sentence prediction.
        # 0 is the index of the '<cls>' token
        nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
        return encoded_X, mlm_Y_hat, nsp_Y_hat


class BERTClassifier(nn.Module):
    def __init__(self, bert):
        super(BERTClassifier, self).__init__()
        self.encoder = bert.encoder
        self.hidden = bert.hidden
        self.output = nn.LazyLinear(3)

    def forward(self, inputs):
        tokens_X, segments_X, valid_lens_x = inputs
        encoded_X = self.encoder(tokens_X, segments_X, valid_lens_x)
        return self.output(self.hidden(encoded_X[:, 0, :]))


# ---- inputs and models --------------------------------------------------------------------

# Three sequence pairs of length 10 as SNLIBERTDataset pads them: <cls> (index 2 here) first,
# padding (0) after the valid length; one pair fills the whole length.
TOKENS = torch.tensor([
    [2, 11, 25, 7, 3, 40, 9, 3, 0, 0],
    [2, 33, 5, 3, 17, 58, 21, 44, 3, 0],
    [2, 8, 13, 29, 3, 51, 6, 12, 35, 3],
])
SEGMENTS = torch.tensor([
    [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
])
VALID_LENS = torch.tensor([8, 9, 10])
PRED_POSITIONS = torch.tensor([[1, 5, 6], [2, 4, 7], [3, 8, 1]])
LABELS = torch.tensor([0, 2, 1])
TRAIN_SEED = 1234


def js_config(c):
    return {"vocabSize": c["vocab_size"], "numHiddens": c["num_hiddens"], "ffnNumHiddens": c["ffn_num_hiddens"],
            "numHeads": c["num_heads"], "numBlks": c["num_blks"], "dropout": c["dropout"], "maxLen": c["max_len"]}


def materialised_bert(config, seed):
    torch.manual_seed(seed)
    bert = BERTModel(**config)
    with torch.no_grad():
        bert(TOKENS[:, :4], SEGMENTS[:, :4], None, PRED_POSITIONS[:, :1])
    return bert


def materialised_classifier(bert, seed):
    torch.manual_seed(seed)
    net = BERTClassifier(bert)
    with torch.no_grad():
        net((TOKENS[:, :4], SEGMENTS[:, :4], None))
    return net


def architecture(module):
    return [[name, list(t.shape)] for name, t in module.state_dict().items()]


def enc(t):
    return encode_tensor(t)


# ---- the individual blocks ----------------------------------------------------------------


def randn(seed, *shape):
    torch.manual_seed(seed)
    return torch.randn(*shape)


def block_cases():
    cases = []
    q, k, v = randn(1, 2, 3, 4), randn(2, 2, 5, 4), randn(3, 2, 5, 6)
    # 1-D valid lengths (one of them 0: every score is -1e6, so d2l's softmax is uniform over
    # all keys instead of NaN), 2-D (per query) valid lengths, and none.
    for name, lens in [("dot_product_attention_valid_lens_1d", torch.tensor([3, 0])),
                       ("dot_product_attention_valid_lens_2d", torch.tensor([[1, 2, 5], [4, 0, 3]])),
                       ("dot_product_attention_no_valid_lens", None)]:
        torch.manual_seed(10)
        module = DotProductAttention(0.5).eval()
        out = module(q, k, v, lens)
        cases.append({"name": name, "type": "DotProductAttention", "args": {"dropout": 0.5}, "weights": None,
                      "inputs": [enc(q), enc(k), enc(v), None if lens is None else enc(lens)], "output": enc(out)})

    xq, xkv = randn(4, 2, 3, 6), randn(5, 2, 5, 6)
    for bias in (False, True):
        for dim, lens in [("1d", torch.tensor([2, 5])), ("2d", torch.tensor([[1, 3, 5], [2, 2, 4]]))]:
            name = f"multi_head_attention_{'bias' if bias else 'no_bias'}_valid_lens_{dim}"
            torch.manual_seed(20)
            module = MultiHeadAttention(8, 2, 0.3, bias=bias)
            module.eval()
            out = module(xq, xkv, xkv, lens)
            cases.append({"name": name, "type": "MultiHeadAttention",
                          "args": {"numHiddens": 8, "numHeads": 2, "dropout": 0.3, "bias": bias, "querySize": 6},
                          "weights": f"multi_head_attention_{'bias' if bias else 'no_bias'}.pt", "module": module,
                          "inputs": [enc(xq), enc(xkv), enc(xkv), enc(lens)], "output": enc(out)})

    X, Y = randn(6, 2, 3, 6), randn(7, 2, 3, 6)
    torch.manual_seed(30)
    module = AddNorm(6, 0.3).eval()
    # LayerNorm starts at weight 1, bias 0: other values make the weights matter.
    with torch.no_grad():
        module.ln.weight.copy_(randn(31, 6))
        module.ln.bias.copy_(randn(32, 6))
    cases.append({"name": "add_norm", "type": "AddNorm", "args": {"normShape": 6, "dropout": 0.3},
                  "weights": "add_norm.pt", "module": module, "inputs": [enc(X), enc(Y)], "output": enc(module(X, Y))})

    torch.manual_seed(40)
    module = PositionWiseFFN(12, 6).eval()
    out = module(X)
    cases.append({"name": "position_wise_ffn", "type": "PositionWiseFFN", "args": {"ffnNumHiddens": 12, "ffnNumOutputs": 6},
                  "weights": "position_wise_ffn.pt", "module": module, "inputs": [enc(X)], "output": enc(out)})

    Z = randn(8, 2, 4, 8)
    for use_bias in (False, True):
        name = f"transformer_encoder_block_{'bias' if use_bias else 'no_bias'}"
        torch.manual_seed(50)
        module = TransformerEncoderBlock(8, 16, 2, 0.1, use_bias).eval()
        lens = torch.tensor([3, 4])
        out = module(Z, lens)
        cases.append({"name": name, "type": "TransformerEncoderBlock",
                      "args": {"numHiddens": 8, "ffnNumHiddens": 16, "numHeads": 2, "dropout": 0.1, "useBias": use_bias},
                      "weights": f"{name}.pt", "module": module, "inputs": [enc(Z), enc(lens)], "output": enc(out)})
    return cases


# ---- main ---------------------------------------------------------------------------------


def load_error(config, state):
    model = materialised_bert(config, 0)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        return str(e)
    raise AssertionError("load_state_dict accepted a state dict of other shapes")


def main():
    os.makedirs(os.path.join(OUTPUT, "blocks"), exist_ok=True)
    out = {"config": js_config(CONFIG)}
    out["inputs"] = {"tokens": enc(TOKENS), "segments": enc(SEGMENTS), "validLens": enc(VALID_LENS),
                     "validLensFloat": enc(VALID_LENS.float()), "predPositions": enc(PRED_POSITIONS),
                     "labels": enc(LABELS)}

    bert = materialised_bert(CONFIG, 0)
    net = materialised_classifier(bert, 1)
    torch.save(bert.state_dict(), os.path.join(OUTPUT, "bert.pt"))
    torch.save(net.state_dict(), os.path.join(OUTPUT, "classifier.pt"))

    bert.eval()
    with torch.no_grad():
        encoded, mlm, nsp = bert(TOKENS, SEGMENTS, VALID_LENS.float(), PRED_POSITIONS)
        encoded_none, mlm_none, nsp_none = bert(TOKENS, SEGMENTS)
    assert mlm_none is None
    out["model"] = {"encoded": enc(encoded), "mlm": enc(mlm), "nsp": enc(nsp),
                    "noValidLens": {"encoded": enc(encoded_none), "nsp": enc(nsp_none)}}

    loss = nn.CrossEntropyLoss(reduction="none")
    net.eval()
    with torch.no_grad():
        logits = net((TOKENS, SEGMENTS, VALID_LENS))
        out["classifier"] = {"logits": enc(logits), "losses": enc(loss(logits, LABELS))}
    net.train()
    with torch.no_grad():
        torch.manual_seed(TRAIN_SEED)
        out["trainSeeded"] = {"seed": TRAIN_SEED, "logits": enc(net((TOKENS, SEGMENTS, VALID_LENS)))}

    # Gradients: the same weights without dropout, in train mode.
    bert0 = materialised_bert(dict(CONFIG, dropout=0.0), 0)
    net0 = materialised_classifier(bert0, 1)
    net0.load_state_dict(torch.load(os.path.join(OUTPUT, "classifier.pt")))
    bert0.load_state_dict(torch.load(os.path.join(OUTPUT, "bert.pt")))
    net0.train()
    logits0 = net0((TOKENS, SEGMENTS, VALID_LENS))
    l = loss(logits0, LABELS)
    l.sum().backward()
    grads = {name: enc(p.grad) for name, p in net0.named_parameters()}
    assert all(p.grad is not None for p in net0.parameters())
    out["grads"] = {"logits": enc(logits0), "losses": enc(l), "params": grads,
                    "bertNoGrad": [name for name, p in bert0.named_parameters() if p.grad is None]}

    blocks = block_cases()
    for c in blocks:
        module = c.pop("module", None)
        if module is not None:
            torch.save(module.state_dict(), os.path.join(OUTPUT, "blocks", c["weights"]))
    out["blocks"] = blocks

    small = materialised_bert(SMALL_CONFIG, 0)
    small_net = materialised_classifier(small, 1)
    out["architectures"] = {"config": js_config(SMALL_CONFIG), "bert": architecture(small),
                            "classifier": architecture(small_net)}
    out["repr"] = {"classifier": repr(net), "bert": repr(bert)}

    state = torch.load(os.path.join(OUTPUT, "bert.pt"))
    out["loadErrors"] = [
        {"config": js_config(dict(CONFIG, num_hiddens=12, ffn_num_hiddens=24)),
         "message": load_error(dict(CONFIG, num_hiddens=12, ffn_num_hiddens=24), state)},
        {"config": js_config(dict(CONFIG, max_len=30)), "message": load_error(dict(CONFIG, max_len=30), state)},
    ]

    with open(os.path.join(OUTPUT, "bert.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def check_classifier(path):
    """Loads a classifier state dict written elsewhere into d2l's BERTClassifier and prints its logits."""
    net = materialised_classifier(materialised_bert(CONFIG, 0), 1)
    net.load_state_dict(torch.load(path), strict=True)
    net.eval()
    with torch.no_grad():
        logits = net((TOKENS, SEGMENTS, VALID_LENS))
    print(json.dumps({"logits": enc(logits)}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check-classifier":
        if len(sys.argv) != 3:
            sys.exit("usage: gen_bert_fixtures.py check-classifier STATE_DICT_PT")
        check_classifier(sys.argv[2])
    else:
        main()
