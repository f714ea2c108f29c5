package pullrequest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// world builds Decide's input for group web from fuzz bytes: a version
// wanted (or none), pull requests in any state and version, with or
// without marker, and a branch with bot and foreign commits.
func world(data []byte) ([]Group, []PullRequest, map[string]Branch) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	version := func(b byte) string { return fmt.Sprintf("1.%d.0", b%4) }
	g := web(version(next()))
	if next()%4 == 0 {
		g = upToDate()
	}
	var prs []PullRequest
	for i, n := 0, int(next()%5); i < n; i++ {
		pr := openPR(i+1, web(version(next())))
		pr.State = []State{StateOpen, StateClosed, StateMerged}[next()%3]
		switch next() % 4 {
		case 0:
			pr.Body = "no marker"
		case 1:
			m, _ := ParseMarker(pr.Body)
			pr.Body = setRetired(pr.Body, m)
		}
		if next()%2 == 0 {
			pr.Comments = []string{foreignComment(g.Branch)}
		}
		if next()%3 == 0 {
			pr.HeadSHA = "human1"
		}
		prs = append(prs, pr)
	}
	branches := map[string]Branch{}
	if b := next() % 4; b > 0 {
		br := carrying(web(version(next())))
		if b == 2 {
			br = withForeign(br)
		}
		if b == 3 {
			br.Files = append(br.Files, File{Path: "other", Content: []byte("x")})
		}
		branches[g.Branch] = br
	}
	return []Group{g}, prs, branches
}

// FuzzDecide checks the rules that must hold whatever the forge and the
// branch look like.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0, 0, 1, 0, 1, 1})
	f.Add([]byte{2, 1, 3, 1, 0, 2, 1, 2, 0, 0, 2, 2})
	f.Add([]byte{0, 0, 2, 1, 2, 3, 1, 0, 1, 2, 1, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, prs, branches := world(data)
		ds, err := Decide(groups, prs, branches, Settings{MaxOpen: 3})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Decide(groups, slices.Clone(prs), branches, Settings{MaxOpen: 3})
		if diff := cmp.Diff(ds, again); diff != "" {
			t.Fatalf("Decide is not deterministic (-first +second):\n%s", diff)
		}
		if len(ds) != 1 {
			t.Fatalf("%d decisions for one group", len(ds))
		}
		d, br := ds[0], branches[groups[0].Branch]
		anyOpen := slices.ContainsFunc(prs, func(pr PullRequest) bool { return pr.State == StateOpen })
		if d.Action == ActionCreate && anyOpen {
			t.Errorf("create while a pull request is open on the branch: %s", d.Reason)
		}
		foreign := slices.ContainsFunc(br.Commits, func(c Commit) bool { return !c.ByBot })
		preserved := !anyOpen && slices.ContainsFunc(prs, func(pr PullRequest) bool {
			_, ours := ParseMarker(pr.Body)
			return ours && pr.State != StateOpen && pr.HeadSHA == br.Head
		})
		if foreign && !preserved && (d.Push || d.DeleteBranch) {
			t.Errorf("%s overwrites commits imagebump did not make: %s", d.Action, d.Reason)
		}
		if (d.Push || d.DeleteBranch) && d.Lease != br.Head {
			t.Errorf("lease %q, branch at %q", d.Lease, br.Head)
		}
		if !d.Writes() && (d.Push || d.DeleteBranch || d.Comment != "" && d.Action != ActionSkip) {
			t.Errorf("%s would write", d.Action)
		}
		if d.Action == ActionCreate || d.Action == ActionUpdate || d.Action == ActionUpdateText {
			if m, ok := ParseMarker(d.Body); !ok || !sameTargets(m.Versions, d.Versions) {
				t.Errorf("%s body marker %+v does not record %+v", d.Action, m, d.Versions)
			}
		}
		if d.Action == ActionCreate {
			for _, pr := range prs {
				m, ok := ParseMarker(pr.Body)
				if ok && pr.State == StateClosed && !m.Retired && sameTargets(m.Versions, d.Versions) {
					t.Errorf("re-proposes versions declined in #%d", pr.Number)
				}
			}
		}
	})
}
