// Tensors in and out of JS memory, factory functions and the random seed.
#include <mutex>
#include <thread>

#include "ops.h"

namespace tb {

namespace {

// A tensor that shares a JS typed array's memory holds a reference to that array. libtorch
// may free the tensor on any thread, but a JS reference may only be released on the JS thread:
// releases from other threads wait in this queue until the next call from JS.
std::thread::id jsThread;
std::mutex pendingMutex;
std::vector<std::unique_ptr<Napi::Reference<Napi::Value>>> pendingReleases;

void releasePending() {
  std::vector<std::unique_ptr<Napi::Reference<Napi::Value>>> drained;
  {
    std::lock_guard<std::mutex> lock(pendingMutex);
    drained.swap(pendingReleases);
  }
}

void releaseArrayReference(std::unique_ptr<Napi::Reference<Napi::Value>> ref) {
  if (std::this_thread::get_id() == jsThread) return;  // `ref` is destroyed right here
  std::lock_guard<std::mutex> lock(pendingMutex);
  pendingReleases.push_back(std::move(ref));
}

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
  releasePending();
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
  void* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();

  at::Tensor out;
  if (share && target == source && device.is_cpu() && numel > 0) {
    auto ref = std::make_unique<Napi::Reference<Napi::Value>>(Napi::Persistent(a[0]));
    auto holder = std::make_shared<std::unique_ptr<Napi::Reference<Napi::Value>>>(std::move(ref));
    out = torch::from_blob(data, shape, [holder](void*) { releaseArrayReference(std::move(*holder)); },
                           at::TensorOptions().dtype(source));
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
    {"manualSeed",
     [](const Args& a) {
       torch::manual_seed(static_cast<uint64_t>(a.integer(0)));
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

void exportCreationOps(Napi::Env env, Napi::Object target) {
  jsThread = std::this_thread::get_id();
  exportOps(env, target, creationOps, std::size(creationOps));
  exportOps(env, target, likeOps, std::size(likeOps));
}

}  // namespace tb
