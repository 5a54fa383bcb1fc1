// Sparse row gradients (an embedding's, from at::embedding(..., sparse=true): COO with one
// sparse dimension, the rows dense) summed into a dense tensor in one pass.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/common.h"

namespace tb {

namespace detail {

// Adds each stored row of `rows` (sparse COO, sparse_dim 1, uncoalesced allowed) to its index's
// row of the dense `out`, in the order the rows are stored: one loop, split over columns between
// threads (so that no two threads write one element). `seen`, when given, gets a mark at each
// row index met.
inline void addRows(at::Tensor& out, const at::Tensor& rows, std::vector<uint8_t>* seen) {
  at::Tensor indices = rows._indices().select(0, 0).contiguous();
  at::Tensor values = rows._values().contiguous();
  const int64_t nnz = indices.numel();
  const int64_t width = nnz == 0 ? 0 : values.numel() / nnz;
  const int64_t height = out.size(0);
  if (nnz == 0 || width == 0) return;
  const int64_t* index = indices.data_ptr<int64_t>();
  for (int64_t k = 0; k < nnz; ++k) {
    TORCH_CHECK(index[k] >= 0 && index[k] < height, "denseFromRows: row index ", index[k], " is outside [0, ", height, ")");
    if (seen) (*seen)[static_cast<size_t>(index[k])] = 1;
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
}

inline bool rowsSupported(const at::Tensor& rows) {
  TORCH_CHECK(rows.is_sparse() && rows.sparse_dim() == 1, "denseFromRows: expected a sparse COO tensor with one sparse dimension");
  return rows.is_cpu() && (rows.scalar_type() == at::kFloat || rows.scalar_type() == at::kDouble);
}

}  // namespace detail

// The dense tensor that `rows` (sparse COO, sparse_dim 1, uncoalesced allowed) stands for: zeros
// with each row of values added to its index's row, in the order the rows are stored. Libtorch's
// to_dense does the same through one small add per row.
inline at::Tensor denseFromRows(const at::Tensor& rows) {
  if (!detail::rowsSupported(rows)) return rows.to_dense();
  at::Tensor out = at::zeros(rows.sizes(), rows.options().layout(at::kStrided));
  detail::addRows(out, rows, nullptr);
  return out;
}

// One parameter's dense gradient from sparse rows, kept from step to step: what denseFromRows
// gives, written into the same tensor each time. A fresh 20 MB token-embedding gradient every step
// cost its allocation's page faults (27 ms a step on 1.13 once malloc began returning the block to
// the kernel) and a full zero fill; here only the rows the last step wrote are zeroed again. That
// holds while nothing else wrote the tensor: a changed version counter (an in-place op from JS, a
// clip) zeroes it whole. The tensor is the parameter's `.grad` after the step. It is reused only
// while nothing else holds it (no JS handle, no view): the Trainer's gradients are set to none
// before each step, so a gradient a program kept from the last step must stay as it was, and not
// be written while it reads it; such a step starts a fresh tensor instead.
class RowGradBuffer {
 public:
  // The dense gradient of `rows`, in the kept tensor (allocated on first use, or when the shape
  // or dtype changed).
  at::Tensor accumulate(const at::Tensor& rows) {
    if (!detail::rowsSupported(rows)) {
      clear();
      return rows.to_dense();
    }
    const bool exclusive = dense_.defined() && dense_.use_count() == 1 && dense_.storage().use_count() == 1;
    const bool fits = exclusive && dense_.sizes() == rows.sizes() && dense_.scalar_type() == rows.scalar_type();
    if (!fits) {
      dense_ = at::zeros(rows.sizes(), rows.options().layout(at::kStrided));
      rows_.clear();
    } else if (dense_._version() != version_) {
      dense_.zero_();
      rows_.clear();
    } else {
      zeroRows();
    }
    seen_.assign(static_cast<size_t>(dense_.size(0)), 0);
    detail::addRows(dense_, rows, &seen_);
    collectRows();
    version_ = dense_._version();
    return dense_;
  }

  // Whether `grad` is this buffer's tensor.
  bool holds(const at::Tensor& grad) const { return dense_.defined() && grad.defined() && grad.is_same(dense_); }

  // After another buffer's tensor was added into this one in place (nn.DataParallel's reduce):
  // its rows are ours to zero too. Without `other` (a dense gradient of unknown rows), the next
  // step zeroes the whole tensor.
  void absorbed(const RowGradBuffer* other) {
    if (!dense_.defined()) return;
    if (other == nullptr || !other->dense_.defined() || other->dense_.sizes() != dense_.sizes()) {
      version_ = -1;
      return;
    }
    seen_.assign(static_cast<size_t>(dense_.size(0)), 0);
    for (int64_t r : rows_) seen_[static_cast<size_t>(r)] = 1;
    for (int64_t r : other->rows_) seen_[static_cast<size_t>(r)] = 1;
    collectRows();
    version_ = dense_._version();
  }

  void clear() {
    dense_ = at::Tensor();
    rows_.clear();
    seen_.clear();
    version_ = -1;
  }

 private:
  void zeroRows() {
    const int64_t width = dense_.numel() / std::max<int64_t>(dense_.size(0), 1);
    const size_t bytes = static_cast<size_t>(width) * dense_.element_size();
    char* base = static_cast<char*>(dense_.data_ptr());
    for (int64_t r : rows_) std::memset(base + static_cast<size_t>(r) * bytes, 0, bytes);
    rows_.clear();
  }

  void collectRows() {
    rows_.clear();
    for (size_t r = 0; r < seen_.size(); ++r) {
      if (seen_[r]) rows_.push_back(static_cast<int64_t>(r));
    }
  }

  at::Tensor dense_;
  std::vector<int64_t> rows_;  // the rows that may be non-zero
  std::vector<uint8_t> seen_;
  int64_t version_ = -1;
};

}  // namespace tb
