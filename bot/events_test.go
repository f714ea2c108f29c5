package bot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
)

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                         "docker.io/library/nginx",
		"docker.io/nginx":               "docker.io/library/nginx",
		"index.docker.io/library/nginx": "docker.io/library/nginx",
		"acme/web":                      "docker.io/acme/web",
		"docker.io/acme/web:1.0":        "docker.io/acme/web",
		"GHCR.io/acme/web":              "ghcr.io/acme/web",
		"127.0.0.1:5000/acme/web":       "127.0.0.1:5000/acme/web",
		"localhost/web@sha256:00":       "localhost/web",
	} {
		if got := NormalizeImage(in); got != want {
			t.Errorf("NormalizeImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeGitURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/fleet.git":       "github.com/acme/fleet",
		"https://GitHub.com/acme/fleet/":          "github.com/acme/fleet",
		"git@github.com:acme/fleet.git":           "github.com/acme/fleet",
		"ssh://git@github.com:22/acme/fleet.git":  "github.com/acme/fleet",
		"http://127.0.0.1:3000/acme/fleet.git":    "127.0.0.1:3000/acme/fleet",
		"https://gitlab.example.com/g/sub/fleet":  "gitlab.example.com/g/sub/fleet",
		"https://user@gitlab.example.com/g/x.git": "gitlab.example.com/g/x",
		"git@gitlab.example.com:g/sub/fleet.git":  "gitlab.example.com/g/sub/fleet",
	} {
		if got := NormalizeGitURL(in); got != want {
			t.Errorf("NormalizeGitURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// resolved is a Result whose pass resolved policies of these images.
func resolved(t *testing.T, images ...string) Result {
	t.Helper()
	dir := t.TempDir()
	src := "policies:\n"
	for i, img := range images {
		src += "  - {name: p" + string(rune('a'+i)) + ", image: " + img + ", semver: '>=1'}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, ".imagebump.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	pols, err := config.LoadPolicies(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := Result{Plan: &patcher.Plan{}}
	for _, p := range pols.Policies {
		res.Policies = append(res.Policies, Resolution{Policy: p})
	}
	return res
}

func TestInterestMatch(t *testing.T) {
	repos := []config.Repository{
		{URL: "https://github.com/acme/fleet.git"},
		{URL: "https://github.com/acme/other.git"},
		{URL: "http://127.0.0.1:3000/acme/fleet.git"},
	}
	in := NewInterest(repos)
	reg := webhook.Event{Images: []string{"127.0.0.1:5000/acme/web"}}
	if diff := cmp.Diff([]int{0, 1, 2}, in.Match(reg)); diff != "" {
		t.Errorf("before any pass, a registry event concerns every repository (-want +got):\n%s", diff)
	}
	in.Observe(0, resolved(t, "127.0.0.1:5000/acme/web", "nginx"))
	in.Observe(1, resolved(t, "ghcr.io/acme/api"))
	in.Observe(2, Result{Err: os.ErrNotExist}) // stopped before its policies: still unknown
	for _, tc := range []struct {
		name string
		ev   webhook.Event
		want []int
	}{
		{"registry image", reg, []int{0, 2}},
		{"docker hub official image", webhook.Event{Images: []string{"docker.io/library/nginx"}}, []int{0, 2}},
		{"image nobody uses", webhook.Event{Images: []string{"ghcr.io/acme/unused"}}, []int{2}},
		{"git push by ssh URL", webhook.Event{Repositories: []string{"git@github.com:acme/other.git"}}, []int{1}},
		{"git event of a local forge", webhook.Event{Repositories: []string{"http://127.0.0.1:3000/acme/fleet"}}, []int{2}},
		{"git event of an unwatched repository", webhook.Event{Repositories: []string{"https://github.com/acme/fleet-old.git"}}, nil},
		{"ping", webhook.Event{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, in.Match(tc.ev)); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}
