// Which kernel d2l's DotProductAttention (d2l/blocks.cc) runs on the calling thread: d2l's explicit one (bmm,
// masked_softmax with its -1e6 fill, dropout, bmm), or at::scaled_dot_product_attention, which
// libtorch 2.x has (feature-tested by its operator header) and 1.x has not.
//
// The fused kernel keeps d2l's semantics: keys at positions >= valid_len take no part (d2l's
// -1e6 fill gives them a weight of exactly 0 in float32 whenever one key is valid), and dropout
// applies to the attention weights in training, with the same Bernoulli(1 - p) / (1 - p) noise
// drawn by libtorch's kernel. Where a row has no valid key at all, d2l's fill gives every key the
// same weight while a mask that excludes them all gives NaN, so such a batch runs the explicit
// kernel.
#pragma once

#include "core/common.h"

#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
#define TB_FUSED_ATTENTION 1
#else
#define TB_FUSED_ATTENTION 0
#endif

namespace tb {

enum class AttentionKernel { Explicit, Fused };

constexpr bool kFusedAttentionAvailable = TB_FUSED_ATTENTION == 1;

// The calling thread's kernel (threads start with the explicit one).
inline thread_local AttentionKernel attentionKernelOfThread = AttentionKernel::Explicit;

inline AttentionKernel currentAttentionKernel() { return attentionKernelOfThread; }
inline void setAttentionKernel(AttentionKernel kernel) { attentionKernelOfThread = kernel; }

// The calling thread's kernel while alive.
class AttentionKernelGuard {
 public:
  explicit AttentionKernelGuard(AttentionKernel kernel) : previous_(attentionKernelOfThread) { attentionKernelOfThread = kernel; }
  ~AttentionKernelGuard() { attentionKernelOfThread = previous_; }
  AttentionKernelGuard(const AttentionKernelGuard&) = delete;
  AttentionKernelGuard& operator=(const AttentionKernelGuard&) = delete;

 private:
  AttentionKernel previous_;
};

// 'explicit' or 'fused' (refused, saying why, where libtorch lacks the fused kernel).
inline AttentionKernel attentionKernelNamed(const std::string& name, const char* what) {
  if (name == "explicit") return AttentionKernel::Explicit;
  if (name == "fused") {
    if (!kFusedAttentionAvailable) {
      throw ArgError(std::string(what) + " 'fused' needs libtorch 2.x (at::scaled_dot_product_attention); this torchbridge was built "
                     "against libtorch " TORCH_VERSION ", which lacks it: use 'explicit', or build against libtorch 2.x");
    }
    return AttentionKernel::Fused;
  }
  throw ArgError(std::string(what) + " must be 'explicit' or 'fused'");
}

}  // namespace tb
