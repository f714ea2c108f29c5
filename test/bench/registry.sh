#!/bin/sh
# Benchmark listing one repository of 5,000 tags: against the real
# registry (Debian's docker-registry on 127.0.0.1) and go-containerregistry's
# in-process registry, with and without Link-header pagination.
# Reports ns/op, allocations and requests per op by kind.
#
#   test/bench/registry.sh [extra go test flags, e.g. -count 5]
set -eu
cd "$(dirname "$0")/../.."
exec go test -run '^$' -bench '^BenchmarkTags$' -benchmem -benchtime 50x "$@" ./registry/
