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
	"slices"
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
	"github.com/imagebump/imagebump/test/gitserver"
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
	if diff := cmp.Diff(want, currentValues(tree, pols)); diff != "" {
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

// reported is res with its Skips as a pass reports them: its refused
// downgrades and the skips among its pull request decisions (members: the
// policies of each group, by branch, as planGroups gives them).
func reported(res Result, members map[string][]string) Result {
	res.Skips = append(downgradeSkips(res.Plan), pullRequestSkips(res.PullRequests, members)...)
	return res
}

// reworded is res with every text a reason or skip carries replaced by
// other words: the state must not depend on them.
func reworded(res Result) Result {
	res.PullRequests = slices.Clone(res.PullRequests)
	for i := range res.PullRequests {
		if res.PullRequests[i].Reason != "" {
			res.PullRequests[i].Reason = fmt.Sprintf("reworded decision %d", i)
		}
	}
	res.Skips = slices.Clone(res.Skips)
	for i := range res.Skips {
		res.Skips[i].Message = fmt.Sprintf("reworded skip %d", i)
	}
	if res.Plan != nil {
		plan := *res.Plan
		plan.Skipped = slices.Clone(plan.Skipped)
		for i := range plan.Skipped {
			plan.Skipped[i].Reason = "reworded"
		}
		res.Plan = &plan
	}
	return res
}

// stateRow is what the status says of one policy.
type stateRow struct {
	State       State
	Skip        pullrequest.SkipReason
	Reason, Err string
	PR          *PullRequestLink
	Commit      string
}

// TestPolicyState maps every outcome of a pass to the policy's state, in
// both modes: each state of the status and each reason of the skip
// vocabulary, from the pass's data (the decisions, their Skip, the pull
// request state they name, Result.Skips). Every row is run a second time
// with each reason's words replaced: only the words shown may change, so
// no state comes from reading them.
func TestPolicyState(t *testing.T) {
	web, api := statusPolicy(t, "web", "ghcr.io/acme/web"), statusPolicy(t, "api", "ghcr.io/acme/api")
	resolved := Resolution{Policy: web, Tag: "1.5.0"}
	apiFailed := Resolution{Policy: api, Err: errors.New("listing tags of ghcr.io/acme/api: 503 Service Unavailable")}
	change := &patcher.Plan{Changes: []patcher.Change{{File: "web.yaml", Line: 2, Policy: "web", Field: patcher.FieldRef, Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"}}}
	downgrade := &patcher.Plan{Skipped: []patcher.Skipped{{File: "web.yaml", Line: 2, Policy: "web", Current: "2.0.0", Selected: "1.5.0", Reason: patcher.ReasonDowngrade}}}
	const downgradeWords = "web.yaml:2: policy web selected 1.5.0, which it orders below 2.0.0 in the file; never downgraded"
	decision := func(a pullrequest.Action, skip pullrequest.SkipReason, number int, state pullrequest.State, reason string) pullrequest.Decision {
		return pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: a, Skip: skip, Number: number, State: state, Reason: reason,
			Versions: []pullrequest.Version{{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: "1.5.0"}}}
	}
	pr := func(d pullrequest.Decision, url string, err error) []pullrequest.Result {
		return []pullrequest.Result{{Decision: d, Number: d.Number, URL: url, Err: err}}
	}
	const pr7 = "https://github.com/acme/fleet/pull/7"
	link7 := &PullRequestLink{Number: 7, URL: pr7}
	commit := &gitwriter.ChangeSet{Changes: []gitwriter.Change{{File: "web.yaml", Policy: "web"}}}

	// A group of web and api held because api's registry failed: its open
	// pull request #7 is kept, as the pass reports it.
	plan := prPlan{Held: map[string]string{"imagebump/backend": "backend"}, Failed: map[string][]string{"imagebump/backend": {"api"}}}
	held := heldResults(plan)
	keptPullRequests(held, []pullrequest.PullRequest{{Number: 7, State: pullrequest.StateOpen, Head: "imagebump/backend", URL: pr7}}, plan)
	const heldWords = "policy api did not resolve (its registry failed); its pull request #7 is left exactly as it is"
	backend := map[string][]string{"imagebump/backend": {"api", "web"}}

	tests := []struct {
		name    string
		res     Result
		members map[string][]string
		policy  string // "" means web
		want    stateRow
	}{
		{name: "resolution failed", res: Result{Mode: config.PullRequest, Policies: []Resolution{{Policy: web, Err: errors.New("listing tags of ghcr.io/acme/web: 503")}}},
			want: stateRow{State: StateFailing, Err: "listing tags of ghcr.io/acme/web: 503"}},
		{name: "no change", res: Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{resolved}},
			want: stateRow{State: StateUpToDate}},
		{name: "push: downgrade refused", res: Result{Mode: config.Push, Plan: downgrade, Policies: []Resolution{resolved}},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipDowngrade, Reason: downgradeWords}},
		{name: "pull request mode: downgrade refused", res: Result{Mode: config.PullRequest, Plan: downgrade, Policies: []Resolution{resolved},
			PullRequests: []pullrequest.Result{{Decision: pullrequest.Decision{Group: "web", Branch: "imagebump/web", Action: pullrequest.ActionSkip, Reason: "the base branch already has the values; no pull request is open"}}}},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipDowngrade, Reason: downgradeWords}},
		{name: "pushed", res: Result{Mode: config.Push, Plan: change, Commit: commit, Pushed: &gitwriter.PushResult{Commit: "0123456789abcdef", Branch: "main"}, Policies: []Resolution{resolved}},
			want: stateRow{State: StatePushed, Commit: "0123456789abcdef"}},
		{name: "push failed", res: Result{Mode: config.Push, Plan: change, Commit: commit, Err: errors.New("pushing: rejected"), Policies: []Resolution{resolved}},
			want: stateRow{State: StateFailing, Err: "pushing: rejected"}},
		{name: "push dry run", res: Result{Mode: config.Push, DryRun: true, Plan: change, Commit: commit, Policies: []Resolution{resolved}},
			want: stateRow{State: StatePending, Reason: "dry run: would commit and push"}},
		{name: "pull request opened", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, "", 7, pullrequest.StateOpen, "no open pull request proposes ghcr.io/acme/web 1.5.0"), pr7, nil)},
			want: stateRow{State: StatePROpen, PR: link7}},
		{name: "open pull request already carries the change", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, "", 7, pullrequest.StateOpen, "pull request already carries exactly the wanted change"), pr7, nil)},
			want: stateRow{State: StatePROpen, PR: link7}},
		{name: "merged pull request the base does not show yet", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, "", 7, pullrequest.StateMerged, "pull request #7 with these versions was merged; waiting for the base branch to show it"), pr7, nil)},
			want: stateRow{State: StatePending, Reason: "pull request #7 with these versions was merged; waiting for the base branch to show it", PR: link7}},
		{name: "deferred by maxOpen", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionDefer, pullrequest.SkipMaxOpen, 0, "", "maxOpen 1 reached: 1 pull requests of imagebump are open"), "", nil)},
			want: stateRow{State: StateDeferred, Skip: pullrequest.SkipMaxOpen, Reason: "maxOpen 1 reached: 1 pull requests of imagebump are open"}},
		{name: "closed by a human", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, pullrequest.SkipDeclined, 5, pullrequest.StateClosed, "pull request #5 proposing these versions was closed without merging; they are not proposed again"), "https://github.com/acme/fleet/pull/5", nil)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipDeclined, Reason: "pull request #5 proposing these versions was closed without merging; they are not proposed again", PR: &PullRequestLink{Number: 5, URL: "https://github.com/acme/fleet/pull/5"}}},
		{name: "foreign commits: commenting", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCommentForeign, pullrequest.SkipForeignCommits, 7, pullrequest.StateOpen, "branch has commits imagebump did not make; they are never overwritten"), pr7, nil)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipForeignCommits, Reason: "branch has commits imagebump did not make; they are never overwritten", PR: link7}},
		{name: "foreign commits: already commented", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, pullrequest.SkipForeignCommits, 7, pullrequest.StateOpen, "branch has commits imagebump did not make; already commented, waiting until they are gone"), pr7, nil)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipForeignCommits, Reason: "branch has commits imagebump did not make; already commented, waiting until they are gone", PR: link7}},
		{name: "foreign pull request on the branch", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, pullrequest.SkipForeignPullRequest, 9, pullrequest.StateOpen, "open pull request #9 on branch imagebump/web was not opened by imagebump"), "https://github.com/acme/fleet/pull/9", nil)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipForeignPullRequest, Reason: "open pull request #9 on branch imagebump/web was not opened by imagebump", PR: &PullRequestLink{Number: 9, URL: "https://github.com/acme/fleet/pull/9"}}},
		{name: "registry failed: another policy of the held group", members: backend,
			res:  Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{apiFailed, resolved}, PullRequests: held},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipRegistryFailed, Reason: heldWords, PR: link7}},
		{name: "registry failed: the failing policy of the held group", members: backend, policy: "api",
			res:  Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{apiFailed, resolved}, PullRequests: held},
			want: stateRow{State: StateFailing, Skip: pullrequest.SkipRegistryFailed, Reason: heldWords, Err: "listing tags of ghcr.io/acme/api: 503 Service Unavailable", PR: link7}},
		{name: "registry failed: the group's former pull request is closed as obsolete", members: backend,
			res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{apiFailed, resolved},
				PullRequests: append(pr(decision(pullrequest.ActionClose, "", 3, pullrequest.StateOpen, "the grouping changed"), "https://github.com/acme/fleet/pull/3", nil), held...)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipRegistryFailed, Reason: heldWords, PR: link7}},
		{name: "registry failed: the failing policy of a held group without a pull request", members: backend, policy: "api",
			res:  Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{apiFailed, resolved}, PullRequests: heldResults(plan)},
			want: stateRow{State: StateFailing, Err: "listing tags of ghcr.io/acme/api: 503 Service Unavailable"}},
		{name: "registry failed: a held group without a pull request", members: backend,
			res:  Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{apiFailed, resolved}, PullRequests: heldResults(plan)},
			want: stateRow{State: StateSkipped, Skip: pullrequest.SkipRegistryFailed, Reason: "policy api did not resolve (its registry failed); the group's pull request, if any, is left exactly as it is"}},
		{name: "pull request action failed", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, "", 0, "", "no open pull request proposes ghcr.io/acme/web 1.5.0"), "", errors.New("opening the pull request: 422"))},
			want: stateRow{State: StateFailing, Err: "opening the pull request: 422"}},
		{name: "reading the group's pull requests failed", res: Result{Mode: config.PullRequest, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionSkip, "", 0, "", "reading its pull requests failed"), "", errors.New("listing pull requests: 502"))},
			want: stateRow{State: StateFailing, Err: "listing pull requests: 502"}},
		{name: "closed: the base has it", res: Result{Mode: config.PullRequest, Plan: &patcher.Plan{}, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionClose, "", 7, pullrequest.StateOpen, "the base branch already has the proposed values"), pr7, nil)},
			want: stateRow{State: StateUpToDate}},
		{name: "pull request dry run", res: Result{Mode: config.PullRequest, DryRun: true, Plan: change, Policies: []Resolution{resolved},
			PullRequests: pr(decision(pullrequest.ActionCreate, "", 0, "", "no open pull request proposes ghcr.io/acme/web 1.5.0"), "", nil)},
			want: stateRow{State: StatePending, Reason: "dry run: would create"}},
	}
	row := func(res Result, name string) stateRow {
		t.Helper()
		st := Summarize(res)
		i := slices.IndexFunc(st.Policies, func(p PolicyStatus) bool { return p.Name == name })
		if i < 0 {
			t.Fatalf("no policy %s in %+v", name, st.Policies)
		}
		ps := st.Policies[i]
		return stateRow{State: ps.State, Skip: ps.Skip, Reason: ps.Reason, Err: ps.Error, PR: ps.PullRequest, Commit: ps.Commit}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.policy
			if name == "" {
				name = "web"
			}
			res := reported(tc.res, tc.members)
			if diff := cmp.Diff(tc.want, row(res, name)); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			// The same pass in other words.
			got := row(reworded(res), name)
			if (got.Reason == "") != (tc.want.Reason == "") {
				t.Errorf("reworded: reason %q; want one exactly when the original has one (%q)", got.Reason, tc.want.Reason)
			}
			want := tc.want
			want.Reason = got.Reason
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("with the reasons reworded, the state changed (-want +got):\n%s", diff)
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

// TestStatusAPISkip reads a refused downgrade from the JSON as a client
// would: the vocabulary's identifier under "skip", the words under
// "reason".
func TestStatusAPISkip(t *testing.T) {
	web := statusPolicy(t, "web", "ghcr.io/acme/web")
	b := NewBoard(nil)
	b.Record(reported(Result{Repository: "https://git.example.com/a.git", Mode: config.Push, Policies: []Resolution{{Policy: web, Tag: "1.5.0"}},
		Plan: &patcher.Plan{Skipped: []patcher.Skipped{{File: "web.yaml", Line: 2, Policy: "web", Current: "2.0.0", Selected: "1.5.0", Reason: patcher.ReasonDowngrade}}}}, nil), time.Time{})
	rec := httptest.NewRecorder()
	b.API().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/status", nil))
	var got struct {
		Repositories []struct {
			Policies []map[string]any `json:"policies"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Repositories[0].Policies[0]
	want := map[string]any{"state": "skipped", "skip": "refused-downgrade",
		"reason": "web.yaml:2: policy web selected 1.5.0, which it orders below 2.0.0 in the file; never downgraded"}
	if diff := cmp.Diff(want, map[string]any{"state": p["state"], "skip": p["skip"], "reason": p["reason"]}); diff != "" {
		t.Errorf("policy in the JSON (-want +got):\n%s", diff)
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
	i := forge.Issue{Number: 99, Title: title, Body: body}
	m.open = append(m.open, i)
	return i, nil
}

func (m *memIssues) EditIssue(_ context.Context, n int, title, body string, close bool) error {
	m.writes = append(m.writes, fmt.Sprintf("edit #%d close=%v", n, close))
	m.open = slices.DeleteFunc(m.open, func(i forge.Issue) bool { return i.Number == n })
	if !close {
		m.open = append(m.open, forge.Issue{Number: n, Title: title, Body: body})
	}
	return nil
}

// dashForge is a pull request forge with issues.
type dashForge struct {
	*memForge
	*memIssues
}

// TestStatusOfPasses runs pull request passes on git http-backend with
// the dashboard on, and reads each pass's status as the board shows it:
// a refused downgrade, a group's open pull request, then the group held
// because one of its policies' registry failed, each of its policies
// showing the kept pull request. The dashboard issue holds exactly the
// board's text for the pass (refused downgrades included, which the pass
// adds to its skips after writing the dashboard), and an unchanged status
// writes nothing to it.
func TestStatusOfPasses(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{
		".imagebump.yaml": `dashboard:
  enabled: true
pullRequests:
  grouping: group
policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
    group: backend
  - name: api
    image: ghcr.io/acme/api
    semver: ^1
    group: backend
  - name: old
    image: ghcr.io/acme/web
    semver: ^1
`,
		"web.yaml": "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"api.yaml": "image: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"api\"}\n",
		"old.yaml": "image: ghcr.io/acme/web:1.9.9 # {\"$imagepolicy\": \"old\"}\n",
	})
	token := writeTemp(t, s.Token)
	repo := config.Repository{URL: s.RepoURL("fleet"), Branch: "main", Mode: config.PullRequest}
	workDir := t.TempDir()
	issues := &memIssues{}
	f := dashForge{&memForge{heads: func(b string) string { return s.Ref(t, "fleet", "refs/heads/"+b) }}, issues}
	r := &Runner{
		Config: &config.Bot{Repositories: []config.Repository{repo}},
		Open: func(config.Repository) (WorkingCopy, error) {
			return gitwriter.New(gitwriter.Options{
				URL: repo.URL, Branch: "main", WorkDir: workDir,
				Auth:   gitwriter.Auth{TokenFile: token},
				Author: gitwriter.Signature{Name: "imagebump", Email: "bot@example.com"},
			})
		},
		Forge: func(config.Repository) (pullrequest.Forge, error) { return f, nil },
	}
	reg := newFake()
	reg.tags["ghcr.io/acme/api"] = []string{"1.0.0", "1.1.0"}

	type row struct {
		State State
		Skip  pullrequest.SkipReason
		PR    int
	}
	pass := func(what string, want map[string]row, wantWrites []string) {
		t.Helper()
		before := len(issues.writes)
		res := r.pass(context.Background(), dedupe(reg), repo)
		if res.Err != nil {
			t.Fatalf("%s: %v", what, res.Err)
		}
		st := Summarize(res)
		got := map[string]row{}
		for _, p := range st.Policies {
			got[p.Name] = row{State: p.State, Skip: p.Skip}
			if p.PullRequest != nil {
				got[p.Name] = row{p.State, p.Skip, p.PullRequest.Number}
			}
			if (p.Skip != "" || p.State == StateFailing) && p.Reason+p.Error == "" {
				t.Errorf("%s: %s is %s %s and says nothing", what, p.Name, p.State, p.Skip)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: states (-want +got):\n%s", what, diff)
		}
		writes := issues.writes[before:]
		if len(writes) == 0 {
			writes = nil
		}
		if diff := cmp.Diff(wantWrites, writes); diff != "" {
			t.Errorf("%s: dashboard writes (-want +got):\n%s", what, diff)
		}
		if len(issues.open) != 1 {
			t.Fatalf("%s: open issues %+v; want the dashboard", what, issues.open)
		}
		if diff := cmp.Diff(DashboardText(st, config.DefaultDashboardTitle), issues.open[0].Body); diff != "" {
			t.Errorf("%s: the dashboard issue is not the board's text (-board +issue):\n%s", what, diff)
		}
	}

	downgrade := row{State: StateSkipped, Skip: pullrequest.SkipDowngrade}
	pass("first pass", map[string]row{
		"web": {State: StatePROpen, PR: 1}, "api": {State: StatePROpen, PR: 1}, "old": downgrade,
	}, []string{"create"})
	pass("nothing changed", map[string]row{
		"web": {State: StatePROpen, PR: 1}, "api": {State: StatePROpen, PR: 1}, "old": downgrade,
	}, nil)
	reg.fail["ghcr.io/acme/api"] = errors.New("503 Service Unavailable")
	pass("api's registry fails", map[string]row{
		"web": {State: StateSkipped, Skip: pullrequest.SkipRegistryFailed, PR: 1},
		"api": {State: StateFailing, Skip: pullrequest.SkipRegistryFailed, PR: 1},
		"old": downgrade,
	}, []string{"edit #99 close=false"})
	pass("still failing: nothing changed", map[string]row{
		"web": {State: StateSkipped, Skip: pullrequest.SkipRegistryFailed, PR: 1},
		"api": {State: StateFailing, Skip: pullrequest.SkipRegistryFailed, PR: 1},
		"old": downgrade,
	}, nil)
	if got := issues.open[0].Body; !strings.Contains(got, "| `web` |") || !strings.Contains(got, "skipped #1: **registry failed, pull request kept**") {
		t.Errorf("the dashboard does not show web held with its pull request:\n%s", got)
	}
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
