// Package pullrequest keeps one pull request per group of image updates up to
// date: it decides, as data and without I/O, whether each group's pull
// request is created, updated in place, closed, commented on or left alone,
// and then applies those decisions through a small Forge interface and a
// Branches interface the git side implements.
//
// It knows nothing of the bot's configuration, of git working copies or of a
// particular forge; GitHub, GitLab and Gitea are implementations of Forge.
//
// Its context-aware sleep repeats gitwriter/forge/rest's on purpose: the
// lifecycle imports only the standard library (test/depcheck_test.go), and
// rest links net/http for the clients.
package pullrequest
