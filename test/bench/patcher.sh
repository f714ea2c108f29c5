#!/bin/sh
# Benchmark the patcher on 5,000 generated files (a Deployment and a Service
# each, with comments; every other file marked, 20 policies):
#   - the Go benchmarks (no-op pass, write pass, ScanDir, ReferencesDir, one
#     Apply), unless PATCHER_GO_BENCH=0, then
#   - ROUNDS (default 3) rounds of fresh processes under /usr/bin/time, each
#     round in one go so the figures share the machine's load:
#       cat      every YAML file of the tree to /dev/null (the read floor)
#       no-op    imagebump's pass, values current
#       write    imagebump's pass, 2,500 files change (plan and write)
#       floor    every marked file replaced atomically, unchanged, without
#                planning, recycling inodes as imagebump does (the write
#                floor of a crash-safe writer)
#       create   the same with a new inode for every file, as most
#                crash-safe writers do
#     with wall, user and sys time, peak RSS and the 1-minute load average
#     beside each, and each wall and CPU time as a multiple of cat's.
# The tree goes to $TMPDIR (default /tmp); timings depend on that file
# system, write passes most (they create one new file per changed file).
# On a loaded machine wall times swing; CPU time (user+sys) is steadier.
#
#   test/bench/patcher.sh [extra go test flags, e.g. -count 5]
set -eu
cd "$(dirname "$0")/../.."
if [ "${PATCHER_GO_BENCH:-1}" != 0 ]; then
	go test -run '^$' -bench '^Benchmark(PatcherNoop|PatcherWrite|PatcherScan|PatcherReferences|Apply)$' -benchmem "$@" ./test/bench/
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/patcherbench" ./test/bench/cmd/patcherbench
"$work/patcherbench" -gen "$work/tree"
# Each round starts from a tree at rest on disk, as a checkout is, not
# from one still being written back.
sync
files=$(find "$work/tree" -type f | wc -l)
bytes=$(find "$work/tree" -type f -name '*.yaml' -exec cat {} + | wc -c)
echo "tree: $files files, $bytes bytes; $(nproc) CPUs"

# measure NAME CMD...: one line "NAME wall user sys rss load".
measure() {
	name=$1
	shift
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -o "$work/t" -f '%e %U %S %M' "$@" >/dev/null
	echo "$name $(cat "$work/t") $load"
}
catTree() {
	find "$work/tree" -type f -name '*.yaml' -exec cat {} + >/dev/null
}

printf '%-6s %-7s %7s %7s %7s %9s %6s %9s %9s\n' round pass wall user sys 'rss KB' load 'wall/cat' 'cpu/cat'
for round in $(seq "${ROUNDS:-3}"); do
	{
		measure cat sh -c "find '$work/tree' -type f -name '*.yaml' -exec cat {} + >/dev/null"
		measure no-op "$work/patcherbench" -dir "$work/tree" -version 1
		measure write "$work/patcherbench" -dir "$work/tree" -version 2 -write
		measure floor "$work/patcherbench" -dir "$work/tree" -floor
		measure create "$work/patcherbench" -dir "$work/tree" -floor-create
		# Back to version 1 for the next round, not measured.
		"$work/patcherbench" -dir "$work/tree" -version 1 -write >/dev/null
		sync
	} >"$work/round"
	awk -v round="$round" '
		$1 == "cat" { cw = $2; cc = $3 + $4; if (cc < 0.01) cc = 0.01 }
		{ printf "%-6s %-7s %7.2f %7.2f %7.2f %9d %6s %9.1f %9.1f\n", round, $1, $2, $3, $4, $5, $6, $2 / cw, ($3 + $4) / cc }
	' "$work/round"
done
