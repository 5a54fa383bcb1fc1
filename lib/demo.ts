/**
 * A first program (`node lib/demo.js`): the README's example, plus what is running underneath.
 */
import * as torch from './index';

const x = torch.randn([2, 3], { requiresGrad: true });
const y = x.matmul(x.transpose(0, 1)).sum();
y.backward();
console.log('x =', x.toString());
console.log('y = sum(x @ x.T) =', y.toString());
console.log('dy/dx =', x.grad!.toString());
console.log('live tensors:', torch.memory().liveTensors);
const v = torch.version();
console.log(`libtorch ${v.libtorch}, CUDA ${v.cuda ?? 'not available'}, devices ${torch.devices().join(', ')}, ` +
  `${torch.getNumThreads()} CPU threads`);
