// loadPretrainedModel: from a directory, or by name through the data hub (served locally), with
// every size option honoured and clear errors for checkpoints that do not match.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';

import * as torch from '../lib';
import { loadPretrainedModel } from '../lib/d2l/pretrained';
import { ZipWriter } from '../lib/serialization/zip';

// test/fixtures/bert/bert.pt: a d2l BERTModel state dict saved by PyTorch (scripts/gen_bert_fixtures.py).
const fixture = path.join(__dirname, 'fixtures', 'bert');
const config = JSON.parse(fs.readFileSync(path.join(fixture, 'bert.json'), 'utf8')).config as {
  vocabSize: number; numHiddens: number; ffnNumHiddens: number; numHeads: number; numBlks: number; dropout: number; maxLen: number;
};
const sizes = { numHiddens: config.numHiddens, ffnNumHiddens: config.ffnNumHiddens, numHeads: config.numHeads, numBlks: config.numBlks, dropout: 0, maxLen: config.maxLen };

function pretrainedDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-pretrained-'));
  // sorted, as d2l 1.0's Vocab builds every vocabulary: '<unk>' at index 4
  const tokens = ['<cls>', '<mask>', '<pad>', '<sep>', '<unk>', ...Array.from({ length: config.vocabSize - 5 }, (_, k) => `w${k}`)];
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(tokens));
  fs.copyFileSync(path.join(fixture, 'bert.pt'), path.join(dir, 'pretrained.params'));
  return dir;
}

describe('loadPretrainedModel', function () {
  this.timeout(60_000);

  it('loads vocab.json and pretrained.params from a directory with the given sizes', async () => {
    const dir = pretrainedDir();
    const { bert, vocab } = await loadPretrainedModel(dir, sizes);
    assert.equal(vocab.length, config.vocabSize);
    // d2l's token_to_idx = {token: idx for idx, token in enumerate(vocab.json)}; unk = token_to_idx['<unk>']
    assert.equal(vocab.unk, 4);
    assert.deepEqual(vocab.get(['<cls>', 'w0', 'not-in-vocab', '<pad>']), [0, 5, 4, 2]);
    assert.equal(bert.config.numHeads, config.numHeads);
    const saved = await torch.load(path.join(dir, 'pretrained.params'));
    torch.tidy(() => {
      for (const [name, value] of bert.stateDict()) assert.equal(value.sub(saved.get(name)!).abs().max().item(), 0, name);
    });
    torch.dispose([...saved.values()]);
    bert.dispose();
    fs.rmSync(dir, { recursive: true });
  });

  it('names the differing shapes and the sizes the checkpoint implies when the options do not match', async () => {
    const dir = pretrainedDir();
    await assert.rejects(loadPretrainedModel(dir, { ...sizes, maxLen: config.maxLen + 4, numBlks: config.numBlks + 1 }), (err: Error) => {
      assert.match(err.message, /does not match the options/);
      assert.match(err.message, new RegExp(`size mismatch for encoder.pos_embedding: copying a param with shape torch.Size\\(\\[1, ${config.maxLen}, ${config.numHiddens}\\]\\)`));
      assert.match(err.message, /Missing key\(s\) in state_dict: "encoder\.blks\.2\./);
      assert.match(err.message, new RegExp(`made with numHiddens ${config.numHiddens}, ffnNumHiddens ${config.ffnNumHiddens}, numBlks ${config.numBlks}, maxLen ${config.maxLen}`));
      return true;
    });
    await assert.rejects(loadPretrainedModel(path.join(dir, 'nope'), sizes), /neither a directory .* nor a pretrained model name \(bert\.small, bert\.base\)/);
    fs.rmSync(dir, { recursive: true });
  });

  it('downloads, verifies and extracts a hub archive, then loads it', async () => {
    const dir = pretrainedDir();
    const chunks: Uint8Array[] = [];
    const writer = new ZipWriter({ write: async (bytes) => void chunks.push(Buffer.from(bytes)) });
    await writer.add('bert.tiny.torch/vocab.json', fs.readFileSync(path.join(dir, 'vocab.json')));
    await writer.add('bert.tiny.torch/pretrained.params', fs.readFileSync(path.join(dir, 'pretrained.params')));
    await writer.finish();
    const zip = Buffer.concat(chunks);
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Length': zip.length });
      res.end(zip);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bert.tiny.torch.zip`;
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-cache-'));
    try {
      const hub = { 'bert.tiny': { url, sha1: createHash('sha1').update(zip).digest('hex') } };
      const { bert, vocab } = await loadPretrainedModel('bert.tiny', { ...sizes, download: { hub, cacheDir: cache, progress: false } });
      assert.equal(vocab.length, config.vocabSize);
      assert.ok(fs.existsSync(path.join(cache, 'bert.tiny.torch', 'pretrained.params')));
      bert.dispose();
    } finally {
      server.close();
      fs.rmSync(cache, { recursive: true });
      fs.rmSync(dir, { recursive: true });
    }
  });
});
