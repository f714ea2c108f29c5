package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/policy"
)

func TestCurrentValues(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		".imagebump.yaml": "policies:\n  - name: web\n    image: ghcr.io/acme/web\n    semver: '>=1.0.0'\n  - name: api\n    image: ghcr.io/acme/api\n    semver: '>=1.0.0'\n",
		"apps/web.yaml":   "kind: Deployment\nimage: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"apps/api.yaml": "images:\n  - newName: ghcr.io/acme/api # {\"$imagepolicy\": \"api:name\"}\n" +
			"    newTag: \"2.0.0\" # {\"$imagepolicy\": \"api:tag\"}\n" +
			"    digest: sha256:" + strings.Repeat("a", 64) + " # {\"$imagepolicy\": \"api:digest\"}\n" +
			"other: x # {\"$imagepolicy\": \"nosuch\"}\n",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pols, err := config.LoadPolicies(root)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := patcher.ReadTree(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{
		{File: "apps/api.yaml", Line: 2, Policy: "api", Field: "name", Value: "ghcr.io/acme/api"},
		{File: "apps/api.yaml", Line: 3, Policy: "api", Field: "tag", Value: "2.0.0"},
		{File: "apps/api.yaml", Line: 4, Policy: "api", Field: "digest", Value: "sha256:" + strings.Repeat("a", 64)},
		{File: "apps/web.yaml", Line: 2, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.4.2"},
	}
	if diff := cmp.Diff(want, currentValues(context.Background(), tree, pols)); diff != "" {
		t.Errorf("current values (-want +got):\n%s", diff)
	}
}

// statusPolicy is a policy named name on image, for hand-built results.
func statusPolicy(t *testing.T, name, image string) *config.Policy {
	t.Helper()
	p, err := policy.New(policy.Spec{Name: name, Image: image, SemVer: ">=1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	return atRoot(p)
}

func TestPolicyState(t *testing.T) {
	web := statusPolicy(t, "web", "ghcr.io/acme/web")
	resolved := Resolution{Policy: web, Tag: "1.5.0"}
	change := &patcher.Plan{Changes: []patcher.Change{{File: "web.yaml", Line: 2, Policy: "web", Field: patcher.FieldRef, Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"}}}
	downgrade := &patcher.Plan{Skipped: []patcher.Skipped{{File: "web.yaml", Line: 2, Policy: "web", Current: "2.0.0", Selected: "1.5.0", Reason: patcher.ReasonDowngrade}}}
	decision := func(a pullrequest.Action, number int, reason string) pullrequest.Decision {
		return pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: a, Number: number, Reason: reason,
			Versions: []pullrequest.Version{{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: "1.5.0"}}}
	}
	pr := func(d pullrequest.Decision, url string, err error) []pullrequest.Result {
		return []pullrequest.Result{{Decision: d, Number: d.Number, URL: url, Err: err}}
	}
	commit := &gitwriter.ChangeSet{Changes: []gitwriter.Change{{File: "web.yaml", Policy: "web"}}}
	type want struct {
		State       State
		Reason, Err string
		PR          *PullRequestLink
		Commit      string
	}
	tests := []struct {
		name string
		res  Result
		want want
	}{
		{"resolution failed", Result{Mode: config.PullRequest, Policies: []Resolution{{Policy: web, Err: errors.New("listing tags of ghcr.io/acme/web: 503")}}},
			want{State: StateFailing, Err: "listing tags of ghcr.io/acme/web: 503"}},
		{"no change", Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{resolved}},
			want{State: StateUpToDate}},
		{"downgrade refused", Result{Mode: config.Push, Plan: downgrade, Policies: []Resolution{resolved}},
			want{State: StateSkipped, Reason: "would downgrade: web.yaml holds 2.0.0, the policy selected 1.5.0"}},
		{"pushed", Result{Mode: config.Push, Plan: change, Commit: commit, Pushed: &gitwriter.PushResult{Commit: "0123456789abcdef", Branch: "main"}, Policies: []Resolution{resolved}},
			want{State: StatePushed, Commit: "0123456789abcdef"}},
		{"push failed", Result{Mode: config.Push, Plan: change, Commit: commit, Err: errors.New("pushing: rejected"), Policies: []Resolution{resolved}},
			want{State: StateFailing, Err: "pushing: rejected"}},
		{"push dry run", Result{Mode: config.Push, DryRun: true, Plan: change, Commit: commit, Policies: []Resolution{resolved}},
			want{State: StatePending, Reason: "dry run: would commit and push"}},
		{"pull request opened", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, 7, "no pull request"), "https://github.com/acme/fleet/pull/7", nil)},
			want{State: StatePROpen, PR: &PullRequestLink{Number: 7, URL: "https://github.com/acme/fleet/pull/7"}}},
		{"pull request current", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, 7, "pull request already carries exactly the wanted change"), "https://github.com/acme/fleet/pull/7", nil)},
			want{State: StatePROpen, PR: &PullRequestLink{Number: 7, URL: "https://github.com/acme/fleet/pull/7"}}},
		{"deferred", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionDefer, 0, "maxOpen 1 reached: 1 pull requests of imagebump are open"), "", nil)},
			want{State: StateDeferred, Reason: "maxOpen 1 reached: 1 pull requests of imagebump are open"}},
		{"closed by a human", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, 5, "pull request #5 with these versions was closed by a human"), "https://github.com/acme/fleet/pull/5", nil)},
			want{State: StateSkipped, Reason: "pull request #5 with these versions was closed by a human", PR: &PullRequestLink{Number: 5, URL: "https://github.com/acme/fleet/pull/5"}}},
		{"foreign commits", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCommentForeign, 7, "branch has commits imagebump did not make; they are never overwritten"), "", nil)},
			want{State: StateSkipped, Reason: "branch has commits imagebump did not make; they are never overwritten", PR: &PullRequestLink{Number: 7}}},
		{"action failed", Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, 0, ""), "", errors.New("opening the pull request: 422"))},
			want{State: StateFailing, Err: "opening the pull request: 422"}},
		{"closed: base has it", Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionClose, 7, "the base branch already has the proposed values"), "", nil)},
			want{State: StateUpToDate}},
		{"pull request dry run", Result{Mode: config.PullRequest, DryRun: true, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, 0, ""), "", nil)},
			want{State: StatePending, Reason: "dry run: would create"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Summarize(tc.res).Policies[0]
			got := want{State: ps.State, Reason: ps.Reason, Err: ps.Error, PR: ps.PullRequest, Commit: ps.Commit}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

// secretResult is a pass whose every text carries credentials in URLs,
// as an error from a careless library might.
func secretResult(t *testing.T) Result {
	t.Helper()
	web := statusPolicy(t, "web", "ghcr.io/acme/web")
	return Result{
		Repository: "https://bot:hunter2@git.example.com/acme/fleet.git",
		Mode:       config.PullRequest,
		Started:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Err:        errors.New("syncing: fetching https://x-access-token:hunter2@git.example.com/acme/fleet.git: 403"),
		Policies:   []Resolution{{Policy: web, Err: errors.New("listing tags of https://robot:hunter2@ghcr.io/v2/acme/web: 401")}},
		Current:    []Value{{File: "web.yaml", Line: 2, Policy: "web", Field: "ref", Value: "ghcr.io/acme/web:1.4.2"}},
		Plan:       &patcher.Plan{Problems: nil},
		PullRequests: []pullrequest.Result{{Decision: pullrequest.Decision{Action: pullrequest.ActionSkip, Number: 3, Reason: "see https://a:hunter2@h/x",
			Versions: []pullrequest.Version{{Policy: "web"}}}, Number: 3, URL: "https://u:hunter2@github.com/acme/fleet/pull/3"}},
		Dashboard: &DashboardResult{Number: 4, URL: "https://u:hunter2@github.com/acme/fleet/issues/4", Action: "unchanged", Error: "https://u:hunter2@x"},
	}
}

func TestStatusHasNoSecret(t *testing.T) {
	b := NewBoard([]string{"https://bot:hunter2@git.example.com/acme/fleet.git"})
	b.Record(secretResult(t), time.Time{})
	b.RecordEvent("distribution", "https://u:hunter2@git.example.com/acme/fleet.git", "ghcr.io/acme/web", "scheduled", time.Unix(0, 0))
	for _, h := range []struct {
		path    string
		handler http.Handler
	}{{"/api/v1/status", b.API()}, {"/", b.Page()}} {
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, h.path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", h.path, rec.Code, body)
		}
		if strings.Contains(body, "hunter2") || strings.Contains(body, "@git.example.com") {
			t.Errorf("GET %s shows a secret:\n%s", h.path, body)
		}
		if !strings.Contains(body, "git.example.com/acme/fleet.git") {
			t.Errorf("GET %s lost the repository:\n%s", h.path, body)
		}
	}
	// The markdown of the dashboard issue too.
	st, _ := b.Repository("https://git.example.com/acme/fleet.git")
	if md := DashboardText(st, "imagebump dashboard"); strings.Contains(md, "hunter2") {
		t.Errorf("dashboard text shows a secret:\n%s", md)
	}
}

func TestStatusAPI(t *testing.T) {
	b := NewBoard([]string{"https://git.example.com/a.git", "https://git.example.com/b.git"})
	res := secretResult(t)
	res.Repository = "https://git.example.com/b.git"
	next := time.Date(2026, 1, 2, 3, 14, 0, 0, time.UTC)
	b.Record(res, next)
	for i := range MaxEvents + 2 {
		b.RecordEvent("github", "", "ghcr.io/acme/web", fmt.Sprint(i), time.Unix(int64(i), 0).UTC())
	}
	srv := httptest.NewServer(b.API())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got Overview
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	if diff := cmp.Diff([]string{"https://git.example.com/a.git", "https://git.example.com/b.git"}, []string{got.Repositories[0].URL, got.Repositories[1].URL}); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	if got.Repositories[0].LastPass != nil {
		t.Errorf("a repository without a pass has a last pass: %+v", got.Repositories[0].LastPass)
	}
	b2 := got.Repositories[1]
	if !b2.NextDue.Equal(next) || b2.LastPass == nil || b2.LastPass.Result != "failed" {
		t.Errorf("repository b: next %v, last pass %+v", b2.NextDue, b2.LastPass)
	}
	if len(got.Events) != MaxEvents || got.Events[0].Result != fmt.Sprint(MaxEvents+1) {
		t.Errorf("events: %d, newest %+v; want %d, newest %d", len(got.Events), got.Events[0], MaxEvents, MaxEvents+1)
	}
}

func TestDashboardTextCut(t *testing.T) {
	st := RepositoryStatus{URL: "https://git.example.com/a.git"}
	for i := range 2000 {
		st.Policies = append(st.Policies, PolicyStatus{Name: fmt.Sprintf("policy-%04d", i), Image: "ghcr.io/acme/some-rather-long-image-name", State: StateUpToDate, Selected: "1.0.0",
			Current: []Value{{File: "apps/some/deployment.yaml", Line: i + 1, Value: "ghcr.io/acme/some-rather-long-image-name:1.0.0"}}})
	}
	got := DashboardText(st, "t")
	if n := len(got); n > MaxDashboardText+len(DashboardMarker)+2 {
		t.Errorf("dashboard text of %d bytes; at most %d allowed", n, MaxDashboardText)
	}
	if !strings.HasSuffix(got, "\n"+DashboardMarker+"\n") || !strings.Contains(got, "the rest is cut") {
		t.Errorf("a cut dashboard lacks its marker or its note:\n%s", got[len(got)-300:])
	}
	if again := DashboardText(st, "t"); again != got {
		t.Error("the same status gave two dashboard texts")
	}
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "| `policy-") && !strings.HasSuffix(l, "|") {
			t.Errorf("a table row was cut: %q", l)
		}
	}
}

// memIssues is an in-memory Issues that records its writes.
type memIssues struct {
	open   []forge.Issue
	writes []string
}

func (m *memIssues) OpenIssues(context.Context) ([]forge.Issue, error) { return m.open, nil }

func (m *memIssues) CreateIssue(_ context.Context, title, body string) (forge.Issue, error) {
	m.writes = append(m.writes, "create")
	return forge.Issue{Number: 99, Title: title, Body: body}, nil
}

func (m *memIssues) EditIssue(_ context.Context, n int, _, _ string, close bool) error {
	m.writes = append(m.writes, fmt.Sprintf("edit #%d close=%v", n, close))
	return nil
}

func TestSyncDashboardRules(t *testing.T) {
	body := "a\nb\n" + DashboardMarker + "\n"
	tests := []struct {
		name    string
		open    []forge.Issue
		enabled bool
		want    []string
	}{
		{"the forge's line endings and trailing space are not a change", []forge.Issue{{Number: 4, Title: "t", Body: "a\r\nb\r\n" + DashboardMarker}}, true, nil},
		{"the oldest of two is the dashboard; the other is left alone", []forge.Issue{{Number: 9, Title: "t", Body: "old " + DashboardMarker}, {Number: 4, Title: "t", Body: "old " + DashboardMarker}}, true, []string{"edit #4 close=false"}},
		{"an issue without the marker is not the dashboard", []forge.Issue{{Number: 4, Title: "t", Body: "a\nb\n"}}, true, []string{"create"}},
		{"turned off: every open dashboard is closed", []forge.Issue{{Number: 9, Body: DashboardMarker}, {Number: 4, Body: DashboardMarker}, {Number: 5, Body: "human"}}, false, []string{"edit #9 close=true", "edit #4 close=true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &memIssues{open: tc.open}
			if _, err := SyncDashboard(context.Background(), m, tc.enabled, "t", body, false); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, m.writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}
