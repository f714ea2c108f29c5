package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/registry"
	"github.com/imagebump/imagebump/test/filetree"
)

// fakeRegistry is a hand-written Registry: tags and digests by repository,
// errors by repository, and a count of the calls made.
type fakeRegistry struct {
	tags    map[string][]string
	digests map[string]string // "repo:tag" → digest
	fail    map[string]error  // repository → error of Tags
	sources map[string]string // "repo:tag" → source label

	mu    sync.Mutex
	calls map[string]int // "Tags repo", "Digest ref"
}

func (f *fakeRegistry) count(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[call]++
}

func (f *fakeRegistry) Tags(_ context.Context, repo string) ([]string, error) {
	f.count("Tags " + repo)
	if err := f.fail[repo]; err != nil {
		// As registry.Pass does, the error says what was being done.
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	return f.tags[repo], nil
}

func (f *fakeRegistry) Digest(_ context.Context, ref string) (string, error) {
	f.count("Digest " + ref)
	if d, ok := f.digests[ref]; ok {
		return d, nil
	}
	return "", fmt.Errorf("resolving digest of %s: manifest unknown", ref)
}

func (f *fakeRegistry) Platforms(context.Context, string) ([]registry.Platform, error) {
	return nil, errors.New("not used by these tests")
}

func (f *fakeRegistry) Created(context.Context, string) (time.Time, error) {
	return time.Time{}, errors.New("not used by these tests")
}

func (f *fakeRegistry) Source(_ context.Context, ref string) (string, error) {
	f.count("Source " + ref)
	return f.sources[ref], nil
}

const (
	dWeb150 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dLatest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func newFake() *fakeRegistry {
	return &fakeRegistry{
		tags: map[string][]string{
			"ghcr.io/acme/web":    {"1.4.2", "1.5.0", "2.0.0-rc.1"},
			"ghcr.io/acme/worker": {"latest", "1.0.0"},
			"ghcr.io/acme/unused": {"9.9.9"},
		},
		digests: map[string]string{
			"ghcr.io/acme/web:1.5.0":       dWeb150,
			"ghcr.io/acme/worker:latest":   dLatest,
			"ghcr.io/acme/unused:9.9.9":    dLatest,
			"ghcr.io/acme/worker:1.0.0":    dLatest,
			"ghcr.io/acme/broken:1.0.0":    dLatest,
			"ghcr.io/acme/broken:whatever": dLatest,
		},
		fail: map[string]error{"ghcr.io/acme/broken": errors.New("503 Service Unavailable")},
	}
}

const pipelinePolicies = `policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ^1
  - name: pinned
    image: ghcr.io/acme/web
    semver: ^1
    pinDigest: true
  - name: worker
    image: ghcr.io/acme/worker
    track: latest
  - name: broken
    image: ghcr.io/acme/broken
    semver: "*"
  - name: unused
    image: ghcr.io/acme/unused
    semver: "*"
`

func TestPipeline(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     string
		failed   bool
		calls    map[string]int
	}{{
		name:     "digest marker of a policy that does not pin gets the selected tag's digest",
		manifest: "tag: 1.4.2 # {\"$imagepolicy\": \"web:tag\"}\ndigest: sha256:0 # {\"$imagepolicy\": \"web:digest\"}\n",
		want:     "tag: 1.5.0 # {\"$imagepolicy\": \"web:tag\"}\ndigest: " + dWeb150 + " # {\"$imagepolicy\": \"web:digest\"}\n",
		calls:    map[string]int{"Tags ghcr.io/acme/web": 1, "Digest ghcr.io/acme/web:1.5.0": 1},
	}, {
		name:     "without a digest marker a policy that does not pin asks for no digest",
		manifest: "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		want:     "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		calls:    map[string]int{"Tags ghcr.io/acme/web": 1},
	}, {
		name:     "pinDigest writes name:tag@digest",
		manifest: "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"pinned\"}\n",
		want:     "image: ghcr.io/acme/web:1.5.0@" + dWeb150 + " # {\"$imagepolicy\": \"pinned\"}\n",
		calls:    map[string]int{"Tags ghcr.io/acme/web": 1, "Digest ghcr.io/acme/web:1.5.0": 1},
	}, {
		name:     "a track policy pins the digest of the tag it follows",
		manifest: "image: ghcr.io/acme/worker:latest # {\"$imagepolicy\": \"worker\"}\n",
		want:     "image: ghcr.io/acme/worker:latest@" + dLatest + " # {\"$imagepolicy\": \"worker\"}\n",
		calls:    map[string]int{"Tags ghcr.io/acme/worker": 1, "Digest ghcr.io/acme/worker:latest": 1},
	}, {
		name: "a failing registry leaves its markers alone and the rest is still planned",
		manifest: "a: ghcr.io/acme/broken:1.0.0 # {\"$imagepolicy\": \"broken\"}\n" +
			"b: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n",
		want: "a: ghcr.io/acme/broken:1.0.0 # {\"$imagepolicy\": \"broken\"}\n" +
			"b: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		failed: true,
		calls:  map[string]int{"Tags ghcr.io/acme/broken": 1, "Tags ghcr.io/acme/web": 1},
	}, {
		name: "two policies of one image list it once",
		manifest: "a: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n" +
			"b: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"pinned\"}\n",
		want: "a: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n" +
			"b: ghcr.io/acme/web:1.5.0@" + dWeb150 + " # {\"$imagepolicy\": \"pinned\"}\n",
		calls: map[string]int{"Tags ghcr.io/acme/web": 1, "Digest ghcr.io/acme/web:1.5.0": 1},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{
				".imagebump.yaml": pipelinePolicies,
				"app/deploy.yaml": tc.manifest,
			})
			reg := newFake()
			// The real registry.Pass lists a repository once however many
			// policies ask; the fake counts every call, so dedupe here the
			// way Pass does to keep the counts about the pipeline.
			out, err := (&Resolver{}).Plan(context.Background(), dedupe(reg), root, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := tc.manifest
			if len(out.Patch.Files) > 0 {
				got = string(out.Patch.Files[0].New)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("planned file (-want +got):\n%s", diff)
			}
			if out.Failed() != tc.failed {
				t.Errorf("Failed() = %v, want %v", out.Failed(), tc.failed)
			}
			if diff := cmp.Diff(tc.calls, reg.calls); diff != "" {
				t.Errorf("registry calls (-want +got):\n%s", diff)
			}
		})
	}
}

// dedupe wraps a Registry so that each repository is listed and each
// reference resolved once, as registry.Pass does.
func dedupe(r passRegistry) passRegistry {
	return &onceRegistry{passRegistry: r, tags: map[string][]string{}, digests: map[string]string{}}
}

type onceRegistry struct {
	passRegistry
	mu      sync.Mutex
	tags    map[string][]string
	digests map[string]string
}

func (o *onceRegistry) Tags(ctx context.Context, repo string) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t, ok := o.tags[repo]; ok {
		return t, nil
	}
	t, err := o.passRegistry.Tags(ctx, repo)
	if err == nil {
		o.tags[repo] = t
	}
	return t, err
}

func (o *onceRegistry) Digest(ctx context.Context, ref string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.digests[ref]; ok {
		return d, nil
	}
	d, err := o.passRegistry.Digest(ctx, ref)
	if err == nil {
		o.digests[ref] = d
	}
	return d, err
}

func TestTargetsOnly(t *testing.T) {
	root := filetree.Write(t, map[string]string{
		".imagebump.yaml": pipelinePolicies,
		"deploy.yaml": "a: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n" +
			"b: ghcr.io/acme/worker:latest # {\"$imagepolicy\": \"worker\"}\n",
	})
	pols, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := Scan(context.Background(), root, nil, pols)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range reqs {
		names = append(names, r.Policy.Name())
	}
	if diff := cmp.Diff([]string{"web", "worker"}, names); diff != "" {
		t.Errorf("policies scanned (-want +got):\n%s", diff)
	}
	resolved := (&Resolver{}).Resolve(context.Background(), newFake(), reqs)
	tg := Targets(pols, resolved, func(p *config.Policy) bool { return p.Name() == "worker" })
	if tg["web"] != nil {
		t.Errorf("web is outside the group but has a target: %+v", tg["web"])
	}
	if _, known := tg["web"]; !known {
		t.Error("web is missing from the targets: its markers would be reported as unknown")
	}
	if tg["worker"] == nil || tg["worker"].Digest != dLatest {
		t.Errorf("worker target = %+v, want digest %s", tg["worker"], dLatest)
	}
}

// TestScanTreeMatchesScan checks that the requests of a tree read once
// (what Resolver.Plan uses) are those Scan finds by walking it.
func TestScanTreeMatchesScan(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		paths []string
		none  bool // no policy in use
	}{{
		name:  "a digest marker asks for the digest",
		files: map[string]string{"a.yaml": "tag: 1.4.2 # {\"$imagepolicy\": \"web:tag\"}\n", "b/c.yml": "digest: sha256:0 # {\"$imagepolicy\": \"web:digest\"}\n"},
	}, {
		name:  "only the given paths",
		files: map[string]string{"a/x.yaml": "a: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"web\"}\n", "b/y.yaml": "b: ghcr.io/acme/worker:latest # {\"$imagepolicy\": \"worker\"}\n"},
		paths: []string{"b"},
	}, {
		name:  "unknown policies and unmarked files ask for nothing",
		files: map[string]string{"a.yaml": "a: x:1 # {\"$imagepolicy\": \"nope\"}\n", "b.yaml": "b: ghcr.io/acme/web:1.4.2\n"},
		none:  true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{".imagebump.yaml": pipelinePolicies}
			maps.Copy(files, tc.files)
			root := filetree.Write(t, files)
			pols, err := Load(root)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Scan(context.Background(), root, tc.paths, pols)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := patcher.ReadTree(context.Background(), root, tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			got := ScanTree(tree, pols)
			if (len(want) == 0) != tc.none {
				t.Fatalf("Scan found no requests in %v", tc.files)
			}
			type req struct {
				Policy string
				Digest bool
			}
			view := func(rs []Request) []req {
				var out []req
				for _, r := range rs {
					out = append(out, req{r.Policy.Name(), r.Digest})
				}
				return out
			}
			if diff := cmp.Diff(view(want), view(got)); diff != "" {
				t.Errorf("ScanTree (-want +got):\n%s", diff)
			}
		})
	}
}
