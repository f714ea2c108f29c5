package config

import (
	"slices"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/problem"
)

// CheckForge reports the pull request settings of pols that forge kind k
// cannot honour (team reviewers on GitLab), each a problem naming the root
// policy file, so they are refused when the policy files are validated
// (run, and validate --forge) rather than dropped or found mid-pass. The
// zero Kind (push mode, no forge) accepts everything.
func CheckForge(k forge.Kind, pols *Policies) problem.List {
	if k.Name == "" || pols == nil {
		return nil
	}
	s := pols.PullRequests
	bad := k.Unsupported(pullrequest.Settings{
		Labels: s.Labels, Reviewers: s.Reviewers, TeamReviewers: s.TeamReviewers, Draft: s.Draft, MaxOpen: s.MaxOpen,
	})
	if len(bad) == 0 {
		return nil
	}
	file := "the root policy file"
	for _, f := range pols.Files {
		if slices.Contains(PolicyFileNames, f) {
			file = f
			break
		}
	}
	var ps problem.List
	for _, b := range bad {
		ps = append(ps, problem.Problem{File: file, Message: "pullRequests." + b})
	}
	return ps
}
