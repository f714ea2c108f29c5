package registrytest_test

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagebump/imagebump/test/registrytest"
)

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB, ...registrytest.Option) *registrytest.Registry
	}{
		{"real", registrytest.Start},
		{"in-process", registrytest.StartInProcess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.start(t, registrytest.WithBasicAuth("bot", "s3cret-pass"))

			resp, err := http.Get("http://" + r.Host + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v2/ without credentials: status %d, want 401", resp.StatusCode)
			}

			want := []string{"1.0.0", "1.1.0", "2.0.0"}
			dig := r.Seed(t, "app", want...)
			repo, err := name.NewRepository(r.Repo("app"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.List(repo, remote.WithAuth(r.Auth()))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			desc, err := remote.Head(repo.Tag("2.0.0"), remote.WithAuth(r.Auth()))
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest.String() != dig {
				t.Errorf("digest of app:2.0.0 = %s, Seed returned %s", desc.Digest, dig)
			}

			idxDigest := r.SeedIndex(t, "multi", "v1", "linux/amd64", "linux/arm/v7")
			idx, err := remote.Index(repo.Registry.Repo("multi").Tag("v1"), remote.WithAuth(r.Auth()))
			if err != nil {
				t.Fatal(err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var plats []string
			for _, m := range im.Manifests {
				plats = append(plats, m.Platform.String())
			}
			if diff := cmp.Diff([]string{"linux/amd64", "linux/arm/v7"}, plats); diff != "" {
				t.Errorf("index platforms (-want +got):\n%s", diff)
			}
			if d, _ := idx.Digest(); d.String() != idxDigest {
				t.Errorf("index digest %s, SeedIndex returned %s", d, idxDigest)
			}
		})
	}
}

// TestStartMiddleware checks that the real registry's requests go through
// a middleware given to Start.
func TestStartMiddleware(t *testing.T) {
	var seen atomic.Int32
	r := registrytest.Start(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasSuffix(req.URL.Path, "/tags/list") {
				seen.Add(1)
				http.Error(w, "injected", http.StatusTeapot)
				return
			}
			next.ServeHTTP(w, req)
		})
	}))
	r.Seed(t, "acme/app", "1.0.0")
	resp, err := http.Get("http://" + r.Host + "/v2/acme/app/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || seen.Load() != 1 {
		t.Errorf("status %d, %d requests seen by the middleware; want 418 and 1", resp.StatusCode, seen.Load())
	}
}
