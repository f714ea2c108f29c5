package policy

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// FuzzSelect feeds random tag lists to every kind of policy and checks that
// selection never panics, agrees with Explain and Candidates, picks an
// allowed tag that no other candidate beats, and ignores list order. A
// selected tag always matches the OCI tag grammar.
func FuzzSelect(f *testing.F) {
	f.Add(strings.Join(registryTags, "\n"), uint64(1))
	f.Add("v1.2.0\n1.2.0\n1.2.0+b1\n1.2.0+b2", uint64(2))
	f.Add("01\n1\n1.0\n-0\n0", uint64(3))
	f.Add("main-abc-100\nmain-def-99\npr-1-500", uint64(4))
	f.Add("z#x\n9.9.9\u200b\n{z}\n9.9.9\x1b[31m\n1.0.0", uint64(5))
	specs := []Spec{
		{SemVer: "*"}, {SemVer: ">=1.0.0 <2.0.0"}, {SemVer: ">=0.0.0-0"},
		{SemVer: "*", Prereleases: true},
		{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>.+)-alpine$`, Extract: "$v"}},
		{Alphabetical: Asc}, {Alphabetical: Desc}, {Numerical: Asc}, {Numerical: Desc},
		{Numerical: Asc, Filter: &Filter{Pattern: `-(?P<n>\d+)$`, Extract: "$n"}},
		{Track: "latest"}, {Alphabetical: Asc, Exclude: []string{`^v`}},
	}
	policies := make([]*Policy, len(specs))
	for i, s := range specs {
		s.Name, s.Image = "p", "r/p"
		policies[i] = MustNew(s)
	}
	f.Fuzz(func(t *testing.T, list string, seed uint64) {
		tags := strings.Split(list, "\n")
		shuffled := slices.Clone(tags)
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, p := range policies {
			got, err := p.Select(tags)
			again, err2 := p.Select(shuffled)
			if got != again || (err == nil) != (err2 == nil) {
				t.Fatalf("%+v: Select depends on order: %q (%v) vs %q (%v)", p.spec, got, err, again, err2)
			}
			e := p.Explain(tags)
			if e.Selected != got {
				t.Fatalf("%+v: Explain selected %q, Select %q", p.spec, e.Selected, got)
			}
			cands := p.Candidates(shuffled)
			if err != nil {
				if len(cands) != 0 {
					t.Fatalf("%+v: Select failed (%v) but there are candidates %q", p.spec, err, cands)
				}
				continue
			}
			if cands[0] != got {
				t.Fatalf("%+v: Candidates()[0] = %q, Select = %q", p.spec, cands[0], got)
			}
			if !ValidTag(got) {
				t.Fatalf("%+v: selected %q, which is not a tag by the OCI grammar", p.spec, got)
			}
			if !slices.Contains(tags, got) {
				t.Fatalf("%+v: selected %q, which is not in the list", p.spec, got)
			}
			for _, c := range cands[1:] {
				if p.Higher(c, got) {
					t.Fatalf("%+v: candidate %q is ordered above the selected %q", p.spec, c, got)
				}
			}
		}
	})
}
