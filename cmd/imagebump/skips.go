package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/imagebump/imagebump/bot"
)

// logSkips logs one line per skip of a pass, its reason in the skip
// vocabulary (pullrequest.SkipReason), so run's logs show every skip the
// status page and --dry-run show; then one warning per pull request
// warning (reviewers the forge did not take), which, like a skip, leaves
// the pass's outcome as it is.
func logSkips(log *slog.Logger, res bot.Result) {
	defer logWarnings(log, res)
	for _, s := range res.Skips {
		attrs := []any{"repository", res.Repository, "reason", string(s.Reason), "policies", strings.Join(s.Policies, " ")}
		if s.Branch != "" {
			attrs = append(attrs, "group", s.Group, "branch", s.Branch)
		}
		if s.Number > 0 {
			attrs = append(attrs, "number", s.Number)
		}
		if s.File != "" {
			attrs = append(attrs, "file", s.File, "line", s.Line, "current", s.Current, "selected", s.Selected)
		}
		log.Info("skipped", append(attrs, "message", s.Message)...)
	}
}

// logWarnings logs each pull request warning of a pass.
func logWarnings(log *slog.Logger, res bot.Result) {
	for _, pr := range res.PullRequests {
		for _, w := range pr.Warnings {
			log.Warn("pull request warning", "repository", res.Repository, "group", pr.Group, "branch", pr.Branch, "number", pr.Number, "message", bot.OneLine(errors.New(w)))
		}
	}
}

// printFieldSkips prints a dry run's skips that concern fields rather than
// a pull request group (refused downgrades), in both modes; the groups'
// skips are printed with their decisions (skipLabel).
func printFieldSkips(out io.Writer, res bot.Result) {
	for _, s := range res.Skips {
		if s.Branch == "" {
			fmt.Fprintf(out, "  skipped [%s] %s\n", s.Reason, s.Message)
		}
	}
}

// skipLabel is " [reason]" for a decision that holds its group back, ""
// for any other.
func skipLabel(reason string) string {
	if reason == "" {
		return ""
	}
	return " [" + reason + "]"
}
