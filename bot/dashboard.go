package bot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// Issues is what the dashboard needs of a forge: its open issues, and
// writing one. The GitHub, GitLab and Gitea clients are Issues.
type Issues interface {
	// OpenIssues lists the repository's open issues (never pull
	// requests), bodies included.
	OpenIssues(ctx context.Context) ([]forge.Issue, error)
	// CreateIssue opens an issue.
	CreateIssue(ctx context.Context, title, body string) (forge.Issue, error)
	// EditIssue replaces an issue's title and body, and closes it when
	// close is set.
	EditIssue(ctx context.Context, number int, title, body string, close bool) error
}

// DashboardResult is what a pass did with the repository's dashboard
// issue.
type DashboardResult struct {
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Action is "created", "updated", "unchanged", "closed" or "none".
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}

// DashboardMarker is the hidden line by which the bot finds its dashboard
// issue again.
const DashboardMarker = "<!-- imagebump:dashboard -->"

// The actions of DashboardResult.
const (
	DashboardCreated   = "created"
	DashboardUpdated   = "updated"
	DashboardUnchanged = "unchanged"
	DashboardClosed    = "closed"
	DashboardNone      = "none"
)

// dashboard is the last step of a pass: with the dashboard on, the
// repository's dashboard issue is opened, or edited when its text
// differs (nothing is written when it is equal); with it off, an open one
// is closed. A repository without a forge has no dashboard. pf is the
// pass's forge client, the one its pull requests were written with, so
// the client's write spacing holds across both.
func (r *Runner) dashboard(ctx context.Context, repo config.Repository, d config.Dashboard, res *Result, log *slog.Logger, pf *passForge) {
	if repo.Forge.New == nil && r.Forge == nil {
		if d.Enabled {
			res.Dashboard = &DashboardResult{Action: DashboardNone, Error: "dashboard: the repository names no forge to hold the issue"}
		}
		return
	}
	f, err := pf.get()
	if err != nil {
		if d.Enabled {
			res.Dashboard = &DashboardResult{Action: DashboardNone, Error: fmt.Sprintf("dashboard: %v", err)}
		}
		return
	}
	is, ok := f.(Issues)
	if !ok {
		if d.Enabled {
			res.Dashboard = &DashboardResult{Action: DashboardNone, Error: "dashboard: the forge client has no issues"}
		}
		return
	}
	var body string
	if d.Enabled {
		body = DashboardText(Summarize(withFieldSkips(*res)), d.Title)
	}
	out, err := SyncDashboard(ctx, is, d.Enabled, d.Title, body, r.DryRun)
	if err != nil && !d.Enabled && out.Action == DashboardNone {
		// Looking for a dashboard to close failed: a repository that never
		// had one does not fail for it; the next pass looks again.
		log.Debug("looking for a dashboard issue to close", "err", err)
		return
	}
	if err != nil {
		out.Error = err.Error()
		log.Warn("dashboard issue", "err", err)
	} else if out.Action != DashboardUnchanged && out.Action != DashboardNone {
		log.Info("dashboard issue", "action", out.Action, "number", out.Number, "dryRun", r.DryRun)
	}
	if d.Enabled || out.Action != DashboardNone || out.Error != "" {
		res.Dashboard = &out
	}
}

// withFieldSkips is res with its refused downgrades among its Skips, as
// the pass reports it: Runner.pass adds them as it returns, after the
// dashboard is written.
func withFieldSkips(res Result) Result {
	if !slices.ContainsFunc(res.Skips, func(s Skip) bool { return s.Reason == pullrequest.SkipDowngrade }) {
		res.Skips = append(downgradeSkips(res.Plan), res.Skips...)
	}
	return res
}

// SyncDashboard brings the dashboard issue in line: found by
// DashboardMarker among the open issues, created when missing, edited only
// when its title or text differ from title and body, closed when the
// dashboard is off. A dry run writes nothing and says what it would do.
func SyncDashboard(ctx context.Context, is Issues, enabled bool, title, body string, dryRun bool) (DashboardResult, error) {
	issues, err := is.OpenIssues(ctx)
	if err != nil {
		return DashboardResult{Action: DashboardNone}, fmt.Errorf("dashboard: %w", err)
	}
	var mine []forge.Issue
	for _, i := range issues {
		if strings.Contains(i.Body, DashboardMarker) {
			mine = append(mine, i)
		}
	}
	if !enabled {
		out := DashboardResult{Action: DashboardNone}
		for _, i := range mine {
			out = DashboardResult{Number: i.Number, URL: i.URL, Action: DashboardClosed}
			if dryRun {
				continue
			}
			if err := is.EditIssue(ctx, i.Number, i.Title, i.Body, true); err != nil {
				return out, fmt.Errorf("dashboard: closing: %w", err)
			}
		}
		return out, nil
	}
	if len(mine) == 0 {
		if dryRun {
			return DashboardResult{Action: DashboardCreated}, nil
		}
		i, err := is.CreateIssue(ctx, title, body)
		if err != nil {
			return DashboardResult{Action: DashboardNone}, fmt.Errorf("dashboard: %w", err)
		}
		return DashboardResult{Number: i.Number, URL: i.URL, Action: DashboardCreated}, nil
	}
	// The oldest is the dashboard; a second one (two bots, a race) is left
	// alone rather than closed behind a human's back.
	cur := mine[0]
	for _, i := range mine[1:] {
		if i.Number < cur.Number {
			cur = i
		}
	}
	out := DashboardResult{Number: cur.Number, URL: cur.URL, Action: DashboardUnchanged}
	if normalize(cur.Title) == normalize(title) && normalize(cur.Body) == normalize(body) {
		return out, nil
	}
	out.Action = DashboardUpdated
	if dryRun {
		return out, nil
	}
	if err := is.EditIssue(ctx, cur.Number, title, body, false); err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	return out, nil
}

// normalize is text as forges give it back: line endings and the
// whitespace around it are theirs.
func normalize(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// DashboardText is the dashboard issue's markdown for a repository's
// status: its policies, their values, selection and state, and its
// problems. What changes on every pass (times, durations, events) is left
// out, so the text changes only when the state does.
func DashboardText(st RepositoryStatus, title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This issue lists what imagebump makes of the image policies of this repository. imagebump keeps it up to date; to turn it off, set `dashboard.enabled: false` in the root `.imagebump.yaml`.\n\n")
	if p := st.LastPass; p != nil && p.Error != "" {
		fmt.Fprintf(&b, "> [!WARNING]\n> The last pass failed: %s\n\n", cell(p.Error))
	}
	if len(st.Policies) == 0 {
		b.WriteString("No marker uses a policy.\n")
	} else {
		b.WriteString("| Policy | Image | In the manifests | Selected | State |\n|---|---|---|---|---|\n")
		for _, p := range st.Policies {
			var vals []string
			for _, v := range p.Current {
				vals = append(vals, fmt.Sprintf("%s (%s:%d)", code(v.Value), cell(v.File), v.Line))
			}
			if len(vals) == 0 {
				vals = []string{"none"}
			}
			sel := "none"
			if p.Selected != "" {
				sel = code(p.Selected)
			}
			state := string(p.State)
			if pr := p.PullRequest; pr != nil && pr.URL != "" {
				// A link: GitLab reads a bare #N as an issue, not a merge
				// request.
				state += fmt.Sprintf(" [#%d](%s)", pr.Number, strings.ReplaceAll(pr.URL, ")", "%29"))
			} else if pr != nil {
				state += fmt.Sprintf(" #%d", pr.Number)
			}
			if p.Commit != "" {
				state += " " + code(p.Commit)
			}
			if w := p.SkipText(); w != "" {
				state += ": **" + cell(w) + "**"
			}
			if p.Reason != "" {
				state += ": " + cell(p.Reason)
			}
			if p.Error != "" {
				state += ": " + cell(p.Error)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(p.Name), code(p.Image), strings.Join(vals, "<br>"), sel, state)
		}
	}
	if len(st.Problems) > 0 {
		b.WriteString("\n### Problems\n\n")
		for _, p := range st.Problems {
			loc := p.File
			if p.Line > 0 {
				loc = fmt.Sprintf("%s:%d", p.File, p.Line)
			}
			fmt.Fprintf(&b, "- %s %s\n", code(loc), cell(p.Message))
		}
	}
	text := b.String()
	if len(text) > MaxDashboardText {
		// Cut at a line, so a table row is whole or absent; the same
		// status is cut the same way on every pass.
		i := strings.LastIndexByte(text[:MaxDashboardText-len(dashboardCut)], '\n')
		text = text[:i+1] + dashboardCut
	}
	return text + "\n" + DashboardMarker + "\n"
}

// MaxDashboardText is the longest dashboard text, in bytes, marker aside:
// below GitHub's 65,536-character limit on issue bodies, so the forge
// never cuts it (a cut text would differ from the wanted one on every
// pass).
const MaxDashboardText = 60000

const dashboardCut = "\n… the rest is cut to fit the issue: the status page (`GET /`) lists every policy.\n"

// cell is text safe in a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "<", "&lt;")
}

// code is s as inline code in a table cell.
func code(s string) string {
	return "`" + strings.ReplaceAll(cell(s), "`", "'") + "`"
}
