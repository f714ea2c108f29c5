#!/bin/sh
# Benchmark the patcher on 5,000 generated files (a Deployment and a Service
# each, with comments; every other file marked, 20 policies):
#   - the Go benchmarks (no-op pass, write pass, ScanDir, ReferencesDir, one Apply), then
#   - one no-op pass and one write pass of a small driver, each in a fresh
#     process under /usr/bin/time, for wall time and peak RSS.
# The tree goes to $TMPDIR (default /tmp); timings depend on that file
# system, write passes most (they create one new file per changed file).
#
#   test/bench/patcher.sh [extra go test flags, e.g. -count 5]
set -eu
cd "$(dirname "$0")/../.."
go test -run '^$' -bench '^Benchmark(PatcherNoop|PatcherWrite|PatcherScan|PatcherReferences|Apply)$' -benchmem "$@" ./test/bench/

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/patcherbench" ./test/bench/cmd/patcherbench
"$work/patcherbench" -gen "$work/tree"
run() {
	/usr/bin/time -f '  wall %es, user %Us, sys %Ss, peak RSS %M KB' "$work/patcherbench" -dir "$work/tree" "$@"
}
echo "no-op pass (values current):"
run -version 1
echo "write pass (2,500 files change):"
run -version 2 -write
echo "no-op pass after it:"
run -version 2
