package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// planSummary counts what a plan did with each policy, so that "No
// changes." can be told from "found nothing". Every policy a marker uses
// is in exactly one of Changed, UpToDate, Skipped and Failing.
type planSummary struct {
	// Defined is the number of policies the policy files define.
	Defined int `json:"defined"`
	// Used is the number of them some marker uses: the ones resolved.
	Used int `json:"used"`
	// Resolved is the number of used policies that selected a tag.
	Resolved int `json:"resolved"`
	// Changed have at least one field to change.
	Changed int `json:"changed"`
	// UpToDate have every field at the selected value already.
	UpToDate int `json:"upToDate"`
	// Skipped change nothing and leave at least one field as it is (a
	// refused downgrade); SkippedReasons counts them by reason, keyed by
	// the skip vocabulary's stable identifiers ("refused-downgrade"), the
	// ones run's logs and the status carry, never by words that may be
	// reworded.
	Skipped        int                            `json:"skipped"`
	SkippedReasons map[pullrequest.SkipReason]int `json:"skippedReasons"`
	// Failing could not be resolved (a registry, no matching tag).
	Failing int `json:"failing"`
}

func newPlanSummary(o *bot.Outcome) planSummary {
	s := planSummary{SkippedReasons: map[pullrequest.SkipReason]int{}}
	if o.PolicyFiles != nil {
		s.Defined = len(o.PolicyFiles.Policies)
	}
	changed := map[string]bool{}
	for _, c := range o.Patch.Changes {
		changed[c.Policy] = true
	}
	skipped := map[string][]pullrequest.SkipReason{} // policy → reasons
	for _, sk := range o.Patch.Skipped {
		if r := skipReason(sk.Reason); !slices.Contains(skipped[sk.Policy], r) {
			skipped[sk.Policy] = append(skipped[sk.Policy], r)
		}
	}
	s.Used = len(o.Policies)
	for _, r := range o.Policies {
		name := r.Policy.Name()
		switch {
		case r.Err != nil:
			s.Failing++
			continue
		case changed[name]:
			s.Changed++
		case len(skipped[name]) > 0:
			s.Skipped++
			for _, reason := range skipped[name] {
				s.SkippedReasons[reason]++
			}
		default:
			s.UpToDate++
		}
		s.Resolved++
	}
	return s
}

// skipReason is the skip vocabulary's identifier for a reason patcher
// gives in words. A reason patcher may add later without one here gets
// its words made into an identifier ("would downgrade" →
// "would-downgrade"), so the JSON keys stay free of spaces.
func skipReason(patcherReason string) pullrequest.SkipReason {
	if patcherReason == patcher.ReasonDowngrade {
		return pullrequest.SkipDowngrade
	}
	return pullrequest.SkipReason(strings.ReplaceAll(patcherReason, " ", "-"))
}

// printSummary writes the summary line that ends plan's text report.
func printSummary(out io.Writer, s planSummary) {
	fmt.Fprintln(out)
	switch {
	case s.Defined == 0:
		fmt.Fprintln(out, "Summary: no policy is defined (no policy file, or only empty ones).")
		return
	case s.Used == 0:
		fmt.Fprintf(out, "Summary: no marker uses any of the %d %s defined.\n", s.Defined, plural(s.Defined, "policy", "policies"))
		return
	}
	var parts []string
	if s.Changed > 0 {
		parts = append(parts, fmt.Sprintf("%d changed", s.Changed))
	}
	if s.UpToDate > 0 {
		parts = append(parts, fmt.Sprintf("%d up to date", s.UpToDate))
	}
	if s.Skipped > 0 {
		var reasons []string
		for _, r := range slices.Sorted(maps.Keys(s.SkippedReasons)) {
			reasons = append(reasons, fmt.Sprintf("%s: %d", r.Text(), s.SkippedReasons[r]))
		}
		parts = append(parts, fmt.Sprintf("%d skipped (%s)", s.Skipped, strings.Join(reasons, ", ")))
	}
	line := fmt.Sprintf("Summary: %d %s used by markers (%d defined); %d resolved", s.Used, plural(s.Used, "policy", "policies"), s.Defined, s.Resolved)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	if s.Failing > 0 {
		line += fmt.Sprintf("; %d failing", s.Failing)
	}
	fmt.Fprintln(out, line+".")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
