// Tensors in and out of JS memory, factory functions and the random seed.
#include <atomic>
#include <mutex>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>

#include "core/env_data.h"
#include "core/js_memory.h"
#include "core/ops.h"

namespace tb {

namespace {

at::ScalarType typedArrayDtype(napi_typedarray_type type) {
  switch (type) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_int32_array: return at::kInt;
    case napi_bigint64_array: return at::kLong;
    case napi_uint8_array: return at::kByte;
    default:
      throw ArgError("typed arrays of this kind are not supported: use Float32Array, Float64Array, "
                     "Int32Array, BigInt64Array or Uint8Array");
  }
}

// fromTypedArray(array, shape, dtype, device, requiresGrad, share):
// a tensor of `shape` holding the elements of `array`, converted to `dtype`. With `share`, a
// CPU tensor of the array's own dtype uses the array's memory (as torch.from_numpy does).
Napi::Value fromTypedArray(const Args& a) {
  releasePendingJsMemory(a.env());
  if (!a[0].IsTypedArray()) a.fail(0, "a typed array");
  Napi::TypedArray array = a[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = a.integers(1);
  at::ScalarType source = typedArrayDtype(array.TypedArrayType());
  at::ScalarType target = a.has(2) ? a.dtype(2) : source;
  c10::Device device = a.has(3) ? a.device(3) : c10::Device(c10::kCPU);
  bool requiresGrad = a.boolean(4);
  bool share = a.boolean(5);

  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw ArgError("tensor: shape [" + c10::Join(", ", shape) + "] has a negative size");
    numel *= d;
  }
  if (static_cast<size_t>(numel) != array.ElementLength()) {
    throw ArgError("tensor: shape [" + c10::Join(", ", shape) + "] needs " + std::to_string(numel) +
                   " elements but the data has " + std::to_string(array.ElementLength()));
  }
  // napi_get_typedarray_info, unlike Napi::TypedArray::ArrayBuffer().Data(), also serves views
  // of a SharedArrayBuffer.
  napi_typedarray_type kind;
  size_t length = 0, byteOffset = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  NAPI_THROW_IF_FAILED(a.env(), napi_get_typedarray_info(a.env(), array, &kind, &length, &data, &buffer, &byteOffset),
                       Napi::Value());
  if (numel > 0 && data == nullptr) {
    throw ArgError("tensor: the typed array's ArrayBuffer is detached (transferred): it holds no memory");
  }

  at::Tensor out;
  if (share && target == source && device.is_cpu() && numel > 0) {
    out = tensorOverJsMemory(a.env(), Napi::Value(a.env(), buffer), data, array.ByteLength(), shape, source);
  } else {
    at::Tensor view = torch::from_blob(data, shape, at::TensorOptions().dtype(source));
    out = view.to(device, target, /*non_blocking=*/false, /*copy=*/true);
  }
  if (requiresGrad) out.requires_grad_(true);
  return a.wrap(out);
}

// toTypedArray(tensor): a copy of the elements in row-major order, in the typed array that
// matches the dtype (float16/bfloat16 -> Float32Array, bool -> Uint8Array, int64 -> BigInt64Array).
Napi::Value toTypedArray(const Args& a) {
  at::Tensor t = a.tensor(0).detach();
  at::ScalarType dtype = t.scalar_type();
  napi_typedarray_type kind;
  switch (dtype) {
    case at::kFloat: kind = napi_float32_array; break;
    case at::kDouble: kind = napi_float64_array; break;
    case at::kHalf:
    case at::kBFloat16: kind = napi_float32_array; dtype = at::kFloat; break;
    case at::kInt: kind = napi_int32_array; break;
    case at::kLong: kind = napi_bigint64_array; break;
    case at::kByte:
    case at::kBool: kind = napi_uint8_array; dtype = at::kByte; break;
    default: throw ArgError(std::string("data(): dtype ") + dtypeName(dtype) + " has no typed array");
  }
  at::Tensor host = t.to(c10::Device(c10::kCPU), dtype).contiguous();
  size_t bytes = host.nbytes();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  napi_value out;
  napi_status status = napi_create_typedarray(a.env(), kind, bytes / host.element_size(), buffer, 0, &out);
  NAPI_THROW_IF_FAILED(a.env(), status, Napi::Value());
  return Napi::Value(a.env(), out);
}

Napi::Value item(const Args& a) {
  at::Tensor& t = a.tensor(0);
  if (t.numel() != 1) {
    throw ArgError("item(): the tensor has " + std::to_string(t.numel()) +
                   " elements; only a one-element tensor converts to a number");
  }
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(a.env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(a.env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(a.env(), s.toDouble());
}

// Factory options come last: (..., dtype, device, requiresGrad).
const OpEntry creationOps[] = {
    {"fromTypedArray", fromTypedArray},
    {"toTypedArray", toTypedArray},
    {"item", item},
    {"zeros", [](const Args& a) { return a.wrap(torch::zeros(a.integers(0), a.options(1))); }},
    {"ones", [](const Args& a) { return a.wrap(torch::ones(a.integers(0), a.options(1))); }},
    {"empty", [](const Args& a) { return a.wrap(torch::empty(a.integers(0), a.options(1))); }},
    {"full", [](const Args& a) { return a.wrap(torch::full(a.integers(0), a.scalar(1), a.options(2))); }},
    {"arange",
     [](const Args& a) { return a.wrap(torch::arange(a.scalar(0), a.scalar(1), a.scalar(2), a.options(3))); }},
    {"linspace",
     [](const Args& a) { return a.wrap(torch::linspace(a.scalar(0), a.scalar(1), a.integer(2), a.options(3))); }},
    {"eye",
     [](const Args& a) { return a.wrap(torch::eye(a.integer(0), a.integerOr(1, a.integer(0)), a.options(2))); }},
    {"rand", [](const Args& a) { return a.wrap(torch::rand(a.integers(0), a.options(1))); }},
    {"randn", [](const Args& a) { return a.wrap(torch::randn(a.integers(0), a.options(1))); }},
    {"randint",
     [](const Args& a) {
       return a.wrap(torch::randint(a.integer(0), a.integer(1), a.integers(2), a.options(3, at::kLong)));
     }},
    // randperm(n, seed: bigint | null, dtype?, device?, requiresGrad): with a seed, drawn from a fresh CPU
    // generator seeded with it (torch.randperm(n, generator=torch.Generator().manual_seed(seed)))
    {"randperm",
     [](const Args& a) {
       const int64_t n = a.integer(0);
       if (n < 0) throw ArgError("randperm: n must be non-negative, got " + std::to_string(n));
       at::TensorOptions options = a.options(2, at::kLong);
       if (!a.has(1)) return a.wrap(torch::randperm(n, options));
       if (!a[1].IsBigInt()) a.fail(1, "a bigint seed");
       bool lossless = false;
       uint64_t seed = a[1].As<Napi::BigInt>().Uint64Value(&lossless);
       if (!lossless) throw ArgError("randperm: the seed must be in [0, 2^64)");
       at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
       at::Tensor perm = at::randperm(n, generator, options.device(c10::kCPU).requires_grad(false));
       return a.wrap(perm.to(options.device()).requires_grad_(options.requires_grad()));
     }},
    {"manualSeed",
     [](const Args& a) {
       // a bigint in [0, 2^64) (the TypeScript layer maps PyTorch's negative seeds into it)
       if (!a[0].IsBigInt()) a.fail(0, "a bigint seed");
       bool lossless = false;
       uint64_t seed = a[0].As<Napi::BigInt>().Uint64Value(&lossless);
       if (!lossless) throw ArgError("manualSeed: the seed must be in [0, 2^64)");
       torch::manual_seed(seed);
       return a.env().Undefined();
     }},
};

// (*Like)(t, ..., dtype?, device?, requiresGrad): defaults are t's dtype and device.
at::TensorOptions likeOptions(const Args& a, size_t i) {
  const at::Tensor& t = a.tensor(0);
  return at::TensorOptions()
      .dtype(a.has(i) ? a.dtype(i) : t.scalar_type())
      .device(a.has(i + 1) ? a.device(i + 1) : t.device())
      .requires_grad(a.boolean(i + 2));
}

const OpEntry likeOps[] = {
    {"zerosLike", [](const Args& a) { return a.wrap(torch::zeros_like(a.tensor(0), likeOptions(a, 1))); }},
    {"onesLike", [](const Args& a) { return a.wrap(torch::ones_like(a.tensor(0), likeOptions(a, 1))); }},
    {"emptyLike", [](const Args& a) { return a.wrap(torch::empty_like(a.tensor(0), likeOptions(a, 1))); }},
    {"fullLike",
     [](const Args& a) { return a.wrap(torch::full_like(a.tensor(0), a.scalar(1), likeOptions(a, 2))); }},
    {"randLike", [](const Args& a) { return a.wrap(torch::rand_like(a.tensor(0), likeOptions(a, 1))); }},
    {"randnLike", [](const Args& a) { return a.wrap(torch::randn_like(a.tensor(0), likeOptions(a, 1))); }},
    {"randintLike",
     [](const Args& a) {
       return a.wrap(torch::randint_like(a.tensor(0), a.integer(1), a.integer(2), likeOptions(a, 3)));
     }},
};

}  // namespace

namespace {

// The context of a DataPtr over JS memory: a strong reference to the ArrayBuffer, released on
// its environment's JS thread.
struct JsMemory {
  std::shared_ptr<JsThreadLink> link;
  napi_ref buffer = nullptr;
  void* data = nullptr;        // where the tensor's bytes start
  size_t bytes = 0;            // how many it uses
  bool checkable = false;      // an ArrayBuffer (detachable, resizable), not a SharedArrayBuffer
  void* base = nullptr;        // the ArrayBuffer's memory when the tensor was made
  size_t end = 0;              // offset of the tensor's last byte + 1 in that memory
};

// The DataPtr's deleter: libtorch calls it on whichever thread frees the storage last.
void deleteJsMemory(void* context) {
  std::unique_ptr<JsMemory> memory(static_cast<JsMemory*>(context));
  JsThreadLink& link = *memory->link;
  std::lock_guard<std::mutex> lock(link.mutex);
  if (!link.alive) return;  // the environment and its references are gone
  if (std::this_thread::get_id() == link.thread) {
    napi_delete_reference(link.env, memory->buffer);
  } else {
    link.pending.push_back(memory->buffer);
    link.hasPending.store(true, std::memory_order_release);
  }
}

const JsMemory* jsMemoryOf(const at::Tensor& tensor) {
  if (!tensor.has_storage()) return nullptr;
  const c10::DataPtr& ptr = tensor.storage().data_ptr();
  if (ptr.get_deleter() != &deleteJsMemory) return nullptr;
  return static_cast<const JsMemory*>(ptr.get_context());
}

}  // namespace

at::Tensor tensorOverJsMemory(Napi::Env env, Napi::Value buffer, void* data, size_t bytes,
                              const std::vector<int64_t>& shape, at::ScalarType dtype) {
  auto memory = std::make_unique<JsMemory>();
  memory->link = EnvData::of(env).jsLink;
  memory->data = data;
  memory->bytes = bytes;
  size_t length = 0;
  void* base = nullptr;
  memory->checkable = napi_get_arraybuffer_info(env, buffer, &base, &length) == napi_ok;
  if (memory->checkable) {
    memory->base = base;
    memory->end = static_cast<size_t>(static_cast<uint8_t*>(data) - static_cast<uint8_t*>(base)) + bytes;
  } else {
    // A SharedArrayBuffer: never detached, and a growable one only grows; the reference keeps
    // its memory alive. (napi_get_arraybuffer_info serves ArrayBuffers only.)
    bool isArrayBuffer = false;
    napi_is_arraybuffer(env, buffer, &isArrayBuffer);
    if (isArrayBuffer) throw std::runtime_error("tensor: cannot read the typed array's ArrayBuffer");
  }
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, buffer, 1, &memory->buffer), at::Tensor());
  JsMemory* context = memory.get();
  c10::DataPtr ptr(data, context, &deleteJsMemory, c10::Device(c10::kCPU));
  memory.release();  // owned by `ptr` from here: its deleter frees it
  c10::Storage storage(c10::Storage::use_byte_size_t(), bytes, std::move(ptr), /*allocator=*/nullptr,
                       /*resizable=*/false);
  return at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, shape);
}

bool sharesJsMemory(const at::Tensor& tensor) { return jsMemoryOf(tensor) != nullptr; }

void checkJsMemory(Napi::Env env, const at::Tensor& tensor, const char* what) {
  const JsMemory* memory = jsMemoryOf(tensor);
  if (memory == nullptr || !memory->checkable) return;
  napi_value buffer = nullptr;
  bool detached = false;
  void* base = nullptr;
  size_t length = 0;
  if (napi_get_reference_value(env, memory->buffer, &buffer) != napi_ok || buffer == nullptr ||
      napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok) {
    throw std::runtime_error(std::string(what) + " shares memory with a typed array that cannot be reached from here");
  }
  const std::string fix =
      "; a tensor made by tensor(typedArray) shares the array's memory (as torch.from_numpy does). "
      "Pass { copy: true } to tensor(), or clone() the tensor, before transferring or resizing the buffer";
  if (detached) {
    throw std::runtime_error(std::string(what) +
                             " shares the memory of a typed array whose ArrayBuffer was transferred or detached "
                             "(postMessage or structuredClone with transfer): that memory is no longer the tensor's" +
                             fix);
  }
  if (napi_get_arraybuffer_info(env, buffer, &base, &length) != napi_ok || base != memory->base ||
      length < memory->end) {
    throw std::runtime_error(std::string(what) + " shares the memory of a typed array whose ArrayBuffer was resized to " +
                             std::to_string(length) + " bytes; the tensor needs its first " +
                             std::to_string(memory->end) + fix);
  }
}

void releasePendingJsMemory(Napi::Env env) {
  JsThreadLink& link = *EnvData::of(env).jsLink;
  if (!link.hasPending.load(std::memory_order_acquire)) return;
  std::vector<napi_ref> drained;
  {
    std::lock_guard<std::mutex> lock(link.mutex);
    drained.swap(link.pending);
    link.hasPending.store(false, std::memory_order_release);
  }
  for (napi_ref ref : drained) napi_delete_reference(env, ref);
}

TB_REGISTER_OPS("creation", creationOps);
TB_REGISTER_OPS("creation", likeOps);

}  // namespace tb
