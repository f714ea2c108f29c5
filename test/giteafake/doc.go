// Package giteafake is a stateful fake of the Gitea (and Forgejo) REST API
// for one repository, for tests: pull requests, comments, labels by ID and
// review requests, with branches that are a real bare git repository's
// refs. It answers 404 and fails the test for any endpoint it does not
// serve, and logs writes for zero-churn assertions.
package giteafake
