package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Order is the direction of an alphabetical or numerical policy.
type Order string

// Orders of alphabetical and numerical policies.
const (
	// Asc picks the last tag in ascending order: the largest number, or the
	// last string in byte order.
	Asc Order = "asc"
	// Desc picks the first: the smallest number, or the first string.
	Desc Order = "desc"
)

// Kind says how a policy orders tags.
type Kind string

// Kinds of policy; a Spec sets exactly one of the matching fields.
const (
	KindSemVer       Kind = "semver"
	KindAlphabetical Kind = "alphabetical"
	KindNumerical    Kind = "numerical"
	KindTrack        Kind = "track"
)

// Filter keeps only tags that match Pattern and, when Extract is set, orders
// them by the expansion of Extract ("$ts", "${version}", "$1") instead of the
// whole tag. The tag itself is what gets written.
type Filter struct {
	Pattern string
	Extract string
}

// Spec is an image policy as a policy file states it. Zero values of the
// optional fields are their defaults.
type Spec struct {
	Name  string
	Image string

	// Exactly one of these is set.
	SemVer       string
	Alphabetical Order
	Numerical    Order
	Track        string

	Filter  *Filter
	Exclude []string
	// Prereleases makes a semver policy consider prerelease versions even when
	// its range names none.
	Prereleases bool

	// Platforms and MinAge also choose: the resolver checks them lazily,
	// best candidate first, since they need the registry.
	Platforms []string
	MinAge    time.Duration
}

// Kind reports which ordering the spec sets, or "" when it sets none.
// Validate reports a spec that sets more than one.
func (s Spec) Kind() Kind {
	switch {
	case s.SemVer != "":
		return KindSemVer
	case s.Alphabetical != "":
		return KindAlphabetical
	case s.Numerical != "":
		return KindNumerical
	case s.Track != "":
		return KindTrack
	}
	return ""
}

// FieldError is a problem with one field of a Spec. Field uses the policy
// file's spelling ("semver", "filterTags.extract", "exclude[1]") so that
// callers can point at the line that holds it.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Suffixes that end a marker reference; a policy name may not end in one.
var fieldSuffixes = []string{":tag", ":name", ":digest"}

// Validate checks every field of s and returns all problems found, each a
// *FieldError, joined with errors.Join. It returns nil for a valid spec.
func (s Spec) Validate() error {
	_, err := New(s)
	return err
}

// New compiles s into a Policy. Its error joins a *FieldError for each field
// that is wrong.
func New(s Spec) (*Policy, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf(format, args...)})
	}

	switch {
	case s.Name == "":
		bad("name", "is required")
	case strings.TrimSpace(s.Name) != s.Name:
		bad("name", "%q has leading or trailing spaces", s.Name)
	default:
		for _, suf := range fieldSuffixes {
			if strings.HasSuffix(s.Name, suf) {
				bad("name", "%q ends in %q, which markers read as a field suffix", s.Name, suf)
			}
		}
	}
	if s.Image == "" {
		bad("image", "is required")
	} else if strings.ContainsAny(s.Image, "@ \t") || hasTag(s.Image) {
		bad("image", "%q must be a repository without tag or digest", s.Image)
	}

	p := &Policy{spec: s}
	var kinds []string
	if s.SemVer != "" {
		kinds = append(kinds, "semver")
		c, err := semver.NewConstraint(s.SemVer)
		if err != nil {
			bad("semver", "range %q: %v", s.SemVer, err)
		} else {
			p.rng = c
			wide := *c
			wide.IncludePrerelease = true
			p.wide = &wide
			if s.Prereleases {
				p.rng = p.wide
			}
		}
	}
	if s.Alphabetical != "" {
		kinds = append(kinds, "alphabetical")
		if s.Alphabetical != Asc && s.Alphabetical != Desc {
			bad("alphabetical", "%q is not asc or desc", s.Alphabetical)
		}
	}
	if s.Numerical != "" {
		kinds = append(kinds, "numerical")
		if s.Numerical != Asc && s.Numerical != Desc {
			bad("numerical", "%q is not asc or desc", s.Numerical)
		}
	}
	if s.Track != "" {
		kinds = append(kinds, "track")
		if !ValidTag(s.Track) {
			bad("track", "%q is not a tag by the OCI grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}", s.Track)
		}
	}
	switch len(kinds) {
	case 0:
		bad("semver", "a policy needs exactly one of semver, alphabetical, numerical, track; it has none")
	case 1:
		p.kind = s.Kind()
	default:
		bad(kinds[1], "a policy needs exactly one of semver, alphabetical, numerical, track; it has %s", strings.Join(kinds, " and "))
	}
	if s.Prereleases && s.SemVer == "" && len(kinds) > 0 {
		bad("prereleases", "applies only to semver policies")
	}

	if f := s.Filter; f != nil {
		if f.Pattern == "" {
			bad("filterTags.pattern", "is required when filterTags is set")
		} else if re, err := regexp.Compile(f.Pattern); err != nil {
			bad("filterTags.pattern", "%v", err)
		} else {
			p.filter = re
			if f.Extract != "" {
				if err := checkTemplate(re, f.Extract); err != nil {
					bad("filterTags.extract", "%v", err)
				}
				p.extract = f.Extract
			}
		}
		if f.Pattern == "" && f.Extract != "" {
			bad("filterTags.extract", "needs filterTags.pattern")
		}
	}
	for i, x := range s.Exclude {
		re, err := regexp.Compile(x)
		if err != nil {
			bad(fmt.Sprintf("exclude[%d]", i), "%v", err)
			continue
		}
		p.exclude = append(p.exclude, re)
	}
	for i, pl := range s.Platforms {
		if err := checkPlatform(pl); err != nil {
			bad(fmt.Sprintf("platforms[%d]", i), "%v", err)
		}
	}
	if s.MinAge < 0 {
		bad("minAge", "%v is negative", s.MinAge)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// hasTag reports whether a repository reference carries a tag: a colon after
// the last slash (a colon before it is a registry port).
func hasTag(image string) bool {
	return strings.Contains(image[strings.LastIndexByte(image, '/')+1:], ":")
}

// checkTemplate reports a $name, ${name} or $N reference in an extract
// template that the pattern does not define; regexp.Expand would silently
// expand it to nothing.
func checkTemplate(re *regexp.Regexp, tmpl string) error {
	names := map[string]bool{}
	for _, n := range re.SubexpNames() {
		if n != "" {
			names[n] = true
		}
	}
	refs := 0
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			continue
		}
		rest := tmpl[i+1:]
		if strings.HasPrefix(rest, "$") {
			i++ // "$$" is a literal dollar sign
			continue
		}
		var name string
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return fmt.Errorf("%q: unclosed ${", tmpl)
			}
			name = rest[1:end]
			i += end + 1
		} else {
			n := 0
			for n < len(rest) && (rest[n] == '_' || isAlnum(rest[n])) {
				n++
			}
			name = rest[:n]
			i += n
		}
		if name == "" {
			return fmt.Errorf("%q: a $ must name a group of the pattern (write $$ for a dollar sign)", tmpl)
		}
		refs++
		if n, err := strconv.Atoi(name); err == nil {
			if n > re.NumSubexp() {
				return fmt.Errorf("%q refers to group %d; the pattern has %d", tmpl, n, re.NumSubexp())
			}
			continue
		}
		if !names[name] {
			return fmt.Errorf("%q refers to group %q, which the pattern does not define", tmpl, name)
		}
	}
	if refs == 0 {
		return fmt.Errorf("%q refers to no group of the pattern, so every tag would extract the same value", tmpl)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkPlatform accepts os/arch and os/arch/variant.
func checkPlatform(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("%q is not os/arch or os/arch/variant", s)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%q is not os/arch or os/arch/variant", s)
		}
	}
	return nil
}
