package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// demoTag is one tag the demo registry holds.
type demoTag struct {
	repo, tag string
	// platforms of the image; two or more make an index. Empty means
	// linux/amd64.
	platforms []string
	// signs, when set, is the tag whose cosign signature tag
	// (sha256-<hex of its digest>.sig) this is.
	signs string
}

// demoTags are the tags of the demo registry, in push order. Each policy
// of the sample fleet has tags it must pass over: a prerelease, a major
// version outside its range, a variant it does not want, a tag lacking a
// platform, a cosign signature.
var demoTags = []demoTag{
	{repo: "acme/web", tag: "0.9.0"},
	{repo: "acme/web", tag: "1.0.0"},
	{repo: "acme/web", tag: "1.2.0"},
	{repo: "acme/web", tag: "1.2.1"},
	{repo: "acme/web", tag: "1.3.0-rc.1"},
	{repo: "acme/web", tag: "2.0.0"},
	{repo: "acme/web", tag: "latest"},
	{repo: "acme/web", signs: "1.2.1"},
	{repo: "acme/cache", tag: "7.2.4"},
	{repo: "acme/cache", tag: "7.2.4-alpine"},
	{repo: "acme/cache", tag: "7.2.5"},
	{repo: "acme/cache", tag: "7.2.5-alpine"},
	{repo: "acme/cache", tag: "7.3.0-rc.1-alpine"},
	{repo: "acme/cache", tag: "7.4.0"},
	{repo: "acme/api", tag: "main-1a2b3c4-1700000000"},
	{repo: "acme/api", tag: "main-5d6e7f8-1700003600", platforms: []string{"linux/amd64", "linux/arm64"}},
	{repo: "acme/api", tag: "main-9c8b7a6-1700007200"},
	{repo: "acme/api", tag: "pr-12-1800000000"},
}

// startDemoRegistry starts go-containerregistry's in-memory registry on
// 127.0.0.1, pushes demoTags to it and returns its host:port and a
// function that stops it. The tags it pushed are listed in pushed, in order.
func startDemoRegistry(ctx context.Context) (host string, pushed []string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, fmt.Errorf("starting the demo registry: %w", err)
	}
	srv := &http.Server{Handler: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	stop = func() { srv.Close() }
	host = ln.Addr().String()
	pushed, err = seedDemoRegistry(ctx, host)
	if err != nil {
		stop()
		return "", nil, nil, err
	}
	return host, pushed, stop, nil
}

// seedDemoRegistry pushes demoTags to the registry at host.
func seedDemoRegistry(ctx context.Context, host string) ([]string, error) {
	digests := map[string]v1.Hash{} // repo:tag → digest
	var pushed []string
	for _, t := range demoTags {
		tag := t.tag
		if t.signs != "" {
			d, ok := digests[t.repo+":"+t.signs]
			if !ok {
				return nil, fmt.Errorf("demo tag list: %s signs %s, which is not pushed before it", t.repo, t.signs)
			}
			tag = d.Algorithm + "-" + d.Hex + ".sig"
		}
		obj, digest, err := demoImage(t.repo+":"+tag, t.platforms)
		if err != nil {
			return nil, fmt.Errorf("making a demo image: %w", err)
		}
		ref, err := name.NewTag(host + "/" + t.repo + ":" + tag)
		if err != nil {
			return nil, err
		}
		if err := remote.Push(ref, obj, remote.WithContext(ctx)); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", ref, err)
		}
		digests[t.repo+":"+tag] = digest
		pushed = append(pushed, t.repo+":"+tag)
	}
	return pushed, nil
}

// demoImage returns a small image for one platform, or an OCI index of
// one per platform when given two or more, and its digest; id (repo:tag)
// makes each distinct.
func demoImage(id string, platforms []string) (remote.Taggable, v1.Hash, error) {
	if len(platforms) < 2 {
		p := "linux/amd64"
		if len(platforms) == 1 {
			p = platforms[0]
		}
		img, err := platformImage(id, p)
		if err != nil {
			return nil, v1.Hash{}, err
		}
		d, err := img.Digest()
		return img, d, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := platformImage(id, p)
		if err != nil {
			return nil, v1.Hash{}, err
		}
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, v1.Hash{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	d, err := idx.Digest()
	return idx, d, err
}

// platformImage is a small image whose config names platform p
// ("os/arch[/variant]"), with one layer whose bytes name id and p. The
// same id and platform always make the same image, so that the demo's
// digests, and the cosign tag named after one, are the same on every run.
func platformImage(id, p string) (v1.Image, error) {
	layer := static.NewLayer([]byte("imagebump demo image "+id+" for "+p+"\n"), types.OCIUncompressedLayer)
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", p, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	return mutate.ConfigFile(img, cf)
}

// tagsByRepo groups "repo:tag" strings by repository, in first-seen order.
func tagsByRepo(refs []string) (repos []string, tags map[string][]string) {
	tags = map[string][]string{}
	for _, r := range refs {
		repo, tag, _ := strings.Cut(r, ":")
		if _, ok := tags[repo]; !ok {
			repos = append(repos, repo)
		}
		tags[repo] = append(tags[repo], tag)
	}
	return repos, tags
}
