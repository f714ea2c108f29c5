#!/bin/sh
# Benchmark gitwriter against git http-backend on 127.0.0.1, on a repository
# of 5,000 generated manifests (2 MB+ of YAML) with 200 commits of history:
#   - a fresh shallow clone (the first pass),
#   - a warm sync of an unchanged remote (every later pass),
#   - a sync after someone pushed one commit,
#   - a one-file commit and push,
#   - reading a bot branch's state (pull-request mode, per group).
# Reports ns/op and what the server sent (bytes-received/op counts the ref
# advertisement and packs; pack-bytes/op only packs).
#
#   test/bench/git.sh [extra go test flags, e.g. -count 5]
set -eu
cd "$(dirname "$0")/../.."
exec go test -run '^$' -bench '^BenchmarkGit(Clone|WarmSync|SyncMoved|CommitPush|BranchState)$' -benchtime 10x "$@" ./test/bench/
