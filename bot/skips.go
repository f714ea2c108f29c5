package bot

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// Skip is something a pass deliberately left as it is, and why: a field
// it refused to downgrade, or a pull request group it held back. Every
// skip of a pass is in Result.Skips, in the one vocabulary of
// pullrequest.SkipReason; run logs them and --dry-run prints them from
// there.
type Skip struct {
	Reason pullrequest.SkipReason
	// Policies are the policies concerned, sorted.
	Policies []string
	// File and Line locate a refused downgrade; Current is the value in
	// the file, Selected the one its policy selected.
	File     string
	Line     int
	Current  string
	Selected string
	// Group and Branch name a pull request group held back; Number is the
	// pull request concerned, 0 when none is known.
	Group  string
	Branch string
	Number int
	// Message says in one line what was left and why.
	Message string
}

// downgradeSkips are the refused downgrades of a plan (nil: none).
func downgradeSkips(plan *patcher.Plan) []Skip {
	if plan == nil {
		return nil
	}
	var out []Skip
	for _, s := range plan.Skipped {
		if s.Reason != patcher.ReasonDowngrade {
			continue
		}
		out = append(out, Skip{
			Reason: pullrequest.SkipDowngrade, Policies: []string{s.Policy},
			File: s.File, Line: s.Line, Current: s.Current, Selected: s.Selected,
			Message: fmt.Sprintf("%s:%d: policy %s selected %s, which it orders below %s in the file; never downgraded", s.File, s.Line, s.Policy, s.Selected, s.Current),
		})
	}
	return out
}

// pullRequestSkips are the skips among a pass's pull request decisions.
// members gives the policies of groups whose decision names no versions
// (a group held because a registry failed), by branch.
func pullRequestSkips(results []pullrequest.Result, members map[string][]string) []Skip {
	var out []Skip
	for _, r := range results {
		if r.Skip == "" {
			continue
		}
		var policies []string
		for _, v := range r.Versions {
			policies = append(policies, v.Policy)
		}
		if len(policies) == 0 {
			policies = slices.Clone(members[r.Branch])
		}
		slices.Sort(policies)
		out = append(out, Skip{
			Reason: r.Skip, Policies: slices.Compact(policies),
			Group: r.Group, Branch: r.Branch, Number: r.Decision.Number,
			Message: strings.TrimSpace(r.Reason),
		})
	}
	return out
}

// heldResults report the groups planGroups held because a policy of theirs
// did not resolve: a skip each, their pull requests left exactly as they
// are (keptPullRequests names them once the forge was read).
func heldResults(plan prPlan) []pullrequest.Result {
	var out []pullrequest.Result
	for _, b := range slices.Sorted(maps.Keys(plan.Held)) {
		out = append(out, pullrequest.Result{Decision: pullrequest.Decision{
			Group: plan.Held[b], Branch: b, Action: pullrequest.ActionSkip, Skip: pullrequest.SkipRegistryFailed,
			Reason: heldReason(plan.Failed[b], 0),
		}})
	}
	return out
}

func heldReason(failed []string, number int) string {
	kept := "the group's pull request, if any,"
	if number > 0 {
		kept = fmt.Sprintf("its pull request #%d", number)
	}
	return fmt.Sprintf("policy %s did not resolve (its registry failed); %s is left exactly as it is", strings.Join(failed, ", "), kept)
}

// keptPullRequests names, on each held group's result, the bot's open pull
// request it keeps as it is (the newest, when a forge allowed several).
func keptPullRequests(results []pullrequest.Result, own []pullrequest.PullRequest, plan prPlan) {
	for i, r := range results {
		if r.Skip != pullrequest.SkipRegistryFailed {
			continue
		}
		for _, pr := range own {
			if pr.Head == r.Branch && pr.Number > results[i].Number {
				results[i].Decision.Number, results[i].Number, results[i].URL = pr.Number, pr.Number, pr.URL
			}
		}
		results[i].Reason = heldReason(plan.Failed[r.Branch], results[i].Number)
	}
}
