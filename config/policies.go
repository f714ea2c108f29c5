package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
)

// PolicyFileNames are the names of policy files, looked for in every
// directory of a repository.
var PolicyFileNames = []string{".imagebump.yaml", ".imagebump.yml"}

// Policies is everything the policy files of one repository say.
type Policies struct {
	// Policies are sorted by name.
	Policies []*Policy
	// PullRequests holds the repository-wide settings of the root file, with
	// defaults filled in.
	PullRequests PullRequests
	// Files are the policy files read, relative to the root.
	Files []string
	// Dashboard is the root file's dashboard setting (off by default).
	Dashboard Dashboard
}

// Policy is a compiled policy, where it is defined, and the settings of
// its policy file entry that are not about choosing a tag.
type Policy struct {
	*policy.Policy
	File string
	Line int
	// PinDigest writes name:tag@digest into unsuffixed markers.
	PinDigest bool
	// Group is the pull request group (grouping: group); empty means the
	// policy's name.
	Group string
}

// Lookup returns the policy with the given name, or nil.
func (ps *Policies) Lookup(name string) *Policy {
	i, ok := slices.BinarySearchFunc(ps.Policies, name, func(p *Policy, name string) int {
		return strings.Compare(p.Name(), name)
	})
	if !ok {
		return nil
	}
	return ps.Policies[i]
}

// Grouping says how changes are split into pull requests.
type Grouping string

// Groupings of pull requests.
const (
	ByPolicy Grouping = "policy" // one pull request per policy
	ByGroup  Grouping = "group"  // one per policy group
	All      Grouping = "all"    // one for everything
)

// PullRequests are the repository-wide pull request settings.
type PullRequests struct {
	Grouping      Grouping // default ByPolicy
	BranchPrefix  string   // default "imagebump/"
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	Draft         bool
	MaxOpen       int // default 10; 0 means no limit
}

// DefaultPullRequests are the settings used when the root file says nothing.
func DefaultPullRequests() PullRequests {
	return PullRequests{Grouping: ByPolicy, BranchPrefix: "imagebump/", MaxOpen: 10}
}

type policyFile struct {
	Policies     []policyEntry     `yaml:"policies"`
	PullRequests *pullRequestsFile `yaml:"pullRequests"`
	Dashboard    *dashboardFile    `yaml:"dashboard"`
}

type policyEntry struct {
	Name         string      `yaml:"name"`
	Image        string      `yaml:"image"`
	SemVer       string      `yaml:"semver"`
	Alphabetical string      `yaml:"alphabetical"`
	Numerical    string      `yaml:"numerical"`
	Track        string      `yaml:"track"`
	FilterTags   *filterTags `yaml:"filterTags"`
	Exclude      []string    `yaml:"exclude"`
	Prereleases  bool        `yaml:"prereleases"`
	PinDigest    bool        `yaml:"pinDigest"`
	Platforms    []string    `yaml:"platforms"`
	MinAge       string      `yaml:"minAge"`
	Group        string      `yaml:"group"`
}

type filterTags struct {
	Pattern string `yaml:"pattern"`
	Extract string `yaml:"extract"`
}

type pullRequestsFile struct {
	Grouping      string   `yaml:"grouping"`
	BranchPrefix  *string  `yaml:"branchPrefix"`
	Labels        []string `yaml:"labels"`
	Reviewers     []string `yaml:"reviewers"`
	TeamReviewers []string `yaml:"teamReviewers"`
	Draft         bool     `yaml:"draft"`
	MaxOpen       *int     `yaml:"maxOpen"`
}

// LoadPolicies reads every policy file under root. Root itself may be a
// symbolic link (git-sync and volume mounts look like that); links inside
// it are not followed, and .git directories are skipped. When any file is
// invalid, or a directory or policy file cannot be read (it may hold
// policies), the error is Problems, listing each problem with its file and
// line, and no policies are returned: a partly loaded set would change what
// gets written. Other errors are I/O failures of root itself.
func LoadPolicies(root string) (*Policies, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("looking for policy files: %w", err)
	}
	defer r.Close()
	files, problems, err := findPolicyFiles(r.FS())
	if err != nil {
		return nil, fmt.Errorf("looking for policy files in %s: %w", root, err)
	}
	out := &Policies{PullRequests: DefaultPullRequests(), Files: files}
	for _, rel := range files {
		src, err := r.ReadFile(filepath.FromSlash(rel))
		if err != nil {
			problems = append(problems, problem.Problem{File: rel, Message: "cannot read: " + reason(err)})
			continue
		}
		ps, prs, probs := parsePolicyFile(rel, src)
		problems = append(problems, probs...)
		out.Policies = append(out.Policies, ps...)
		if d, probs := dashboardOf(rel, src); len(probs) > 0 {
			problems = append(problems, probs...)
		} else if d != nil && isRoot(rel) {
			out.Dashboard = *d
		} else if d != nil {
			problems = append(problems, problem.Problem{File: rel, Line: keyLineOf(src, "dashboard"),
				Message: "dashboard is read from the repository's root policy file only"})
		}
		if prs != nil {
			if isRoot(rel) {
				out.PullRequests = *prs
			} else {
				problems = append(problems, problem.Problem{File: rel, Line: prsLine(src),
					Message: "pullRequests is read from the repository's root policy file only"})
			}
		}
	}
	problems = append(problems, duplicateNames(out.Policies)...)
	if len(problems) > 0 {
		return nil, problems.Sorted()
	}
	slices.SortFunc(out.Policies, func(a, b *Policy) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func isRoot(rel string) bool { return !strings.Contains(rel, "/") }

// findPolicyFiles returns the policy files in fsys, sorted, and a problem
// for each directory it cannot read. The error is for fsys's root.
func findPolicyFiles(fsys fs.FS) ([]string, problem.List, error) {
	var files []string
	var problems problem.List
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == "." {
				return err
			}
			// The rest of the tree is still read, so that one pass
			// reports every problem; the set is invalid all the same.
			problems = append(problems, problem.Problem{File: path, Message: "cannot read directory: " + reason(err)})
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		// WalkDir does not follow links; a linked policy file is not read
		// either, so nothing outside the repository can define policies.
		if d.Type().IsRegular() && slices.Contains(PolicyFileNames, d.Name()) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(files)
	return files, problems, nil
}

// reason is the cause of a file system error without the path, which the
// problem names already: "permission denied".
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parsePolicyFile decodes one policy file strictly and compiles its
// policies, returning the valid ones and a problem for each invalid one.
func parsePolicyFile(file string, src []byte) ([]*Policy, *PullRequests, problem.List) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, decodeProblems(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil // an empty file defines nothing
	}
	if ps := aliasProblems(file, "policy files", &doc); len(ps) > 0 {
		return nil, nil, ps
	}
	var pf policyFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		return nil, nil, decodeProblems(file, err)
	}
	var more yaml.Node
	if dec.Decode(&more) == nil {
		return nil, nil, problem.List{{File: file, Line: more.Line, Message: "a policy file holds one YAML document; found another"}}
	}
	top := doc.Content[0]
	items := valueOf(top, "policies")

	var problems problem.List
	var out []*Policy
	for i, e := range pf.Policies {
		var item *yaml.Node
		if items != nil && i < len(items.Content) {
			item = items.Content[i]
		}
		p, probs := compile(e, file, item)
		problems = append(problems, probs...)
		if p != nil {
			out = append(out, p)
		}
	}
	var prs *PullRequests
	if pf.PullRequests != nil {
		var probs problem.List
		prs, probs = pullRequests(*pf.PullRequests, file, valueOf(top, "pullRequests"))
		problems = append(problems, probs...)
	}
	return out, prs, problems
}

// compile turns one policies[] entry into a policy; item is its YAML node,
// used to point problems at the line of the field they are about.
func compile(e policyEntry, file string, item *yaml.Node) (*Policy, problem.List) {
	line := func(field string) int { return fieldLine(item, field) }
	label := "policy"
	if e.Name != "" {
		label = fmt.Sprintf("policy %q", e.Name)
	}
	var problems problem.List
	s := policy.Spec{
		Name:         e.Name,
		Image:        e.Image,
		SemVer:       e.SemVer,
		Alphabetical: policy.Order(e.Alphabetical),
		Numerical:    policy.Order(e.Numerical),
		Track:        e.Track,
		Exclude:      e.Exclude,
		Prereleases:  e.Prereleases,
		Platforms:    e.Platforms,
	}
	if e.FilterTags != nil {
		s.Filter = &policy.Filter{Pattern: e.FilterTags.Pattern, Extract: e.FilterTags.Extract}
	}
	if e.MinAge != "" {
		d, err := ParseDuration(e.MinAge)
		if err != nil {
			problems = append(problems, problem.Problem{File: file, Line: line("minAge"), Message: fmt.Sprintf("%s: minAge: %v", label, err)})
		}
		s.MinAge = d
	}
	if strings.ContainsAny(e.Group, "/: ~^?*[\\") {
		problems = append(problems, problem.Problem{File: file, Line: line("group"),
			Message: fmt.Sprintf("%s: group: %q cannot be part of a branch name", label, e.Group)})
	}
	// policy.New knows only that an image has no tag; the full grammar
	// needs a parser policy may not import.
	imageBad := false
	if e.Image != "" {
		if err := CheckImage(e.Image); err != nil {
			problems = append(problems, problem.Problem{File: file, Line: line("image"), Message: fmt.Sprintf("%s: image: %v", label, err)})
			imageBad = true
		}
	}
	p, err := policy.New(s)
	if err != nil {
		for _, e := range unjoin(err) {
			var fe *policy.FieldError
			if errors.As(e, &fe) && fe.Field == "image" && imageBad {
				continue // said above
			}
			if errors.As(e, &fe) {
				problems = append(problems, problem.Problem{File: file, Line: line(fe.Field), Message: label + ": " + fe.Error()})
			} else {
				problems = append(problems, problem.Problem{File: file, Line: line(""), Message: label + ": " + e.Error()})
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &Policy{Policy: p, File: file, Line: line("name"), PinDigest: e.PinDigest, Group: e.Group}, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// branchUnsafe matches what git does not allow in a branch name.
var branchUnsafe = regexp.MustCompile(`[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|^/|\.lock$|\.$`)

func pullRequests(f pullRequestsFile, file string, node *yaml.Node) (*PullRequests, problem.List) {
	line := func(field string) int { return fieldLine(node, field) }
	prs := DefaultPullRequests()
	var problems problem.List
	switch g := Grouping(f.Grouping); g {
	case "":
	case ByPolicy, ByGroup, All:
		prs.Grouping = g
	default:
		problems = append(problems, problem.Problem{File: file, Line: line("grouping"),
			Message: fmt.Sprintf("pullRequests.grouping: %q is not policy, group or all", f.Grouping)})
	}
	if f.BranchPrefix != nil {
		prs.BranchPrefix = *f.BranchPrefix
		if *f.BranchPrefix == "" || branchUnsafe.MatchString(*f.BranchPrefix) {
			problems = append(problems, problem.Problem{File: file, Line: line("branchPrefix"),
				Message: fmt.Sprintf("pullRequests.branchPrefix: %q is not a valid start of a git branch name", *f.BranchPrefix)})
		}
	}
	if f.MaxOpen != nil {
		prs.MaxOpen = *f.MaxOpen
		if *f.MaxOpen < 0 {
			problems = append(problems, problem.Problem{File: file, Line: line("maxOpen"),
				Message: fmt.Sprintf("pullRequests.maxOpen: %d is negative (0 means no limit)", *f.MaxOpen)})
		}
	}
	prs.Labels, prs.Reviewers, prs.TeamReviewers, prs.Draft = f.Labels, f.Reviewers, f.TeamReviewers, f.Draft
	for _, list := range []struct {
		field  string
		values []string
	}{{"labels", f.Labels}, {"reviewers", f.Reviewers}, {"teamReviewers", f.TeamReviewers}} {
		for i, v := range list.values {
			if strings.TrimSpace(v) == "" {
				problems = append(problems, problem.Problem{File: file, Line: line(fmt.Sprintf("%s[%d]", list.field, i)),
					Message: fmt.Sprintf("pullRequests.%s[%d] is empty", list.field, i)})
			}
		}
	}
	return &prs, problems
}

func duplicateNames(ps []*Policy) problem.List {
	first := map[string]*Policy{}
	var problems problem.List
	for _, p := range ps {
		if q, ok := first[p.Name()]; ok {
			problems = append(problems, problem.Problem{File: p.File, Line: p.Line,
				Message: fmt.Sprintf("policy %q is defined twice: here and at %s:%d", p.Name(), q.File, q.Line)})
			continue
		}
		first[p.Name()] = p
	}
	return problems
}

func prsLine(src []byte) int { return keyLineOf(src, "pullRequests") }

// keyLineOf is the line of a top-level key of a policy file, or 0.
func keyLineOf(src []byte, key string) int {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	return keyLine(doc.Content[0], key)
}

// valueOf returns the value node of key in a mapping node, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keyLine(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// fieldLine finds the line of a field path such as "filterTags.extract" or
// "exclude[1]" below node, falling back to the deepest node found.
func fieldLine(node *yaml.Node, path string) int {
	if node == nil {
		return 0
	}
	line := node.Line
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			break
		}
		key, idx := part, -1
		if k, rest, ok := strings.Cut(part, "["); ok {
			key = k
			idx, _ = strconv.Atoi(strings.TrimSuffix(rest, "]"))
		}
		v := valueOf(node, key)
		if v == nil {
			return line
		}
		node, line = v, v.Line
		if idx >= 0 && v.Kind == yaml.SequenceNode && idx < len(v.Content) {
			node, line = v.Content[idx], v.Content[idx].Line
		}
	}
	return line
}
