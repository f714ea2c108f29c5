package registrytest

import (
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// ImageSpec describes a test image.
type ImageSpec struct {
	// Platform is "os/arch[/variant]"; empty means "linux/amd64".
	Platform string
	// Created is the config's created time; zero leaves it unset.
	Created time.Time
	// Labels are the config's labels, such as
	// org.opencontainers.image.source.
	Labels map[string]string
}

// NewImage returns a small random image (one 256-byte layer) whose config
// names spec's platform and created time.
func NewImage(t testing.TB, spec ImageSpec) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	p := spec.Platform
	if p == "" {
		p = "linux/amd64"
	}
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		t.Fatalf("platform %q: %v", p, err)
	}
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: spec.Created}
	cf.Config.Labels = spec.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// NewIndex returns an OCI index of one NewImage per spec, each listed with
// its platform.
func NewIndex(t testing.TB, specs ...ImageSpec) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, s := range specs {
		img := NewImage(t, s)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
			},
		})
	}
	return idx
}

func (r *Registry) ref(t testing.TB, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("reference %q: %v", s, err)
	}
	return ref
}

func (r *Registry) pusher(t testing.TB) *remote.Pusher {
	t.Helper()
	p, err := remote.NewPusher(remote.WithAuth(r.Auth()), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Push writes an image or index (anything remote.Taggable with its blobs,
// as v1.Image and v1.ImageIndex are) to the reference "repo:tag" on the
// registry and returns its digest.
func (r *Registry) Push(t testing.TB, repoTag string, obj remote.Taggable) string {
	t.Helper()
	ref := r.ref(t, r.Repo(repoTag))
	if err := r.pusher(t).Push(t.Context(), ref, obj); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return digest(t, obj)
}

// Seed pushes one random linux/amd64 image to repo and tags it with every
// tag (concurrently: 5,000 tags take seconds). It returns the image's
// digest, which all the tags share.
func (r *Registry) Seed(t testing.TB, repo string, tags ...string) string {
	t.Helper()
	return r.SeedImage(t, repo, ImageSpec{}, tags...)
}

// SeedImage is Seed with an image made to spec.
func (r *Registry) SeedImage(t testing.TB, repo string, spec ImageSpec, tags ...string) string {
	t.Helper()
	img := NewImage(t, spec)
	if len(tags) == 0 {
		return digest(t, img)
	}
	p := r.pusher(t)
	first := r.ref(t, r.Repo(repo+":"+tags[0]))
	if err := p.Push(t.Context(), first, img); err != nil {
		t.Fatalf("pushing %s: %v", first, err)
	}
	// The blobs are there; the other tags only need the manifest, one PUT
	// each (Push would first ask for every blob again).
	var g errgroup.Group
	g.SetLimit(16)
	for _, tag := range tags[1:] {
		ref := r.ref(t, r.Repo(repo+":"+tag))
		g.Go(func() error { return p.Put(t.Context(), ref, img) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("tagging %s: %v", r.Repo(repo), err)
	}
	return digest(t, img)
}

// SeedIndex pushes an index with one image per platform ("linux/arm64",
// "linux/arm/v7") to repo:tag and returns the index's digest.
func (r *Registry) SeedIndex(t testing.TB, repo, tag string, platforms ...string) string {
	t.Helper()
	specs := make([]ImageSpec, len(platforms))
	for i, p := range platforms {
		specs[i] = ImageSpec{Platform: p}
	}
	return r.Push(t, repo+":"+tag, NewIndex(t, specs...))
}

func digest(t testing.TB, obj remote.Taggable) string {
	t.Helper()
	d, ok := obj.(interface{ Digest() (v1.Hash, error) })
	if !ok {
		t.Fatalf("%T has no digest", obj)
	}
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}
