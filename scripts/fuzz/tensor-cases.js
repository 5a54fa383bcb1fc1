// Bad tensor calls for scripts/fuzz.js: each case is a small JavaScript snippet (run by
// scripts/fuzz/worker.js as the body of `async (torch, check, gc) => {...}`) that calls the
// public API with arguments drawn from pools of good and bad values. An argument known to be
// invalid (PyTorch refuses it too) sets `expectError`: a call that succeeds with it is nonsense.
'use strict';

// A value: its source text, and `bad` when the parameter type it was drawn for refuses it.
const v = (src, bad) => ({ src, bad });

const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'];

const TYPED_ARRAYS = ['Float32Array', 'Float64Array', 'Int32Array', 'BigInt64Array', 'Uint8Array', 'Int8Array', 'Int16Array',
  'Uint16Array', 'Uint32Array', 'Uint8ClampedArray', 'BigUint64Array'];

function typedArrayOf(rng, kind) {
  const n = rng.pick([0, 1, 4, 6]);
  const big = kind.startsWith('Big');
  const items = Array.from({ length: n }, (_, k) => (big ? `${k}n` : `${k + 1}`)).join(', ');
  return `new ${kind}([${items}])`;
}

// Typed arrays whose memory moves or vanishes: detached, shrunk, out of bounds, shared, odd offsets.
function strangeTypedArray(rng) {
  const kind = rng.pick(['Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array', 'BigInt64Array']);
  return rng.pick([
    `(() => { const a = new ${kind}(8); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; })()`,
    `(() => { const b = new ArrayBuffer(64, { maxByteLength: 256 }); const a = new ${kind}(b); b.resize(8); return a; })()`,
    `(() => { const b = new ArrayBuffer(64, { maxByteLength: 256 }); const a = new ${kind}(b, 0, 4); b.resize(0); return a; })()`,
    `new ${kind}(new SharedArrayBuffer(64))`,
    `new ${kind}(new ArrayBuffer(72), 8, 4)`,
    'new Float32Array(new ArrayBuffer(20), 4, 3)',
    'new DataView(new ArrayBuffer(16))',
    'new ArrayBuffer(16)',
    `new ${kind}(0)`,
  ]);
}

const pool = {
  size: (rng) => rng.weighted([
    [10, v(`${rng.pick([0, 1, 2, 3, 4])}`)],
    [1, v('-1', 'a negative size')], [1, v('2.5', 'a non-integer size')], [1, v('NaN', 'a NaN size')],
    [1, v('Infinity', 'an infinite size')], [1, v("'3'", 'a string size')], [1, v('null', 'a null size')],
    [1, v('true', 'a boolean size')], [1, v('2 ** 70', 'a size of 2^70')], [1, v('-(2 ** 31)', 'a negative size')],
    [1, v('3n')], [1, v('1e9')], [1, v('2 ** 31')], [1, v('2 ** 53')], [1, v('{}', 'an object as a size')],
    [1, v('undefined', 'an undefined size')],
  ]),
  shape: (rng) => {
    const kind = rng.weighted([[8, 'list'], [2, 'number'], [2, 'bad'], [1, 'many']]);
    if (kind === 'number') return pool.size(rng);
    if (kind === 'many') {
      const n = rng.pick([16, 64, 65, 200]);
      return v(`Array(${n}).fill(1)`);
    }
    if (kind === 'bad') {
      return rng.pick([v("'2,3'", 'a string shape'), v('[[2], [3]]', 'a nested shape'), v('[2, , 3]', 'a shape with a hole'),
        v('{ length: 2 }', 'an array-like object as a shape'), v('new Int32Array([2, 3])'), v('[1e5, 1e5]'),
        v('[2 ** 31, 2 ** 31]'), v('[2 ** 62, 4]'), v('[-1, 0]', 'a negative size'), v('[Symbol(), 2]', 'a Symbol in a shape')]);
    }
    const dims = Array.from({ length: rng.pick([0, 1, 2, 2, 3, 4]) }, () => pool.size(rng));
    return v(`[${dims.map((d) => d.src).join(', ')}]`, dims.map((d) => d.bad).find(Boolean));
  },
  dim: (rng) => rng.weighted([
    [10, v(`${rng.pick([0, 1, -1, 2, -2, 3])}`)],
    [1, v('2.5', 'a non-integer dim')], [1, v('NaN', 'a NaN dim')], [1, v("'0'", 'a string dim')], [1, v('1e9', 'dim 1e9')],
    [1, v('-1e9', 'dim -1e9')], [1, v('2 ** 70', 'dim 2^70')], [1, v('Infinity', 'an infinite dim')], [1, v('0n')], [1, v('null')],
  ]),
  int: (rng) => rng.weighted([
    [10, v(`${rng.pick([0, 1, 2, -1, 3, 5])}`)],
    [1, v('2.5', 'a non-integer')], [1, v('NaN', 'NaN for an integer')], [1, v('Infinity', 'Infinity for an integer')],
    [1, v("'1'", 'a string for an integer')], [1, v('2 ** 70', '2^70 for an integer')], [1, v('1e9')], [1, v('-1e9')],
    [1, v('{}', 'an object for an integer')], [1, v('1n')], [1, v('2 ** 63')],
  ]),
  scalar: (rng) => rng.weighted([
    [10, v(`${rng.pick(['0', '1', '-2.5', '3', 'NaN', 'Infinity', '-Infinity', '1e308', 'true', '2 ** 53', '-0', '5e-324'])}`)],
    [1, v("'x'", 'a string scalar')], [1, v('{}', 'an object scalar')], [1, v('[]')], [1, v('[1, 2]')], [1, v('3n')],
    [1, v('2n ** 70n')], [1, v('null')], [1, v('Symbol()', 'a Symbol scalar')], [1, v('() => 1', 'a function scalar')],
  ]),
  dtype: (rng) => rng.weighted([
    [10, v(`'${rng.pick(DTYPES)}'`)],
    [1, v("'float'", "dtype 'float'")], [1, v("'int8'", "dtype 'int8'")], [1, v("'complex64'", "dtype 'complex64'")],
    [1, v("''", 'an empty dtype')], [1, v("'Float32'", "dtype 'Float32'")], [1, v('5', 'a number as dtype')],
    [1, v('{}', 'an object as dtype')], [1, v('null')], [1, v("'torch.float32'")],
  ]),
  device: (rng) => rng.weighted([
    [6, v("'cpu'")],
    [1, v("'cuda'", 'a CUDA device (none here)')], [1, v("'cuda:0'", 'a CUDA device (none here)')],
    [1, v("'cuda:-1'", 'device cuda:-1')], [1, v("'cuda:99999999999'", 'a huge CUDA index')], [1, v("'gpu'", "device 'gpu'")],
    [1, v("'cpu:x'", "device 'cpu:x'")], [1, v("''", 'an empty device')], [1, v('5', 'a number as device')],
    [1, v("'mps'", 'device mps (none here)')], [1, v("'cpu:0'")], [1, v("'CPU'")], [1, v("'meta'")],
  ]),
  bool: (rng) => rng.weighted([[6, v(rng.pick(['true', 'false']))], [1, v("'yes'")], [1, v('1')], [1, v('null')]]),
  options: (rng) => {
    const kind = rng.weighted([[4, 'none'], [6, 'object'], [1, 'bad']]);
    if (kind === 'none') return v(rng.pick(['undefined', '{}']));
    if (kind === 'bad') return rng.pick([v('5', 'a number as options'), v("'float32'"), v('null'), v('[]'), v('new Proxy({}, { get() { throw new Error("trap") } })')]);
    const parts = [];
    let bad;
    if (rng.chance(0.6)) { const d = pool.dtype(rng); parts.push(`dtype: ${d.src}`); bad = bad || d.bad; }
    if (rng.chance(0.3)) { const d = pool.device(rng); parts.push(`device: ${d.src}`); bad = bad || d.bad; }
    if (rng.chance(0.3)) { const b = pool.bool(rng); parts.push(`requiresGrad: ${b.src}`); }
    if (rng.chance(0.1)) parts.push(`${rng.pick(['dtpye', 'shape', 'copy', '__proto__'])}: ${rng.pick(['1', "'x'", '[2]', 'null'])}`);
    return v(`{ ${parts.join(', ')} }`, bad);
  },
  // Tensors of every dtype and layout, and things that only look like tensors.
  tensor: (rng) => rng.weighted([
    [12, v(rng.pick([
      'torch.ones([2, 3])', 'torch.arange(6).reshape([2, 3])', "torch.tensor([[1, 2], [3, 4]], { dtype: 'float64' })",
      'torch.tensor(3.5)', 'torch.zeros([0, 3])', 'torch.ones([3, 4]).transpose(0, 1)', "torch.ones([2, 3], { dtype: 'float16' })",
      "torch.ones([2, 3], { dtype: 'bfloat16' })", 'torch.tensor([true, false, true])', "torch.tensor([1, 2, 3], { dtype: 'int32' })",
      "torch.tensor([1, 2, 3], { dtype: 'uint8' })", 'torch.randn([2, 3], { requiresGrad: true })', 'torch.ones([1, 1, 1, 1, 2])',
      'torch.ones([4]).expand([3, 4])', 'torch.arange(12).view([3, 4]).narrow(1, 1, 2)', 'torch.randn([2, 3, 4])',
      'torch.tensor([NaN, Infinity, -Infinity])', 'torch.arange(24).view([2, 3, 4]).permute([2, 0, 1])',
    ]))],
    [1, v('(() => { const t = torch.ones([2]); t.dispose(); return t; })()', 'a disposed tensor')],
    [1, v('Object.create(torch.Tensor.prototype)', 'a fake Tensor (the prototype without a native handle)')],
    [1, v('Object.defineProperty(Object.create(torch.Tensor.prototype), "handle", { value: {} })', 'a fake Tensor with a fake handle')],
    [1, v('new Proxy(torch.ones([2]), {})')], [1, v('{}', 'an object as a tensor')], [1, v('[1, 2]')],
    [1, v('null', 'null as a tensor')], [1, v("'x'", 'a string as a tensor')], [1, v('5')],
  ]),
  // The data of torch.tensor().
  data: (rng) => rng.weighted([
    [4, v(rng.pick(['3.5', '[1, 2, 3]', '[[1, 2], [3, 4]]', '[]', '[[]]', '[true, false]', '[1, 2.5]', '[NaN, Infinity]', '[[[1]], [[2]]]', '-0', '[2 ** 53]']))],
    [3, v(typedArrayOf(rng, rng.pick(TYPED_ARRAYS)))],
    [3, v(strangeTypedArray(rng))],
    [1, v('[[1, 2], [3]]', 'a ragged array')], [1, v('[[1], 2]', 'a ragged array')], [1, v("[1, 'a']", 'a string element')],
    [1, v("['a']", 'a string element')], [1, v('[undefined]', 'an undefined element')], [1, v('[null]', 'a null element')],
    [1, v('[{}]', 'an object element')], [1, v('[1, , 3]', 'an array with a hole')], [1, v('{ length: 3 }', 'an array-like object')],
    [1, v("'abc'", 'a string as data')], [1, v('(() => { const a = [1]; a.push(a); return a; })()', 'an array containing itself')],
    [1, v("JSON.parse('['.repeat(5000) + ']'.repeat(5000))")], [1, v("JSON.parse('['.repeat(200000) + '1' + ']'.repeat(200000))")],
    [1, v('(() => { const a = []; a.length = 5e7; return a; })()', 'a sparse array of holes')],
    [1, v('[2 ** 70]')], [1, v('[1n, 2n]')], [1, v('[1n, 2.5]')], [1, v('[[1, 2], new Float32Array(2)]')],
    [1, v('new Proxy([1, 2], { get(t, k) { if (k === "length") return 1e9; return t[k]; } })')],
    [1, v('Object.defineProperty([1, 2, 3], 1, { get() { throw new Error("getter") } })')],
    [1, v('undefined', 'undefined data')], [1, v('null', 'null data')], [1, v('Symbol()', 'a Symbol as data')],
  ]),
};

// ---- the calls --------------------------------------------------------------------------------

// Each builder returns { code, expectError } (code ends by assigning the value to return to `r`).
function call(expr, args) {
  const bad = args.map((a) => a.bad).find(Boolean);
  return { code: `r = ${expr};`, expectError: bad };
}
const srcs = (args) => args.map((a) => a.src).join(', ');
// Optional trailing arguments: left out at random.
function trimOptional(rng, args, required) {
  const n = rng.range(required, args.length);
  return args.slice(0, n);
}

const CREATION = [
  (rng) => { const a = [pool.data(rng), pool.options(rng)]; return call(`torch.tensor(${srcs(trimOptional(rng, a, 1))})`, a.slice(0, 1)); },
  (rng) => {
    const data = rng.pick(['[1, 2, 3, 4]', 'new Float32Array(6)', '[[1, 2], [3, 4]]', 'new Int32Array([1, 2, 3])']);
    const shape = pool.shape(rng);
    // an option set to undefined is an option not given (the data's own shape), not a bad size
    const bad = shape.src === 'undefined' ? undefined : shape.bad;
    return { code: `r = torch.tensor(${data}, { shape: ${shape.src}, copy: ${rng.pick(['true', 'false'])} });`, expectError: bad };
  },
  (rng) => {
    const f = rng.pick(['zeros', 'ones', 'empty', 'rand', 'randn']);
    const a = [pool.shape(rng), pool.options(rng)];
    const used = trimOptional(rng, a, 1);
    return call(`torch.${f}(${srcs(used)})`, used);
  },
  (rng) => { const a = [pool.shape(rng), pool.scalar(rng), pool.options(rng)]; const used = trimOptional(rng, a, 2); return call(`torch.full(${srcs(used)})`, used); },
  (rng) => {
    const form = rng.int(3);
    if (form === 0) {
      const end = rng.weighted([[5, v(`${rng.pick([0, 1, 5])}`)], [1, v('NaN', 'arange(NaN)')], [1, v('Infinity', 'arange(Infinity)')], [1, v('-3', 'arange of a negative end')], [1, v('1e12')], [1, v("'5'", 'a string end')]]);
      return call(`torch.arange(${end.src})`, [end]);
    }
    const start = pool.scalar(rng);
    const end = pool.scalar(rng);
    const step = rng.weighted([[4, v('1')], [1, v('0', 'a zero step')], [1, v('-1')], [1, v('0.5')], [1, v('NaN', 'a NaN step')], [1, v('1e-300')]]);
    const used = form === 1 ? [start, end] : [start, end, step, pool.options(rng)];
    return { code: `r = torch.arange(${srcs(used)});`, expectError: undefined };
  },
  (rng) => {
    const steps = rng.weighted([[5, v(`${rng.pick([0, 1, 5])}`)], [1, v('-1', 'a negative step count')], [1, v('2.5', 'a non-integer step count')], [1, v('NaN', 'a NaN step count')], [1, v('1e10')]]);
    const a = [pool.scalar(rng), pool.scalar(rng), steps, pool.options(rng)];
    return { code: `r = torch.linspace(${srcs(trimOptional(rng, a, 3))});`, expectError: steps.bad };
  },
  (rng) => {
    const a = [pool.size(rng), pool.size(rng), pool.options(rng)];
    const used = trimOptional(rng, a, 1);
    // eye(n, null) and eye(n, undefined) mean eye(n): only a bad n or a bad given m is known to fail
    const m = used[1] && !['null', 'undefined'].includes(used[1].src) ? [used[1]] : [];
    return call(`torch.eye(${srcs(used)})`, [used[0], ...m]);
  },
  (rng) => {
    const low = rng.pick(['0', '5', '-3', '2.5', 'NaN', '2 ** 63']);
    const high = rng.pick(['10', '5', '0', 'Infinity', '2 ** 64']);
    const shape = pool.shape(rng);
    const bad = shape.bad || (['5', '0'].includes(high) && ['5', '2.5'].includes(low) ? 'randint with low >= high' : undefined);
    return { code: `r = torch.randint(${low}, ${high}, ${shape.src});`, expectError: bad };
  },
  (rng) => {
    const f = rng.pick(['zerosLike', 'onesLike', 'emptyLike', 'randLike', 'randnLike']);
    const t = pool.tensor(rng);
    const o = pool.options(rng);
    return call(`torch.${f}(${t.src}, ${o.src})`, [t]);
  },
  (rng) => { const t = pool.tensor(rng); const s = pool.scalar(rng); return call(`torch.fullLike(${t.src}, ${s.src})`, [t]); },
  (rng) => {
    const seed = rng.weighted([[4, v(`${rng.pick([0, 1, 42, 2 ** 32])}`)], [1, v("'x'", 'a string seed')], [1, v('NaN', 'a NaN seed')], [1, v('{}', 'an object seed')],
      [1, v('undefined', 'no seed')], [1, v('-1')], [1, v('2.5')], [1, v('2 ** 70')], [1, v('2n ** 64n')], [1, v('-1n')], [1, v('2n ** 70n')]]);
    return call(`(torch.manualSeed(${seed.src}), torch.rand([2]))`, [seed]);
  },
  (rng) => {
    const n = rng.weighted([[3, v(`${rng.pick([1, 2])}`)], [1, v('0', 'setNumThreads(0)')], [1, v('-1', 'setNumThreads(-1)')], [1, v('NaN', 'setNumThreads(NaN)')],
      [1, v('2.5', 'setNumThreads(2.5)')], [1, v("'2'", 'a string thread count')], [1, v('1e9', 'a billion threads')], [1, v('Infinity', 'infinite threads')], [1, v('undefined', 'no thread count')]]);
    return call(`(torch.setNumThreads(${n.src}), torch.ones([64, 64]).matmul(torch.ones([64, 64])).sum())`, [n]);
  },
];

// Methods of a tensor from the pool (bound to `t`).
const METHODS = [
  (rng) => [`t.reshape(${pool.shape(rng).src})`],
  (rng) => { const a = rng.chance(0.3) ? pool.dtype(rng) : pool.shape(rng); return [`t.view(${a.src})`]; },
  (rng) => { const dims = Array.from({ length: rng.pick([0, 1, 2, 3]) }, () => pool.dim(rng)); return [`t.permute([${srcs(dims)}])`, dims.map((d) => d.bad).find(Boolean)]; },
  (rng) => { const a = [pool.dim(rng), pool.dim(rng)]; return [`t.transpose(${srcs(a)})`, a.map((d) => d.bad).find(Boolean)]; },
  (rng) => { const a = [pool.dim(rng), pool.int(rng), pool.int(rng)]; return [`t.narrow(${srcs(a)})`, a.map((d) => d.bad).find(Boolean)]; },
  (rng) => { const a = [pool.dim(rng), pool.int(rng)]; return [`t.select(${srcs(a)})`, a.map((d) => d.bad).find(Boolean)]; },
  (rng) => {
    const idx = () => rng.pick(["':'", "'...'", 'null', '0', '-1', '5', '1e9', '2.5', "'x'", 'torch.slice(0, 2)', 'torch.slice(null, null, 0)',
      'torch.slice(NaN)', 'torch.slice(-100, 100, 2)', 'torch.tensor([0, 1])', 'torch.tensor([5])', 'torch.tensor([true, false])',
      'torch.tensor([0.5])', '[0, 1]', '{}', 'undefined', 'torch.tensor([-10])', 'torch.zeros([0], { dtype: "int64" })']);
    return [`t.index(${Array.from({ length: rng.range(0, 4) }, idx).join(', ')})`];
  },
  (rng) => [`t.indexPut_([${rng.pick(['torch.tensor([0])', 'torch.tensor([99])', 'torch.tensor([-99])', "':'", '0', 'torch.tensor([0.5])'])}], ${pool.scalar(rng).src})`],
  (rng) => { const d = pool.dim(rng); return [`t.indexSelect(${d.src}, ${rng.pick(['torch.tensor([0])', 'torch.tensor([9])', 'torch.tensor([-1])', 'torch.tensor([0.5])', 'torch.tensor([[0]])', 'torch.tensor([], { dtype: "int64" })'])})`, d.bad]; },
  (rng) => { const d = pool.dim(rng); return [`t.gather(${d.src}, ${rng.pick(['torch.zeros([2, 3], { dtype: "int64" })', 'torch.full([2, 3], 9, { dtype: "int64" })', 'torch.full([2, 3], -9, { dtype: "int64" })', 'torch.zeros([5, 5], { dtype: "int64" })', 'torch.zeros([2])'])})`, d.bad]; },
  (rng) => { const d = pool.dim(rng); const list = rng.pick(['[t, t]', '[t]', '[]', '[t, torch.ones([7])]', '[t, 5]', '[t, null]', "[t, t.to('float64')]", 'Array(1000).fill(t)', 't']); return [`torch.${rng.pick(['cat', 'stack'])}(${list}, ${d.src})`, d.bad]; },
  (rng) => { const a = [pool.int(rng), pool.dim(rng)]; return [`t.${rng.pick(['split', 'chunk'])}(${srcs(a)})`]; },
  (rng) => { const o = pool.tensor(rng); return [`t.${rng.pick(['matmul', 'bmm'])}(${o.src})`, o.bad]; },
  (rng) => { const o = pool.tensor(rng); return [`torch.${rng.pick(['matmul', 'bmm'])}(t, ${o.src})`, o.bad]; },
  (rng) => {
    const f = rng.pick(['sum', 'mean']);
    const dim = rng.chance(0.3) ? v(`[${srcs([pool.dim(rng), pool.dim(rng)])}]`) : pool.dim(rng);
    const noDim = rng.chance(0.2);
    const opts = rng.chance(0.5) ? `, { keepdim: ${pool.bool(rng).src}${rng.chance(0.3) ? `, dtype: ${pool.dtype(rng).src}` : ''} }` : '';
    return [`t.${f}(${noDim ? (opts ? 'undefined' : '') : dim.src}${opts})`, noDim ? undefined : dim.bad];
  },
  (rng) => { const d = pool.dim(rng); return [`t.${rng.pick(['max', 'min', 'argmax', 'argmin'])}(${d.src}, ${pool.bool(rng).src})`, d.bad]; },
  (rng) => { const d = pool.dim(rng); return [`t.${rng.pick(['softmax', 'logSoftmax'])}(${d.src}${rng.chance(0.3) ? `, ${pool.dtype(rng).src}` : ''})`, d.bad]; },
  (rng) => { const d = pool.dim(rng); return [`torch.softmax(t, ${d.src})`, d.bad]; },
  (rng) => {
    const target = rng.weighted([[3, pool.dtype(rng)], [2, pool.device(rng)], [2, v(`{ dtype: ${pool.dtype(rng).src}, device: ${pool.device(rng).src}, copy: ${pool.bool(rng).src} }`)], [1, v('undefined', 'to() with no target')], [1, v('42', 'a number as target')]]);
    return [`t.to(${target.src})`, target.bad];
  },
  () => [rng0('t.clone()', 't.detach()', 't.contiguous()', 't.cpu()', 't.toString()', 't.data()', 't.toArray()', 't.isContiguous()', 't.neg()', 't.sqrt()', 't.exp()', 't.abs()', 't.relu()', 't.gelu()', 't.sigmoid()', 't.logicalNot()')],
  () => [rng0('t.item()', 't.cuda()', "t.gelu('fast')")],
  (rng) => { const s = rng.chance(0.5) ? pool.scalar(rng) : pool.tensor(rng); return [`t.${rng.pick(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'lt', 'logicalAnd'])}(${s.src})`, s.bad]; },
  (rng) => { const s = rng.chance(0.5) ? pool.scalar(rng) : pool.tensor(rng); return [`t.${rng.pick(['add_', 'sub_', 'mul_', 'div_'])}(${s.src})`, s.bad]; },
  (rng) => [`t.div(${pool.scalar(rng).src}, ${rng.pick(["'trunc'", "'floor'", "'round'", '5', 'null'])})`],
  (rng) => [`t.add(${pool.scalar(rng).src}, ${pool.scalar(rng).src})`],
  (rng) => [`t.clamp(${pool.scalar(rng).src}, ${pool.scalar(rng).src})`],
  (rng) => [`t.expand(${pool.shape(rng).src})`],
  (rng) => { const d = pool.dim(rng); return [`t.${rng.pick(['squeeze', 'unsqueeze'])}(${d.src})`, d.bad]; },
  (rng) => { const a = [pool.dim(rng), pool.dim(rng)]; return [`t.flatten(${srcs(a)})`, a.map((d) => d.bad).find(Boolean)]; },
  (rng) => [`t.repeatInterleave(${rng.pick(['2', '0', '-1', '2.5', '1e9', 'torch.tensor([1, 2])', 'torch.tensor([-1])', 'torch.tensor([1e9])'])}, ${pool.dim(rng).src})`],
  (rng) => [`t.maskedFill(${rng.pick(['t.gt(0)', 'torch.tensor([true])', 'torch.ones([9, 9], { dtype: "bool" })', 'torch.ones([2, 3])', 'null'])}, ${pool.scalar(rng).src})`],
  (rng) => [`torch.where(${rng.pick(['t.gt(0)', 't', 'torch.tensor([true, false])', 'null'])}, ${pool.scalar(rng).src}, ${rng.chance(0.5) ? pool.scalar(rng).src : pool.tensor(rng).src})`],
  (rng) => {
    // as_strided beyond the storage must be refused, never read memory past it
    const size = rng.pick(['[2, 3]', '[100]', '[1e6, 1e6]', '[2 ** 40]', '[3, 3]', '[0]', '[-1]']);
    const stride = rng.pick(['[3, 1]', '[1]', '[0, 0]', '[1e6, 1]', '[-1]', '[2 ** 62]', '[1, 1]']);
    const offset = rng.pick(['0', '5', '1e9', '-1', '2 ** 62', 'undefined']);
    return [`t.asStrided(${size}, ${stride}, ${offset})`];
  },
  (rng) => [`t.fill_(${pool.scalar(rng).src})`],
  (rng) => { const o = pool.tensor(rng); return [`t.copy_(${o.src})`, o.bad]; },
  () => [rng0('t.zero_()', 't.requiresGrad_(true)', 't.requiresGrad_(false)', 't.retainGrad()', 't.clearGrad()', 't.sum().backward()', 't.backward()', 't.mul(2).sum().backward({ retainGraph: true })', 't.backward(torch.ones([7]))')],
  (rng) => [`torch.dropout(t, ${rng.pick(['0.5', '0', '1', '2', '-1', 'NaN', "'x'"])}, { training: ${pool.bool(rng).src}, rng: ${rng.pick(["'pytorch'", "'philox'", "'other'", '5'])} })`],
  (rng) => [`torch.linear(t, ${pool.tensor(rng).src}${rng.chance(0.5) ? `, ${pool.tensor(rng).src}` : ''})`],
];
// A pick without a stream of its own: METHODS entries that take no rng get it from the caller.
let currentRng = null;
function rng0(...choices) {
  return currentRng.pick(choices);
}

// The receiver of a method call: a tensor, or something with Tensor's methods (a disposed or fake one).
function receiver(rng) {
  for (;;) {
    const t = pool.tensor(rng);
    if (/torch\.|Tensor\.prototype/.test(t.src)) return t;
  }
}

function methodCall(rng) {
  const t = receiver(rng);
  const [expr, bad] = rng.pick(METHODS)(rng);
  // Some calls (torch.where(mask, a, b) with a mask of their own) do not use the receiver: a bad
  // one is then no reason for an error.
  const usesReceiver = /(^|[^\w.'"])t\b/.test(expr);
  return { code: `const t = ${t.src};\nr = ${expr};`, expectError: (usesReceiver ? t.bad : undefined) || bad };
}

// Modules, losses and optimizers.
const NN = [
  (rng) => {
    const a = [pool.size(rng), pool.size(rng)];
    const o = rng.chance(0.3) ? `, { bias: ${pool.bool(rng).src}${rng.chance(0.5) ? `, dtype: ${pool.dtype(rng).src}` : ''} }` : '';
    return { code: `const m = new torch.nn.Linear(${srcs(a)}${o});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();`, expectError: a.map((x) => x.bad).find(Boolean) };
  },
  (rng) => {
    const a = [pool.size(rng), pool.size(rng)];
    const idx = rng.weighted([[2, v('torch.tensor([0, 1])')], [1, v('torch.tensor([99])', 'an index past the embedding table')], [1, v('torch.tensor([-1])', 'a negative embedding index')],
      [1, v('torch.tensor([0.5])', 'a float index')], [1, v('torch.zeros([2, 0], { dtype: "int64" })')], [1, v('torch.tensor([2 ** 40])', 'an index past the embedding table')], [1, v(pool.tensor(rng).src)]]);
    const sizesBad = a.map((x) => x.bad).find(Boolean);
    // only when the table is known to be valid and small is an out-of-range index known to fail
    const small = !sizesBad && /^\d+$/.test(a[0].src) && Number(a[0].src) <= 4;
    return { code: `const m = new torch.nn.Embedding(${srcs(a)});\nr = m.forward(${idx.src});\nm.dispose();`, expectError: sizesBad || (small ? idx.bad : undefined) };
  },
  (rng) => {
    const shape = rng.chance(0.5) ? pool.size(rng) : pool.shape(rng);
    return { code: `const m = new torch.nn.LayerNorm(${shape.src}${rng.chance(0.3) ? `, { eps: ${pool.scalar(rng).src} }` : ''});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();`, expectError: shape.bad };
  },
  (rng) => {
    const p = rng.weighted([[2, v(rng.pick(['0', '0.5']))], [1, v('1')], [1, v('2', 'dropout p = 2')], [1, v('-0.1', 'a negative dropout p')], [1, v('NaN', 'a NaN dropout p')], [1, v("'x'", 'a string dropout p')]]);
    return { code: `const m = new torch.nn.Dropout(${p.src});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();`, expectError: p.bad };
  },
  (rng) => {
    const a = rng.weighted([[2, v('')], [1, v("'tanh'")], [1, v("'fast'", "GELU('fast')")], [1, v('5', 'a number as the approximation')]]);
    return { code: `const m = new torch.nn.GELU(${a.src});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();`, expectError: a.bad };
  },
  (rng) => {
    const layers = rng.pick(['new torch.nn.Linear(3, 2), new torch.nn.ReLU()', "new torch.nn.ReLU(), 'x'", 'null', '{}', 'new torch.nn.Tanh(), new torch.nn.Tanh()', 'new torch.nn.LazyLinear(4), new torch.nn.GELU()', '...Array(300).fill(0).map(() => new torch.nn.ReLU())']);
    return { code: `const m = new torch.nn.Sequential(${layers});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();` };
  },
  (rng) => ({ code: `const m = new torch.nn.LazyLinear(${pool.size(rng).src});\nm.forward(${pool.tensor(rng).src});\nr = m.forward(${pool.tensor(rng).src});\nm.dispose();` }),
  (rng) => {
    const after = rng.pick(['m.forward(torch.ones([2, 3]))', 'm.parameters()', 'm.stateDict()', 'm.train()', "m.to('float64')", 'm.dispose()', 'm.zeroGrad()', 'm.toString()', 'm.numParameters()']);
    return { code: `const m = new torch.nn.Linear(3, 2);\nm.dispose();\nr = ${after};`, expectError: after === 'm.dispose()' ? undefined : 'a call on a disposed module' };
  },
  (rng) => {
    const state = rng.pick(["new Map([['weight', torch.ones([1])]])", "new Map([['weight', torch.ones([2, 3])], ['bias', torch.ones([2])]])",
      "new Map([['weight', torch.ones([2, 3], { dtype: 'int64' })], ['bias', torch.ones([2])]])", "new Map([['weight', 5]])", '{}', 'null',
      "new Map([['weight', torch.ones([2, 3])], ['bias', torch.ones([2])], ['extra', torch.ones([1])]])", "new Map([[5, torch.ones([2])]])",
      "(() => { const w = torch.ones([2, 3]); w.dispose(); return new Map([['weight', w], ['bias', torch.ones([2])]]); })()"]);
    return { code: `const m = new torch.nn.Linear(3, 2);\nm.loadStateDict(${state});\nr = m.forward(torch.ones([1, 3]));\nm.dispose();` };
  },
  (rng) => {
    const target = rng.weighted([[2, v('torch.tensor([0, 2])')], [1, v('torch.tensor([0, 7])', 'a class index past the classes')], [1, v('torch.tensor([-5, 0])', 'a negative class index')],
      [1, v('torch.tensor([0.5, 1])')], [1, v('torch.tensor([0])', 'a target of the wrong batch size')], [1, v('torch.ones([2, 3])')], [1, v(pool.tensor(rng).src)]]);
    const opts = rng.pick(["{ reduction: 'none' }", "{ reduction: 'sum' }", "{ reduction: 'avg' }", '{ ignoreIndex: -5 }', '{ labelSmoothing: 2 }', '{ labelSmoothing: NaN }', '{ weight: torch.ones([2]) }', '{}', '5']);
    return { code: `r = torch.nn.crossEntropy(torch.randn([2, 3]), ${target.src}, ${opts});`, expectError: /ignoreIndex/.test(opts) ? undefined : target.bad };
  },
  (rng) => {
    const opt = rng.pick(['Adam', 'AdamW', 'SGD']);
    // NaN passes SGD's `lr < 0` check in PyTorch; Adam's `0 <= lr` refuses it
    const lr = rng.weighted([[2, v('0.1')], [1, v('-1', 'a negative learning rate')], [1, v('NaN', opt === 'SGD' ? undefined : 'a NaN learning rate')], [1, v("'x'", 'a string learning rate')], [1, v('Infinity')]]);
    const params = rng.pick(['m.parameters()', '[]', '[5]', '[torch.ones([2])]', 'null', '[...m.parameters(), ...m.parameters()]']);
    const extra = rng.pick(['', ', betas: [2, 0.9]', ', betas: [0.9]', ', eps: -1', ', weightDecay: -1', ', momentum: -1']);
    const bad = params === '[]' ? 'an empty parameter list' : lr.bad;
    return { code: `const m = new torch.nn.Linear(3, 2);\nconst o = new torch.optim.${opt}(${params}, { lr: ${lr.src}${extra} });\nm.forward(torch.ones([1, 3])).sum().backward();\no.step();\nr = m.forward(torch.ones([1, 3]));\no.dispose?.();\nm.dispose();`, expectError: bad };
  },
];

// Memory management: dispose, tidy, keep, views outliving their base, shared typed arrays.
const MEMORY = [
  () => ({ code: 'const t = torch.ones([2, 3]);\nt.dispose();\nt.dispose();\nr = null;' }),
  (rng) => ({ code: `const t = torch.ones([2, 3]);\nt.dispose();\nr = ${rng0('t.add(1)', 't.shape', 't.item()', 't.toArray()', 't.view([6])', 'torch.cat([t, t])', 't.toString()', 't.dtype', 't.grad')};`, expectError: 'a disposed tensor' }),
  () => ({ code: 'const t = torch.ones([2, 3]);\nconst v = t.view([6]);\nt.dispose();\nconst s = v.sum().item();\ncheck(s === 6, `a view of a disposed tensor sums to ${s}, not 6`);\nr = null;' }),
  () => ({ code: 'const t = torch.ones([2, 3]);\nconst v = t.transpose(0, 1);\nt.dispose();\ngc(); gc();\nconst s = v.contiguous().sum().item();\ncheck(s === 6, `sum ${s}`);\nr = null;' }),
  (rng) => {
    const n = rng.pick([4, 1 << 16, 1 << 20]);
    const kind = rng.pick(['Float32Array', 'Float64Array', 'Int32Array']);
    const how = rng.pick([
      'structuredClone(a.buffer, { transfer: [a.buffer] });',
      'a.buffer.transfer?.();',
      'a.fill(0);',
      'a = null;',
    ]);
    const expected = how === 'a.fill(0);' ? 'undefined' : `${n}`;
    return { code: `let a = new ${kind}(${n}).fill(1);\nconst t = torch.tensor(a${rng.chance(0.5) ? ', { copy: false }' : ''});\n${how}\ngc(); gc();\nconst s = t.sum().item();\nconst want = ${expected};\ncheck(want === undefined ? (s === 0 || s === ${n}) : s === want, \`after "${how}" the tensor sums to \${s}, not ${expected}\`);\nr = null;` };
  },
  (rng) => {
    const n = rng.pick([1024, 1 << 18]);
    return { code: `const b = new ArrayBuffer(${n * 4}, { maxByteLength: ${n * 16} });\nconst a = new Float32Array(b).fill(1);\nconst t = torch.tensor(a${rng.chance(0.5) ? ', { copy: false }' : ''});\nb.resize(${rng.pick([0, 4, n * 8])});\ngc();\nconst s = t.sum().item();\ncheck(s === ${n}, \`after the buffer was resized the tensor sums to \${s}, not ${n}\`);\nr = null;` };
  },
  (rng) => ({ code: `r = torch.tidy(${rng0('5', 'null', "'x'", 'async () => torch.ones([2])', '() => { throw new Error("inside tidy") }', '() => { const t = torch.ones([2]); t.dispose(); return t; }', '() => torch.tidy(() => torch.tidy(() => torch.ones([2])))', '() => { const o = { t: torch.ones([2]) }; o.self = o; return o; }', '() => new Promise(() => {})', '() => [torch.ones([1]), [torch.zeros([1]), new Map([["k", torch.ones([1])]])]]')});` }),
  (rng) => ({ code: `r = torch.keep(${pool.tensor(rng).src});` }),
  (rng) => ({ code: `torch.dispose(${rng0('null', '5', "'x'", '[torch.ones([1]), [torch.ones([2])]]', '(() => { const a = [torch.ones([1])]; a.push(a); return a; })()', '(() => { const o = {}; o.o = o; return o; })()', 'new Map([[torch.ones([1]), torch.ones([1])]])', 'new Set([torch.ones([1])])', 'JSON.parse("[".repeat(100000) + "]".repeat(100000))')});\nr = null;` }),
  (rng) => ({ code: `r = torch.${rng0('noGrad', 'enableGrad')}(${rng0('5', '() => { throw new Error("inside") }', 'async () => 1', '() => torch.ones([2], { requiresGrad: true }).mul(2)', 'null')});` }),
  () => ({ code: 'const x = torch.ones([2], { requiresGrad: true });\nx.mul(2).sum().backward();\nconst g = x.grad;\ng.dispose();\nr = x.grad === null ? null : x.grad.sum();' }),
  () => ({ code: 'const x = torch.ones([3], { requiresGrad: true });\nconst y = x.mul(2).sum();\ny.backward();\nr = y.backward();', expectError: 'a second backward through a freed graph' }),
  () => ({ code: "const t = torch.ones([2, 3]);\nconst u = t.view('uint8');\nt.dispose();\nr = u.sum();" }),
  (rng) => ({ code: `const t = torch.ones([${rng.pick([1, 1000])}]);\nfor (let k = 0; k < 1000; ++k) t.add(k).dispose();\nr = torch.memory();` }),
];

/** One bad-tensor-call case: { code, expectError }. */
function tensorCase(rng) {
  currentRng = rng;
  const family = rng.weighted([[4, CREATION], [6, null], [3, NN], [2, MEMORY]]);
  const built = family === null ? methodCall(rng) : rng.pick(family)(rng);
  return { code: `let r;\n${built.code}\nreturn r;`, expectError: built.expectError };
}

module.exports = { tensorCase };
