// Package gitlabfake is a stateful fake of the GitLab REST API (v4) for
// one project, for tests: merge requests, notes, labels, reviewers by
// user ID and users by username, with branches that are a real bare git
// repository's refs. It answers 404 and fails the test for any endpoint it
// does not serve, and logs writes for zero-churn assertions.
package gitlabfake
