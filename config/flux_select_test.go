package config

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// The differential selection test: ImagePolicy objects read from a
// repository pick the tag Flux's image-reflector-controller picks for the
// same tag list. The cases, tag lists and expected tags are transcribed as
// facts from fluxcd/image-reflector-controller at debe2aaa3a98
// (internal/policy/{semver,alphabetical,numerical,filter}_test.go and
// internal/controller/policy_test.go); where imagebump deliberately
// differs, the case says so and why, and README.md's "Coming from Flux"
// lists it.

// loadFluxPolicy reads one ImagePolicy with the given spec (below
// spec:, indented two spaces) and its ImageRepository.
func loadFluxPolicy(t *testing.T, spec string) (*Policy, error) {
	t.Helper()
	root := filetree.Write(t, map[string]string{"images.yaml": fluxRepo("v1", "ns", "app", "ghcr.io/acme/app", "") +
		"---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: ns\nspec:\n  imageRepositoryRef:\n    name: app\n" + spec})
	ps, err := LoadPolicies(root)
	if err != nil {
		return nil, err
	}
	return ps.Lookup("ns:app"), nil
}

func TestFluxSelectionMatchesFlux(t *testing.T) {
	const (
		semverPolicy = "  policy:\n    semver:\n      range: "
		alpha        = "  policy:\n    alphabetical:\n      order: "
		numer        = "  policy:\n    numerical:\n      order: "
	)
	ubuntu := []string{"16.04", "16.04.1", "16.10", "20.04", "20.10"}
	codeNames := []string{"xenial", "yakkety", "zesty", "artful", "bionic"}
	stamps := []string{"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"}
	rfc3339 := []string{"2021-01-08T21-18-21Z", "2020-05-08T21-18-21Z", "2021-01-08T19-20-00Z", "1990-01-08T00-20-00Z", "2023-05-08T00-20-00Z"}
	reconcilerTags := []string{"0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"}
	filterTags := []string{"test-0.1.0", "test-0.1.1", "dev-0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"}

	tests := []struct {
		source string // the Flux test the case comes from
		name   string
		spec   string
		tags   []string
		want   string // "" when Flux finds no tag
	}{
		{"semver_test.go TestSemVer_Latest", "With valid format", semverPolicy + "1.0.x\n",
			[]string{"1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"}, "1.0.1"},
		{"semver_test.go TestSemVer_Latest", "With valid format prefix", semverPolicy + "1.0.x\n",
			[]string{"v1.2.3", "v1.0.0", "v0.1.0"}, "v1.0.0"},
		{"semver_test.go TestSemVer_Latest", "With invalid format prefix", semverPolicy + "1.0.x\n",
			[]string{"b1.2.3", "b1.0.0", "b0.1.0"}, ""},
		{"semver_test.go TestSemVer_Latest", "With empty list", semverPolicy + "1.0.x\n", nil, ""},
		{"semver_test.go TestSemVer_Latest", "With non-matching version list", semverPolicy + "1.0.x\n",
			[]string{"1.2.0"}, ""},
		{"alphabetical_test.go", "With Ubuntu CalVer", alpha + "asc\n", ubuntu, "20.10"},
		{"alphabetical_test.go", "With Ubuntu CalVer descending", alpha + "desc\n", ubuntu, "16.04"},
		{"alphabetical_test.go", "With Ubuntu code names", alpha + "asc\n", codeNames, "zesty"},
		{"alphabetical_test.go", "With Ubuntu code names descending", alpha + "desc\n", codeNames, "artful"},
		{"alphabetical_test.go", "With Timestamps", alpha + "asc\n", stamps, "1606364286"},
		{"alphabetical_test.go", "With Unix Timestamps desc", alpha + "desc\n", stamps, "1606234201"},
		{"alphabetical_test.go", "With Unix Timestamps prefix", alpha + "asc\n",
			[]string{"rel-1606234201", "rel-1606364286", "rel-1606334092", "rel-1606334284", "rel-1606334201"}, "rel-1606364286"},
		{"alphabetical_test.go", "With RFC3339", alpha + "asc\n", rfc3339, "2023-05-08T00-20-00Z"},
		{"alphabetical_test.go", "With RFC3339 desc", alpha + "desc\n", rfc3339, "1990-01-08T00-20-00Z"},
		{"alphabetical_test.go", "Empty version list", alpha + "asc\n", nil, ""},
		{"alphabetical_test.go TestNewAlphabetical", "With valid empty order", "  policy:\n    alphabetical: {}\n", codeNames, "zesty"},
		{"numerical_test.go", "With unordered list of integers ascending", numer + "asc\n",
			[]string{"-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"}, "73"},
		{"numerical_test.go", "With unordered list of integers descending", numer + "desc\n",
			[]string{"5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"}, "-78"},
		{"numerical_test.go", "With unordered list of floats ascending", numer + "asc\n",
			[]string{"47.40896403322944", "-27.8520927455902", "-27.930666514224427", "-31.352485948094568", "-50.41072694704882", "-21.962849842263736", "24.71884721436865", "-39.99177354004344", "53.47333823144817", "3.2008658570411086"}, "53.47333823144817"},
		{"numerical_test.go", "With unordered list of floats descending", numer + "desc\n",
			[]string{"-65.27202780220686", "57.82948329142309", "22.40184684363291", "-86.36934305697784", "-90.29082099756083", "-12.041712603564264", "77.70488240399305", "-38.98425003883552", "16.06867070412028", "53.735674335181216"}, "-90.29082099756083"},
		{"numerical_test.go", "With Unix Timestamps ascending", numer + "asc\n", stamps, "1606364286"},
		{"numerical_test.go", "With Unix Timestamps descending", numer + "desc\n", stamps, "1606234201"},
		{"numerical_test.go", "With single value ascending", numer + "asc\n", []string{"1"}, "1"},
		{"numerical_test.go", "With single value descending", numer + "desc\n", []string{"1"}, "1"},
		{"numerical_test.go", "Empty version list", numer + "asc\n", nil, ""},
		{"numerical_test.go TestNewNumerical", "With valid empty order (numerical)", "  policy:\n    numerical: {}\n", []string{"3", "10", "2"}, "10"},
		{"controller/policy_test.go TestImagePolicyReconciler_calculateImageFromRepoTags", "using SemVerPolicy", semverPolicy + "1.0.x\n", reconcilerTags, "1.0.2"},
		{"controller/policy_test.go TestImagePolicyReconciler_calculateImageFromRepoTags", "using AlphabeticalPolicy", "  policy:\n    alphabetical: {}\n", codeNames, "zesty"},
		{"controller/policy_test.go TestImagePolicyReconciler_filterTags", "valid regex",
			"  filterTags:\n    pattern: '^test-(.*)$'\n    extract: '$1'\n" + semverPolicy + "'>=0.x'\n", filterTags, "test-0.1.1"},
	}
	// Where imagebump picks otherwise on purpose (README.md lists it): by
	// case, imagebump's pick and why.
	deliberate := map[string]struct{ ours, why string }{
		"With unordered list of integers descending": {"5", "a tag cannot start with '-' by the OCI grammar, so no registry holds -78; imagebump skips such tags"},
		"With unordered list of floats descending":   {"16.06867070412028", "a tag cannot start with '-' by the OCI grammar; imagebump skips such tags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadFluxPolicy(t, tc.spec)
			if err != nil {
				t.Fatalf("%s: %v", tc.source, err)
			}
			if d, ok := deliberate[tc.name]; ok {
				t.Logf("imagebump picks %q where Flux picks %q: %s", d.ours, tc.want, d.why)
				tc.want = d.ours
			}
			// Flux shuffles some lists; the pick may not depend on order.
			for _, tags := range [][]string{tc.tags, reversed(tc.tags)} {
				got, err := p.Select(tags)
				if tc.want == "" {
					if !errors.Is(err, policy.ErrNoMatch) {
						t.Errorf("%s: Select(%q) = %q, %v; Flux finds no tag", tc.source, tags, got, err)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Errorf("%s: Select(%q) = %q, %v; Flux picks %q", tc.source, tags, got, err, tc.want)
				}
			}
		})
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// TestFluxRangesMatchFlux checks that the ranges Flux accepts load and
// the ones it refuses are problems (semver_test.go TestNewSemVer; the
// reconciler's "using SemVerPolicy with invalid range").
func TestFluxRangesMatchFlux(t *testing.T) {
	for _, tc := range []struct {
		ranges []string
		valid  bool
	}{
		{[]string{"1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"}, true},
		{[]string{"1.0.0p", "1x", "x1", "-1", "a", "", "*-*"}, false},
	} {
		for _, r := range tc.ranges {
			_, err := loadFluxPolicy(t, "  policy:\n    semver:\n      range: '"+r+"'\n")
			var problems problem.List
			if tc.valid && err != nil {
				t.Errorf("range %q: %v; Flux accepts it", r, err)
			}
			if !tc.valid && !errors.As(err, &problems) {
				t.Errorf("range %q: loaded (%v); Flux refuses it", r, err)
			}
		}
	}
}

// TestFluxFilterMatchesFlux compares the values a filter keeps with Flux's
// RegexFilter (filter_test.go TestRegexFilter): the distinct values the
// policy orders by.
func TestFluxFilterMatchesFlux(t *testing.T) {
	complexTags := []string{"123-123.123.abcd123-debug", "123-123.123.abcd123", "123-123.123.abcd456-debug", "123-123.123.abcd456"}
	tests := []struct {
		name, pattern, extract string
		tags, want             []string
	}{
		{"none", "", "", []string{"a"}, []string{"a"}},
		{"valid pattern", "^ver", "", []string{"ver1", "ver2", "ver3", "rel1"}, []string{"ver1", "ver2", "ver3"}},
		{"valid pattern with capture group", `ver(\d+)`, "$1", []string{"ver1", "ver2", "ver3", "rel1"}, []string{"1", "2", "3"}},
		{"valid pattern (complex regex 1)", `^(123-[0-9]+\.[0-9]+\.[a-z0-9]+-debug)`, "", complexTags,
			[]string{"123-123.123.abcd123-debug", "123-123.123.abcd456-debug"}},
		{"valid pattern with capture group (complex regex 2)", `^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+[^-debug])`, "$tag", complexTags,
			[]string{"123-123.123.abcd123", "123-123.123.abcd456"}},
		{"valid pattern with capture group (complex regex 3)", `^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+$)`, "$tag", complexTags,
			[]string{"123-123.123.abcd123", "123-123.123.abcd456"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadFluxPolicy(t, "  filterTags:\n    pattern: '"+tc.pattern+"'\n    extract: '"+tc.extract+"'\n  policy:\n    alphabetical: {}\n")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range p.Explain(tc.tags).Verdicts {
				if v.Reason == policy.Kept && !slices.Contains(got, v.Value) {
					got = append(got, v.Value)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("kept values (-Flux +imagebump):\n%s", diff)
			}
		})
	}
}

// TestFluxSelectionDeliberateDifferences pins where imagebump picks
// otherwise than Flux, on purpose; README.md lists each.
func TestFluxSelectionDeliberateDifferences(t *testing.T) {
	tests := []struct {
		name, spec string
		tags       []string
		flux, want string // Flux's pick ("" for an error), imagebump's
	}{
		// numerical_test.go "With invalid numerical value": Flux fails the
		// whole policy on one tag that is not a number; imagebump skips it.
		{"a tag that is not a number", "  policy:\n    numerical: {}\n", []string{"0", "1a", "b"}, "", "0"},
		// Flux keeps the first of equal versions in list order, so its pick
		// depends on the registry's order; imagebump takes the greater tag.
		{"equal versions", "  policy:\n    semver:\n      range: '1.x'\n", []string{"1.2.0", "v1.2.0"}, "1.2.0", "v1.2.0"},
		// Two tags extracting the same value: Flux keeps whichever its
		// map saw last; imagebump the greater tag (complex regex 2 above).
		{"equal extracted values", "  filterTags:\n    pattern: '^(?P<v>[0-9]+)'\n    extract: '$v'\n  policy:\n    numerical: {}\n",
			[]string{"7-b", "7-a", "6"}, "7-a", "7-b"},
		// Flux's ParseFloat reads exponents; imagebump orders decimals only.
		{"exponent", "  policy:\n    numerical: {}\n", []string{"1e3", "20"}, "1e3", "20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadFluxPolicy(t, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Select(tc.tags)
			if err != nil || got != tc.want {
				t.Errorf("Select(%q) = %q, %v; want %q (Flux: %q)", tc.tags, got, err, tc.want, tc.flux)
			}
		})
	}
}
