package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sig = "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// registryTags is what a real repository tends to hold.
var registryTags = []string{
	"latest", "main", "sha-abc1234", "2024-05-01", "1.2", "v1.2.3", "1.2.3-alpine",
	"1.2.3+build.5", sig + ".sig", sig + ".att", sig + ".sbom", sig, "1.10.0", "1.9.7",
	"2.0.0-rc.1", "2.0.0", "20240501", "0.9.0",
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		tags []string
		want string
	}{
		{"semver any", Spec{SemVer: "*"}, registryTags, "2.0.0"},
		{"semver range", Spec{SemVer: ">=1.0.0 <2.0.0"}, registryTags, "1.10.0"},
		{"semver caret", Spec{SemVer: "^1.2"}, registryTags, "1.10.0"},
		{"semver tilde", Spec{SemVer: "~1.2"}, registryTags, "v1.2.3"},
		{"semver v prefix tie loses to greater string", Spec{SemVer: "1.2.3"}, []string{"1.2.3", "v1.2.3"}, "v1.2.3"},
		{"semver equal extracted versions tie", Spec{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>\d+\.\d+\.\d+)(_\w+)?$`, Extract: "$v"}}, []string{"1.2.0_b1", "1.2.0_b2", "1.2.0"}, "1.2.0_b2"},
		{"semver prerelease ignored by default", Spec{SemVer: ">=1.0.0"}, []string{"1.0.0", "2.0.0-rc.1"}, "1.0.0"},
		{"semver prerelease allowed by flag", Spec{SemVer: ">=1.0.0", Prereleases: true}, []string{"1.0.0", "2.0.0-rc.1"}, "2.0.0-rc.1"},
		{"semver prerelease named in range", Spec{SemVer: ">=1.0.0-0"}, []string{"1.0.0", "2.0.0-rc.1"}, "2.0.0-rc.1"},
		{"semver release beats its prerelease", Spec{SemVer: ">=1.0.0-0"}, []string{"2.0.0-rc.1", "2.0.0"}, "2.0.0"},
		{"semver two parts are not versions", Spec{SemVer: "*"}, []string{"1.2", "1", "0.1.0"}, "0.1.0"},
		{"semver dates are not versions", Spec{SemVer: "*"}, []string{"2024.05.01", "2024-05-01", "20240501", "0.0.1"}, "0.0.1"},
		{"semver exclude", Spec{SemVer: "*", Exclude: []string{`^2\.`}}, registryTags, "1.10.0"},
		{"semver extract", Spec{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>\d+\.\d+\.\d+)-alpine$`, Extract: "$v"}}, []string{"1.2.3-alpine", "1.10.0-alpine", "2.0.0", "1.11.0-debian"}, "1.10.0-alpine"},
		{"semver extract numbered group", Spec{SemVer: "<2", Filter: &Filter{Pattern: `^v?(\d+\.\d+\.\d+)-alpine$`, Extract: "$1"}}, []string{"1.2.3-alpine", "v1.4.0-alpine", "2.0.0-alpine"}, "v1.4.0-alpine"},
		{"alphabetical asc", Spec{Alphabetical: Asc}, []string{"b", "c", "a"}, "c"},
		{"alphabetical desc", Spec{Alphabetical: Desc}, []string{"b", "c", "a"}, "a"},
		{"alphabetical skips signatures", Spec{Alphabetical: Asc}, []string{"RELEASE.2024", sig + ".sig"}, "RELEASE.2024"},
		{"alphabetical filter extract", Spec{Alphabetical: Asc, Filter: &Filter{Pattern: `^main-[a-f0-9]+-(?P<ts>\d+)$`, Extract: "$ts"}}, []string{"main-aaa-1700000002", "main-fff-1700000001", "pr-9-1800000000"}, "main-aaa-1700000002"},
		{"numerical asc", Spec{Numerical: Asc}, []string{"9", "10", "latest", "2"}, "10"},
		{"numerical desc", Spec{Numerical: Desc}, []string{"9", "10", "latest", "2"}, "2"},
		{"numerical decimals", Spec{Numerical: Asc}, []string{"1.5", "1.45", "1.05"}, "1.5"},
		{"numerical beyond float precision", Spec{Numerical: Asc}, []string{"90071992547409931", "90071992547409930"}, "90071992547409931"},
		{"numerical negative", Spec{Numerical: Asc, Filter: &Filter{Pattern: `^n(?P<n>-?\d+)$`, Extract: "$n"}}, []string{"n-5", "n-10", "n-0"}, "n-0"},
		{"numerical equal values break by string", Spec{Numerical: Asc}, []string{"01", "1", "1.0"}, "1.0"},
		{"numerical filter", Spec{Numerical: Asc, Filter: &Filter{Pattern: `^main-[0-9a-f]+-(?P<ts>\d+)$`, Extract: "$ts"}}, []string{"main-abc-100", "main-def-99", "pr-1-500"}, "main-abc-100"},
		{"track", Spec{Track: "latest"}, registryTags, "latest"},
		{"duplicates", Spec{SemVer: "*"}, []string{"1.0.0", "1.0.0"}, "1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name, tc.spec.Image = "web", "ghcr.io/acme/web"
			p, err := New(tc.spec)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := p.Select(tc.tags)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got != tc.want {
				t.Errorf("Select = %q, want %q", got, tc.want)
			}
			// Explain and Candidates agree with Select.
			if e := p.Explain(tc.tags); e.Selected != tc.want {
				t.Errorf("Explain().Selected = %q, want %q", e.Selected, tc.want)
			}
			if c := p.Candidates(tc.tags); len(c) == 0 || c[0] != tc.want {
				t.Errorf("Candidates()[0] = %v, want %q first", c, tc.want)
			}
		})
	}
}

func TestSelectNoMatch(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		tags    []string
		wantMsg string
	}{
		{"empty", Spec{SemVer: "*"}, nil, `no tag matches: the repository has no tags`},
		{"nothing semver", Spec{SemVer: "*"}, []string{"latest", "main", "1.2", sig + ".sig"},
			`no tag matches: 4 seen, dropped: 1 signature/attestation, 3 not semver`},
		{"all outside", Spec{SemVer: ">=3"}, []string{"1.0.0", "2.0.0", "3.1.0-rc.1"},
			`no tag matches: 3 seen, dropped: 1 prerelease, 2 outside range`},
		{"not numbers", Spec{Numerical: Asc}, []string{"a", "1e5", "1."},
			`no tag matches: 3 seen, dropped: 3 not a number`},
		{"excluded", Spec{Alphabetical: Asc, Exclude: []string{"."}}, []string{"a"},
			`no tag matches: 1 seen, dropped: 1 excluded`},
		{"track absent", Spec{Track: "stable"}, []string{"latest"},
			`no tag matches: 1 seen, dropped: 1 not tracked`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name, tc.spec.Image = "web", "ghcr.io/acme/web"
			_, err := MustNew(tc.spec).Select(tc.tags)
			if !errors.Is(err, ErrNoMatch) {
				t.Fatalf("Select error = %v, want ErrNoMatch", err)
			}
			var nm *NoMatchError
			if !errors.As(err, &nm) || nm.Seen != len(tc.tags) {
				t.Errorf("error %#v, want *NoMatchError with Seen %d", err, len(tc.tags))
			}
			if got := err.Error(); got != tc.wantMsg {
				t.Errorf("message:\n got %s\nwant %s", got, tc.wantMsg)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	p := MustNew(Spec{Name: "web", Image: "ghcr.io/acme/web", SemVer: ">=1.0.0 <2.0.0", Exclude: []string{`-alpine$`}})
	got := p.Explain(registryTags)
	want := Explanation{
		Selected: "1.10.0",
		Verdicts: []Verdict{
			{Tag: "1.10.0", Value: "1.10.0", Reason: Kept},
			{Tag: "1.9.7", Value: "1.9.7", Reason: Kept},
			{Tag: "v1.2.3", Value: "v1.2.3", Reason: Kept},
			{Tag: "0.9.0", Value: "0.9.0", Reason: OutOfRange, Detail: `0.9.0 is outside the range ">=1.0.0 <2.0.0"`},
			{Tag: "1.2", Value: "1.2", Reason: NotSemVer, Detail: `"1.2" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: "1.2.3+build.5", Value: "1.2.3+build.5", Reason: InvalidTag, Detail: "not a tag by the OCI grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"},
			{Tag: "1.2.3-alpine", Value: "1.2.3-alpine", Reason: Excluded, Detail: `excluded by '-alpine$'`},
			{Tag: "2.0.0", Value: "2.0.0", Reason: OutOfRange, Detail: `2.0.0 is outside the range ">=1.0.0 <2.0.0"`},
			{Tag: "2.0.0-rc.1", Value: "2.0.0-rc.1", Reason: Prerelease, Detail: "2.0.0-rc.1 is a prerelease; set prereleases: true or name a prerelease in the range"},
			{Tag: "2024-05-01", Value: "2024-05-01", Reason: NotSemVer, Detail: `"2024-05-01" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: "20240501", Value: "20240501", Reason: NotSemVer, Detail: `"20240501" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: "latest", Value: "latest", Reason: NotSemVer, Detail: `"latest" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: "main", Value: "main", Reason: NotSemVer, Detail: `"main" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: "sha-abc1234", Value: "sha-abc1234", Reason: NotSemVer, Detail: `"sha-abc1234" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: sig, Value: sig, Reason: Signature, Detail: "cosign signature, attestation or SBOM tag"},
			{Tag: sig + ".att", Value: sig + ".att", Reason: Signature, Detail: "cosign signature, attestation or SBOM tag"},
			{Tag: sig + ".sbom", Value: sig + ".sbom", Reason: Signature, Detail: "cosign signature, attestation or SBOM tag"},
			{Tag: sig + ".sig", Value: sig + ".sig", Reason: Signature, Detail: "cosign signature, attestation or SBOM tag"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}
}

func TestExplainPrereleaseAndFilter(t *testing.T) {
	p := MustNew(Spec{Name: "web", Image: "ghcr.io/acme/web", SemVer: ">=1.0.0",
		Filter: &Filter{Pattern: `^(?P<v>[0-9.]+(-rc\.\d+)?)-alpine$`, Extract: "$v"}})
	got := p.Explain([]string{"1.1.0-rc.1-alpine", "1.0.0-alpine", "1.0.0"})
	want := []Verdict{
		{Tag: "1.0.0-alpine", Value: "1.0.0", Reason: Kept},
		{Tag: "1.0.0", Value: "1.0.0", Reason: NoFilterMatch, Detail: `does not match filterTags.pattern '^(?P<v>[0-9.]+(-rc\.\d+)?)-alpine$'`},
		{Tag: "1.1.0-rc.1-alpine", Value: "1.1.0-rc.1", Reason: Prerelease, Detail: "1.1.0-rc.1 is a prerelease; set prereleases: true or name a prerelease in the range"},
	}
	if diff := cmp.Diff(want, got.Verdicts); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}
}

func TestHigher(t *testing.T) {
	tests := []struct {
		name              string
		spec              Spec
		current, selected string
		want              bool
	}{
		{"semver above", Spec{SemVer: "<2.0.0"}, "2.0.0", "1.9.0", true},
		{"semver below", Spec{SemVer: "*"}, "1.0.0", "1.9.0", false},
		{"semver equal", Spec{SemVer: "*"}, "v1.9.0", "1.9.0", false},
		{"semver prerelease below release", Spec{SemVer: "*"}, "1.9.0-rc.1", "1.9.0", false},
		{"semver unorderable current", Spec{SemVer: "*"}, "latest", "1.9.0", false},
		{"semver extract", Spec{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>.*)-alpine$`, Extract: "$v"}}, "2.0.0-alpine", "1.0.0-alpine", true},
		{"semver current outside filter", Spec{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>.*)-alpine$`, Extract: "$v"}}, "3.0.0", "1.0.0-alpine", false},
		{"numerical asc", Spec{Numerical: Asc}, "10", "9", true},
		{"numerical desc", Spec{Numerical: Desc}, "10", "9", false},
		{"alphabetical asc", Spec{Alphabetical: Asc}, "b", "a", true},
		{"alphabetical desc", Spec{Alphabetical: Desc}, "b", "a", false},
		{"track never", Spec{Track: "latest"}, "zzz", "latest", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name, tc.spec.Image = "web", "ghcr.io/acme/web"
			if got := MustNew(tc.spec).Higher(tc.current, tc.selected); got != tc.want {
				t.Errorf("Higher(%q, %q) = %v, want %v", tc.current, tc.selected, got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string // "field: message" of each error
	}{
		{"no kind", Spec{Name: "a", Image: "r/a"}, []string{"semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none"}},
		{"two kinds", Spec{Name: "a", Image: "r/a", SemVer: "*", Numerical: Asc}, []string{"numerical: a policy needs exactly one of semver, alphabetical, numerical, track; it has semver and numerical"}},
		{"bad range", Spec{Name: "a", Image: "r/a", SemVer: "latest"}, []string{`semver: range "latest": improper constraint: "latest"`}},
		{"bad order", Spec{Name: "a", Image: "r/a", Alphabetical: "up"}, []string{`alphabetical: "up" is not asc or desc`}},
		{"missing name and image", Spec{SemVer: "*"}, []string{"name: is required", "image: is required"}},
		{"name with suffix", Spec{Name: "web:tag", Image: "r/a", SemVer: "*"}, []string{`name: "web:tag" ends in ":tag", which markers read as a field suffix`}},
		{"image with tag", Spec{Name: "a", Image: "r/a:1.0", SemVer: "*"}, []string{`image: "r/a:1.0" must be a repository without tag or digest`}},
		{"bad pattern", Spec{Name: "a", Image: "localhost:5000/a", SemVer: "*", Filter: &Filter{Pattern: "(", Extract: "$1"}}, []string{"filterTags.pattern: error parsing regexp: missing closing ): `(`"}},
		{"extract unknown group", Spec{Name: "a", Image: "r/a", SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>.*)$`, Extract: "$ver"}}, []string{`filterTags.extract: "$ver" refers to group "ver", which the pattern does not define`}},
		{"extract group number", Spec{Name: "a", Image: "r/a", SemVer: "*", Filter: &Filter{Pattern: `^(.*)$`, Extract: "${2}"}}, []string{`filterTags.extract: "${2}" refers to group 2; the pattern has 1`}},
		{"extract constant", Spec{Name: "a", Image: "r/a", SemVer: "*", Filter: &Filter{Pattern: `^(.*)$`, Extract: "1.0.0"}}, []string{`filterTags.extract: "1.0.0" refers to no group of the pattern, so every tag would extract the same value`}},
		{"bad exclude", Spec{Name: "a", Image: "r/a", SemVer: "*", Exclude: []string{"ok", "[z-a]"}}, []string{"exclude[1]: error parsing regexp: invalid character class range: `z-a`"}},
		{"bad platform", Spec{Name: "a", Image: "r/a", SemVer: "*", Platforms: []string{"linux"}}, []string{`platforms[0]: "linux" is not os/arch or os/arch/variant`}},
		{"prereleases on numerical", Spec{Name: "a", Image: "r/a", Numerical: Asc, Prereleases: true}, []string{"prereleases: applies only to semver policies"}},
		{"track of no tag", Spec{Name: "a", Image: "r/a", Track: "latest#1"}, []string{`track: "latest#1" is not a tag by the OCI grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`}},
		{"negative min age", Spec{Name: "a", Image: "r/a", SemVer: "*", MinAge: -1}, []string{"minAge: -1ns is negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("%v is not a *FieldError", e)
				}
				got = append(got, fe.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignatureTags(t *testing.T) {
	for tag, want := range map[string]bool{
		sig:                                 true,
		sig + ".sig":                        true,
		sig + ".att":                        true,
		sig + ".sbom":                       true,
		sig[:20]:                            false,
		sig + "x":                           false,
		"sha256-" + strings.Repeat("g", 64): false,
		"sha512-" + strings.Repeat("a", 128) + ".sig": true,
		"1.0.0": false,
	} {
		if got := isSignatureTag(tag); got != want {
			t.Errorf("isSignatureTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestSelectIgnoresOrder(t *testing.T) {
	specs := []Spec{
		{SemVer: "*"}, {SemVer: ">=1.0.0-0"}, {Alphabetical: Asc}, {Alphabetical: Desc},
		{Numerical: Asc}, {Numerical: Desc}, {Track: "latest"},
	}
	tags := append([]string{"v1.2.0", "1.2.0", "1.2.0+b1", "1.2.0+b2", "01", "1", "1.0", "latest"}, registryTags...)
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range specs {
		s.Name, s.Image = "web", "r/web"
		p := MustNew(s)
		want, _ := p.Select(tags)
		wantExplain := p.Explain(tags)
		for i := 0; i < 50; i++ {
			shuffled := append([]string(nil), tags...)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if got, _ := p.Select(shuffled); got != want {
				t.Fatalf("%+v: Select(%q) = %q, want %q", s, shuffled, got, want)
			}
			if diff := cmp.Diff(wantExplain, p.Explain(shuffled)); diff != "" {
				t.Fatalf("%+v: Explain differs after shuffle (-want +got):\n%s", s, diff)
			}
		}
	}
}

// hostileTags are tags a registry may send that break the OCI tag grammar.
// Several would win their policy if they were candidates.
var hostileTags = []string{
	"z#x",           // '#' starts a YAML comment
	"9.9.9\u200b",   // a zero-width space after a version
	"{z}",           // YAML flow mapping
	"9.9.9\x1b[31m", // an ANSI escape
	"-9.9.9",        // '-' may not start a tag
	".9",            // nor '.'
	strings.Repeat("9", 129),
	"",
	"9.9.9 ",
	"zz\nzz",
}

// TestInvalidTagsAreNeverCandidates checks that tags outside the OCI tag
// grammar are dropped by every kind of policy, before any other rule, and
// counted in NoMatchError.
func TestInvalidTagsAreNeverCandidates(t *testing.T) {
	for _, spec := range []Spec{
		{SemVer: "*"},
		{SemVer: "*", Filter: &Filter{Pattern: `^(?P<v>\d+\.\d+\.\d+)`, Extract: "$v"}},
		{Alphabetical: Asc},
		{Alphabetical: Desc},
		{Numerical: Asc},
		{Numerical: Asc, Filter: &Filter{Pattern: `(?P<n>\d+)`, Extract: "$n"}},
		{Track: "z"},
	} {
		spec.Name, spec.Image = "web", "ghcr.io/acme/web"
		p := MustNew(spec)
		t.Run(string(p.Kind())+fmt.Sprint(spec.Filter != nil)+string(spec.Alphabetical), func(t *testing.T) {
			tags := append([]string{"1.0.0", "a", "1"}, hostileTags...)
			got, err := p.Select(tags)
			if err != nil && p.Kind() != KindTrack {
				t.Fatal(err)
			}
			if got != "" && slices.Contains(hostileTags, got) {
				t.Errorf("Select = %q, a tag outside the grammar", got)
			}
			if c := p.Candidates(tags); slices.ContainsFunc(c, func(s string) bool { return !ValidTag(s) }) {
				t.Errorf("Candidates = %q, holding tags outside the grammar", c)
			}
			for _, v := range p.Explain(tags).Verdicts {
				wantInvalid := slices.Contains(hostileTags, v.Tag)
				if wantInvalid != (v.Reason == InvalidTag) {
					t.Errorf("verdict on %q: %s, want invalid tag: %t", v.Tag, v.Reason, wantInvalid)
				}
			}
			_, err = p.Select(hostileTags)
			var nm *NoMatchError
			if !errors.As(err, &nm) {
				t.Fatalf("Select(only invalid tags) = %v, want a *NoMatchError", err)
			}
			if diff := cmp.Diff(map[Reason]int{InvalidTag: len(hostileTags)}, nm.Dropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
			want := fmt.Sprintf("no tag matches: %d seen, dropped: %d invalid tag", len(hostileTags), len(hostileTags))
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		want bool
	}{
		{"1.0.0", true},
		{"v1.2.3-rc.1", true},
		{"_x", true},
		{"A_b.C-d", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-a", false},
		{".a", false},
		{"1.0.0+build", false},
		{"a/b", false},
		{"a:b", false},
		{"a@b", false},
		{"é", false},
	} {
		if got := ValidTag(tc.tag); got != tc.want {
			t.Errorf("ValidTag(%q) = %t, want %t", tc.tag, got, tc.want)
		}
	}
}
