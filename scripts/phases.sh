# Phase timing for the suite scripts (sourced by scripts/test-torch-wheel.sh and
# scripts/test-debian-trixie.sh):
#   phase NAME COMMAND...   runs COMMAND (errexit stays on inside it) and records its time;
#   phase_failed            in an EXIT trap: records the phase that was running as FAILED;
#   phase_times TITLE       prints every recorded phase with its time.
# CURRENT names the running phase ('' between phases).
TIMES=() CURRENT='' STARTED=0

phase() {
  CURRENT="$1" STARTED=$SECONDS
  shift
  echo "== $CURRENT"
  "$@"
  TIMES+=("$(printf '%-40s %5ss' "$CURRENT" $((SECONDS - STARTED)))")
  CURRENT=''
}

phase_failed() {
  [ -z "$CURRENT" ] || TIMES+=("$(printf '%-40s %5ss  FAILED' "$CURRENT" $((SECONDS - STARTED)))")
}

phase_times() {
  echo "== phase times ($1)"
  printf '  %s\n' "${TIMES[@]}"
}

# export_prebuilt FROM TO: copies the prebuilt variants under FROM (prebuilds/linux-x64 of a
# clone) into TO, each through a temporary directory renamed into place, so that TO never holds
# a half-copied variant. The suite's clone is removed on exit; the binary it made stays.
export_prebuilt() {
  local from="$1" to="$2" variant name
  mkdir -p "$to"
  for variant in "$from"/*/; do
    [ -f "$variant/torchbridge.node" ] || continue
    name="$(basename "$variant")"
    rm -rf "$to/.$name.tmp"
    cp -r "$variant" "$to/.$name.tmp"
    rm -rf "$to/$name"
    mv "$to/.$name.tmp" "$to/$name"
    echo "prebuilt kept: $to/$name"
  done
}
