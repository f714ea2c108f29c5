package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/registrytest"
)

// TestRealRegistry runs the client against Debian's docker-registry with
// htpasswd authentication: listing, sharing within a pass, digests,
// platforms, created times, and the errors its users see.
func TestRealRegistry(t *testing.T) {
	r := registrytest.Start(t, registrytest.WithBasicAuth(user, password))
	const repos = 10
	want := map[string][]string{}
	for i := range repos {
		repo := fmt.Sprintf("team/app%d", i)
		want[repo] = []string{"1.0.0", fmt.Sprintf("1.%d.1", i+1), "latest"}
		r.Seed(t, repo, want[repo]...)
	}
	created := time.Date(2024, 6, 1, 8, 30, 0, 0, time.UTC)
	r.Push(t, "multi:2.0.0", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: created},
		registrytest.ImageSpec{Platform: "linux/arm64/v8", Created: created.Add(time.Minute)},
	))
	c := newClient(t, nil, WithHosts(Host{Host: r.Host, Username: user, Password: password}))

	t.Run("shared listing", func(t *testing.T) {
		p := c.Pass()
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string][]string{}
		for i := range 2 * repos {
			repo := fmt.Sprintf("team/app%d", i%repos)
			wg.Go(func() {
				tags, err := p.Tags(t.Context(), r.Repo(repo))
				if err != nil {
					t.Error(err)
					return
				}
				slices.Sort(tags)
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := got[repo]; ok && !slices.Equal(prev, tags) {
					t.Errorf("two callers got different tags for %s: %v and %v", repo, prev, tags)
				}
				got[repo] = tags
			})
		}
		wg.Wait()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
		k := kinds(p.Counts())
		if k[KindTags] != repos {
			t.Errorf("%d tags/list requests, want %d", k[KindTags], repos)
		}
		if k[KindManifestGet] != 0 || k[KindToken] != 0 {
			t.Errorf("%d manifest GET and %d token requests, want none (basic auth)", k[KindManifestGet], k[KindToken])
		}
		if n := count(p.Counts(), r.Host, KindPing); n > 1 {
			t.Errorf("%d pings, want at most one", n)
		}

		for range 2 {
			for repo := range want {
				if _, err := p.Digest(t.Context(), r.Repo(repo+":1.0.0")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := kinds(p.Counts())[KindManifestHead]; n != repos {
			t.Errorf("%d manifest HEAD requests for %d references, want %d", n, repos, repos)
		}
	})

	t.Run("platforms and created", func(t *testing.T) {
		p := c.Pass()
		plats, err := p.Platforms(t.Context(), r.Repo("multi:2.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}, plats); diff != "" {
			t.Errorf("platforms (-want +got):\n%s", diff)
		}
		got, err := p.Created(t.Context(), r.Repo("multi:2.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		if want := created.Add(time.Minute); !got.Equal(want) {
			t.Errorf("Created = %s, want %s (the newer platform image)", got, want)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Setenv("IMAGEBUMP_TEST_WRONG", "wrong-password-value")
		bad := newClient(t, nil, WithHosts(Host{Host: r.Host, Username: user, Password: "${IMAGEBUMP_TEST_WRONG}"}))
		dir := t.TempDir()
		t.Setenv("DOCKER_CONFIG", dir)
		anonymous := newClient(t, nil)
		for _, tc := range []struct {
			name string
			c    *Client
			call func(*Client) error
			want string
		}{{
			name: "wrong password",
			c:    bad,
			call: func(c *Client) error { _, err := c.Tags(t.Context(), r.Repo("team/app1")); return err },
			want: "listing tags of HOST/team/app1: access to team/app1 denied by HOST (401 Unauthorized); credentials were sent from the registries.hosts entry for HOST: GET http://HOST/v2/team/app1/tags/list?n=1000: UNAUTHORIZED: authentication required; [map[Action:pull Class: Name:team/app1 Type:repository]]",
		}, {
			name: "no credentials",
			c:    anonymous,
			call: func(c *Client) error { _, err := c.Tags(t.Context(), r.Repo("team/app1")); return err },
			want: "listing tags of HOST/team/app1: access to team/app1 denied by HOST (401 Unauthorized); no credentials were sent: no docker config at DIR/config.json and no registries.hosts credentials for HOST: GET http://HOST/v2/team/app1/tags/list?n=1000: UNAUTHORIZED: authentication required; [map[Action:pull Class: Name:team/app1 Type:repository]]",
		}, {
			name: "missing repository",
			c:    c,
			call: func(c *Client) error { _, err := c.Tags(t.Context(), r.Repo("team/nope")); return err },
			want: "listing tags of HOST/team/nope: repository team/nope not found on HOST",
		}, {
			name: "missing tag",
			c:    c,
			call: func(c *Client) error { _, err := c.Digest(t.Context(), r.Repo("team/app1:9.9.9")); return err },
			want: "resolving digest of HOST/team/app1:9.9.9: HEAD http://HOST/v2/team/app1/manifests/9.9.9: unexpected status code 404 Not Found (HEAD responses have no body, use GET for details)",
		}} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call(tc.c)
				got := ""
				if err != nil {
					got = err.Error()
				}
				if diff := cmp.Diff(strings.NewReplacer("HOST", r.Host, "DIR", dir).Replace(tc.want), got); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if strings.Contains(got, "wrong-password-value") {
					t.Errorf("error %q contains the password", got)
				}
			})
		}
	})
}
