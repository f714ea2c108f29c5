package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	// Flux is what the repository's Flux image automation objects say
	// besides their policies; nil when it holds none or they are not read.
	Flux *Flux
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
	// Inactive, when set, says why the policy is not applied: its markers
	// are left alone, as Flux leaves them for a suspended object.
	Inactive string
	// Hint is added to an error resolving the policy: what its source
	// says about reaching the registry that imagebump cannot carry out.
	Hint string
	// Flux is set for a policy read from a Flux ImagePolicy.
	Flux *FluxSource
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
	// Flux false stops the repository's Flux objects being read (root
	// file only).
	Flux      *bool          `yaml:"flux"`
	Dashboard *dashboardFile `yaml:"dashboard"`
}

// LoadOption changes what LoadPolicies, LoadBot and LoadRegistries read
// or check; each ignores the options that are not about it.
type LoadOption func(*loadOptions)

type loadOptions struct {
	noFlux    bool   // LoadPolicies
	repoURL   string // LoadPolicies
	skipFiles bool   // LoadBot, LoadRegistries
}

// WithoutFlux stops LoadPolicies reading Flux ImageRepository, ImagePolicy
// and ImageUpdateAutomation objects. By default they are read whenever the
// repository holds some, unless its root policy file says flux: false.
func WithoutFlux() LoadOption { return func(o *loadOptions) { o.noFlux = true } }

// ForRepository tells LoadPolicies the URL of the repository it reads: an
// ImageUpdateAutomation whose GitRepository (held in the repository) has
// another URL is for another repository, and is passed over with a note
// (SameRepository; a URL it cannot read is never another).
func ForRepository(url string) LoadOption { return func(o *loadOptions) { o.repoURL = url } }

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
//
// Flux image automation objects in the repository's manifests are read as
// policies named namespace:name (see Flux), unless an option or the root
// policy file turns that off; a name both define is a problem.
func LoadPolicies(root string, opts ...LoadOption) (*Policies, error) {
	d, err := ReadPolicies(root, opts...)
	if err != nil {
		return nil, err
	}
	if len(d.Problems) > 0 {
		return nil, d.Problems
	}
	return d.Policies, nil
}

// Draft is what the policy files of a repository say even when some of it
// is invalid: validate uses it to report every problem in one run, markers
// naming undefined policies included.
type Draft struct {
	// Policies holds the valid policies, sorted by name, and the
	// repository-wide settings.
	Policies *Policies
	// Names holds the name of every policies entry, valid or not.
	Names map[string]bool
	// Complete is false when some policy file could not be read or
	// decoded at all: a policy missing from Names may be defined there.
	Complete bool
	// Problems are every problem found, sorted.
	Problems problem.List
}

// ReadPolicies is LoadPolicies returning what it could read along with
// the problems. The error is an I/O failure of root itself.
func ReadPolicies(root string, opts ...LoadOption) (*Draft, error) {
	o := newLoadOptions(opts)
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
	readFlux := !o.noFlux
	d := &Draft{Policies: out, Names: map[string]bool{}, Complete: len(problems) == 0}
	for _, rel := range files {
		src, err := readPolicyFile(r, filepath.FromSlash(rel))
		if err != nil {
			problems = append(problems, problem.Problem{File: rel, Message: "cannot read: " + reason(err)})
			d.Complete = false
			continue
		}
		res := parsePolicyFile(rel, src)
		problems = append(problems, res.problems...)
		out.Policies = append(out.Policies, res.policies...)
		d.Complete = d.Complete && res.decoded
		for _, n := range res.names {
			d.Names[n] = true
		}
		if flux := res.flux; flux != nil {
			if isRoot(rel) {
				readFlux = readFlux && *flux
			} else {
				problems = append(problems, problem.Problem{File: rel, Line: topKeyLine(src, "flux"),
					Message: "flux is read from the repository's root policy file only"})
			}
		}
		if db, probs := dashboardOf(rel, src); len(probs) > 0 {
			problems = append(problems, probs...)
		} else if db != nil && isRoot(rel) {
			out.Dashboard = *db
		} else if db != nil {
			problems = append(problems, problem.Problem{File: rel, Line: topKeyLine(src, "dashboard"),
				Message: "dashboard is read from the repository's root policy file only"})
		}
		if prs := res.pullRequests; prs != nil {
			if isRoot(rel) {
				out.PullRequests = *prs
			} else {
				problems = append(problems, problem.Problem{File: rel, Line: prsLine(src),
					Message: "pullRequests is read from the repository's root policy file only"})
			}
		}
	}
	if readFlux {
		fx, ps, probs, err := loadFlux(r.FS(), o.repoURL)
		if err != nil {
			return nil, fmt.Errorf("looking for Flux objects in %s: %w", root, err)
		}
		problems = append(problems, probs...)
		out.Policies = append(out.Policies, ps...)
		for _, p := range ps {
			d.Names[p.Name()] = true
		}
		if len(fx.Files) > 0 {
			out.Flux = fx
		}
	}
	problems = append(problems, duplicateNames(out.Policies)...)
	d.Problems = problems.Sorted()
	slices.SortStableFunc(out.Policies, func(a, b *Policy) int { return strings.Compare(a.Name(), b.Name()) })
	return d, nil
}

// MaxPolicyFileSize bounds a policy file: more than any set of policies
// takes, and little enough to read whatever a repository holds.
const MaxPolicyFileSize = 1 << 20

// errPolicyFileSize is the reason a policy file above MaxPolicyFileSize is
// not read.
var errPolicyFileSize = fmt.Errorf("the file is larger than the %dMiB a policy file may have", MaxPolicyFileSize>>20)

// readPolicyFile reads the file name in r, unless it is larger than
// MaxPolicyFileSize.
func readPolicyFile(r *os.Root, name string) ([]byte, error) {
	return readCapped(func() (*os.File, error) { return r.Open(name) }, MaxPolicyFileSize, func([]byte, io.Reader) ([]byte, error) {
		return nil, errPolicyFileSize
	})
}

// readCapped opens a file with open and returns its content when it holds
// at most limit bytes. A larger file is never read whole: tooLarge gets
// the first limit+1 bytes and the file, open after them, and readCapped
// returns its answer. Policy files and Flux manifests are read this way.
func readCapped[F io.ReadCloser](open func() (F, error), limit int, tooLarge func(head []byte, rest io.Reader) ([]byte, error)) ([]byte, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(src) > limit {
		return tooLarge(src, f)
	}
	return src, nil
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

// policyFileResult is what parsePolicyFile found in one policy file.
type policyFileResult struct {
	policies     []*Policy // the valid ones
	pullRequests *PullRequests
	problems     problem.List
	// names are the names of every policies entry, valid or not; decoded
	// is false when the file could not be decoded, so names is unknown.
	names   []string
	decoded bool
	// flux is the file's flux: setting; nil when it has none.
	flux *bool
}

// parsePolicyFile decodes one policy file strictly and compiles its
// policies, returning the valid ones and a problem for each invalid one.
func parsePolicyFile(file string, src []byte) policyFileResult {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return policyFileResult{problems: decodeProblems(file, err)}
	}
	if len(doc.Content) == 0 {
		return policyFileResult{decoded: true} // an empty file defines nothing
	}
	if ps := aliasProblems(file, "policy files", &doc); len(ps) > 0 {
		return policyFileResult{problems: ps}
	}
	var pf policyFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	// Unknown fields do not stop the checks of the rest of the file, so
	// that one run of validate shows every problem.
	problems, fatal := strictProblems(file, dec.Decode(&pf))
	if fatal {
		return policyFileResult{problems: problems}
	}
	var more yaml.Node
	if dec.Decode(&more) == nil {
		return policyFileResult{problems: append(problems, problem.Problem{File: file, Line: more.Line, Message: "a policy file holds one YAML document; found another"})}
	}
	if len(problems) > 0 {
		pf = policyFile{}
		if err := doc.Decode(&pf); err != nil {
			return policyFileResult{problems: problems}
		}
	}
	top := doc.Content[0]
	items := valueOf(top, "policies")

	res := policyFileResult{decoded: true}
	for i, e := range pf.Policies {
		var item *yaml.Node
		if items != nil && i < len(items.Content) {
			item = items.Content[i]
		}
		res.names = append(res.names, e.Name)
		p, probs := compile(e, file, item)
		problems = append(problems, probs...)
		if p != nil {
			res.policies = append(res.policies, p)
		}
	}
	if pf.PullRequests != nil {
		var probs problem.List
		res.pullRequests, probs = pullRequests(*pf.PullRequests, file, valueOf(top, "pullRequests"))
		problems = append(problems, probs...)
	}
	res.flux = pf.Flux
	res.problems = problems
	return res
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

func prsLine(src []byte) int { return topKeyLine(src, "pullRequests") }

func topKeyLine(src []byte, key string) int {
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
