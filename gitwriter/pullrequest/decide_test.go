package pullrequest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// web returns the group "web" proposing ghcr.io/acme/web at version to,
// with the wanted file content the plan would compute from the base.
func web(to string) Group {
	return Group{
		Name:   "web",
		Branch: "imagebump/web",
		Changes: []Change{{
			Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.2", To: to,
			Files: []string{"apps/web/deployment.yaml"}, Digest: "sha256:" + strings.Repeat("a", 64),
		}},
		Files: []File{{Path: "apps/web/deployment.yaml", Content: []byte("image: ghcr.io/acme/web:" + to + "\n")}},
	}
}

// upToDate is group web when the base already has its values.
func upToDate() Group {
	g := web("1.5.0")
	g.Changes, g.Files = nil, nil
	return g
}

// gone is the obsolete group on branch imagebump/name.
func gone(name string) Group {
	return Group{Name: name, Branch: "imagebump/" + name, Obsolete: "no policy in use maps to group " + name + " any more"}
}

// keep marks an obsolete group's branch as outside the bot's prefix.
func keep(g Group) Group { g.KeepBranch = true; return g }

// api is a second group, for maxOpen and collisions.
func api(to string) Group {
	return Group{
		Name: "api", Branch: "imagebump/api",
		Changes: []Change{{Policy: "api", Image: "ghcr.io/acme/api", From: "2.0.0", To: to, Files: []string{"apps/api/deployment.yaml"}}},
		Files:   []File{{Path: "apps/api/deployment.yaml", Content: []byte("image: ghcr.io/acme/api:" + to + "\n")}},
	}
}

// openPR is the bot's open pull request as it would be after proposing g.
func openPR(n int, g Group) PullRequest {
	return PullRequest{Number: n, State: StateOpen, Head: g.Branch, HeadSHA: "h" + g.Changes[0].To, Title: Title(g), Body: Body(g, 0)}
}

func withState(pr PullRequest, s State) PullRequest { pr.State = s; return pr }

// carrying is the branch as the bot left it after proposing g.
func carrying(g Group) Branch {
	return Branch{Exists: true, Head: "h" + g.Changes[0].To, Commits: []Commit{{Hash: "h" + g.Changes[0].To, ByBot: true}}, Files: g.Files}
}

func withForeign(b Branch) Branch {
	b.Commits = append(b.Commits, Commit{Hash: "human1", ByBot: false})
	b.Head = "human1"
	return b
}

// summary is the part of a Decision each rule is about.
type summary struct {
	Action       Action
	Number       int
	Linked       int
	Duplicates   []int
	Push         bool
	Lease        string
	DeleteBranch bool
	Skip         SkipReason
}

func summarize(ds []Decision) map[string]summary {
	out := map[string]summary{}
	for _, d := range ds {
		out[d.Group] = summary{d.Action, d.Number, d.Linked, d.Duplicates, d.Push, d.Lease, d.DeleteBranch, d.Skip}
	}
	return out
}

func TestDecide(t *testing.T) {
	retired := func(pr PullRequest) PullRequest {
		m, _ := ParseMarker(pr.Body)
		pr.Body = setRetired(pr.Body, m)
		pr.State = StateClosed
		return pr
	}
	movedBase := carrying(web("1.5.0"))
	movedBase.Files = []File{{Path: "apps/web/deployment.yaml", Content: []byte("replicas: 1\nimage: ghcr.io/acme/web:1.5.0\n")}}
	extraFile := carrying(web("1.5.0"))
	extraFile.Files = append(extraFile.Files, File{Path: "README.md", Content: []byte("x")})
	behind := carrying(web("1.5.0"))
	behind.Behind = []string{"apps/web/deployment.yaml"}
	behindForeign := withForeign(behind)
	stale := carrying(web("1.5.0"))
	stale.Commits = append(stale.Commits, Commit{Hash: "h2", ByBot: true})
	editedBody := openPR(7, web("1.5.0"))
	editedBody.Body = strings.Replace(editedBody.Body, "imagebump updates", "We update", 1)
	crlf := openPR(7, web("1.5.0"))
	crlf.Body = strings.ReplaceAll(crlf.Body, "\n", "\r\n")
	commented := openPR(7, web("1.5.0"))
	commented.Comments = []string{"LGTM", foreignComment("imagebump/web")}
	humanPR := PullRequest{Number: 9, State: StateOpen, Head: "imagebump/web", Title: "my own work", Body: "hand-written"}

	tests := []struct {
		name     string
		groups   []Group
		prs      []PullRequest
		branches map[string]Branch
		settings Settings
		want     map[string]summary
	}{
		{
			name:   "first pass opens a pull request and pushes the branch",
			groups: []Group{web("1.5.0")},
			want:   map[string]summary{"web": {Action: ActionCreate, Push: true}},
		},
		{
			name:     "branch left by a killed pass already carries the change: open without pushing",
			groups:   []Group{web("1.5.0")},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionCreate, Lease: "h1.5.0"}},
		},
		{
			name:     "zero churn: exactly the wanted change is open",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "zero churn: several bot commits with the wanted content are fine",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": stale},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "zero churn survives a forge that stores CRLF",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{crlf},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "base moved in a changed file: branch rebuilt, text kept",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": movedBase},
			want:     map[string]summary{"web": {Action: ActionUpdateBranch, Number: 7, Push: true, Lease: "h1.5.0"}},
		},
		{
			// Someone changed the lines the branch changes on the base: "base
			// + change" equals the branch's files, but the branch sits on the
			// old base and conflicts.
			name:     "base moved in a file the group changes though the contents match: rebuilt on the tip",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": behind},
			want:     map[string]summary{"web": {Action: ActionUpdateBranch, Number: 7, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:     "base moved under a branch with human commits: not rebuilt, commented",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": behindForeign},
			want:     map[string]summary{"web": {Action: ActionCommentForeign, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "base moved under a branch without a pull request: pushed before opening",
			groups:   []Group{web("1.5.0")},
			branches: map[string]Branch{"imagebump/web": behind},
			want:     map[string]summary{"web": {Action: ActionCreate, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:     "branch changes a file the group does not: rebuilt",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": extraFile},
			want:     map[string]summary{"web": {Action: ActionUpdateBranch, Number: 7, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:   "open pull request whose branch is gone: branch pushed again",
			groups: []Group{web("1.5.0")},
			prs:    []PullRequest{openPR(7, web("1.5.0"))},
			want:   map[string]summary{"web": {Action: ActionUpdateBranch, Number: 7, Push: true}},
		},
		{
			name:     "a human edited the body: text restored, nothing pushed",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{editedBody},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionUpdateText, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "newer version supersedes in place",
			groups:   []Group{web("1.6.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionUpdate, Number: 7, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:     "base already has the values: close and delete the branch",
			groups:   []Group{upToDate()},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionClose, Number: 7, Lease: "h1.5.0", DeleteBranch: true}},
		},
		{
			name:   "base already has the values and the branch is gone: close only",
			groups: []Group{upToDate()},
			prs:    []PullRequest{openPR(7, web("1.5.0"))},
			want:   map[string]summary{"web": {Action: ActionClose, Number: 7}},
		},
		{
			name:     "merged, and the forge left the branch: deleted",
			groups:   []Group{upToDate()},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateMerged)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionDeleteBranch, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "merged, and someone pushed to the branch since: left alone",
			groups:   []Group{upToDate()},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateMerged)},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionSkip, Lease: "human1"}},
		},
		{
			name:     "obsolete group: its open pull request is closed and the branch deleted",
			groups:   []Group{gone("web")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionClose, Number: 7, Lease: "h1.5.0", DeleteBranch: true}},
		},
		{
			name:     "obsolete group with human commits: commented, left open",
			groups:   []Group{gone("web")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionCommentForeign, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "obsolete group with human commits, already commented: nothing more",
			groups:   []Group{gone("web")},
			prs:      []PullRequest{commented},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:   "obsolete open pull request whose branch is gone: closed, nothing to delete",
			groups: []Group{gone("web")},
			prs:    []PullRequest{openPR(7, web("1.5.0"))},
			want:   map[string]summary{"web": {Action: ActionClose, Number: 7}},
		},
		{
			name:     "obsolete pull request on a branch outside the prefix: closed, the branch kept",
			groups:   []Group{keep(gone("web"))},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionClose, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "obsolete branch outside the prefix without a pull request: left alone",
			groups:   []Group{keep(gone("web"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Lease: "h1.5.0"}},
		},
		{
			name:     "obsolete branch without a pull request: deleted",
			groups:   []Group{gone("web")},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionDeleteBranch, Lease: "h1.5.0"}},
		},
		{
			name:     "obsolete branch with human commits and no pull request: left alone",
			groups:   []Group{gone("web")},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionSkip, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "obsolete branch under a human's open pull request: left alone",
			groups:   []Group{gone("web")},
			prs:      []PullRequest{humanPR},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 9, Lease: "h1.5.0", Skip: SkipForeignPullRequest}},
		},
		{
			name:     "an obsolete open pull request counts toward maxOpen until it is closed",
			groups:   []Group{api("2.1.0"), gone("web")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			settings: Settings{MaxOpen: 1},
			want: map[string]summary{
				"api": {Action: ActionDefer, Skip: SkipMaxOpen},
				"web": {Action: ActionClose, Number: 7, Lease: "h1.5.0", DeleteBranch: true},
			},
		},
		{
			name:   "base has the values and nothing is open: nothing to do",
			groups: []Group{upToDate()},
			prs:    []PullRequest{withState(openPR(7, web("1.5.0")), StateMerged)},
			want:   map[string]summary{"web": {Action: ActionSkip}},
		},
		{
			name:     "human closed unmerged: those versions are not proposed again, branch left alone",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateClosed)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0", Skip: SkipDeclined}},
		},
		{
			name:     "human closed unmerged, from moved meanwhile: still declined",
			groups:   []Group{func() Group { g := web("1.5.0"); g.Changes[0].From = "1.4.3"; return g }()},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateClosed)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0", Skip: SkipDeclined}},
		},
		{
			name:     "human closed unmerged, newer version: branch rebuilt, new pull request links the old",
			groups:   []Group{web("1.6.0")},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateClosed)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionCreate, Linked: 7, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:   "human closed unmerged after pushing to it, newer version: the forge keeps that head, so rebuilt",
			groups: []Group{web("1.6.0")},
			prs: []PullRequest{func() PullRequest {
				pr := withState(openPR(7, web("1.5.0")), StateClosed)
				pr.HeadSHA = "human1"
				return pr
			}()},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionCreate, Linked: 7, Push: true, Lease: "human1"}},
		},
		{
			name:   "the bot closed it itself (base had caught up): same versions may be proposed again",
			groups: []Group{web("1.5.0")},
			prs:    []PullRequest{retired(openPR(7, web("1.5.0")))},
			want:   map[string]summary{"web": {Action: ActionCreate, Push: true}},
		},
		{
			name:   "a human reopened a declined proposal: it is kept up to date",
			groups: []Group{web("1.5.0")},
			prs: []PullRequest{
				withState(openPR(7, web("1.5.0")), StateClosed),
				openPR(8, web("1.5.0")),
			},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionUpdateText, Number: 8, Linked: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "merged, base not synced yet: nothing proposed again",
			groups:   []Group{web("1.5.0")},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateMerged)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "h1.5.0"}},
		},
		{
			name:     "merged older version, newer wanted: new pull request, no link",
			groups:   []Group{web("1.6.0")},
			prs:      []PullRequest{withState(openPR(7, web("1.5.0")), StateMerged)},
			branches: map[string]Branch{"imagebump/web": carrying(web("1.5.0"))},
			want:     map[string]summary{"web": {Action: ActionCreate, Push: true, Lease: "h1.5.0"}},
		},
		{
			name:     "foreign commits on the open branch: one comment, no push",
			groups:   []Group{web("1.6.0")},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionCommentForeign, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "foreign commits already commented on: skipped until gone",
			groups:   []Group{web("1.6.0")},
			prs:      []PullRequest{commented},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionSkip, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "foreign commits and the base caught up: never closed nor deleted",
			groups:   []Group{upToDate()},
			prs:      []PullRequest{openPR(7, web("1.5.0"))},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionCommentForeign, Number: 7, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:     "foreign commits on a branch no pull request knows: never overwritten",
			groups:   []Group{web("1.6.0")},
			branches: map[string]Branch{"imagebump/web": withForeign(carrying(web("1.5.0")))},
			want:     map[string]summary{"web": {Action: ActionSkip, Lease: "human1", Skip: SkipForeignCommits}},
		},
		{
			name:   "two open pull requests on one branch: act on the newest, leave the other",
			groups: []Group{web("1.6.0")},
			prs:    []PullRequest{openPR(7, web("1.5.0")), openPR(9, web("1.5.0"))},
			want:   map[string]summary{"web": {Action: ActionUpdate, Number: 9, Duplicates: []int{7}, Push: true}},
		},
		{
			name:   "a pull request a human opened from the bot's branch: no second one",
			groups: []Group{web("1.5.0")},
			prs:    []PullRequest{humanPR},
			want:   map[string]summary{"web": {Action: ActionSkip, Number: 9, Skip: SkipForeignPullRequest}},
		},
		{
			name:   "maxOpen defers new pull requests but updates still happen",
			groups: []Group{api("2.1.0"), web("1.6.0"), {Name: "db", Branch: "imagebump/db", Changes: api("1").Changes, Files: api("1").Files}},
			prs: []PullRequest{
				openPR(7, web("1.5.0")),
				withState(openPR(3, api("2.0.1")), StateMerged),
			},
			settings: Settings{MaxOpen: 2},
			want: map[string]summary{
				"api": {Action: ActionCreate, Push: true},
				"web": {Action: ActionUpdate, Number: 7, Push: true},
				"db":  {Action: ActionDefer, Skip: SkipMaxOpen},
			},
		},
		{
			name:     "maxOpen 0 means no cap",
			groups:   []Group{api("2.1.0"), web("1.6.0")},
			settings: Settings{MaxOpen: 0},
			want: map[string]summary{
				"api": {Action: ActionCreate, Push: true},
				"web": {Action: ActionCreate, Push: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Decide(tc.groups, tc.prs, tc.branches, tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(ds)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
				for _, d := range ds {
					t.Logf("%s: %s: %s", d.Group, d.Action, d.Reason)
				}
			}
			for _, d := range ds {
				if d.Reason == "" {
					t.Errorf("%s: %s without a reason", d.Group, d.Action)
				}
				if d.Push && len(d.Files) == 0 {
					t.Errorf("%s: push without files", d.Group)
				}
				if (d.Action == ActionCreate) != (d.Open != nil) {
					t.Errorf("%s: %s with Open = %v", d.Group, d.Action, d.Open)
				}
				// State is the state of the pull request Number names.
				var want State
				if i := slices.IndexFunc(tc.prs, func(pr PullRequest) bool { return pr.Number == d.Number }); d.Number > 0 && i >= 0 {
					want = tc.prs[i].State
				}
				if d.State != want {
					t.Errorf("%s: %s names #%d in state %q; the forge has it %q", d.Group, d.Action, d.Number, d.State, want)
				}
			}
		})
	}
}

func TestDecideCreateCarriesSettings(t *testing.T) {
	s := Settings{Base: "main", Labels: []string{"dependencies"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, Draft: true}
	ds, err := Decide([]Group{web("1.5.0")}, nil, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	g := web("1.5.0")
	want := &NewPullRequest{
		Head: "imagebump/web", Base: "main", Title: Title(g), Body: Body(g, 0),
		Labels: s.Labels, Reviewers: s.Reviewers, TeamReviewers: s.TeamReviewers, Draft: true,
	}
	if diff := cmp.Diff(want, ds[0].Open); diff != "" {
		t.Errorf("Open (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(g.Files, ds[0].Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

func TestDecideLinksDeclinedPullRequest(t *testing.T) {
	ds, err := Decide([]Group{web("1.6.0")}, []PullRequest{withState(openPR(7, web("1.5.0")), StateClosed)}, nil, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ds[0].Body, "supersedes #7") {
		t.Errorf("body does not link #7:\n%s", ds[0].Body)
	}
}

func TestDecideCloseRetiresMarker(t *testing.T) {
	ds, err := Decide([]Group{upToDate()}, []PullRequest{openPR(7, web("1.5.0"))}, nil, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ParseMarker(ds[0].Body)
	if !ok || !m.Retired {
		t.Errorf("closing body marker = %+v, %v; want retired", m, ok)
	}
	if diff := cmp.Diff(versionsOf(web("1.5.0").Changes), m.Versions); diff != "" {
		t.Errorf("retired marker versions (-want +got):\n%s", diff)
	}
	if ds[0].Comment == "" {
		t.Error("close without a comment")
	}
}

func TestDecideCloseCommentsOnce(t *testing.T) {
	pr := openPR(7, web("1.5.0"))
	ds, err := Decide([]Group{upToDate()}, []PullRequest{pr}, nil, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	pr.Comments = []string{ds[0].Comment}
	again, err := Decide([]Group{upToDate()}, []PullRequest{pr}, nil, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Action != ActionClose || again[0].Comment != "" {
		t.Errorf("after an interrupted close: %s with comment %q, want close without a second comment", again[0].Action, again[0].Comment)
	}
}

func TestDecideBranchCollision(t *testing.T) {
	other := api("2.1.0")
	other.Branch = "imagebump/web"
	_, err := Decide([]Group{web("1.5.0"), other}, nil, nil, Settings{})
	if err == nil || !strings.Contains(err.Error(), `"imagebump/web"`) {
		t.Fatalf("Decide = %v, want an error naming the shared branch", err)
	}
}
