package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
)

// Flux image automation objects (image.toolkit.fluxcd.io ImageRepository,
// ImagePolicy and ImageUpdateAutomation) committed in a repository are read
// as policies and as the bot's instructions, with the semantics of Flux's
// image-reflector-controller and image-automation-controller: an ImagePolicy
// flux-system/podinfo is the policy "flux-system:podinfo", which is what
// Flux's markers already name.

const (
	fluxImageGroup  = "image.toolkit.fluxcd.io/"
	fluxSourceGroup = "source.toolkit.fluxcd.io/"
	// maxFluxFile bounds what is read of one manifest looking for objects.
	maxFluxFile = 16 << 20
)

// fluxSignatureExclusion is what an ImageRepository excludes when its
// exclusionList is empty (Flux's GetExclusionList): cosign signature tags.
const fluxSignatureExclusion = `^.*\.sig$`

// Flux is what the Flux image automation objects of a repository say
// beyond the policies they define.
type Flux struct {
	// Files are the files holding image.toolkit.fluxcd.io objects,
	// relative to the root, sorted.
	Files []string
	// Automation is the ImageUpdateAutomation the bot follows; nil when the
	// repository holds none.
	Automation *Automation
	// Notes are settings of these objects that imagebump reads and does
	// not carry out the way Flux does, each at its file and line. They
	// never make the repository invalid; validate and plan print them.
	Notes problem.List
}

// Automation is an ImageUpdateAutomation: where and how the bot commits
// for the repository holding it.
type Automation struct {
	Namespace, Name string
	File            string
	Line            int
	// CheckoutBranch is git.checkout.ref.branch, or the branch of the
	// GitRepository it names when git.checkout is absent; "" when neither
	// is in the repository.
	CheckoutBranch string
	// PushBranch is git.push.branch; "" pushes to the checkout branch.
	PushBranch string
	// AuthorName and AuthorEmail are git.commit.author.
	AuthorName, AuthorEmail string
	// SigningKeySecret is git.commit.signingKey.secretRef.name: Flux signs
	// with that Kubernetes secret, which imagebump cannot read; the bot's
	// commit.signingKeyFile must stand in for it.
	SigningKeySecret string
	// Path is update.path, clean and slash-separated; "" is the whole
	// repository.
	Path string
	// Suspend is spec.suspend: nothing is written for the repository.
	Suspend bool
	// Unsupported are settings imagebump cannot carry out (a push refspec,
	// push options, a checkout by tag or commit); run writes nothing for
	// the repository while they are there.
	Unsupported problem.List
	// Source is the namespace/name of the GitRepository it updates, and
	// SourceURL that GitRepository's spec.url, when the repository holds
	// it; "" otherwise.
	Source, SourceURL string

	message  *fluxMessage
	selector *labelSelector
}

// String is namespace/name, as Flux prints an object.
func (a *Automation) String() string { return a.Namespace + "/" + a.Name }

// fluxObject is one image.toolkit.fluxcd.io (or GitRepository) document.
type fluxObject struct {
	file       string
	apiVersion string
	version    string
	kind       string
	doc        *yaml.Node // the document's top mapping
	meta       fluxMeta
}

type fluxMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

func (o *fluxObject) key() string { return o.meta.Namespace + "/" + o.meta.Name }

// line is the line of a field path below the document ("spec.image").
func (o *fluxObject) line(field string) int { return fieldLine(o.doc, field) }

func (o *fluxObject) problem(field, format string, args ...any) problem.Problem {
	return problem.Problem{File: o.file, Line: o.line(field),
		Message: fmt.Sprintf("%s %s: ", o.kind, o.key()) + fmt.Sprintf(format, args...)}
}

type localRef struct {
	Name string `yaml:"name"`
}

type imageRepositorySpec struct {
	Image              string    `yaml:"image"`
	SecretRef          *localRef `yaml:"secretRef"`
	ProxySecretRef     *localRef `yaml:"proxySecretRef"`
	CertSecretRef      *localRef `yaml:"certSecretRef"`
	ServiceAccountName string    `yaml:"serviceAccountName"`
	Suspend            bool      `yaml:"suspend"`
	AccessFrom         yaml.Node `yaml:"accessFrom"`
	ExclusionList      []string  `yaml:"exclusionList"`
	Provider           string    `yaml:"provider"`
	Insecure           bool      `yaml:"insecure"`
}

type imagePolicySpec struct {
	ImageRepositoryRef struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"imageRepositoryRef"`
	Policy struct {
		SemVer *struct {
			Range string `yaml:"range"`
		} `yaml:"semver"`
		Alphabetical *struct {
			Order string `yaml:"order"`
		} `yaml:"alphabetical"`
		Numerical *struct {
			Order string `yaml:"order"`
		} `yaml:"numerical"`
	} `yaml:"policy"`
	FilterTags *struct {
		Pattern string `yaml:"pattern"`
		Extract string `yaml:"extract"`
	} `yaml:"filterTags"`
	DigestReflectionPolicy string `yaml:"digestReflectionPolicy"`
	Suspend                bool   `yaml:"suspend"`
}

type automationSpec struct {
	SourceRef struct {
		Kind      string `yaml:"kind"`
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"sourceRef"`
	Git *struct {
		Checkout *struct {
			Ref gitRef `yaml:"ref"`
		} `yaml:"checkout"`
		Commit struct {
			Author struct {
				Name  string `yaml:"name"`
				Email string `yaml:"email"`
			} `yaml:"author"`
			SigningKey *struct {
				SecretRef localRef `yaml:"secretRef"`
				Type      string   `yaml:"type"`
			} `yaml:"signingKey"`
			MessageTemplate       string            `yaml:"messageTemplate"`
			MessageTemplateValues map[string]string `yaml:"messageTemplateValues"`
		} `yaml:"commit"`
		Push *struct {
			Branch  string            `yaml:"branch"`
			Refspec string            `yaml:"refspec"`
			Options map[string]string `yaml:"options"`
		} `yaml:"push"`
	} `yaml:"git"`
	PolicySelector *labelSelectorSpec `yaml:"policySelector"`
	Update         *struct {
		Strategy string `yaml:"strategy"`
		Path     string `yaml:"path"`
	} `yaml:"update"`
	Suspend bool `yaml:"suspend"`
}

// gitRef is a GitRepository's ref, as GitRepository.spec.ref and
// ImageUpdateAutomation.spec.git.checkout.ref write it.
type gitRef struct {
	Branch string `yaml:"branch"`
	Tag    string `yaml:"tag"`
	SemVer string `yaml:"semver"`
	Name   string `yaml:"name"`
	Commit string `yaml:"commit"`
}

// fluxSchema is the fields an object may have, below spec: a nil value
// accepts anything below its key (maps of labels, selectors, durations).
type fluxSchema map[string]fluxSchema

// fluxSchemas are the spec fields of each kind per API version, from the
// Go types in fluxcd/image-reflector-controller/api and
// fluxcd/image-automation-controller/api. v1beta2 and v1 have the same
// fields; v1beta1 lacks a few.
func fluxSpecSchema(kind, version string) fluxSchema {
	ref := fluxSchema{"name": nil}
	switch kind {
	case "ImageRepository":
		s := fluxSchema{"image": nil, "interval": nil, "timeout": nil, "secretRef": ref, "serviceAccountName": nil,
			"certSecretRef": ref, "suspend": nil, "accessFrom": nil, "exclusionList": nil,
			"proxySecretRef": ref, "provider": nil, "insecure": nil}
		if version == "v1beta1" {
			delete(s, "proxySecretRef")
			delete(s, "provider")
			delete(s, "insecure")
		}
		return s
	case "ImagePolicy":
		s := fluxSchema{
			"imageRepositoryRef":     {"name": nil, "namespace": nil},
			"policy":                 {"semver": {"range": nil}, "alphabetical": {"order": nil}, "numerical": {"order": nil}},
			"filterTags":             {"pattern": nil, "extract": nil},
			"digestReflectionPolicy": nil, "interval": nil, "suspend": nil,
		}
		if version == "v1beta1" {
			delete(s, "digestReflectionPolicy")
			delete(s, "interval")
			delete(s, "suspend")
		}
		return s
	case "ImageUpdateAutomation":
		commit := fluxSchema{"author": {"name": nil, "email": nil}, "signingKey": {"secretRef": ref, "type": nil},
			"messageTemplate": nil, "messageTemplateValues": nil}
		s := fluxSchema{
			"sourceRef": {"apiVersion": nil, "kind": nil, "name": nil, "namespace": nil},
			"git": {
				"checkout": {"ref": {"branch": nil, "tag": nil, "semver": nil, "name": nil, "commit": nil}},
				"commit":   commit,
				"push":     {"branch": nil, "refspec": nil, "options": nil},
			},
			"interval": nil, "policySelector": {"matchLabels": nil, "matchExpressions": nil},
			"update": {"strategy": nil, "path": nil}, "suspend": nil,
		}
		if version == "v1beta1" {
			delete(s, "policySelector")
			delete(commit, "messageTemplateValues")
			delete(commit["signingKey"], "type")
		}
		return s
	}
	return nil
}

// checkFields reports every key below n that schema does not know, at its
// line; at names the field path so far ("spec.policy").
func (o *fluxObject) checkFields(n *yaml.Node, schema fluxSchema, at string) problem.List {
	if schema == nil || n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return problem.List{{File: o.file, Line: n.Line, Message: fmt.Sprintf("%s %s: %s: want a mapping", o.kind, o.key(), at)}}
	}
	var ps problem.List
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		sub, ok := schema[k]
		if !ok {
			ps = append(ps, problem.Problem{File: o.file, Line: n.Content[i].Line,
				Message: fmt.Sprintf("%s %s: unknown field %q in %s (%s)", o.kind, o.key(), k, at, o.apiVersion)})
			continue
		}
		ps = append(ps, o.checkFields(n.Content[i+1], sub, at+"."+k)...)
	}
	return ps
}

// decodeSpec decodes the object's spec into v after checking its fields.
func (o *fluxObject) decodeSpec(v any) problem.List {
	spec := valueOf(o.doc, "spec")
	if spec == nil {
		return problem.List{{File: o.file, Line: o.doc.Line, Message: fmt.Sprintf("%s %s: spec is missing", o.kind, o.key())}}
	}
	if ps := o.checkFields(spec, fluxSpecSchema(o.kind, o.version), "spec"); len(ps) > 0 {
		return ps
	}
	if err := spec.Decode(v); err != nil {
		ps := decodeProblems(o.file, err)
		for i := range ps {
			ps[i].Message = fmt.Sprintf("%s %s: %s", o.kind, o.key(), ps[i].Message)
		}
		return ps
	}
	return nil
}

// findFluxObjects reads every YAML manifest under fsys that mentions a Flux
// image or source API group and returns the ImageRepository, ImagePolicy,
// ImageUpdateAutomation and GitRepository documents in them. A file that
// mentions the group and does not parse is a problem: it may hold policies.
func findFluxObjects(fsys fs.FS) ([]*fluxObject, problem.List, problem.List, error) {
	var objs []*fluxObject
	var problems, notes problem.List
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			// findPolicyFiles reports unreadable directories already.
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !d.Type().IsRegular() || slices.Contains(PolicyFileNames, name) ||
			!(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			return nil
		}
		src, err := readBounded(fsys, p)
		if err != nil {
			problems = append(problems, problem.Problem{File: p, Message: "cannot read: " + reason(err)})
			return nil
		}
		if !bytes.Contains(src, []byte(fluxImageGroup)) && !bytes.Contains(src, []byte(fluxSourceGroup)) {
			return nil
		}
		if inHelmTemplates(fsys, p) {
			if bytes.Contains(src, []byte(fluxImageGroup)) {
				notes = append(notes, problem.Problem{File: p,
					Message: "a Helm chart template mentions " + strings.TrimSuffix(fluxImageGroup, "/") + "; Flux reads what the chart renders, imagebump does not render charts, so its objects are not read"})
			}
			return nil
		}
		found, ps, ns := parseFluxFile(p, src)
		objs = append(objs, found...)
		problems = append(problems, ps...)
		notes = append(notes, ns...)
		return nil
	})
	return objs, problems, notes, err
}

// readBounded reads the manifest p whole, unless it is larger than
// maxFluxFile: then it is only searched, piece by piece, for the Flux API
// groups, and errTooLarge is returned when it mentions one (it may hold
// objects that are then not read); a large file that mentions none (a CRD
// bundle) is nothing to Flux reading and returns nil, nil.
func readBounded(fsys fs.FS, p string) ([]byte, error) {
	return readCapped(func() (fs.File, error) { return fsys.Open(p) }, maxFluxFile, func(src []byte, rest io.Reader) ([]byte, error) {
		tail := src[len(src)-len(fluxSourceGroup):]
		if bytes.Contains(src, []byte(fluxImageGroup)) || bytes.Contains(src, []byte(fluxSourceGroup)) {
			return nil, &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("larger than %d MiB", maxFluxFile>>20)}
		}
		found, err := mentions(rest, tail, []byte(fluxImageGroup), []byte(fluxSourceGroup))
		if err != nil {
			return nil, err
		}
		if found {
			return nil, &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("larger than %d MiB", maxFluxFile>>20)}
		}
		return nil, nil
	})
}

// mentions reports whether r, read on after carry (the last bytes already
// read), holds any of needles, reading 64 KiB at a time.
func mentions(r io.Reader, carry []byte, needles ...[]byte) (bool, error) {
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	buf := make([]byte, 0, 64<<10+longest)
	buf = append(buf, carry...)
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for _, nd := range needles {
			if bytes.Contains(buf, nd) {
				return true, nil
			}
		}
		if keep := longest - 1; len(buf) > keep {
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// parseFluxFile returns the Flux documents of one file, its problems and
// notes. Documents of other kinds are skipped, as are files holding only
// those.
func parseFluxFile(file string, src []byte) ([]*fluxObject, problem.List, problem.List) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var objs []*fluxObject
	var problems problem.List
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !bytes.Contains(src, []byte(fluxImageGroup)) {
				return nil, nil, nil // a GitRepository is only looked up; the patcher reports the file
			}
			if bytes.Contains(src, []byte("{{")) {
				// A Helm or other template: Flux reads what it renders,
				// not this file. Said, not fatal.
				return nil, nil, problem.List{{File: file,
					Message: "mentions " + strings.TrimSuffix(fluxImageGroup, "/") + " but is not valid YAML (a template?); its objects are not read"}}
			}
			return nil, decodeProblems(file, err), nil
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0]
		apiVersion, kind := scalar(valueOf(top, "apiVersion")), scalar(valueOf(top, "kind"))
		group, version, _ := strings.Cut(apiVersion, "/")
		group += "/"
		switch {
		case group == fluxImageGroup && (kind == "ImageRepository" || kind == "ImagePolicy" || kind == "ImageUpdateAutomation"):
		case group == fluxSourceGroup && kind == "GitRepository":
		default:
			continue
		}
		o := &fluxObject{file: file, apiVersion: apiVersion, version: version, kind: kind, doc: top}
		if ps := aliasProblems(file, "Flux objects", top); len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		if m := valueOf(top, "metadata"); m != nil {
			if err := m.Decode(&o.meta); err != nil {
				problems = append(problems, decodeProblems(file, err)...)
				continue
			}
		}
		if group == fluxImageGroup {
			if !slices.Contains([]string{"v1beta1", "v1beta2", "v1"}, version) {
				problems = append(problems, problem.Problem{File: file, Line: keyLine(top, "apiVersion"),
					Message: fmt.Sprintf("%s: apiVersion %s: imagebump reads %sv1beta1, v1beta2 and v1", kind, apiVersion, fluxImageGroup)})
				continue
			}
			if o.meta.Name == "" {
				problems = append(problems, problem.Problem{File: file, Line: top.Line, Message: kind + ": metadata.name is required"})
				continue
			}
			if o.meta.Namespace == "" {
				// A kustomization or a Kustomization's targetNamespace
				// may give it one; imagebump reads neither, and the
				// namespace is half of the name markers use.
				problems = append(problems, problem.Problem{File: file, Line: keyLine(top, "metadata"),
					Message: fmt.Sprintf("%s %s: metadata.namespace is not set; imagebump names Flux policies namespace:name and does not read the namespace a kustomization would give it: write it here (or ignore Flux objects: flux: false in the root .imagebump.yaml)", kind, o.meta.Name)})
				continue
			}
		}
		objs = append(objs, o)
	}
	return objs, problems, nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// loadFlux turns the Flux objects under fsys into policies and the
// automation. Problems make the repository invalid, as a bad policy file
// does.
func loadFlux(fsys fs.FS, repoURL string) (*Flux, []*Policy, problem.List, error) {
	objs, problems, notes, err := findFluxObjects(fsys)
	if err != nil {
		return nil, nil, nil, err
	}
	fx := &Flux{Notes: notes}
	repos := map[string]*fluxObject{}
	repoSpecs := map[string]*imageRepositorySpec{}
	gitRepos := map[string]*fluxObject{}
	var pols, autos []*fluxObject
	files := map[string]bool{}
	for _, o := range objs {
		if strings.HasPrefix(o.apiVersion, fluxImageGroup) {
			files[o.file] = true
		}
		switch o.kind {
		case "GitRepository":
			gitRepos[o.key()] = o
		case "ImageRepository":
			if prev, dup := repos[o.key()]; dup {
				problems = append(problems, o.problem("metadata.name", "defined twice: here and at %s:%d", prev.file, prev.line("metadata.name")))
				continue
			}
			var spec imageRepositorySpec
			if ps := o.decodeSpec(&spec); len(ps) > 0 {
				problems = append(problems, ps...)
				// Still known, so that its policies are not also
				// reported as naming a missing repository.
				repos[o.key()] = o
				continue
			}
			repos[o.key()], repoSpecs[o.key()] = o, &spec
		case "ImagePolicy":
			pols = append(pols, o)
		case "ImageUpdateAutomation":
			autos = append(autos, o)
		}
	}
	for f := range files {
		fx.Files = append(fx.Files, f)
	}
	slices.Sort(fx.Files)

	var out []*Policy
	for _, o := range pols {
		p, notes, ps := fluxPolicy(o, repos, repoSpecs)
		problems = append(problems, ps...)
		fx.Notes = append(fx.Notes, notes...)
		if p != nil {
			out = append(out, p)
		}
	}

	var active []*Automation
	for _, o := range autos {
		a, ps := fluxAutomation(o, gitRepos)
		if a != nil && repoURL != "" {
			if same, ok := SameRepository(a.SourceURL, repoURL); ok && !same {
				// In a fleet repository holding the automations of
				// other repositories, each is theirs to follow.
				fx.Notes = append(fx.Notes, problem.Problem{File: a.File, Line: a.Line,
					Message: fmt.Sprintf("ImageUpdateAutomation %s updates GitRepository %s (%s), not this repository: imagebump passes it over here", a, a.Source, RedactURL(a.SourceURL))})
				continue
			}
		}
		problems = append(problems, ps...)
		if a == nil {
			continue
		}
		if fx.Automation == nil || fx.Automation.Suspend && !a.Suspend {
			fx.Automation = a
		}
		if !a.Suspend {
			active = append(active, a)
		}
	}
	if len(active) > 1 {
		for _, a := range active[1:] {
			problems = append(problems, problem.Problem{File: a.File, Line: a.Line,
				Message: fmt.Sprintf("ImageUpdateAutomation %s: imagebump follows one ImageUpdateAutomation per repository, and %s at %s:%d is another; suspend or remove all but one", a, active[0], active[0].File, active[0].Line)})
		}
	}
	if a := fx.Automation; a != nil {
		if a.Suspend {
			fx.Notes = append(fx.Notes, problem.Problem{File: a.File, Line: a.Line,
				Message: fmt.Sprintf("ImageUpdateAutomation %s is suspended: the markers of its policies are left alone", a)})
		}
		for _, p := range out {
			switch {
			case a.Suspend:
				p.Inactive = fmt.Sprintf("ImageUpdateAutomation %s is suspended", a)
			case p.Flux.Namespace != a.Namespace:
				p.Inactive = fmt.Sprintf("ImageUpdateAutomation %s applies the ImagePolicies of namespace %s only", a, a.Namespace)
			case !a.selector.matches(p.Flux.Labels):
				p.Inactive = fmt.Sprintf("ImageUpdateAutomation %s's policySelector does not select it", a)
			}
		}
	}
	fx.Notes = fx.Notes.Sorted()
	return fx, out, problems, nil
}

// FluxSource says where a policy read from Flux objects comes from.
type FluxSource struct {
	// Namespace and Name are the ImagePolicy's.
	Namespace, Name string
	Labels          map[string]string
	// Repository is the ImageRepository's namespace/name, and where it is.
	Repository     string
	RepositoryFile string
	RepositoryLine int
}

// fluxPolicy compiles one ImagePolicy with its ImageRepository.
func fluxPolicy(o *fluxObject, repos map[string]*fluxObject, repoSpecs map[string]*imageRepositorySpec) (*Policy, problem.List, problem.List) {
	var spec imagePolicySpec
	if ps := o.decodeSpec(&spec); len(ps) > 0 {
		return nil, nil, ps
	}
	var problems, notes problem.List
	ref := spec.ImageRepositoryRef
	if ref.Name == "" {
		return nil, nil, problem.List{o.problem("spec.imageRepositoryRef", "imageRepositoryRef.name is required")}
	}
	ns := ref.Namespace
	if ns == "" {
		ns = o.meta.Namespace // Flux's default: the policy's own namespace
	}
	key := ns + "/" + ref.Name
	ro, ok := repos[key]
	if !ok {
		return nil, nil, problem.List{o.problem("spec.imageRepositoryRef.name", "ImageRepository %s is not in the repository", key)}
	}
	rs := repoSpecs[key]
	if rs == nil {
		return nil, nil, nil // the repository's own problems are reported
	}
	if ns != o.meta.Namespace {
		if rs.AccessFrom.Kind == 0 {
			// Flux's ACL refuses a cross-namespace reference to a
			// repository that grants no access.
			return nil, nil, problem.List{o.problem("spec.imageRepositoryRef.namespace",
				"ImageRepository %s is in another namespace and has no accessFrom, so Flux refuses the reference", key)}
		}
		notes = append(notes, o.problem("spec.imageRepositoryRef.namespace",
			"ImageRepository %s's accessFrom namespace selectors are not checked: imagebump reads no Namespace labels", key))
	}

	s := policy.Spec{Name: o.meta.Namespace + ":" + o.meta.Name, Image: rs.Image}
	s.Exclude = rs.ExclusionList
	if len(s.Exclude) == 0 {
		s.Exclude = []string{fluxSignatureExclusion}
	}
	// Flux's policy fields, by the name policy.New reports them under.
	fields := map[string]string{"name": "metadata.name"}
	var kinds []string
	if c := spec.Policy.SemVer; c != nil {
		kinds = append(kinds, "semver")
		s.SemVer = c.Range
		fields["semver"] = "spec.policy.semver.range"
		if c.Range == "" {
			problems = append(problems, o.problem("spec.policy.semver", "policy.semver.range is required"))
		}
	}
	if c := spec.Policy.Alphabetical; c != nil {
		kinds = append(kinds, "alphabetical")
		s.Alphabetical = fluxOrder(c.Order)
		fields["alphabetical"] = "spec.policy.alphabetical.order"
	}
	if c := spec.Policy.Numerical; c != nil {
		kinds = append(kinds, "numerical")
		s.Numerical = fluxOrder(c.Order)
		fields["numerical"] = "spec.policy.numerical.order"
	}
	switch len(kinds) {
	case 0:
		return nil, nil, problem.List{o.problem("spec.policy", "policy needs one of semver, alphabetical, numerical")}
	case 1:
	default:
		return nil, nil, problem.List{o.problem("spec.policy", "policy has %s; Flux uses one", strings.Join(kinds, " and "))}
	}
	if f := spec.FilterTags; f != nil && (f.Pattern != "" || f.Extract != "") {
		// Flux's empty pattern keeps every tag, as no filter does.
		pattern := f.Pattern
		if pattern == "" {
			pattern = ".*"
		}
		s.Filter = &policy.Filter{Pattern: pattern, Extract: f.Extract}
		fields["filterTags.pattern"] = "spec.filterTags.pattern"
		fields["filterTags.extract"] = "spec.filterTags.extract"
	}

	pinDigest := false
	switch spec.DigestReflectionPolicy {
	case "", "Never":
	case "Always":
		pinDigest = true
	case "IfNotPresent":
		pinDigest = true
		notes = append(notes, o.problem("spec.digestReflectionPolicy",
			"IfNotPresent keeps the digest Flux first saw for a tag; imagebump writes the tag's digest as the registry has it on every pass, as Always does"))
	default:
		problems = append(problems, o.problem("spec.digestReflectionPolicy", "%q is not Always, IfNotPresent or Never", spec.DigestReflectionPolicy))
	}

	repoProblem := func(field, format string, args ...any) problem.Problem {
		return ro.problem(field, format, args...)
	}
	if err := CheckImage(rs.Image); err != nil {
		problems = append(problems, repoProblem("spec.image", "image: %v", err))
	}
	p, err := policy.New(s)
	if err != nil {
		for _, e := range unjoin(err) {
			var fe *policy.FieldError
			switch {
			case errors.As(e, &fe) && fe.Field == "image":
				// CheckImage said it.
			case errors.As(e, &fe) && strings.HasPrefix(fe.Field, "exclude["):
				i := strings.TrimSuffix(strings.TrimPrefix(fe.Field, "exclude["), "]")
				problems = append(problems, repoProblem("spec.exclusionList["+i+"]", "exclusionList[%s]: %v", i, fe.Err))
			case errors.As(e, &fe):
				field := fields[fe.Field]
				if field == "" {
					field = "spec"
				}
				problems = append(problems, o.problem(field, "%s: %v", field, fe.Err))
			default:
				problems = append(problems, o.problem("spec", "%v", e))
			}
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}

	// What the ImageRepository says about reaching the registry comes
	// from the bot's side instead.
	hint := ""
	var creds []string
	if rs.SecretRef != nil {
		creds = append(creds, "secretRef "+rs.SecretRef.Name)
	}
	if rs.ServiceAccountName != "" {
		creds = append(creds, "serviceAccountName "+rs.ServiceAccountName)
	}
	if rs.Provider != "" && rs.Provider != "generic" {
		creds = append(creds, "provider "+rs.Provider)
	}
	if rs.CertSecretRef != nil {
		creds = append(creds, "certSecretRef "+rs.CertSecretRef.Name)
	}
	if rs.ProxySecretRef != nil {
		creds = append(creds, "proxySecretRef "+rs.ProxySecretRef.Name)
	}
	if len(creds) > 0 {
		hint = fmt.Sprintf("ImageRepository %s (%s:%d) reaches the registry with %s, which imagebump cannot read: give the registry's credentials in the docker config (registries.dockerConfig) and its CA in registries.hosts[].caFile",
			key, ro.file, ro.line("spec"), strings.Join(creds, ", "))
	}
	if rs.Insecure {
		notes = append(notes, ro.problem("spec.insecure", "insecure: mark the registry's host insecure on the bot's side (--insecure-registry HOST or registries.hosts[].insecure); loopback hosts need nothing"))
		h := fmt.Sprintf("ImageRepository %s (%s:%d) is insecure: mark its host insecure with --insecure-registry HOST or registries.hosts[].insecure", key, ro.file, ro.line("spec.insecure"))
		hint = strings.TrimPrefix(hint+"; "+h, "; ")
	}
	pol := &Policy{Policy: p, File: o.file, Line: o.line("metadata.name"), PinDigest: pinDigest, Hint: hint,
		Flux: &FluxSource{Namespace: o.meta.Namespace, Name: o.meta.Name, Labels: o.meta.Labels,
			Repository: key, RepositoryFile: ro.file, RepositoryLine: ro.line("metadata.name")}}
	switch {
	case rs.Suspend:
		pol.Inactive = fmt.Sprintf("ImageRepository %s is suspended", key)
	case spec.Suspend:
		pol.Inactive = fmt.Sprintf("ImagePolicy %s is suspended", o.key())
	}
	return pol, notes, nil
}

// fluxOrder is Flux's order: case does not matter, and empty is asc.
func fluxOrder(s string) policy.Order {
	if s == "" {
		return policy.Asc
	}
	return policy.Order(strings.ToLower(s))
}

// fluxAutomation reads one ImageUpdateAutomation.
func fluxAutomation(o *fluxObject, gitRepos map[string]*fluxObject) (*Automation, problem.List) {
	var spec automationSpec
	if ps := o.decodeSpec(&spec); len(ps) > 0 {
		return nil, ps
	}
	a := &Automation{Namespace: o.meta.Namespace, Name: o.meta.Name, File: o.file, Line: o.line("metadata.name"), Suspend: spec.Suspend}
	var problems problem.List
	unsupported := func(field, format string, args ...any) {
		a.Unsupported = append(a.Unsupported, o.problem(field, format, args...))
	}
	if u := spec.Update; u != nil {
		if u.Strategy != "" && u.Strategy != "Setters" {
			problems = append(problems, o.problem("spec.update.strategy", "update.strategy %q: Flux knows only Setters", u.Strategy))
		}
		if u.Path != "" {
			p := path.Clean(strings.TrimPrefix(strings.ReplaceAll(u.Path, "\\", "/"), "/"))
			if p == ".." || strings.HasPrefix(p, "../") {
				problems = append(problems, o.problem("spec.update.path", "update.path %q leaves the repository", u.Path))
			} else if p != "." {
				a.Path = p
			}
		}
	}
	if spec.PolicySelector != nil {
		sel, err := spec.PolicySelector.compile()
		if err != nil {
			problems = append(problems, o.problem("spec.policySelector", "policySelector: %v", err))
		}
		a.selector = sel
	}
	if g := spec.Git; g == nil {
		problems = append(problems, o.problem("spec", "git is missing: it says how to commit"))
	} else {
		var gs struct {
			Ref gitRef `yaml:"ref"`
			URL string `yaml:"url"`
		}
		src, found := gitRepos[sourceKey(spec.SourceRef.Namespace, spec.SourceRef.Name, o.meta.Namespace)]
		if found {
			if s := valueOf(src.doc, "spec"); s == nil || s.Decode(&gs) != nil {
				found = false
			} else {
				a.Source, a.SourceURL = src.meta.Namespace+"/"+src.meta.Name, gs.URL
			}
		}
		if g.Checkout != nil {
			a.CheckoutBranch = checkoutBranch(g.Checkout.Ref, "spec.git.checkout.ref", unsupported)
		} else if found {
			a.CheckoutBranch = checkoutBranch(gs.Ref, "spec.sourceRef", unsupported)
		}
		c := g.Commit
		a.AuthorName, a.AuthorEmail = c.Author.Name, c.Author.Email
		if c.Author.Email == "" {
			problems = append(problems, o.problem("spec.git.commit.author", "git.commit.author.email is required"))
		}
		if c.SigningKey != nil {
			a.SigningKeySecret = c.SigningKey.SecretRef.Name
			if c.SigningKey.Type == "ssh" {
				unsupported("spec.git.commit.signingKey.type", "git.commit.signingKey.type ssh: imagebump signs with OpenPGP keys only")
			}
		}
		msg, err := newFluxMessage(c.MessageTemplate, c.MessageTemplateValues)
		if err != nil {
			problems = append(problems, o.problem("spec.git.commit.messageTemplate", "git.commit.messageTemplate: %v", err))
		}
		a.message = msg
		if p := g.Push; p != nil {
			a.PushBranch = p.Branch
			if p.Refspec != "" {
				if b, ok := refspecBranch(p.Refspec, a.PushBranch, a.CheckoutBranch); ok {
					a.PushBranch = b
				} else {
					unsupported("spec.git.push.refspec", "git.push.refspec %q: imagebump pushes one branch; only a refspec that pushes the commit to a branch (HEAD:refs/heads/NAME) maps", p.Refspec)
				}
			}
			if len(p.Options) > 0 {
				unsupported("spec.git.push.options", "git.push.options: imagebump sends no push options")
			}
		}
	}
	for _, b := range []struct{ field, name string }{{"spec.git.checkout.ref.branch", a.CheckoutBranch}, {"spec.git.push.branch", a.PushBranch}} {
		if b.name != "" && branchUnsafe.MatchString(b.name) {
			problems = append(problems, o.problem(b.field, "%q is not a valid git branch name", b.name))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return a, nil
}

func sourceKey(ns, name, def string) string {
	if ns == "" {
		ns = def
	}
	return ns + "/" + name
}

// checkoutBranch is the branch of a checkout ref; a checkout by tag,
// semver, name or commit is not something a bot can commit on.
func checkoutBranch(r gitRef, field string, unsupported func(string, string, ...any)) string {
	if r.Tag != "" || r.SemVer != "" || r.Commit != "" || r.Name != "" {
		unsupported(field, "a checkout by tag, semver, name or commit: imagebump commits on a branch")
		return ""
	}
	return r.Branch
}

// Auto is the automation of f, nil when f is nil or has none.
func (f *Flux) Auto() *Automation {
	if f == nil {
		return nil
	}
	return f.Automation
}

// FluxPolicy reads the ImagePolicy ref from file: ref is "namespace:name",
// or "name" when the file holds one ImagePolicy of that name. Its
// ImageRepository is looked for in the file and the directory tree the
// file is in. Problems of other objects there do not matter; the named
// policy's own are returned as problem.List.
func FluxPolicy(file, ref string) (*Policy, error) {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	_, pols, problems, err := loadFlux(os.DirFS(dir), "")
	if err != nil {
		return nil, err
	}
	var found []*Policy
	for _, p := range pols {
		if p.File == base && (p.Name() == ref || p.Flux.Name == ref) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var own problem.List
		for _, p := range problems {
			if p.File == base {
				p.File = file
				own = append(own, p)
			}
		}
		if len(own) > 0 {
			return nil, own
		}
		return nil, fmt.Errorf("%s holds no usable ImagePolicy %s", file, ref)
	}
	return nil, fmt.Errorf("%s holds ImagePolicy %s in several namespaces: name it namespace:name", file, ref)
}

// refspecBranch maps a push refspec that sends the automation's commit to
// one branch, and nowhere else, onto that branch: "HEAD:refs/heads/x", or
// "refs/heads/b:refs/heads/x" where b is the branch committed on, when
// no push.branch names another destination. Flux pushes to push.branch
// and then the refspec; two destinations cannot map.
func refspecBranch(refspec, pushBranch, checkoutBranch string) (string, bool) {
	src, dst, ok := strings.Cut(strings.TrimPrefix(refspec, "+"), ":")
	if !ok || strings.HasPrefix(refspec, "+") {
		return "", false
	}
	branch, ok := strings.CutPrefix(dst, "refs/heads/")
	if !ok || branch == "" {
		return "", false
	}
	if pushBranch != "" && pushBranch != branch {
		return "", false
	}
	committedOn := pushBranch
	if committedOn == "" {
		committedOn = checkoutBranch
	}
	if src != "HEAD" && (committedOn == "" || src != "refs/heads/"+committedOn) {
		return "", false
	}
	return branch, true
}

// inHelmTemplates reports whether p is below the templates directory of a
// Helm chart (a directory holding Chart.yaml): such files are rendered,
// not applied as they are.
func inHelmTemplates(fsys fs.FS, p string) bool {
	parts := strings.Split(p, "/")
	for i := len(parts) - 2; i >= 1; i-- {
		if parts[i] != "templates" {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(append(parts[:i:i], "Chart.yaml")...)); err == nil {
			return true
		}
	}
	return false
}
