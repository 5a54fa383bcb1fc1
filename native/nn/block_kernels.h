// Which kernels d2l's blocks (d2l/blocks.cc) run on the calling thread during a Trainer's steps:
// the reference ones (each block as d2l writes it, op for op: what Module.forward always runs), or
// the fused ones, which compute the same functions with less work:
// - DotProductAttention as one kernel each way (d2l/fused_attention.h), with 'explicit' attention;
// - self-attention (MultiHeadAttention given one tensor as queries, keys and values, as d2l's
//   encoder blocks do) as one product with W_q, W_k and W_v stacked, whose heads that kernel reads
//   in place (no transposed copies); with PyTorch's fused attention, the stacked product only;
// - AddNorm (dropout, residual add, LayerNorm) as one pass each way (d2l/fused_add_norm.h);
// - the token and segment embeddings' gradients as rows (sparse COO: one row per token) instead
//   of dense [vocab, hidden] tensors filled with zeros, added up and accumulated per length group;
//   the Trainer sums the rows into one dense gradient before the optimizer step (sparse_rows.h).
// The gradient then differs from the reference one by float rounding only (the order in which a
// token's rows are added). The Trainer picks them (TrainerOptions.kernels); nothing else does.
// Under DistributedDataParallel the embeddings keep dense gradients (c10d's Reducer buckets
// dense gradients): the guard's `sparseRows` is false there.
#pragma once

#include "core/common.h"

namespace tb {

enum class BlockKernels { Reference, Fused };

inline thread_local BlockKernels blockKernelsOfThread = BlockKernels::Reference;
inline thread_local bool sparseRowsOfThread = false;

inline BlockKernels currentBlockKernels() { return blockKernelsOfThread; }

// Whether embeddings may give sparse row gradients on the calling thread (fused kernels, not DDP).
inline bool sparseRowGradients() { return blockKernelsOfThread == BlockKernels::Fused && sparseRowsOfThread; }

// The calling thread's block kernels while alive.
class BlockKernelsGuard {
 public:
  BlockKernelsGuard(BlockKernels kernels, bool sparseRows) : previous_(blockKernelsOfThread), previousRows_(sparseRowsOfThread) {
    blockKernelsOfThread = kernels;
    sparseRowsOfThread = sparseRows;
  }
  ~BlockKernelsGuard() {
    blockKernelsOfThread = previous_;
    sparseRowsOfThread = previousRows_;
  }
  BlockKernelsGuard(const BlockKernelsGuard&) = delete;
  BlockKernelsGuard& operator=(const BlockKernelsGuard&) = delete;

 private:
  BlockKernels previous_;
  bool previousRows_;
};

// 'fused' or 'reference'; `what` names the option in the error for anything else.
inline BlockKernels blockKernelsNamed(const std::string& name, const char* what) {
  if (name == "fused") return BlockKernels::Fused;
  if (name == "reference") return BlockKernels::Reference;
  throw ArgError(std::string(what) + " must be 'fused' or 'reference'");
}

}  // namespace tb
