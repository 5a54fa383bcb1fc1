// Tensors over memory that JS owns (a typed array's ArrayBuffer, shared as torch.from_numpy
// shares a NumPy array). The tensor's storage holds a strong reference to the ArrayBuffer, so
// the memory lives as long as the tensor. What a reference cannot prevent, JS can still do to
// an ArrayBuffer: transfer it (postMessage, structuredClone), which moves the memory to a new
// owner that may free it, or shrink it (resizable buffers, `resize()`), which gives pages back.
// Every use of a handle first checks that the buffer is still attached, at the same address
// and long enough (checkJsMemory), and refuses with an error that names the fix otherwise.
#pragma once

#include "core/common.h"

namespace tb {

// A CPU tensor of `shape` and `dtype` whose storage is `bytes` bytes of a typed array's memory
// at `data` (inside `buffer`, an ArrayBuffer or SharedArrayBuffer, which it keeps alive).
at::Tensor tensorOverJsMemory(Napi::Env env, Napi::Value buffer, void* data, size_t bytes,
                              const std::vector<int64_t>& shape, at::ScalarType dtype);

// True when the tensor's storage is JS memory (tensorOverJsMemory).
bool sharesJsMemory(const at::Tensor& tensor);

// Throws, naming `what` and the fix, when `tensor` is over JS memory that was detached
// (transferred) or shrunk since. Runs on the environment's JS thread.
void checkJsMemory(Napi::Env env, const at::Tensor& tensor, const char* what);

// Releases the references that storages freed on other threads (libtorch frees tensors on
// whichever thread drops them last) left for this environment's JS thread.
void releasePendingJsMemory(Napi::Env env);

}  // namespace tb
