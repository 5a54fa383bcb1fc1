// The key of a parameter in a libtorch optimizer's state map.
#pragma once

#include <sstream>
#include <string>
#include <type_traits>

#include "core/common.h"

namespace tb {

// The optimizer's state map is keyed by the parameter's TensorImpl: libtorch 1.x spells the key
// as the pointer printed to a string, 2.x uses the pointer itself. The key type decides.
using OptimizerStateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
using OptimizerStateKey = std::decay_t<decltype(std::declval<OptimizerStateMap&>().begin()->first)>;

template <class Key>
Key stateKeyOf(void* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what libtorch 1.x's c10::guts::to_string writes
    key << impl;
    return key.str();
  } else {
    return impl;
  }
}

inline OptimizerStateKey stateKey(const at::Tensor& p) { return stateKeyOf<OptimizerStateKey>(p.unsafeGetTensorImpl()); }

}  // namespace tb
