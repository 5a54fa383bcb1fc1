#!/usr/bin/env bash
# A self-contained bundle for a GPU machine that has python3 with PyTorch (CUDA) but no Node, no
# npm and no network: the Node binary, the compiled lib/ and tests, the runtime node_modules, the
# prebuilt binary made against the same torch (scripts/test-torch-wheel.sh builds one), and SNLI's
# dev and test splits. Nothing is compiled there: the prebuilt binds to that machine's torch.
#
#   scripts/gpu-bundle.sh [OUT.tar]        (default gpu-bundle/torchbridge-gpu.tar, ignored by git)
#
# On the GPU machine:  tar -xf torchbridge-gpu.tar -C DIR && DIR/gpu-run.sh [RESULTS_DIR]
# gpu-run.sh checks that the prebuilt loads against python3's torch and sees the GPU, runs the
# test suite (device tests on cuda:0, the NCCL group's among them), `node lib/train.js` for one
# epoch on SNLI dev -> test, then 50 steps as a one-rank job on c10d's NCCL backend, and
# the training benchmark (float32 and bf16 configurations, batch 512), writing each log to
# RESULTS_DIR (default ./results).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-gpu-bundle/torchbridge-gpu.tar}
DATA=${TORCHBRIDGE_SNLI:-$ROOT/../shared/data/snli_1.0}

variant=$(ls -d prebuilds/linux-x64/libtorch-*-cuda-abi* 2>/dev/null | sort | tail -1 || true)
if [[ -z "$variant" ]]; then
  echo "gpu-bundle: no CUDA prebuilt in prebuilds/linux-x64/ (scripts/test-torch-wheel.sh makes one)" >&2
  exit 2
fi
[[ -f "$DATA/snli_1.0_dev.txt" && -f "$DATA/snli_1.0_test.txt" ]] || { echo "gpu-bundle: no SNLI dev/test splits in $DATA" >&2; exit 2; }
[[ -f lib/index.js ]] || { echo "gpu-bundle: lib/ is not compiled (npx tsc -p tsconfig.json)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/torchbridge
mkdir -p "$dir/bin" "$dir/data" "$dir/prebuilds/linux-x64"
xz -9 -T0 -c "$(command -v node)" > "$dir/bin/node.xz"
# the package's files: compiled JS, tests and fixtures, scripts; no TypeScript, no build outputs
git ls-files -co --exclude-standard | grep -Ev '^(native/|prebuilds/|gpu-bundle/)|\.ts$' | tar -cf - -T - | tar -xf - -C "$dir"
find lib test -name '*.js' | tar -cf - -T - | tar -xf - -C "$dir"
cp -r "$variant" "$dir/prebuilds/linux-x64/"
cp "$DATA/snli_1.0_dev.txt" "$DATA/snli_1.0_test.txt" "$dir/data/"
# node_modules without the build tools (no compiler runs there); mocha and its dependencies stay
tar -cf - --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/cmake-js' \
  --exclude='node_modules/node-gyp' --exclude='node_modules/prebuildify' --exclude='node_modules/.cache' node_modules | tar -xf - -C "$dir"
cat > "$dir/gpu-run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs torchbridge's GPU checks with python3's torch; logs go to ${1:-./results}.
set -uo pipefail
cd "$(dirname "$0")"
RESULTS=$(mkdir -p "${1:-results}" && cd "${1:-results}" && pwd)
[[ -x bin/node ]] || xz -dc bin/node.xz > bin/node && chmod +x bin/node
export PATH=$PWD/bin:$PATH PREBUILDS_ONLY=1 TORCHBRIDGE_PYTHON=${TORCHBRIDGE_PYTHON:-python3} CI=${CI:-}
status=0
step() {
  local name=$1; shift
  local start=$SECONDS
  echo "== $name"
  "$@" > "$RESULTS/$name.log" 2>&1
  local rc=$?
  echo "   exit $rc after $((SECONDS - start)) s; last lines:"
  tail -n 4 "$RESULTS/$name.log" | sed 's/^/   /'
  [[ $rc -eq 0 ]] || status=1
}
step load node -e "const t = require('./lib'); const v = t.version(); console.log(JSON.stringify({ ...v, config: undefined, cudaAvailable: t.cuda.isAvailable(), gpus: t.cuda.deviceCount() }, null, 1))"
step tests node node_modules/mocha/bin/mocha.js
step train node lib/train.js --pretrained random --data-dir data --train-split dev --test-split test --epochs 1 --devices all --no-plot ${TRAIN_ARGS:-}
# a one-rank DDP job over c10d's NCCL backend (the machines here have one GPU; NCCL refuses two ranks on one)
step nccl node lib/launch.js --nproc-per-node 1 node lib/train.js --pretrained random --data-dir data --train-split dev --test-split test --epochs 1 --max-steps 50 --devices cuda:0 --dist-backend nccl --no-plot
step bench node scripts/bench-train.js --data data --batch-size "${BENCH_BATCH:-512}" ${BENCH_ARGS:-}
exit $status
EOF
chmod +x "$dir/gpu-run.sh"
mkdir -p "$(dirname "$OUT")"
tar -cf "$OUT.tmp" -C "$stage" torchbridge
mv "$OUT.tmp" "$OUT"
echo "gpu-bundle: $OUT ($(du -h "$OUT" | cut -f1)) with $(basename "$variant")"
