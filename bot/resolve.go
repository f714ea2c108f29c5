package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/registry"
)

// Registry is what resolving needs of a registry: the tags and digests
// every policy needs, and the reads of the lazy candidate checks.
// *registry.Pass is one. Its errors say what was being done to which image
// ("listing tags of ghcr.io/acme/web: …"), so resolving does not say it
// again.
type Registry interface {
	tagLister
	imageInspector
}

// tagLister is what selecting a tag needs: the tags of a repository, the
// digest of the tag selected.
type tagLister interface {
	Tags(ctx context.Context, repo string) ([]string, error)
	Digest(ctx context.Context, ref string) (string, error)
}

// imageInspector is what the platforms and minAge checks read of a
// candidate.
type imageInspector interface {
	Platforms(ctx context.Context, ref string) ([]registry.Platform, error)
	Created(ctx context.Context, ref string) (time.Time, error)
}

// Request asks for one policy to be resolved.
type Request struct {
	Policy *config.Policy
	// Digest asks for the selected tag's digest even when the policy does
	// not pin digests, for markers with the :digest suffix.
	Digest bool
}

// Resolution is what one policy resolved to.
type Resolution struct {
	Policy *config.Policy
	Tag    string
	// Digest is "sha256:…" when it was asked for, the policy pins digests,
	// or the policy tracks a tag; empty otherwise.
	Digest string
	// Rejected lists, best first, the candidates above Tag that failed the
	// platforms or minAge check, with the reason.
	Rejected []Rejection
	// Err is why the policy could not be resolved; the other fields are
	// then empty. It wraps policy.ErrNoMatch when no tag is allowed.
	Err error
}

// Rejection is a candidate tag that the lazy checks turned down.
type Rejection struct {
	Tag    string
	Reason string
}

// ErrNoCandidate is wrapped by the error of a policy whose every candidate
// failed the platforms or minAge check.
var ErrNoCandidate = errors.New("no candidate passes the platforms and minAge checks")

// Resolver selects tags for policies. The zero value is ready to use.
type Resolver struct {
	// Now returns the current time, for minAge; nil means time.Now.
	Now func() time.Time
	// Concurrency bounds the policies resolved at once; 0 means 16. The
	// registry client bounds the requests per host on its own.
	Concurrency int
	// Check, when set, validates the policy files Plan loads before any
	// registry is asked; run checks them against the repository's forge.
	Check func(*config.Policies) error
	// Load are the options Plan loads the policies with (config.WithoutFlux).
	Load []config.LoadOption
	// MaxFileSize is the size above which a manifest is not read (see
	// patcher.WithMaxFileSize); 0 means patcher.DefaultMaxFileSize.
	MaxFileSize int64
}

// Resolve resolves every request against reg and returns one Resolution per
// request, in order. Each repository is listed once when reg is a
// registry.Pass. A failing registry or policy shows only in the
// Resolutions of the policies it concerns.
func (r *Resolver) Resolve(ctx context.Context, reg Registry, reqs []Request) []Resolution {
	out := make([]Resolution, len(reqs))
	var g errgroup.Group
	n := r.Concurrency
	if n <= 0 {
		n = 16
	}
	g.SetLimit(n)
	for i, req := range reqs {
		g.Go(func() error {
			out[i] = r.resolve(ctx, reg, req)
			return nil
		})
	}
	_ = g.Wait() // resolve reports errors in its Resolution
	return out
}

func (r *Resolver) resolve(ctx context.Context, reg Registry, req Request) Resolution {
	p := req.Policy
	spec := p.Spec()
	res := Resolution{Policy: p}
	fail := func(err error) Resolution {
		return Resolution{Policy: p, Rejected: res.Rejected, Err: fmt.Errorf("policy %q (%s:%d): %w", p.Name(), p.File, p.Line, err)}
	}
	tags, err := reg.Tags(ctx, spec.Image)
	if err != nil {
		if p.Hint != "" {
			return fail(fmt.Errorf("%w (%s)", err, p.Hint))
		}
		return fail(err)
	}
	if len(spec.Platforms) == 0 && spec.MinAge == 0 {
		res.Tag, err = p.Select(tags)
		if err != nil {
			return fail(err)
		}
	} else {
		res.Tag, res.Rejected, err = r.firstPassing(ctx, reg, p.Policy, tags)
		if err != nil {
			return fail(err)
		}
	}
	if req.Digest || p.PinDigest || p.Kind() == policy.KindTrack {
		ref := spec.Image + ":" + res.Tag
		res.Digest, err = reg.Digest(ctx, ref)
		if err != nil {
			return fail(err)
		}
	}
	return res
}

// firstPassing walks the candidates best first and returns the first whose
// image has every required platform and is at least minAge old. Requests
// grow with the candidates examined, not with the number of tags.
func (r *Resolver) firstPassing(ctx context.Context, reg imageInspector, p *policy.Policy, tags []string) (string, []Rejection, error) {
	spec := p.Spec()
	cands := p.Candidates(tags)
	if len(cands) == 0 {
		_, err := p.Select(tags) // the *NoMatchError that says why
		return "", nil, err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var rejected []Rejection
	for _, tag := range cands {
		ref := spec.Image + ":" + tag
		reason, err := checkCandidate(ctx, reg, ref, spec, now())
		if err != nil {
			return "", rejected, fmt.Errorf("checking %s: %w", ref, err)
		}
		if reason == "" {
			return tag, rejected, nil
		}
		rejected = append(rejected, Rejection{Tag: tag, Reason: reason})
	}
	var sample []string
	for _, rj := range rejected[:min(3, len(rejected))] {
		sample = append(sample, rj.Tag+": "+rj.Reason)
	}
	more := ""
	if len(rejected) > 3 {
		more = fmt.Sprintf("; and %d more", len(rejected)-3)
	}
	return "", rejected, fmt.Errorf("%w: %d candidates (%s%s)", ErrNoCandidate, len(cands), strings.Join(sample, "; "), more)
}

// checkCandidate returns why ref fails the policy's platforms or minAge
// check, or "" when it passes. The platform check goes first: it needs one
// request where the age of an index needs one per platform.
func checkCandidate(ctx context.Context, reg imageInspector, ref string, spec policy.Spec, now time.Time) (string, error) {
	if len(spec.Platforms) > 0 {
		have, err := reg.Platforms(ctx, ref)
		if err != nil {
			return "", err
		}
		var missing []string
		for _, want := range spec.Platforms {
			if !slices.ContainsFunc(have, func(p registry.Platform) bool { return platformMatches(want, p) }) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			return "lacks platform " + strings.Join(missing, ", "), nil
		}
	}
	if spec.MinAge > 0 {
		created, err := reg.Created(ctx, ref)
		if err != nil {
			return "", err
		}
		if created.IsZero() {
			return "image has no created time, so its age is unknown", nil
		}
		if age := now.Sub(created); age < spec.MinAge {
			return fmt.Sprintf("created %s ago, younger than minAge %s", age.Round(time.Second), spec.MinAge), nil
		}
	}
	return "", nil
}

// platformMatches reports whether an image platform satisfies a wanted
// "os/arch" or "os/arch/variant": without a variant any variant will do, so
// "linux/arm64" accepts an image recorded as linux/arm64/v8.
func platformMatches(want string, have registry.Platform) bool {
	os, rest, _ := strings.Cut(want, "/")
	arch, variant, _ := strings.Cut(rest, "/")
	return os == have.OS && arch == have.Architecture && (variant == "" || variant == have.Variant)
}
