#!/usr/bin/env bash
# The suite on Debian trixie's libtorch 2.6 (CPU), in a chroot, as root:
#   scripts/test-debian-trixie.sh            the suite (below)
#   scripts/test-debian-trixie.sh --bench    instead of the suite's prebuilt and tests, the
#                                            training benchmark against Debian's PyTorch 2.6
#                                            (scripts/bench-train.js on SNLI's dev split, copied
#                                            in from $SNLI_DIR, default ../shared/data/snli_1.0)
# 1. a trixie root (debootstrap minbase + the packages below), cached in
#    /var/cache/torchbridge/roots/trixie-<hash of the package list>; it is built in ROOT.tmp and
#    renamed only once every package is installed, so a failed build is never reused;
# 2. proc and /dev mounted into the root for the run, unmounted on exit (failures included);
# 3. a fresh clone of this repository's HEAD in ROOT/tmp/torchbridge-XXXXXX, removed on exit;
# 4. inside the root: `npm ci` (the node-gyp build against /usr's libtorch 2.6), the prebuilt
#    binary for it (npm run build:prebuilt), then the README's test command, `npm test`, on the
#    prebuilt (PREBUILDS_ONLY=1), with Debian's python3-torch 2.6 for the parity checks;
# 5. the prebuilt copied out of the root into this checkout's prebuilds/linux-x64/<variant>
#    (ignored by git), so that a CI run leaves a binary for each libtorch it tested.
# npm reaches the registry through the host's CA bundle (copied into the root). Prints each
# phase's time; the last line is mocha's "N passed, N failed[, N skipped]" (or says which phase
# failed before the tests ran). CI is unset for `npm test`, as in scripts/test-torch-wheel.sh:
# no cmake-js binary is built here, and the real SNLI splits stay outside the root.
set -euo pipefail

MODE=test
case "${1:-}" in
  '') ;;
  --bench) MODE=bench ;;
  --prepare) MODE=prepare ;;  # the root alone (.ci/run makes it while another suite runs)
  *) echo "usage: scripts/test-debian-trixie.sh [--bench | --prepare]" >&2; exit 2 ;;
esac
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SNLI_DIR="${SNLI_DIR:-$REPO/../shared/data/snli_1.0}"
PACKAGES=(libtorch-dev python3-torch python3-safetensors python3-numpy nodejs npm libnode-dev g++ make
  cmake ninja-build libgloo-dev libopenblas0-openmp git ca-certificates ccache)
ROOTS=/var/cache/torchbridge/roots
ROOT="$ROOTS/trixie-$(printf '%s\n' "${PACKAGES[@]}" | sort | sha256sum | cut -c1-12)"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
ROOT_CA=/etc/ssl/certs/host-ca-certificates.crt   # inside the root

# shellcheck source=scripts/phases.sh
. "$REPO/scripts/phases.sh"

# Unmounts everything mounted at or below $1, deepest first.
unmount_under() {
  local dir
  dir="$(realpath -m "$1")"
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
}

# Removes a root, never through a mount: whatever is mounted in it is unmounted first, and
# --one-file-system refuses to cross into anything left.
remove_root() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

mount_into() {
  mount -t proc proc "$1/proc"
  mount --bind /dev "$1/dev"
}

CLONE='' BUILDING=''
finish() {
  local rc=$?
  phase_failed
  local summary=''
  if [ -n "$CLONE" ]; then
    [ ! -f "$ROOT$CLONE/test.log" ] || summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$ROOT$CLONE/test.log" | tail -1 || true)"
    rm -rf --one-file-system "${ROOT:?}$CLONE"
  fi
  unmount_under "$ROOT"
  [ -z "$BUILDING" ] || remove_root "$BUILDING"
  phase_times "Debian trixie"
  if [ "$MODE" != test ]; then :
  elif [ -n "$summary" ]; then echo "$summary"
  else echo "Debian trixie suite: no test summary (failed in: ${CURRENT:-?})"; fi
  exit "$rc"
}
trap finish EXIT

# The Debian archive the host's apt sources name (its base suite, not -security or -updates).
host_archive() {
  apt-get indextargets --format '$(REPO_URI) $(LABEL) $(CODENAME)' | awk '$2 == "Debian" && $3 !~ /-/ { print $1; exit }'
}

make_root() {
  if [ -d "$ROOT" ]; then
    echo "reusing $ROOT"
    return
  fi
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  local archive tmp="$ROOT.tmp"
  archive="$(host_archive)"
  [ -n "$archive" ] || { echo "no Debian archive in the host's apt sources (apt-get update first?)" >&2; return 1; }
  BUILDING="$tmp"
  remove_root "$tmp"
  mkdir -p "$ROOTS"
  local log="$ROOTS/trixie-build.log"
  echo "debootstrap trixie from $archive, then ${#PACKAGES[@]} packages (log: $log)"
  {
    debootstrap --variant=minbase --components=main,contrib,non-free trixie "$tmp" "$archive" &&
      cp /etc/resolv.conf "$tmp/etc/resolv.conf" &&
      mount_into "$tmp" &&
      chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      chroot "$tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" &&
      chroot "$tmp" apt-get clean
  } >"$log" 2>&1 || { tail -20 "$log" >&2; return 1; }
  unmount_under "$tmp"
  mv "$tmp" "$ROOT"
  BUILDING=''
}

enter_root() {
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  cp "$HOST_CA" "$ROOT$ROOT_CA"
  mount_into "$ROOT"
}

clone() {
  CLONE="$(mktemp -d "$ROOT/tmp/torchbridge-XXXXXX")"
  CLONE="${CLONE#"$ROOT"}"
  git clone -q "$REPO" "$ROOT$CLONE/torchbridge"
  git -C "$ROOT$CLONE/torchbridge" log -1 --format='HEAD %h %s'
}

# Runs a command in the clone inside the root, with a clean environment. The compilers go
# through ccache (its cache kept in the root), so that the prebuilt's rebuild of what `npm ci`
# just compiled takes seconds: an absolute CC/CXX, because prebuildify puts node's own bin
# directory (/usr/bin) ahead of PATH's ccache directory.
in_root() {
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 npm_config_cafile="$ROOT_CA" NODE_EXTRA_CA_CERTS="$ROOT_CA" npm_config_nodedir=/usr \
    TORCHBRIDGE_PYTHON=/usr/bin/python3 JOBS=max CC=/usr/lib/ccache/gcc CXX=/usr/lib/ccache/g++ CCACHE_MAXSIZE=2G \
    /bin/bash -c "cd '$CLONE/torchbridge' && $1"
}

build() {
  in_root 'node --version && python3 -c "import torch; print(\"python3-torch\", torch.__version__)" && node scripts/find-libtorch.js && npm ci --no-audit --no-fund'
}

prebuild() {
  in_root 'npm run build:prebuilt && PREBUILDS_ONLY=1 node -e "
    const v = require(\"./lib\").version();
    if (!v.binary.file.includes(\"/prebuilds/\")) { console.error(\"PREBUILDS_ONLY loaded \" + v.binary.file + \", not a prebuilt\"); process.exit(1); }
    console.log(\"loaded:\", v.binary.file, \"libtorch\", v.libtorch);"'
}

run_tests() {
  in_root "set -o pipefail; PREBUILDS_ONLY=1 npm test 2>&1 | tee '$CLONE/test.log'"
}

phase "trixie root" make_root
[ "$MODE" != prepare ] || exit 0
phase "mount proc, /dev; CA bundle" enter_root
phase "clone HEAD" clone
# The benchmark, on the node-gyp build: the dev split goes where bench-train.js looks for it
# (../shared/data/snli_1.0 beside the clone), then bench-train.js, whose PyTorch side is Debian's
# python3-torch 2.6.
bench() {
  [ -f "$SNLI_DIR/snli_1.0_dev.txt" ] || { echo "no SNLI dev split in $SNLI_DIR (set SNLI_DIR)" >&2; return 1; }
  mkdir -p "$ROOT$CLONE/shared/data/snli_1.0"
  cp "$SNLI_DIR/snli_1.0_dev.txt" "$ROOT$CLONE/shared/data/snli_1.0/"
  in_root 'nproc && node scripts/bench-train.js'
}

phase "npm ci (node-gyp build)" build
if [ "$MODE" = bench ]; then
  phase "benchmark (scripts/bench-train.js)" bench
  exit 0
fi
phase "prebuilt binary (prebuildify)" prebuild
phase "npm test (on the prebuilt)" run_tests
phase "keep the prebuilt" export_prebuilt "$ROOT$CLONE/torchbridge/prebuilds/linux-x64" "$REPO/prebuilds/linux-x64"
