{
  # The node-gyp build (the one prebuildify uses). libtorch comes from scripts/find-libtorch.js,
  # as in CMakeLists.txt, with the C++ ABI (_GLIBCXX_USE_CXX11_ABI) it was built with and the C++
  # standard it requires (C++17 at least). libtorch needs RTTI and C++ exceptions, which Node's
  # common.gypi turns off. USE_C10D_GLOO: c10d's Gloo header is wrapped in it. native/compat
  # comes after the system's headers: what a libtorch leaves out of its own (Debian 1.13's
  # distributed-autograd context.h, which c10d's reducer.hpp includes). -fno-math-errno lets
  # the fused kernels' loops vectorise their square roots (no code of ours reads errno).
  "targets": [
    {
      "target_name": "torchbridge",
      "sources": [
        "native/core/addon.cc",
        "native/core/tensor_wrap.cc",
        "native/core/creation.cc",
        "native/core/ops.cc",
        "native/core/usage.cc",
        "native/nn/modules.cc",
        "native/nn/dropout.cc",
        "native/nn/loss.cc",
        "native/optim/optimizers.cc",
        "native/optim/fused_adam.cc",
        "native/trainer/trainer.cc",
        "native/d2l/blocks.cc",
        "native/d2l/fused_attention.cc",
        "native/d2l/fused_add_norm.cc",
        "native/jit/script_module.cc",
        "native/distributed/process_group.cc",
        "native/distributed/ddp.cc"
      ],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.js --include --write-info build/libtorch.json)"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "USE_C10D_GLOO", "<!@(node scripts/find-libtorch.js --defines)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti", "-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-frtti", "-fexceptions", "-fno-math-errno", "-std=<!(node scripts/find-libtorch.js --cxx-std)", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-cast-function-type", "-Wno-interference-size", "-idirafter", "<(module_root_dir)/native/compat"],
      "libraries": ["<!@(node scripts/find-libtorch.js --libs)"]
    }
  ]
}
