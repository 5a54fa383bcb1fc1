// Layers that libtorch lacks, written as PyTorch defines them, and libtorch layers that must keep
// more than their options (what PyTorch's repr prints).
#pragma once

#include "core/common.h"

namespace tb {

// nn.LazyLinear: in_features is taken from the first input; the parameters appear then, with
// Linear's initialisation (kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(in), 1/sqrt(in))
// for the bias), on the module's device and dtype.
struct LazyLinearImpl : torch::nn::Cloneable<LazyLinearImpl> {
  LazyLinearImpl(int64_t outFeatures, bool withBias) : outFeatures(outFeatures), withBias(withBias) {}

  void reset() override;
  at::Tensor forward(const at::Tensor& input);
  bool initialized() const { return inFeatures > 0; }

  int64_t inFeatures = 0;
  int64_t outFeatures;
  bool withBias;
  at::Tensor weight, bias;
  // The device and dtype the parameters will be created with (set by to()).
  c10::Device device = c10::Device(c10::kCPU);
  at::ScalarType dtype = at::kFloat;

  void to(torch::Device device, torch::Dtype dtype, bool nonBlocking) override;
  void to(torch::Dtype dtype, bool nonBlocking) override;
  void to(torch::Device device, bool nonBlocking) override;
};
TORCH_MODULE(LazyLinear);

// nn.Sequential: children named "0", "1", ... applied in order. libtorch's own Sequential has
// a templated forward, which AnyModule (type-erased forward) cannot hold.
struct SequentialImpl : torch::nn::Cloneable<SequentialImpl> {
  void reset() override {}
  void push_back(torch::nn::AnyModule module);
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override;
  at::Tensor forward(at::Tensor input);

  std::vector<torch::nn::AnyModule> items;
};
TORCH_MODULE(Sequential);

// nn.MaxPool2d and nn.AvgPool2d: libtorch's modules, remembering which sizes were given as one
// number, because PyTorch's repr prints them as given (`kernel_size=2` or `kernel_size=(2, 2)`).
struct PoolForm {
  bool kernelSize = true, stride = true, padding = true, dilation = true;
};

struct MaxPool2dImpl : torch::nn::MaxPool2dImpl {
  MaxPool2dImpl(const torch::nn::MaxPool2dOptions& options, PoolForm form) : torch::nn::MaxPool2dImpl(options), form(form) {}
  // A copy of this type (libtorch's clone() would make a torch::nn::MaxPool2dImpl); no parameters to copy.
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override {
    return std::make_shared<MaxPool2dImpl>(*this);
  }
  PoolForm form;
};
TORCH_MODULE(MaxPool2d);

struct AvgPool2dImpl : torch::nn::AvgPool2dImpl {
  AvgPool2dImpl(const torch::nn::AvgPool2dOptions& options, PoolForm form) : torch::nn::AvgPool2dImpl(options), form(form) {}
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override {
    return std::make_shared<AvgPool2dImpl>(*this);
  }
  PoolForm form;
};
TORCH_MODULE(AvgPool2d);

// A container with no forward of its own: children and parameters registered from JS, forward
// written in TypeScript.
struct ContainerImpl : torch::nn::Module {
  ContainerImpl() = default;
};
TORCH_MODULE(Container);

}  // namespace tb
