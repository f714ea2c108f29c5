// Package gitwriter keeps a warm, shallow working copy of a git repository
// and writes to it: commits built from data (path → new bytes), optionally
// OpenPGP-signed, pushed without ever forcing a base branch and retried when
// someone else pushed first, and the bot branches pull requests are made
// from. It runs on go-git alone: no git binary is needed.
package gitwriter
