package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

// skipRow is the part of a Skip each rule is about.
type skipRow struct {
	Reason   pullrequest.SkipReason
	Policies []string
	Branch   string
	Number   int
	File     string
	Line     int
	Current  string
	Selected string
}

func skipRows(t *testing.T, skips []Skip) []skipRow {
	t.Helper()
	var out []skipRow
	for _, s := range skips {
		if s.Message == "" {
			t.Errorf("skip %s of %v says nothing", s.Reason, s.Policies)
		}
		out = append(out, skipRow{s.Reason, s.Policies, s.Branch, s.Number, s.File, s.Line, s.Current, s.Selected})
	}
	return out
}

// TestSkipsReported runs pull request passes on git http-backend and finds
// every skip of the vocabulary in the pass result, with what it concerns:
// a refused downgrade, a group deferred by maxOpen, a group held because
// its registry failed, versions a human declined, commits by someone else
// on the branch.
func TestSkipsReported(t *testing.T) {
	const policies = `pullRequests:
  maxOpen: 1
policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
  - name: old
    image: ghcr.io/acme/web
    semver: ^1
  - name: other
    image: ghcr.io/acme/unused
    semver: "*"
  - name: broken
    image: ghcr.io/acme/broken
    semver: "*"
`
	s, forge, reg, pass := prPassResults(t, map[string]string{
		".imagebump.yaml": policies,
		"web.yaml":        "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		"old.yaml":        "a: 1\nimage: ghcr.io/acme/web:1.9.9 # {\"$imagepolicy\": \"old\"}\n",
		"other.yaml":      "image: ghcr.io/acme/unused:1.0.0 # {\"$imagepolicy\": \"other\"}\n",
		"broken.yaml":     "image: ghcr.io/acme/broken:1.0.0 # {\"$imagepolicy\": \"broken\"}\n",
	})
	downgrade := skipRow{Reason: pullrequest.SkipDowngrade, Policies: []string{"old"}, File: "old.yaml", Line: 2, Current: "1.9.9", Selected: "1.5.0"}
	held := skipRow{Reason: pullrequest.SkipRegistryFailed, Policies: []string{"broken"}, Branch: "imagebump/broken"}

	// other opens the one pull request maxOpen allows; web waits.
	want := []skipRow{downgrade, held, {Reason: pullrequest.SkipMaxOpen, Policies: []string{"web"}, Branch: "imagebump/web"}}
	if diff := cmp.Diff(want, skipRows(t, pass().Skips)); diff != "" {
		t.Fatalf("first pass's skips (-want +got):\n%s", diff)
	}

	// A human closes other's pull request: web's opens, other's versions
	// are not proposed again.
	forge.mu.Lock()
	forge.prs[0].State = pullrequest.StateClosed
	forge.mu.Unlock()
	want = []skipRow{downgrade, held, {Reason: pullrequest.SkipDeclined, Policies: []string{"other"}, Branch: "imagebump/other", Number: 1}}
	if diff := cmp.Diff(want, skipRows(t, pass().Skips)); diff != "" {
		t.Fatalf("pass after other's pull request was declined (-want +got):\n%s", diff)
	}

	// Someone commits to web's branch.
	s.Commit(t, "fleet", "imagebump/web", "mine", map[string]string{"notes.txt": "x\n"})
	foreign := skipRow{Reason: pullrequest.SkipForeignCommits, Policies: []string{"web"}, Branch: "imagebump/web", Number: 2}
	want = []skipRow{downgrade, held, {Reason: pullrequest.SkipDeclined, Policies: []string{"other"}, Branch: "imagebump/other", Number: 1}, foreign}
	for _, when := range []string{"commenting", "already commented"} {
		if diff := cmp.Diff(want, skipRows(t, pass().Skips)); diff != "" {
			t.Errorf("pass %s on the foreign commits: skips (-want +got):\n%s", when, diff)
		}
	}

	// web's registry fails (old shares it): their groups are held, web's
	// open pull request kept and named.
	reg.fail["ghcr.io/acme/web"] = errors.New("503 Service Unavailable")
	want = []skipRow{
		held,
		{Reason: pullrequest.SkipRegistryFailed, Policies: []string{"old"}, Branch: "imagebump/old"},
		{Reason: pullrequest.SkipRegistryFailed, Policies: []string{"web"}, Branch: "imagebump/web", Number: 2},
		{Reason: pullrequest.SkipDeclined, Policies: []string{"other"}, Branch: "imagebump/other", Number: 1},
	}
	res := pass()
	if diff := cmp.Diff(want, skipRows(t, res.Skips)); diff != "" {
		t.Errorf("pass with web's registry down: skips (-want +got):\n%s", diff)
	}
	if i := slices.IndexFunc(res.Skips, func(s Skip) bool { return s.Branch == "imagebump/web" }); i < 0 || !strings.Contains(res.Skips[i].Message, "pull request #2 is left exactly as it is") {
		t.Errorf("skips %+v: want web's saying its pull request #2 is kept", res.Skips)
	}
}
