#!/usr/bin/env bash
# The suite against the libtorch inside PyTorch's PyPI wheel (the default Linux wheel is the CUDA
# build; CUDA's own libraries arrive as nvidia-* wheels that torch's libraries find through their
# RPATHs, and it loads on a machine without a GPU):
#   scripts/test-torch-wheel.sh [VERSION]            VERSION defaults to 2.11.0, the GPU machines' torch
#   scripts/test-torch-wheel.sh --prepare [VERSION]  step 1 alone (.ci/run downloads the wheel while
#                                                    another suite runs)
# 1. a venv with torch==VERSION, numpy and safetensors, cached outside the clone in
#    /var/cache/torchbridge/venvs/torch-VERSION-pyX.Y (made once, reused after);
# 2. a fresh clone of this repository's HEAD in a temporary directory, removed on exit;
# 3. `npm ci` there, which builds the addon with node-gyp against the wheel's libtorch
#    (scripts/find-libtorch.js's python route, TORCHBRIDGE_PYTHON=the venv's python);
# 4. the prebuilt binary for that libtorch (npm run build:prebuilt), which everything after
#    loads (PREBUILDS_ONLY=1);
# 5. checks that the addon loaded is that prebuilt, the wheel's build: its libtorch version, CUDA
#    and cuDNN versions, c10d's NCCL backend (CUDA 13: the venv gets nvidia-cuda-crt's headers
#    for it, and TORCHBRIDGE_NCCL=1 makes its build required), no library missing (ldd), and CUDA
#    available exactly when the wheel's torch says so;
# 6. the README's test command, `npm test`, whose parity checks run the venv's torch;
# 7. the prebuilt copied into this checkout's prebuilds/linux-x64/<variant> (ignored by git), so
#    that a CI run leaves a binary for each libtorch it tested.
# Prints each phase's time; the last line is mocha's "N passed, N failed[, N skipped]" (or says
# which phase failed before the tests ran).
# CI is unset for `npm test`: builds.test.ts would otherwise demand the cmake-js binary, and d2l-snli.test.ts the real SNLI splits, which only the bookworm suite of .ci/run
# provides. Exits non-zero when any phase fails.
set -euo pipefail

MODE=test
if [ "${1:-}" = --prepare ]; then MODE=prepare; shift; fi
case "${1:-}" in -*) echo "usage: scripts/test-torch-wheel.sh [--prepare] [VERSION]" >&2; exit 2 ;; esac
VERSION="${1:-2.11.0}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SYSTEM_PYTHON=/usr/bin/python3
PY_VERSION="$("$SYSTEM_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="/var/cache/torchbridge/venvs/torch-$VERSION-py$PY_VERSION"

# shellcheck source=scripts/phases.sh
. "$REPO/scripts/phases.sh"

WORK="$(mktemp -d -t torchbridge-wheel-XXXXXX)"
finish() {
  local rc=$?
  phase_failed
  phase_times "torch $VERSION wheel"
  local summary=''
  [ ! -f "$WORK/test.log" ] || summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/test.log" | tail -1 || true)"
  rm -rf --one-file-system "$WORK"
  if [ "$MODE" = prepare ]; then :
  elif [ -n "$summary" ]; then echo "$summary"; else echo "torch $VERSION wheel suite: no test summary (failed in: ${CURRENT:-?})"; fi
  exit "$rc"
}
trap finish EXIT

make_venv() {
  if ! "$SYSTEM_PYTHON" -c 'import ensurepip' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
  fi
  [ -x "$VENV/bin/python" ] || "$SYSTEM_PYTHON" -m venv "$VENV"
  # Idempotent: completes a venv that an interrupted run left half installed, and is a quick
  # no-op on a complete one.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "torch==$VERSION" numpy safetensors
  # CUDA's crt headers, which c10d's ProcessGroupNCCL.hpp needs and torch's wheels leave out
  # (headers only), for the NCCL backend: CUDA 13's come as nvidia-cuda-crt
  local cuda
  cuda="$("$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "")')"
  case "$cuda" in
    13.*) "$VENV/bin/python" -m pip install -q --disable-pip-version-check "nvidia-cuda-crt==${cuda%.*}.*" ;;
    *) echo "torch's CUDA is '${cuda:-none}': the suite builds without NCCL" ;;
  esac
  "$VENV/bin/python" -c 'import numpy, safetensors, torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "NCCL", torch.cuda.nccl.version() if torch.version.cuda else None, "ABI", int(torch._C._GLIBCXX_USE_CXX11_ABI))'
}

clone() {
  git clone -q "$REPO" "$WORK/torchbridge"
  git -C "$WORK/torchbridge" log -1 --format='HEAD %h %s'
}

build() {
  cd "$WORK/torchbridge"
  # with CUDA 13 (crt headers installed above), NCCL must build: a missing header is an error
  if [ "$("$TORCHBRIDGE_PYTHON" -c 'import torch; print((torch.version.cuda or "").split(".")[0])')" = 13 ]; then export TORCHBRIDGE_NCCL=1; fi
  node scripts/find-libtorch.js
  npm ci --no-audit --no-fund
}

prebuild() {
  cd "$WORK/torchbridge"
  npm run build:prebuilt
}

# The addon loaded (the prebuilt: PREBUILDS_ONLY is set from here on) is the wheel's CUDA build,
# and every library it needs resolves here.
check_addon() {
  cd "$WORK/torchbridge"
  local addon missing
  addon="$(node -p "require('./lib').version().binary.file")"
  case "$addon" in
    */prebuilds/*) echo "loaded: $addon" ;;
    *) echo "PREBUILDS_ONLY loaded $addon, not a prebuilt" >&2; return 1 ;;
  esac
  missing="$(ldd "$addon" | grep 'not found' || true)"
  if [ -n "$missing" ]; then
    echo "libraries missing for $addon:" >&2
    echo "$missing" >&2
    return 1
  fi
  echo "ldd $addon: $(ldd "$addon" | grep -c '=>') libraries resolved, of which from nvidia-* wheels: $(ldd "$addon" | grep -c '/nvidia/')"
  local python_cuda
  python_cuda="$("$TORCHBRIDGE_PYTHON" -c 'import torch; print("true" if torch.cuda.is_available() else "false")')"
  EXPECT_VERSION="$VERSION" EXPECT_CUDA_AVAILABLE="$python_cuda" node -e "
    const torch = require('./lib');
    const v = torch.version();
    const facts = { libtorch: v.libtorch, cuda: v.cuda, cudnn: v.cudnn, nccl: v.nccl, cudaAvailable: torch.cuda.isAvailable(), builtAgainst: v.binary.builtAgainst };
    console.log(JSON.stringify(facts, null, 2));
    const [major, minor] = process.env.EXPECT_VERSION.split('.');
    const problems = [];
    if (!v.libtorch.startsWith(major + '.' + minor + '.')) problems.push('libtorch ' + v.libtorch + ', not ' + major + '.' + minor + '.x');
    if (!v.cuda) problems.push('no CUDA version: not a CUDA build');
    if (!v.cudnn) problems.push('no cuDNN version');
    if (String(facts.cudaAvailable) !== process.env.EXPECT_CUDA_AVAILABLE) problems.push('cuda.isAvailable() is ' + facts.cudaAvailable + ', the wheel\'s torch says ' + process.env.EXPECT_CUDA_AVAILABLE);
    if (!v.binary.builtAgainst || v.binary.builtAgainst.python !== process.env.TORCHBRIDGE_PYTHON) problems.push('not built through TORCHBRIDGE_PYTHON');
    if (process.env.TORCHBRIDGE_NCCL === '1' && !v.nccl) problems.push('no NCCL backend (version().nccl is null)');
    if (problems.length) { console.error('not the wheel\'s CUDA build: ' + problems.join('; ')); process.exit(1); }
  "
}

run_tests() {
  cd "$WORK/torchbridge"
  env -u CI npm test 2>&1 | tee "$WORK/test.log"
}

export PATH="$VENV/bin:$PATH"
export TORCHBRIDGE_PYTHON="$VENV/bin/python"
export npm_config_nodedir="${npm_config_nodedir:-$(cd "$REPO" && node -p "require('./scripts/node-headers').nodeDir() || ''")}"
export JOBS=max

phase "venv torch==$VERSION" make_venv
[ "$MODE" = test ] || exit 0
phase "clone HEAD" clone
phase "npm ci (node-gyp build)" build
phase "prebuilt binary (prebuildify)" prebuild
export PREBUILDS_ONLY=1
phase "prebuilt is the wheel's CUDA build" check_addon
phase "npm test (on the prebuilt)" run_tests
phase "keep the prebuilt" export_prebuilt "$WORK/torchbridge/prebuilds/linux-x64" "$REPO/prebuilds/linux-x64"
