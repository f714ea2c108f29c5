// Package githubfake is a stateful fake of the part of the GitHub REST API
// imagebump uses, for tests with the real go-github client. Its branches
// are the refs of a real bare git repository, so pull requests follow what
// is pushed there; every write is recorded, and unknown endpoints fail the
// test.
package githubfake
