// Sparse row gradients (an embedding's, from at::embedding(..., sparse=true): COO with one
// sparse dimension, the rows dense) summed into a dense tensor in one pass.
#pragma once

#include <ATen/Parallel.h>

#include "core/common.h"

namespace tb {

// The dense tensor that `rows` (sparse COO, sparse_dim 1, uncoalesced allowed) stands for: zeros
// with each row of values added to its index's row, in the order the rows are stored. Libtorch's
// to_dense does the same through one small add per row; this is one loop, split over columns
// between threads (so that no two threads write one element).
inline at::Tensor denseFromRows(const at::Tensor& rows) {
  TORCH_CHECK(rows.is_sparse() && rows.sparse_dim() == 1, "denseFromRows: expected a sparse COO tensor with one sparse dimension");
  if (!rows.is_cpu() || (rows.scalar_type() != at::kFloat && rows.scalar_type() != at::kDouble)) return rows.to_dense();
  at::Tensor out = at::zeros(rows.sizes(), rows.options().layout(at::kStrided));
  at::Tensor indices = rows._indices().select(0, 0).contiguous();
  at::Tensor values = rows._values().contiguous();
  const int64_t nnz = indices.numel();
  const int64_t width = nnz == 0 ? 0 : values.numel() / nnz;
  const int64_t height = out.size(0);
  if (nnz == 0 || width == 0) return out;
  const int64_t* index = indices.data_ptr<int64_t>();
  for (int64_t k = 0; k < nnz; ++k) {
    TORCH_CHECK(index[k] >= 0 && index[k] < height, "denseFromRows: row index ", index[k], " is outside [0, ", height, ")");
  }
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "dense_from_rows", [&] {
    scalar_t* dst = out.data_ptr<scalar_t>();
    const scalar_t* src = values.data_ptr<scalar_t>();
    at::parallel_for(0, width, 64, [&](int64_t begin, int64_t end) {
      for (int64_t k = 0; k < nnz; ++k) {
        scalar_t* row = dst + index[k] * width;
        const scalar_t* from = src + k * width;
        for (int64_t j = begin; j < end; ++j) row[j] += from[j];
      }
    });
  });
  return out;
}

}  // namespace tb
