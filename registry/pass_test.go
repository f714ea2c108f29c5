package registry

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imagebump/imagebump/test/registrytest"
)

func TestDigest(t *testing.T) {
	// Refusing HEAD starts after seeding: pushing HEADs manifests too.
	var refusing atomic.Bool
	refuseHead := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refusing.Load() && r.Method == http.MethodHead {
				http.Error(w, "", http.StatusMethodNotAllowed)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	for _, tc := range []struct {
		name    string
		opts    []registrytest.Option
		wantGet int64
	}{
		{name: "HEAD", wantGet: 0},
		{name: "registry refuses HEAD", opts: []registrytest.Option{registrytest.WithMiddleware(refuseHead)}, wantGet: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.StartInProcess(t, tc.opts...)
			img := r.Seed(t, "app", "1.0.0")
			idx := r.SeedIndex(t, "multi", "1.0.0", "linux/amd64", "linux/arm64")
			refusing.Store(tc.wantGet > 0)
			c := newClient(t, nil)
			p := c.Pass()
			for range 2 {
				for ref, want := range map[string]string{
					r.Repo("app:1.0.0"):   img,
					r.Repo("multi:1.0.0"): idx,
				} {
					got, err := p.Digest(t.Context(), ref)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("Digest(%s) = %s, want %s", ref, got, want)
					}
				}
			}
			// Asked twice for each of two references: one HEAD each.
			k := kinds(p.Counts())
			if k[KindManifestHead] != 2 || k[KindManifestGet] != tc.wantGet {
				t.Errorf("%d manifest HEAD and %d GET requests, want 2 and %d", k[KindManifestHead], k[KindManifestGet], tc.wantGet)
			}
		})
	}
}

func TestDigestOfDigestReference(t *testing.T) {
	c := newClient(t, nil)
	ref := "127.0.0.1:1/app@sha256:0000000000000000000000000000000000000000000000000000000000000001"
	got, err := c.Digest(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:0000000000000000000000000000000000000000000000000000000000000001"; got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if n := len(c.Counts()); n != 0 {
		t.Errorf("%d requests counted, want none", n)
	}
}

func TestDigestErrors(t *testing.T) {
	r := registrytest.StartInProcess(t)
	r.Seed(t, "app", "1.0.0")
	c := newClient(t, nil)
	for _, tc := range []struct {
		ref  string
		want string
	}{
		{r.Repo("app:9.9.9"), "resolving digest of HOST/app:9.9.9: HEAD http://HOST/v2/app/manifests/9.9.9: unexpected status code 404 Not Found (HEAD responses have no body, use GET for details)"},
		{"Not A Reference", `invalid image reference "Not A Reference": could not parse reference: Not A Reference`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := c.Digest(t.Context(), tc.ref)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(strings.ReplaceAll(tc.want, "HOST", r.Host), got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlatforms(t *testing.T) {
	r := registrytest.StartInProcess(t)
	r.SeedImage(t, "single", registrytest.ImageSpec{Platform: "linux/arm/v7"}, "1")
	r.SeedIndex(t, "multi", "1", "linux/amd64", "linux/arm64/v8", "windows/amd64")

	// An index as buildx writes it: images plus an attestation manifest.
	att := registrytest.NewImage(t, registrytest.ImageSpec{})
	withAtt := mutate.AppendManifests(registrytest.NewIndex(t, registrytest.ImageSpec{Platform: "linux/s390x"}),
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}})
	r.Push(t, "attested:1", withAtt)

	c := newClient(t, nil)
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"single:1", []string{"linux/arm/v7"}},
		{"multi:1", []string{"linux/amd64", "linux/arm64/v8", "windows/amd64"}},
		{"attested:1", []string{"linux/s390x"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			plats, err := c.Platforms(t.Context(), r.Repo(tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range plats {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("platforms (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreated(t *testing.T) {
	r := registrytest.StartInProcess(t)
	older := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	newer := older.Add(36 * time.Hour)
	r.SeedImage(t, "single", registrytest.ImageSpec{Created: older}, "1")
	r.Push(t, "multi:1", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: older},
		registrytest.ImageSpec{Platform: "linux/arm64", Created: newer},
	))
	r.SeedImage(t, "undated", registrytest.ImageSpec{}, "1")

	c := newClient(t, nil)
	for _, tc := range []struct {
		ref  string
		want time.Time
		// requests made by the first pass, by kind
		requests map[Kind]int64
	}{
		{"single:1", older, map[Kind]int64{KindPing: 1, KindManifestHead: 1, KindManifestGet: 1, KindBlob: 1}},
		{"multi:1", newer, map[Kind]int64{KindPing: 1, KindManifestHead: 1, KindManifestGet: 3, KindBlob: 2}},
		{"undated:1", time.Time{}, map[Kind]int64{KindPing: 1, KindManifestHead: 1, KindManifestGet: 1, KindBlob: 1}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			p := c.Pass()
			got, err := p.Created(t.Context(), r.Repo(tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Created = %s, want %s", got, tc.want)
			}
			if diff := cmp.Diff(tc.requests, kinds(p.Counts())); diff != "" {
				t.Errorf("requests of the first pass (-want +got):\n%s", diff)
			}

			// Created is cached by digest: a later pass only resolves
			// the tag again.
			p2 := c.Pass()
			got2, err := p2.Created(t.Context(), r.Repo(tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			if !got2.Equal(tc.want) {
				t.Errorf("Created in the second pass = %s, want %s", got2, tc.want)
			}
			want2 := map[Kind]int64{KindPing: 1, KindManifestHead: 1}
			if diff := cmp.Diff(want2, kinds(p2.Counts())); diff != "" {
				t.Errorf("requests of the second pass (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPassSharesRequests lists 10 repositories behind a bearer-token
// handshake, each asked for by 2 concurrent callers, then resolves each
// repository's tag twice.
func TestPassSharesRequests(t *testing.T) {
	auth := &tokenAuth{user: "bot", password: "pass-word-1"}
	r := registrytest.StartInProcess(t, registrytest.WithMiddleware(auth.middleware))
	// Seed through a client that can get tokens.
	seed := &registrytest.Registry{Host: r.Host, Username: auth.user, Password: auth.password}
	const repos = 10
	for i := range repos {
		seed.Seed(t, fmt.Sprintf("app%d", i), "1.0.0", fmt.Sprintf("1.%d.0", i))
	}
	seededTokens := auth.tokens()

	c := newClient(t, nil, WithHosts(Host{Host: r.Host, Username: auth.user, Password: auth.password}))
	p := c.Pass()
	var wg sync.WaitGroup
	errs := make(chan error, 2*repos)
	for i := range 2 * repos {
		wg.Go(func() {
			repo := r.Repo(fmt.Sprintf("app%d", i%repos))
			tags, err := p.Tags(t.Context(), repo)
			if err != nil {
				errs <- err
				return
			}
			slices.Sort(tags)
			want := slices.Compact([]string{"1.0.0", fmt.Sprintf("1.%d.0", i%repos)})
			if !slices.Equal(tags, want) {
				errs <- fmt.Errorf("tags of %s = %v, want %v", repo, tags, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	k := kinds(p.Counts())
	if k[KindTags] != repos {
		t.Errorf("%d tags/list requests, want %d", k[KindTags], repos)
	}
	if k[KindManifestGet] != 0 {
		t.Errorf("%d manifest GET requests, want none", k[KindManifestGet])
	}
	if n := count(p.Counts(), r.Host, KindPing); n > 1 {
		t.Errorf("%d pings of %s, want at most one", n, r.Host)
	}
	if k[KindToken] > repos {
		t.Errorf("%d token requests, want at most %d", k[KindToken], repos)
	}
	for scope, n := range auth.tokens() {
		if n-seededTokens[scope] > 1 {
			t.Errorf("%d tokens issued for %s, want at most one", n-seededTokens[scope], scope)
		}
	}

	for range 2 {
		for i := range repos {
			if _, err := p.Digest(t.Context(), r.Repo(fmt.Sprintf("app%d:1.0.0", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	k2 := kinds(p.Counts())
	if got := k2[KindManifestHead]; got != repos {
		t.Errorf("%d manifest HEAD requests for %d references asked twice, want %d", got, repos, repos)
	}
	if k2[KindTags] != repos || k2[KindManifestGet] != 0 {
		t.Errorf("resolving digests sent %d tags and %d manifest GET requests, want %d and 0", k2[KindTags], k2[KindManifestGet], repos)
	}
}

func TestPassesAreIndependent(t *testing.T) {
	r := registrytest.StartInProcess(t)
	r.Seed(t, "app", "1.0.0")
	c := newClient(t, nil)

	p1 := c.Pass()
	before, err := p1.Tags(t.Context(), r.Repo("app"))
	if err != nil {
		t.Fatal(err)
	}
	r.Seed(t, "app", "1.1.0")
	again, err := p1.Tags(t.Context(), r.Repo("app"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, again); diff != "" {
		t.Errorf("the same pass listed again (-first +second):\n%s", diff)
	}
	after, err := c.Pass().Tags(t.Context(), r.Repo("app"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(after)
	if diff := cmp.Diff([]string{"1.0.0", "1.1.0"}, after); diff != "" {
		t.Errorf("a new pass's tags (-want +got):\n%s", diff)
	}
	if got := count(c.Counts(), r.Host, KindTags); got != 2 {
		t.Errorf("%d tags/list requests over two passes, want 2", got)
	}

	// The caller owns the slice it gets.
	before[0] = "mutated"
	again, _ = p1.Tags(t.Context(), r.Repo("app"))
	if again[0] == "mutated" {
		t.Error("Tags returned the cached slice itself")
	}
}

func TestMaxConcurrency(t *testing.T) {
	var (
		mu            sync.Mutex
		inFlight, top int
	)
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isTagsList(r) {
				mu.Lock()
				inFlight++
				top = max(top, inFlight)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inFlight--
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	r := registrytest.StartInProcess(t, registrytest.WithMiddleware(slow))
	for i := range 8 {
		r.Seed(t, fmt.Sprintf("app%d", i), "1")
	}
	c := newClient(t, nil, WithHosts(Host{Host: r.Host, MaxConcurrency: 2}))
	p := c.Pass()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := p.Tags(t.Context(), r.Repo(fmt.Sprintf("app%d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if top > 2 {
		t.Errorf("%d tags/list requests in flight at once, want at most 2", top)
	}
}

// TestRateLimit sets a limit of one request per 1000 seconds: the ping
// takes the only token, and the listing must then wait longer than its
// context allows, which the limiter reports at once instead of sleeping.
func TestRateLimit(t *testing.T) {
	r := registrytest.StartInProcess(t)
	r.Seed(t, "app", "1.0.0")
	c := newClient(t, nil, WithHosts(Host{Host: r.Host, RequestsPerSecond: 0.001}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := c.Tags(ctx, r.Repo("app"))
	want := fmt.Sprintf(`listing tags of %[1]s/app: Get "http://%[1]s/v2/app/tags/list?n=1000": waiting for the rate limit of %[1]s (0.001 requests per second): rate: Wait(n=1) would exceed context deadline`, r.Host)
	got := ""
	if err != nil {
		got = err.Error()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[Kind]int64{KindPing: 1}, kinds(c.Counts())); diff != "" {
		t.Errorf("requests sent (-want +got):\n%s", diff)
	}
}

func TestSource(t *testing.T) {
	r := registrytest.StartInProcess(t)
	const src = "https://github.com/acme/web"
	labelled := registrytest.ImageSpec{Labels: map[string]string{SourceLabel: src}}
	r.Push(t, "acme/web:label", registrytest.NewImage(t, labelled))
	r.Push(t, "acme/web:none", registrytest.NewImage(t, registrytest.ImageSpec{}))
	r.Push(t, "acme/web:index", registrytest.NewIndex(t, labelled, registrytest.ImageSpec{Platform: "linux/arm64"}))
	annotated := mutate.Annotations(registrytest.NewIndex(t, registrytest.ImageSpec{}), map[string]string{SourceLabel: "https://gitlab.com/acme/web"}).(v1.ImageIndex)
	r.Push(t, "acme/web:annotated", annotated)

	tests := []struct{ tag, want string }{
		{"label", src},
		{"none", ""},
		{"index", src},
		{"annotated", "https://gitlab.com/acme/web"},
	}
	c := newClient(t, nil)
	pass := c.Pass()
	for _, tc := range tests {
		got, err := pass.Source(t.Context(), r.Repo("acme/web")+":"+tc.tag)
		if err != nil || got != tc.want {
			t.Errorf("%s: Source = %q, %v; want %q", tc.tag, got, err, tc.want)
		}
	}
}
