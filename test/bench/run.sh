#!/bin/sh
# Benchmark `imagebump run --once` over 20 repositories of 500 files (5
# marked policies each, over 5 shared images) against Debian's
# docker-registry and git http-backend on 127.0.0.1: a cold pass (empty
# workDir) and a warm one. Reports wall time per pass, tag listings, git
# pack bytes received, pushes and peak RSS.
#
#   test/bench/run.sh [extra go test flags, e.g. -count 3]
set -eu
cd "$(dirname "$0")/../.."
exec go test -run '^$' -bench '^BenchmarkRunOnce$' -benchtime 3x -timeout 30m "$@" ./test/bench/
