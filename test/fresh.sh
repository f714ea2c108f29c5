#!/usr/bin/env bash
# The README's test command as a newcomer runs it: make test in a fresh
# clone of this repository's HEAD commit, with an empty HOME, GOCACHE and
# XDG_CACHE_HOME (no Go build cache, no cached Gitea, no git config) and an
# empty Go module cache; only the Go module proxy is needed from the
# network. Reports the wall time. Run it once per change to the test set-up
# (the Makefile, .ci/run, test helpers that need programs or builds): on a
# 2-core machine it takes half an hour, most of it building Gitea and
# compiling with -race.
#
#   test/fresh.sh [--keep-modcache] [--keep] [make targets; default: test]
#
#   --keep-modcache  use the current Go module cache instead of an empty one
#   --keep           keep the scratch directory (clone, caches) afterwards
#
# make targets other than test check the set-up on a small scale, e.g.
# `test/fresh.sh packages`. CI, if set, is passed on. The log is kept in
# /tmp/imagebump-fresh-DATE.log.
set -euo pipefail

keep=false
modcache=
while [ $# -gt 0 ]; do
  case $1 in
    --keep-modcache) modcache=$(go env GOMODCACHE); shift ;;
    --keep) keep=true; shift ;;
    --) shift; break ;;
    -*) echo "fresh.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test)

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "fresh.sh: uncommitted changes in $repo are not in the clone: it tests $commit" >&2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/imagebump-fresh.XXXXXX")
log=/tmp/imagebump-fresh-$(date -u +%Y%m%dT%H%M%SZ).log
cleanup() {
  if $keep; then
    echo "fresh.sh: kept $scratch"
  else
    # The module cache's files and directories are read-only.
    chmod -R u+w "$scratch" 2>/dev/null || true
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT

git clone -q --no-local "$repo" "$scratch/src"
git -C "$scratch/src" checkout -q --detach "$commit"
mkdir "$scratch/home" "$scratch/gocache" "$scratch/cache"
[ -n "$modcache" ] || { modcache=$scratch/gomodcache; mkdir "$modcache"; }

# Only what a newcomer's shell has: PATH, who they are, and where Go
# downloads from (go env -w settings live under the real HOME).
env=(
  PATH="$PATH" USER="${USER:-$(id -un)}" LOGNAME="${LOGNAME:-$(id -un)}" TERM="${TERM:-dumb}"
  HOME="$scratch/home" GOCACHE="$scratch/gocache" XDG_CACHE_HOME="$scratch/cache"
  GOMODCACHE="$modcache" GOTOOLCHAIN=local
)
for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GONOPROXY GOINSECURE; do
  env+=("$v=$(go env "$v")")
done
[ -z "${CI:-}" ] || env+=(CI="$CI")

{
  echo "fresh.sh: make ${targets[*]} in a clone of $commit"
  echo "  clone   $scratch/src"
  echo "  HOME=$scratch/home XDG_CACHE_HOME=$scratch/cache"
  (cd "$scratch/src" && env -i "${env[@]}" go env GOCACHE GOMODCACHE GOPROXY | paste -sd' ' | sed 's/^/  go env  /')
  echo "  log     $log"
} | tee "$log"

start=$(date +%s)
set +e
(cd "$scratch/src" && env -i "${env[@]}" make "${targets[@]}") 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))

{
  echo
  echo "fresh.sh: what the run left in its caches:"
  # Reporting never stops the report: du can fail on a module cache a
  # run left half-written.
  { du -sh "$scratch/gocache" "$scratch/cache" "$scratch/home" 2>/dev/null || true; } | sed 's/^/  /'
  if [ "$modcache" = "$scratch/gomodcache" ]; then
    { du -sh "$modcache" 2>/dev/null || true; } | sed 's/^/  /'
  fi
  result=passed
  [ "$status" = 0 ] || result="FAILED (exit $status)"
  printf 'fresh.sh: make %s on a fresh clone with empty caches %s in %dm%02ds wall time (%s, %s cores, load %s)\n' \
    "${targets[*]}" "$result" $((secs / 60)) $((secs % 60)) "$commit" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
} | tee -a "$log"
exit "$status"
