// Package forgefake is what the stateful forge fakes (githubfake,
// gitlabfake) share: branches that are the refs of a real bare
// git repository, pull requests that follow them, a write log for
// zero-churn assertions, injected rate limits and failures, and the human
// side (close, merge, open).
package forgefake
