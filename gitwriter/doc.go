// Package gitwriter keeps a warm, shallow working copy of a git repository
// and writes to it: commits built from data (path → new bytes), optionally
// OpenPGP-signed, pushed without ever forcing a base branch and retried when
// someone else pushed first, and the bot branches pull requests are made
// from. It runs on go-git alone: no git binary is needed.
//
// Its context-aware sleep (push retries) repeats those of registry,
// gitwriter/pullrequest and gitwriter/forge/rest on purpose: gitwriter
// imports no other package of the module (test/depcheck_test.go).
package gitwriter
