// Tensor ops: argument 0 is always the tensor the op applies to. Binary ops accept a tensor or a
// scalar as the other operand, with PyTorch's broadcasting and type promotion. In-place ops
// (trailing underscore) return undefined: the TypeScript layer returns the receiver.
#include "core/ops.h"

#include <torch/version.h>

#include "nn/dropout.h"

namespace tb {

namespace {

using TI = at::indexing::TensorIndex;

Napi::Value none(const Args& a) { return a.env().Undefined(); }

// Binary op whose second operand is a tensor or a scalar.
template <at::Tensor (*WithTensor)(const at::Tensor&, const at::Tensor&),
          at::Tensor (*WithScalar)(const at::Tensor&, const at::Scalar&)>
Napi::Value binary(const Args& a) {
  return a.wrap(a.isTensor(1) ? WithTensor(a.tensor(0), a.tensor(1)) : WithScalar(a.tensor(0), a.scalar(1)));
}

template <at::Tensor (*Fn)(const at::Tensor&)>
Napi::Value unary(const Args& a) {
  return a.wrap(Fn(a.tensor(0)));
}

at::Tensor eqT(const at::Tensor& x, const at::Tensor& y) { return at::eq(x, y); }
at::Tensor eqS(const at::Tensor& x, const at::Scalar& y) { return at::eq(x, y); }
at::Tensor neT(const at::Tensor& x, const at::Tensor& y) { return at::ne(x, y); }
at::Tensor neS(const at::Tensor& x, const at::Scalar& y) { return at::ne(x, y); }
at::Tensor ltT(const at::Tensor& x, const at::Tensor& y) { return at::lt(x, y); }
at::Tensor ltS(const at::Tensor& x, const at::Scalar& y) { return at::lt(x, y); }
at::Tensor leT(const at::Tensor& x, const at::Tensor& y) { return at::le(x, y); }
at::Tensor leS(const at::Tensor& x, const at::Scalar& y) { return at::le(x, y); }
at::Tensor gtT(const at::Tensor& x, const at::Tensor& y) { return at::gt(x, y); }
at::Tensor gtS(const at::Tensor& x, const at::Scalar& y) { return at::gt(x, y); }
at::Tensor geT(const at::Tensor& x, const at::Tensor& y) { return at::ge(x, y); }
at::Tensor geS(const at::Tensor& x, const at::Scalar& y) { return at::ge(x, y); }
at::Tensor powT(const at::Tensor& x, const at::Tensor& y) { return at::pow(x, y); }
at::Tensor powS(const at::Tensor& x, const at::Scalar& y) { return at::pow(x, y); }
at::Tensor maximumT(const at::Tensor& x, const at::Tensor& y) { return at::maximum(x, y); }
at::Tensor minimumT(const at::Tensor& x, const at::Tensor& y) { return at::minimum(x, y); }
at::Tensor logicalAndT(const at::Tensor& x, const at::Tensor& y) { return at::logical_and(x, y); }
at::Tensor logicalOrT(const at::Tensor& x, const at::Tensor& y) { return at::logical_or(x, y); }
at::Tensor logicalXorT(const at::Tensor& x, const at::Tensor& y) { return at::logical_xor(x, y); }

// A tensor-only binary op: a scalar operand becomes a wrapped-number tensor.
template <at::Tensor (*Fn)(const at::Tensor&, const at::Tensor&)>
Napi::Value tensorBinary(const Args& a) {
  return a.wrap(Fn(a.tensor(0), a.operand(1)));
}

// add/sub(x, other, alpha?)
Napi::Value add(const Args& a) {
  return a.wrap(at::add(a.tensor(0), a.operand(1), a.has(2) ? a.scalar(2) : at::Scalar(1)));
}
Napi::Value sub(const Args& a) {
  return a.wrap(at::sub(a.tensor(0), a.operand(1), a.has(2) ? a.scalar(2) : at::Scalar(1)));
}
Napi::Value mul(const Args& a) { return a.wrap(at::mul(a.tensor(0), a.operand(1))); }
// div(x, other, roundingMode?: 'trunc' | 'floor')
Napi::Value div(const Args& a) {
  if (!a.has(2)) return a.wrap(at::div(a.tensor(0), a.operand(1)));
  std::string mode = a.string(2);
  if (mode != "trunc" && mode != "floor") {
    throw ArgError("div: roundingMode must be 'trunc' or 'floor', got '" + mode + "'");
  }
  return a.wrap(at::div(a.tensor(0), a.operand(1), c10::string_view(mode)));
}

Napi::Value clamp(const Args& a) {
  c10::optional<at::Scalar> lo = a.optScalar(1), hi = a.optScalar(2);
  if (!lo && !hi) throw ArgError("clamp: give at least one of min and max");
  return a.wrap(at::clamp(a.tensor(0), lo, hi));
}

Napi::Value gelu(const Args& a) {
  std::string approximate = a.has(1) ? a.string(1) : "none";
  if (approximate != "none" && approximate != "tanh") {
    throw ArgError("gelu: approximate must be 'none' or 'tanh', got '" + approximate + "'");
  }
  return a.wrap(at::gelu(a.tensor(0), approximate));
}

// Reductions: (x, dims?: number[], keepdim?, dtype?). No dims reduces over every element.
Napi::Value sum(const Args& a) {
  auto dims = a.optIntegers(1);
  if (!dims) return a.wrap(at::sum(a.tensor(0), a.optDtype(3)));
  return a.wrap(at::sum(a.tensor(0), *dims, a.boolean(2), a.optDtype(3)));
}
Napi::Value mean(const Args& a) {
  auto dims = a.optIntegers(1);
  if (!dims) return a.wrap(at::mean(a.tensor(0), a.optDtype(3)));
  return a.wrap(at::mean(a.tensor(0), *dims, a.boolean(2), a.optDtype(3)));
}
// max/min(x, dim?, keepdim?): without dim the single extreme value, with dim [values, indices].
Napi::Value max(const Args& a) {
  if (!a.has(1)) return a.wrap(at::max(a.tensor(0)));
  auto [values, indices] = at::max(a.tensor(0), a.integer(1), a.boolean(2));
  return a.wrap(std::vector<at::Tensor>{values, indices});
}
Napi::Value min(const Args& a) {
  if (!a.has(1)) return a.wrap(at::min(a.tensor(0)));
  auto [values, indices] = at::min(a.tensor(0), a.integer(1), a.boolean(2));
  return a.wrap(std::vector<at::Tensor>{values, indices});
}

// std/var(x, dims?: number[], correction?: number, keepdim?): PyTorch's `correction` form (the
// `unbiased` flag is correction 1 or 0, which the TypeScript layer passes as such). libtorch 1.13
// takes an integer correction, 2.x any number.
#if TORCH_VERSION_MAJOR >= 2
using Correction = c10::optional<at::Scalar>;
Correction correctionOf(const Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  return at::Scalar(a.number(i));
}
#else
using Correction = c10::optional<int64_t>;
Correction correctionOf(const Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  double c = a.number(i);
  if (c != std::trunc(c)) {
    throw ArgError(std::string(a.name()) + ": correction must be an integer with libtorch " TORCH_VERSION
                   " (libtorch 2.x also takes fractional ones)");
  }
  return static_cast<int64_t>(c);
}
#endif

template <at::Tensor (*Fn)(const at::Tensor&, at::OptionalIntArrayRef, Correction, bool)>
Napi::Value stdVar(const Args& a) {
  auto dims = a.optIntegers(1);
  at::OptionalIntArrayRef dimRef = dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(c10::nullopt);
  return a.wrap(Fn(a.tensor(0), dimRef, correctionOf(a, 2), a.boolean(3)));
}
at::Tensor stdFn(const at::Tensor& x, at::OptionalIntArrayRef dims, Correction c, bool keepdim) {
  return at::std(x, dims, c, keepdim);
}
at::Tensor varFn(const at::Tensor& x, at::OptionalIntArrayRef dims, Correction c, bool keepdim) {
  return at::var(x, dims, c, keepdim);
}

// norm(x, p, dims?, keepdim?, dtype?): torch.linalg.vector_norm, which torch.norm calls for a number p
// and for 'fro' (the TypeScript layer passes 'fro' as 2).
Napi::Value norm(const Args& a) {
  auto dims = a.optIntegers(2);
  at::OptionalIntArrayRef dimRef = dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(c10::nullopt);
  return a.wrap(at::linalg_vector_norm(a.tensor(0), at::Scalar(a.number(1)), dimRef, a.boolean(3), a.optDtype(4)));
}

// sort(x, dim, descending, stable) and topk(x, k, dim, largest, sorted): [values, indices (int64)].
Napi::Value sort(const Args& a) {
  auto [values, indices] = at::sort(a.tensor(0), c10::optional<bool>(a.boolean(3)), a.integerOr(1, -1), a.boolean(2));
  return a.wrap(std::vector<at::Tensor>{values, indices});
}
Napi::Value topk(const Args& a) {
  auto [values, indices] = at::topk(a.tensor(0), a.integer(1), a.integerOr(2, -1), a.boolean(3, true), a.boolean(4, true));
  return a.wrap(std::vector<at::Tensor>{values, indices});
}

// any/all(x, dim?, keepdim?): of every element, or along one dim.
Napi::Value any(const Args& a) {
  if (!a.has(1)) return a.wrap(at::any(a.tensor(0)));
  return a.wrap(at::any(a.tensor(0), a.integer(1), a.boolean(2)));
}
Napi::Value all(const Args& a) {
  if (!a.has(1)) return a.wrap(at::all(a.tensor(0)));
  return a.wrap(at::all(a.tensor(0), a.integer(1), a.boolean(2)));
}

Napi::Value where(const Args& a) {
  const at::Tensor& cond = a.tensor(0);
  bool xt = a.isTensor(1), yt = a.isTensor(2);
  if (xt && yt) return a.wrap(at::where(cond, a.tensor(1), a.tensor(2)));
  if (xt) return a.wrap(at::where(cond, a.tensor(1), a.scalar(2)));
  if (yt) return a.wrap(at::where(cond, a.scalar(1), a.tensor(2)));
  return a.wrap(at::where(cond, a.scalar(1), a.scalar(2)));
}

Napi::Value maskedFill(const Args& a) {
  if (a.isTensor(2)) return a.wrap(at::masked_fill(a.tensor(0), a.tensor(1), a.tensor(2)));
  return a.wrap(at::masked_fill(a.tensor(0), a.tensor(1), a.scalar(2)));
}

// split(x, sizeOrSizes, dim)
Napi::Value split(const Args& a) {
  int64_t dim = a.integerOr(2, 0);
  if (a[1].IsArray()) return a.wrap(at::split_with_sizes(a.tensor(0), a.integers(1), dim));
  return a.wrap(at::split(a.tensor(0), a.integer(1), dim));
}

Napi::Value repeatInterleave(const Args& a) {
  c10::optional<int64_t> dim = a.optInteger(2);
  if (a.isTensor(1)) return a.wrap(at::repeat_interleave(a.tensor(0), a.tensor(1), dim));
  return a.wrap(at::repeat_interleave(a.tensor(0), a.integer(1), dim));
}

// index(x, specs): specs as the TypeScript layer encodes them — number (integer), null (None,
// a new axis), '...' (Ellipsis), boolean, Tensor, or {start, stop, step} (a slice; absent
// fields are None).
std::vector<TI> parseIndices(const Args& a, size_t i) {
  if (!a[i].IsArray()) a.fail(i, "an array of indices");
  Napi::Array specs = a[i].As<Napi::Array>();
  std::vector<TI> out;
  out.reserve(specs.Length());
  auto field = [&](Napi::Object o, const char* key) -> c10::optional<int64_t> {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return c10::nullopt;
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d == std::trunc(d))) throw ArgError(std::string("index: slice ") + key + " must be an integer");
    return static_cast<int64_t>(d);
  };
  for (uint32_t k = 0; k < specs.Length(); ++k) {
    Napi::Value v = specs.Get(k);
    if (v.IsNull() || v.IsUndefined()) {
      out.emplace_back(c10::nullopt);
    } else if (v.IsNumber()) {
      double d = v.As<Napi::Number>().DoubleValue();
      if (d != std::trunc(d)) throw ArgError("index: position " + std::to_string(k) + " is not an integer");
      out.emplace_back(static_cast<int64_t>(d));
    } else if (v.IsBoolean()) {
      out.emplace_back(v.As<Napi::Boolean>().Value());
    } else if (v.IsString()) {
      if (v.As<Napi::String>().Utf8Value() != "...") {
        throw ArgError("index: the only string index is '...' (Ellipsis)");
      }
      out.emplace_back(at::indexing::Ellipsis);
    } else if (TensorWrap::IsHandle(v)) {
      out.emplace_back(TensorWrap::Get(v, "index"));
    } else if (v.IsObject()) {
      Napi::Object o = v.As<Napi::Object>();
      out.emplace_back(at::indexing::Slice(field(o, "start"), field(o, "stop"), field(o, "step")));
    } else {
      throw ArgError("index: position " + std::to_string(k) +
                     " must be an integer, null, '...', a boolean, a Tensor or a slice");
    }
  }
  return out;
}

Napi::Value index(const Args& a) { return a.wrap(a.tensor(0).index(parseIndices(a, 1))); }
Napi::Value indexPut_(const Args& a) {
  at::Tensor& x = a.tensor(0);
  if (a.isTensor(2)) x.index_put_(parseIndices(a, 1), a.tensor(2));
  else x.index_put_(parseIndices(a, 1), a.scalar(2));
  return none(a);
}

// to(x, device?, dtype?, nonBlocking?, copy?)
Napi::Value to(const Args& a) {
  const at::Tensor& x = a.tensor(0);
  c10::Device device = a.has(1) ? a.device(1) : x.device();
  at::ScalarType dtype = a.has(2) ? a.dtype(2) : x.scalar_type();
  return a.wrap(x.to(device, dtype, a.boolean(3), a.boolean(4)));
}

Napi::Value backward(const Args& a) {
  const at::Tensor& x = a.tensor(0);
  at::Tensor grad = a.has(1) ? a.tensor(1) : at::Tensor();
  if (!grad.defined() && x.numel() != 1) {
    throw ArgError("backward: grad can be implicitly created only for scalar outputs; this tensor has shape [" +
                   c10::Join(", ", x.sizes()) + "]: pass a gradient of that shape or reduce it first (sum, mean)");
  }
  c10::optional<bool> retain;
  if (a.has(2)) retain = a.boolean(2);
  x.backward(grad, retain, a.boolean(3));
  return none(a);
}

// In-place arithmetic: (x, other, alpha?) with a tensor or scalar operand.
Napi::Value add_(const Args& a) {
  a.tensor(0).add_(a.operand(1), a.has(2) ? a.scalar(2) : at::Scalar(1));
  return none(a);
}
Napi::Value sub_(const Args& a) {
  a.tensor(0).sub_(a.operand(1), a.has(2) ? a.scalar(2) : at::Scalar(1));
  return none(a);
}
Napi::Value mul_(const Args& a) {
  a.tensor(0).mul_(a.operand(1));
  return none(a);
}
Napi::Value div_(const Args& a) {
  a.tensor(0).div_(a.operand(1));
  return none(a);
}

Napi::Value ints(const Args& a, c10::IntArrayRef values) {
  Napi::Array out = Napi::Array::New(a.env(), values.size());
  for (uint32_t k = 0; k < values.size(); ++k) out.Set(k, Napi::Number::New(a.env(), static_cast<double>(values[k])));
  return out;
}

const OpEntry tensorOps[] = {
    // metadata
    {"shape", [](const Args& a) { return ints(a, a.tensor(0).sizes()); }},
    {"strides", [](const Args& a) { return ints(a, a.tensor(0).strides()); }},
    {"dtype", [](const Args& a) -> Napi::Value { return Napi::String::New(a.env(), dtypeName(a.tensor(0).scalar_type())); }},
    {"device", [](const Args& a) -> Napi::Value { return Napi::String::New(a.env(), deviceName(a.tensor(0).device())); }},
    {"storageOffset", [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), static_cast<double>(a.tensor(0).storage_offset())); }},
    {"isContiguous", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.tensor(0).is_contiguous()); }},
    {"sameTensor", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.tensor(0).is_same(a.tensor(1))); }},
    // autograd
    {"requiresGrad", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.tensor(0).requires_grad()); }},
    {"setRequiresGrad", [](const Args& a) { a.tensor(0).requires_grad_(a.boolean(1, true)); return none(a); }},
    {"isLeaf", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.tensor(0).is_leaf()); }},
    {"gradFn",
     [](const Args& a) -> Napi::Value {
       const auto& fn = a.tensor(0).grad_fn();
       if (!fn) return a.env().Null();
       return Napi::String::New(a.env(), fn->name());
     }},
    {"grad",
     [](const Args& a) -> Napi::Value {
       const at::Tensor& g = a.tensor(0).grad();
       return g.defined() ? a.wrap(g) : a.env().Undefined();
     }},
    // true when `cached` (a handle or undefined) is still the tensor's .grad
    {"gradIs",
     [](const Args& a) -> Napi::Value {
       const at::Tensor& g = a.tensor(0).grad();
       bool same = g.defined() ? (a.isTensor(1) && a.tensor(1).is_same(g)) : !a.has(1);
       return Napi::Boolean::New(a.env(), same);
     }},
    {"clearGrad", [](const Args& a) { a.tensor(0).mutable_grad() = at::Tensor(); return none(a); }},
    {"backward", backward},
    {"retainGrad", [](const Args& a) { a.tensor(0).retain_grad(); return none(a); }},
    // arithmetic
    {"add", add},
    {"sub", sub},
    {"mul", mul},
    {"div", div},
    {"pow", binary<powT, powS>},
    {"maximum", tensorBinary<maximumT>},
    {"minimum", tensorBinary<minimumT>},
    {"neg", unary<at::neg>},
    {"sqrt", unary<at::sqrt>},
    {"rsqrt", unary<at::rsqrt>},
    {"exp", unary<at::exp>},
    {"log", unary<at::log>},
    {"abs", unary<at::abs>},
    {"sin", unary<at::sin>},
    {"cos", unary<at::cos>},
    {"clamp", clamp},
    // activations
    {"relu", unary<at::relu>},
    {"tanh", unary<at::tanh>},
    {"sigmoid", unary<at::sigmoid>},
    {"gelu", gelu},
    {"softmax", [](const Args& a) { return a.wrap(at::softmax(a.tensor(0), a.integer(1), a.optDtype(2))); }},
    {"logSoftmax", [](const Args& a) { return a.wrap(at::log_softmax(a.tensor(0), a.integer(1), a.optDtype(2))); }},
    // dropout(x, p, train, rng: 'pytorch' | 'philox')
    {"dropout", [](const Args& a) {
       DropoutRngGuard guard(dropoutRngNamed(a.string(3), "dropout: rng"));
       return a.wrap(applyDropout(a.tensor(0), a.number(1), a.boolean(2)));
     }},
    // philoxNoise(seedHigh, seedLow, keep, begin, end, byEngine, dtype): elements [begin, end)
    // of the Philox dropout noise (nn/dropout.h), by the kernel or by libtorch's at::Philox4_32
    // element by element; for tests of the kernel against the engine
    {"philoxNoise", [](const Args& a) {
       const uint64_t seed = (static_cast<uint64_t>(a.integer(0)) << 32) | static_cast<uint32_t>(a.integer(1));
       const double keep = a.number(2);
       const int64_t begin = a.integer(3), end = a.integer(4);
       if (begin < 0 || end < begin || !(keep > 0 && keep <= 1)) throw ArgError("philoxNoise: needs 0 <= begin <= end and keep in (0, 1]");
       at::Tensor out = at::empty({end - begin}, at::TensorOptions().dtype(parseDtype(a.string(6))));
       AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "philox_noise", [&] {
         if (a.boolean(5)) philoxDropoutNoiseRangeByEngine<scalar_t>(seed, keep, begin, end, out.data_ptr<scalar_t>());
         else philoxDropoutNoiseRange<scalar_t>(seed, keep, begin, end, out.data_ptr<scalar_t>());
       });
       return a.wrap(out);
     }},
    // reductions
    {"sum", sum},
    {"mean", mean},
    {"max", max},
    {"min", min},
    {"argmax", [](const Args& a) { return a.wrap(at::argmax(a.tensor(0), a.optInteger(1), a.boolean(2))); }},
    {"argmin", [](const Args& a) { return a.wrap(at::argmin(a.tensor(0), a.optInteger(1), a.boolean(2))); }},
    {"std", stdVar<stdFn>},
    {"var", stdVar<varFn>},
    {"norm", norm},
    {"cumsum", [](const Args& a) { return a.wrap(at::cumsum(a.tensor(0), a.integer(1), a.optDtype(2))); }},
    {"any", any},
    {"all", all},
    // sorting
    {"sort", sort},
    {"topk", topk},
    // comparisons and logic
    {"eq", binary<eqT, eqS>},
    {"ne", binary<neT, neS>},
    {"lt", binary<ltT, ltS>},
    {"le", binary<leT, leS>},
    {"gt", binary<gtT, gtS>},
    {"ge", binary<geT, geS>},
    {"logicalAnd", tensorBinary<logicalAndT>},
    {"logicalOr", tensorBinary<logicalOrT>},
    {"logicalXor", tensorBinary<logicalXorT>},
    {"logicalNot", unary<at::logical_not>},
    {"where", where},
    {"maskedFill", maskedFill},
    // linear algebra
    {"matmul", [](const Args& a) { return a.wrap(at::matmul(a.tensor(0), a.tensor(1))); }},
    {"bmm", [](const Args& a) { return a.wrap(at::bmm(a.tensor(0), a.tensor(1))); }},
    {"linear",
     [](const Args& a) {
       c10::optional<at::Tensor> bias = a.optTensor(2);
       return a.wrap(at::linear(a.tensor(0), a.tensor(1), bias));
     }},
    // shape
    {"reshape", [](const Args& a) { return a.wrap(a.tensor(0).reshape(a.integers(1))); }},
    {"view", [](const Args& a) { return a.wrap(a.tensor(0).view(a.integers(1))); }},
    {"permute", [](const Args& a) { return a.wrap(a.tensor(0).permute(a.integers(1))); }},
    {"transpose", [](const Args& a) { return a.wrap(a.tensor(0).transpose(a.integer(1), a.integer(2))); }},
    {"unsqueeze", [](const Args& a) { return a.wrap(a.tensor(0).unsqueeze(a.integer(1))); }},
    {"squeeze",
     [](const Args& a) { return a.wrap(a.has(1) ? a.tensor(0).squeeze(a.integer(1)) : a.tensor(0).squeeze()); }},
    {"flatten",
     [](const Args& a) { return a.wrap(a.tensor(0).flatten(a.integerOr(1, 0), a.integerOr(2, -1))); }},
    {"expand", [](const Args& a) { return a.wrap(a.tensor(0).expand(a.integers(1))); }},
    {"contiguous", [](const Args& a) { return a.wrap(a.tensor(0).contiguous()); }},
    // asStrided(x, size, stride, storageOffset): a view of x's storage (state-dict loading)
    {"asStrided",
     [](const Args& a) {
       return a.wrap(a.tensor(0).as_strided(a.integers(1), a.integers(2), a.integerOr(3, 0)));
     }},
    // viewDtype(x, dtype): the same bytes read as another dtype (x.view(dtype) in PyTorch)
    {"viewDtype", [](const Args& a) { return a.wrap(a.tensor(0).view(a.dtype(1))); }},
    {"cat", [](const Args& a) { return a.wrap(at::cat(a.tensors(0), a.integerOr(1, 0))); }},
    {"stack", [](const Args& a) { return a.wrap(at::stack(a.tensors(0), a.integerOr(1, 0))); }},
    {"split", split},
    {"chunk", [](const Args& a) { return a.wrap(at::chunk(a.tensor(0), a.integer(1), a.integerOr(2, 0))); }},
    {"narrow",
     [](const Args& a) { return a.wrap(a.tensor(0).narrow(a.integer(1), a.integer(2), a.integer(3))); }},
    {"select", [](const Args& a) { return a.wrap(a.tensor(0).select(a.integer(1), a.integer(2))); }},
    {"index", index},
    {"indexPut_", indexPut_},
    {"indexSelect",
     [](const Args& a) { return a.wrap(at::index_select(a.tensor(0), a.integer(1), a.tensor(2))); }},
    {"gather", [](const Args& a) { return a.wrap(at::gather(a.tensor(0), a.integer(1), a.tensor(2))); }},
    {"repeatInterleave", repeatInterleave},
    // conversion and copies
    {"to", to},
    {"clone", [](const Args& a) { return a.wrap(a.tensor(0).clone()); }},
    {"detach", [](const Args& a) { return a.wrap(a.tensor(0).detach()); }},
    // in place
    {"add_", add_},
    {"sub_", sub_},
    {"mul_", mul_},
    {"div_", div_},
    {"zero_", [](const Args& a) { a.tensor(0).zero_(); return none(a); }},
    {"fill_", [](const Args& a) { a.tensor(0).fill_(a.scalar(1)); return none(a); }},
    {"copy_", [](const Args& a) { a.tensor(0).copy_(a.tensor(1)); return none(a); }},
    {"clamp_",
     [](const Args& a) {
       c10::optional<at::Scalar> lo = a.optScalar(1), hi = a.optScalar(2);
       if (!lo && !hi) throw ArgError("clamp_: give at least one of min and max");
       a.tensor(0).clamp_(lo, hi);
       return none(a);
     }},
    {"maskedFill_",
     [](const Args& a) {
       if (a.isTensor(2)) a.tensor(0).masked_fill_(a.tensor(1), a.tensor(2));
       else a.tensor(0).masked_fill_(a.tensor(1), a.scalar(2));
       return none(a);
     }},
};

Napi::Value trampoline(const Napi::CallbackInfo& info) {
  const auto* entry = static_cast<const OpEntry*>(info.Data());
  return guarded(info.Env(), [&] { return entry->fn(Args(info, entry->name)); });
}

}  // namespace

void exportOps(Napi::Env env, Napi::Object target, const OpEntry* table, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    target.Set(table[k].name,
               Napi::Function::New(env, trampoline, table[k].name, const_cast<OpEntry*>(&table[k])));
  }
}

namespace {
struct RegisteredTable {
  const char* concern;
  const OpEntry* table;
  size_t count;
  OpsInit init;
};
// Filled during static initialisation (before any environment loads the addon), read after.
std::vector<RegisteredTable>& registeredTables() {
  static std::vector<RegisteredTable> tables;
  return tables;
}
}  // namespace

OpRegistration::OpRegistration(const char* concern, const OpEntry* table, size_t count, OpsInit init) {
  registeredTables().push_back({concern, table, count, init});
}

void exportRegisteredOps(Napi::Env env, Napi::Object exports, Napi::Object target) {
  for (const RegisteredTable& t : registeredTables()) {
    if (t.init) t.init(env, exports);
    for (size_t k = 0; k < t.count; ++k) {
      if (target.Has(t.table[k].name)) {
        throw std::logic_error(std::string("torchbridge: native op '") + t.table[k].name + "' is defined twice (again in " +
                               t.concern + ")");
      }
    }
    exportOps(env, target, t.table, t.count);
  }
}

TB_REGISTER_OPS("tensor ops", tensorOps);

}  // namespace tb
