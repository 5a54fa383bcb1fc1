/**
 * State dicts and other values in PyTorch's `torch.save` format, both ways:
 *
 * ```ts
 * import * as torch from 'torchbridge';
 * const state = await torch.load('model.pt');        // torch.save(model.state_dict(), 'model.pt')
 * await torch.save(state, 'copy.pt');                // model.load_state_dict(torch.load('copy.pt'))
 * const optimizerState = await torch.loadValue('adam.pt');
 * ```
 *
 * The archive is parsed here (zip, the pickle subset torch uses, raw storages), not by libtorch:
 * libtorch 1.13 cannot read the OrderedDict that `state_dict()` returns, and this way every
 * libtorch version reads and writes the same files.
 */
export { save } from './save';
export { load, loadValue } from './load';
export type { PickleValue, StateDict } from './values';
export { loadSafetensors, loadSafetensorsHeader, saveSafetensors } from './safetensors';
export type { SafetensorsHeader, SafetensorsTensorInfo, SaveSafetensorsOptions } from './safetensors';
