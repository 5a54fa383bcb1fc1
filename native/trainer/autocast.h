// torch.autocast(device_type, dtype=torch.bfloat16) around a forward, over both autocast APIs:
// libtorch 2.4 and later take the device type (set_autocast_enabled(device_type, ...)) and keep
// the per-device setters only as deprecated shims, declared through
// AT_FORALL_DEPRECATED_AUTOCAST_BACKENDS (spelt AT_FORALL_DEPRECATED_AUTOCAST_BAKCNEDS before
// 2.7, pytorch#145859); libtorch 1.x has only the per-device setters.
#pragma once

#include <ATen/autocast_mode.h>

#include "core/common.h"

namespace tb {

namespace autocast {

#if defined(AT_FORALL_DEPRECATED_AUTOCAST_BACKENDS) || defined(AT_FORALL_DEPRECATED_AUTOCAST_BAKCNEDS)
inline bool isEnabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
inline void setEnabled(at::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
inline at::ScalarType dtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
inline void setDtype(at::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
inline bool isEnabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline void setEnabled(at::DeviceType type, bool on) {
  if (type == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
inline at::ScalarType dtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void setDtype(at::DeviceType type, at::ScalarType dtype) {
  if (type == at::kCUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace autocast

// Matmuls and linears in bfloat16, the float32 parameters cast on the fly (master weights stay
// float32), as PyTorch's context manager, whose state is per thread.
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, const c10::Device& device) : enabled_(enabled), type_(device.is_cuda() ? at::kCUDA : at::kCPU) {
    if (!enabled_) return;
    wasEnabled_ = autocast::isEnabled(type_);
    previousType_ = autocast::dtype(type_);
    autocast::setDtype(type_, at::kBFloat16);
    autocast::setEnabled(type_, true);
    at::autocast::increment_nesting();
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  ~AutocastGuard() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();  // as torch.autocast's __exit__
    autocast::setEnabled(type_, wasEnabled_);
    autocast::setDtype(type_, previousType_);
  }

 private:
  bool enabled_;
  at::DeviceType type_;
  bool wasEnabled_ = false;
  at::ScalarType previousType_ = at::kBFloat16;
};

}  // namespace tb
