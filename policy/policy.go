package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrNoMatch is the condition of a policy that allows none of the tags it was
// given. The error returned is a *NoMatchError, which says why.
var ErrNoMatch = errors.New("no tag matches the policy")

// Policy is a compiled Spec. It is safe for concurrent use.
type Policy struct {
	spec    Spec
	kind    Kind
	rng     *semver.Constraints // the range used to select
	wide    *semver.Constraints // the range with prereleases, to explain a drop
	filter  *regexp.Regexp
	extract string
	exclude []*regexp.Regexp
}

// MustNew is New for specs known to be valid, such as constants in tests.
func MustNew(s Spec) *Policy {
	p, err := New(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Spec returns the spec p was compiled from.
func (p *Policy) Spec() Spec { return p.spec }

// Name returns the policy's name.
func (p *Policy) Name() string { return p.spec.Name }

// Kind returns how p orders tags.
func (p *Policy) Kind() Kind { return p.kind }

// Reason says why a tag was kept or dropped.
type Reason int

// Reasons a tag is kept or dropped, in the order they are checked.
const (
	Kept          Reason = iota // a candidate
	InvalidTag                  // outside the OCI tag grammar; see ValidTag
	Signature                   // a cosign signature, attestation or SBOM tag
	Excluded                    // matches an exclude regex
	NoFilterMatch               // does not match filterTags.pattern
	NotSemVer                   // not [v]MAJOR.MINOR.PATCH[-pre][+build]
	Prerelease                  // a prerelease the policy does not allow
	OutOfRange                  // a version outside the semver range
	NotNumber                   // not an integer or decimal
	NotTracked                  // not the tag a track policy follows
)

var reasonNames = [...]string{
	Kept:          "candidate",
	InvalidTag:    "invalid tag",
	Signature:     "signature/attestation",
	Excluded:      "excluded",
	NoFilterMatch: "no filter match",
	NotSemVer:     "not semver",
	Prerelease:    "prerelease",
	OutOfRange:    "outside range",
	NotNumber:     "not a number",
	NotTracked:    "not tracked",
}

func (r Reason) String() string {
	if r < 0 || int(r) >= len(reasonNames) {
		return fmt.Sprintf("Reason(%d)", int(r))
	}
	return reasonNames[r]
}

// Verdict is what a policy made of one tag.
type Verdict struct {
	Tag string
	// Value is what the policy orders by: the tag, or its filterTags.extract
	// expansion. Empty when the tag was dropped before extraction.
	Value  string
	Reason Reason
	// Detail explains a drop in words ("excluded by \"-rc\""); empty when kept.
	Detail string
}

// Explanation is the outcome of a policy over a list of tags.
type Explanation struct {
	// Selected is the tag the policy picks; empty when none is allowed.
	Selected string
	// Verdicts has one entry per distinct tag: the candidates best first,
	// then the dropped tags in byte order.
	Verdicts []Verdict
}

// NoMatchError reports a policy that allowed none of the tags it saw. Its
// message does not name the policy; callers add that context.
type NoMatchError struct {
	Policy  string
	Seen    int
	Dropped map[Reason]int
}

func (e *NoMatchError) Error() string {
	if e.Seen == 0 {
		return "no tag matches: the repository has no tags"
	}
	var parts []string
	for r := Kept + 1; int(r) < len(reasonNames); r++ {
		if n := e.Dropped[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	return fmt.Sprintf("no tag matches: %d seen, dropped: %s", e.Seen, strings.Join(parts, ", "))
}

// Is makes errors.Is(err, ErrNoMatch) hold.
func (e *NoMatchError) Is(target error) bool { return target == ErrNoMatch }

// candidate is a tag that passed every rule, with what it orders by.
type candidate struct {
	tag   string
	value string
	ver   *semver.Version
	num   decimal
}

// Select returns the tag p picks from tags. The result does not depend on the
// order of tags. When no tag is allowed the error is a *NoMatchError.
func (p *Policy) Select(tags []string) (string, error) {
	var best candidate
	found := false
	for _, t := range tags {
		c, r, _ := p.parse(t, false)
		if r != Kept {
			continue
		}
		// A tag that cannot beat the best so far needs no range check, which
		// is the costly step for tags outside the range.
		if found && !p.better(c, best) {
			continue
		}
		if r, _ := p.inRange(c, false); r != Kept {
			continue
		}
		best, found = c, true
	}
	if !found {
		dropped := map[Reason]int{}
		for _, t := range tags {
			_, r, _ := p.judge(t, false)
			dropped[r]++
		}
		return "", &NoMatchError{Policy: p.spec.Name, Seen: len(tags), Dropped: dropped}
	}
	return best.tag, nil
}

// Candidates returns the distinct tags p allows, best first. A resolver that
// must check more than the tag (platforms, age) walks it from the start and
// stops at the first that passes.
func (p *Policy) Candidates(tags []string) []string {
	cs := p.candidates(tags, nil)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.tag
	}
	return out
}

func (p *Policy) candidates(tags []string, dropped *[]Verdict) []candidate {
	seen := make(map[string]bool, len(tags))
	var cs []candidate
	for _, t := range tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		c, r, detail := p.judge(t, dropped != nil)
		if r != Kept {
			if dropped != nil {
				*dropped = append(*dropped, Verdict{Tag: t, Value: c.value, Reason: r, Detail: detail})
			}
			continue
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return p.better(cs[i], cs[j]) })
	return cs
}

// Explain returns p's verdict on every tag and the tag it selects.
func (p *Policy) Explain(tags []string) Explanation {
	var dropped []Verdict
	cs := p.candidates(tags, &dropped)
	slices.SortFunc(dropped, func(a, b Verdict) int { return strings.Compare(a.Tag, b.Tag) })
	var e Explanation
	for _, c := range cs {
		e.Verdicts = append(e.Verdicts, Verdict{Tag: c.tag, Value: c.value, Reason: Kept})
	}
	e.Verdicts = append(e.Verdicts, dropped...)
	if len(cs) > 0 {
		e.Selected = cs[0].tag
	}
	return e
}

// Higher reports whether current, a tag a manifest holds now, is ordered
// strictly above selected by p. The patcher refuses such a change as a
// downgrade. Only the ordering counts, not the range or the excludes: a
// manifest at 2.0.0 is above a selected 1.9.0 even under "<2.0.0". A current
// value the policy cannot order (such as "latest" under semver) is not higher.
func (p *Policy) Higher(current, selected string) bool {
	if p.kind == KindTrack {
		return false
	}
	a, ok := p.orderable(current)
	if !ok {
		return false
	}
	b, ok := p.orderable(selected)
	if !ok {
		return false
	}
	return p.compare(a, b) > 0
}

// orderable parses a tag the way judge does, skipping the rules that only
// decide whether a tag may be selected.
func (p *Policy) orderable(tag string) (candidate, bool) {
	c, r, _ := p.value(tag, false)
	return c, r == Kept
}

// judge applies every rule to one tag. With explain unset it skips building
// the detail strings, which Select does not need.
func (p *Policy) judge(tag string, explain bool) (candidate, Reason, string) {
	c, r, d := p.parse(tag, explain)
	if r == Kept {
		r, d = p.inRange(c, explain)
	}
	return c, r, d
}

// parse applies the rules that look at a tag alone: signatures, excludes,
// the tracked tag, the filter, and whether the value parses.
func (p *Policy) parse(tag string, explain bool) (candidate, Reason, string) {
	c := candidate{tag: tag, value: tag}
	if !ValidTag(tag) {
		// Checked first: such a tag cannot be pulled, and written into a
		// manifest it could end a YAML scalar or carry terminal escapes.
		return c, InvalidTag, "not a tag by the OCI grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
	}
	if isSignatureTag(tag) {
		return c, Signature, "cosign signature, attestation or SBOM tag"
	}
	for _, re := range p.exclude {
		if re.MatchString(tag) {
			return c, Excluded, detail(explain, "excluded by '%s'", re)
		}
	}
	if p.kind == KindTrack {
		if tag != p.spec.Track {
			return c, NotTracked, detail(explain, "not the tracked tag %q", p.spec.Track)
		}
		return c, Kept, ""
	}
	return p.value(tag, explain)
}

// value applies the rules that order a tag: the filter, its extract, and
// whether the value parses by the policy's kind. Selection (parse) and the
// downgrade check (orderable) share it, so they never disagree on a value.
func (p *Policy) value(tag string, explain bool) (candidate, Reason, string) {
	c := candidate{tag: tag, value: tag}
	if p.filter != nil {
		m := p.filter.FindStringSubmatchIndex(tag)
		if m == nil {
			return c, NoFilterMatch, detail(explain, "does not match filterTags.pattern '%s'", p.filter)
		}
		if p.extract != "" {
			c.value = string(p.filter.ExpandString(nil, p.extract, tag, m))
		}
	}
	switch p.kind {
	case KindSemVer:
		v, err := parseSemVer(c.value)
		if err != nil {
			return c, NotSemVer, detail(explain, "%q is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]", c.value)
		}
		c.ver = v
	case KindNumerical:
		n, ok := parseDecimal(c.value)
		if !ok {
			return c, NotNumber, detail(explain, "%q is not a number", c.value)
		}
		c.num = n
	}
	return c, Kept, ""
}

// inRange checks a parsed semver candidate against the range.
func (p *Policy) inRange(c candidate, explain bool) (Reason, string) {
	if p.kind != KindSemVer || p.rng.Check(c.ver) {
		return Kept, ""
	}
	if c.ver.Prerelease() != "" && p.wide.Check(c.ver) {
		return Prerelease, detail(explain, "%s is a prerelease; set prereleases: true or name a prerelease in the range", c.value)
	}
	return OutOfRange, detail(explain, "%s is outside the range %q", c.value, p.spec.SemVer)
}

func detail(explain bool, format string, args ...any) string {
	if !explain {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// better reports whether a is picked over b: the higher value by the
// policy's order, and between equal values the greater tag in byte order.
func (p *Policy) better(a, b candidate) bool {
	if c := p.compare(a, b); c != 0 {
		return c > 0
	}
	return a.tag > b.tag
}

// compare orders two candidates by value in the direction of preference:
// positive when a is preferred.
func (p *Policy) compare(a, b candidate) int {
	switch p.kind {
	case KindSemVer:
		return a.ver.Compare(b.ver)
	case KindNumerical:
		c := a.num.cmp(b.num)
		if p.spec.Numerical == Desc {
			c = -c
		}
		return c
	case KindAlphabetical:
		c := strings.Compare(a.value, b.value)
		if p.spec.Alphabetical == Desc {
			c = -c
		}
		return c
	}
	return 0
}

// parseSemVer accepts exactly [v]MAJOR.MINOR.PATCH[-pre][+build].
func parseSemVer(s string) (*semver.Version, error) {
	return semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
}

// ValidTag reports whether tag matches the OCI distribution spec's tag
// grammar, [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. A registry may send anything;
// only such tags can be pulled, and only they are safe to write into YAML
// and print.
func ValidTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// isSignatureTag reports tags that sigstore and OCI referrers tooling push
// beside images: "sha256-<hex>" optionally followed by ".sig", ".att",
// ".sbom" or another suffix. They are never deployable images.
func isSignatureTag(tag string) bool {
	for _, alg := range [...]struct {
		prefix string
		n      int
	}{{"sha256-", 64}, {"sha512-", 128}} {
		if !strings.HasPrefix(tag, alg.prefix) {
			continue
		}
		rest := tag[len(alg.prefix):]
		if len(rest) < alg.n || !isHex(rest[:alg.n]) {
			return false
		}
		return len(rest) == alg.n || rest[alg.n] == '.'
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
