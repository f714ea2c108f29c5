package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sign(body, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerify(t *testing.T) {
	const body, secret = `{"zen":"x"}`, "hunter2"
	for _, tc := range []struct {
		name       string
		source     Source
		h          http.Header
		pathSecret string
		secret     string
		ok         bool
	}{
		{"github signed", GitHub, header("X-Hub-Signature-256", "sha256="+sign(body, secret)), "", secret, true},
		{"github other secret", GitHub, header("X-Hub-Signature-256", "sha256="+sign(body, "other")), "", secret, false},
		{"github no prefix", GitHub, header("X-Hub-Signature-256", sign(body, secret)), "", secret, false},
		{"github sha1 header only", GitHub, header("X-Hub-Signature", "sha1=00"), "", secret, false},
		{"github not hex", GitHub, header("X-Hub-Signature-256", "sha256=zz"), "", secret, false},
		{"gitea signed", Gitea, header("X-Gitea-Signature", sign(body, secret)), "", secret, true},
		{"gitea body changed", Gitea, header("X-Gitea-Signature", sign(body+" ", secret)), "", secret, false},
		{"gitea github header", Gitea, header("X-Hub-Signature-256", "sha256="+sign(body, secret)), "", secret, false},
		{"gitlab token", GitLab, header("X-Gitlab-Token", secret), "", secret, true},
		{"gitlab wrong token", GitLab, header("X-Gitlab-Token", secret+"x"), "", secret, false},
		{"gitlab no token", GitLab, header(), "", secret, false},
		{"distribution bearer", Distribution, header("Authorization", "Bearer "+secret), "", secret, true},
		{"distribution lower-case scheme", Distribution, header("Authorization", "bearer "+secret), "", secret, true},
		{"distribution basic", Distribution, header("Authorization", "Basic "+secret), "", secret, false},
		{"distribution bare secret", Distribution, header("Authorization", secret), "", secret, false},
		{"harbor bearer", Harbor, header("Authorization", "Bearer "+secret), "", secret, true},
		{"quay wrong bearer", Quay, header("Authorization", "Bearer nope"), "", secret, false},
		{"quay bearer", Quay, header("Authorization", "Bearer "+secret), "", secret, true},
		{"dockerhub path", DockerHub, header(), secret, secret, true},
		{"dockerhub wrong path", DockerHub, header(), "guess", secret, false},
		{"dockerhub header ignored", DockerHub, header("Authorization", "Bearer "+secret), "", secret, false},
		{"empty secret never verifies", GitLab, header("X-Gitlab-Token", ""), "", "", false},
		{"unknown source", Source("bitbucket"), header("Authorization", "Bearer "+secret), secret, secret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.source, tc.h, tc.pathSecret, []byte(body), []byte(tc.secret))
			if (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Verify = %v, want ErrUnauthorized", err)
			}
		})
	}
}

// distributionPush is an envelope as docker-registry 2.8 sends it for a
// push of one tag: the layer blob, then the manifest.
const distributionPush = `{"events":[
 {"id":"1","timestamp":"2026-01-01T00:00:00Z","action":"push",
  "target":{"mediaType":"application/octet-stream","size":100,"digest":"sha256:aa","length":100,"repository":"acme/web","url":"http://127.0.0.1:5000/v2/acme/web/blobs/sha256:aa"},
  "request":{"id":"r1","addr":"127.0.0.1:4000","host":"127.0.0.1:5000","method":"PUT","useragent":"crane"},"source":{"addr":"x:5000"}},
 {"id":"2","timestamp":"2026-01-01T00:00:01Z","action":"push",
  "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":400,"digest":"sha256:bb","length":400,"repository":"acme/web","url":"http://127.0.0.1:5000/v2/acme/web/manifests/sha256:bb","tag":"1.6.0"},
  "request":{"id":"r2","addr":"127.0.0.1:4000","host":"127.0.0.1:5000","method":"PUT","useragent":"crane"},"source":{"addr":"x:5000"}},
 {"id":"3","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"acme/other","tag":"1"},"request":{"host":"127.0.0.1:5000"}}
]}`

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source Source
		h      http.Header
		body   string
		want   Event
		err    string
	}{
		{
			name: "distribution push: the manifest, not the blob or the pull", source: Distribution, body: distributionPush,
			want: Event{Source: Distribution, Kind: "events", Images: []string{"127.0.0.1:5000/acme/web"}},
		},
		{
			name: "distribution blob only", source: Distribution,
			body: `{"events":[{"action":"push","target":{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","repository":"a/b"},"request":{"host":"r"}}]}`,
			want: Event{Source: Distribution, Kind: "events"},
		},
		{name: "distribution not an envelope", source: Distribution, body: `{"action":"push"}`, err: `no "events" array`},
		{name: "distribution not json", source: Distribution, body: `events`, err: "invalid character"},
		{
			name: "dockerhub", source: DockerHub,
			body: `{"callback_url":"https://registry.hub.docker.com/u/acme/web/hook/x/","push_data":{"tag":"1.6.0","pusher":"acme"},"repository":{"repo_name":"acme/web","namespace":"acme","name":"web"}}`,
			want: Event{Source: DockerHub, Kind: "push", Images: []string{"docker.io/acme/web"}},
		},
		{name: "dockerhub without repository", source: DockerHub, body: `{"push_data":{}}`, err: "no repository.repo_name"},
		{
			name: "harbor push", source: Harbor,
			body: `{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"admin","event_data":{"resources":[{"digest":"sha256:cc","tag":"1.6.0","resource_url":"harbor.example.com/library/web:1.6.0"}],"repository":{"name":"web","namespace":"library","repo_full_name":"library/web","repo_type":"private"}}}`,
			want: Event{Source: Harbor, Kind: "PUSH_ARTIFACT", Images: []string{"harbor.example.com/library/web"}},
		},
		{
			name: "harbor delete names nothing", source: Harbor,
			body: `{"type":"DELETE_ARTIFACT","event_data":{"resources":[{"resource_url":"harbor.example.com/library/web:1.6.0"}]}}`,
			want: Event{Source: Harbor, Kind: "DELETE_ARTIFACT"},
		},
		{name: "harbor without type", source: Harbor, body: `{"event_data":{}}`, err: "no type"},
		{
			name: "quay", source: Quay,
			body: `{"name":"web","repository":"acme/web","namespace":"acme","docker_url":"quay.io/acme/web","homepage":"https://quay.io/repository/acme/web","updated_tags":["1.6.0"]}`,
			want: Event{Source: Quay, Kind: "repo_push", Images: []string{"quay.io/acme/web"}},
		},
		{name: "quay without docker_url", source: Quay, body: `{"repository":"acme/web"}`, err: "no docker_url"},
		{
			name: "github registry_package", source: GitHub, h: header("X-GitHub-Event", "registry_package"),
			body: `{"action":"published","registry_package":{"name":"web","namespace":"Acme","package_type":"CONTAINER","owner":{"login":"Acme"},"package_version":{"package_url":"ghcr.io/acme/web:1.6.0"}}}`,
			want: Event{Source: GitHub, Kind: "registry_package", Images: []string{"ghcr.io/acme/web"}},
		},
		{
			name: "github package without url", source: GitHub, h: header("X-GitHub-Event", "package"),
			body: `{"action":"published","package":{"name":"Web","namespace":"Acme","package_type":"container","owner":{"login":"Acme"}}}`,
			want: Event{Source: GitHub, Kind: "package", Images: []string{"ghcr.io/acme/web"}},
		},
		{
			name: "github npm package names nothing", source: GitHub, h: header("X-GitHub-Event", "package"),
			body: `{"action":"published","package":{"name":"lib","package_type":"npm","owner":{"login":"acme"}}}`,
			want: Event{Source: GitHub, Kind: "package"},
		},
		{
			name: "github push", source: GitHub, h: header("X-GitHub-Event", "push"),
			body: `{"ref":"refs/heads/main","repository":{"full_name":"acme/fleet","clone_url":"https://github.com/acme/fleet.git","ssh_url":"git@github.com:acme/fleet.git","html_url":"https://github.com/acme/fleet"}}`,
			want: Event{Source: GitHub, Kind: "push", Repositories: []string{"https://github.com/acme/fleet.git", "git@github.com:acme/fleet.git", "https://github.com/acme/fleet"}},
		},
		{
			name: "github pull_request", source: GitHub, h: header("X-GitHub-Event", "pull_request"),
			body: `{"action":"closed","pull_request":{"merged":true},"repository":{"clone_url":"https://github.com/acme/fleet.git"}}`,
			want: Event{Source: GitHub, Kind: "pull_request", Repositories: []string{"https://github.com/acme/fleet.git"}},
		},
		{name: "github push without repository", source: GitHub, h: header("X-GitHub-Event", "push"), body: `{"ref":"x"}`, err: "no repository"},
		{
			name: "github ping", source: GitHub, h: header("X-GitHub-Event", "ping"),
			body: `{"zen":"Design for failure.","repository":{"clone_url":"https://github.com/acme/fleet.git"}}`,
			want: Event{Source: GitHub, Kind: "ping"},
		},
		{
			name: "gitlab push", source: GitLab, h: header("X-Gitlab-Event", "Push Hook"),
			body: `{"object_kind":"push","project":{"path_with_namespace":"g/sub/fleet","git_http_url":"https://gitlab.example.com/g/sub/fleet.git","git_ssh_url":"git@gitlab.example.com:g/sub/fleet.git","web_url":"https://gitlab.example.com/g/sub/fleet"}}`,
			want: Event{Source: GitLab, Kind: "Push Hook", Repositories: []string{"https://gitlab.example.com/g/sub/fleet.git", "git@gitlab.example.com:g/sub/fleet.git", "https://gitlab.example.com/g/sub/fleet"}},
		},
		{
			name: "gitlab merge request", source: GitLab, h: header("X-Gitlab-Event", "Merge Request Hook"),
			body: `{"object_kind":"merge_request","project":{"git_http_url":"https://gitlab.example.com/g/fleet.git"},"object_attributes":{"state":"closed"}}`,
			want: Event{Source: GitLab, Kind: "Merge Request Hook", Repositories: []string{"https://gitlab.example.com/g/fleet.git"}},
		},
		{name: "gitlab array", source: GitLab, h: header("X-Gitlab-Event", "Push Hook"), body: `[]`, err: "cannot unmarshal"},
		{
			name: "gitea push", source: Gitea, h: header("X-Gitea-Event", "push"),
			body: `{"ref":"refs/heads/main","repository":{"clone_url":"http://gitea.local:3000/acme/fleet.git","ssh_url":"git@gitea.local:acme/fleet.git","html_url":"http://gitea.local:3000/acme/fleet"}}`,
			want: Event{Source: Gitea, Kind: "push", Repositories: []string{"http://gitea.local:3000/acme/fleet.git", "git@gitea.local:acme/fleet.git", "http://gitea.local:3000/acme/fleet"}},
		},
		{
			name: "gitea issue comment names nothing", source: Gitea, h: header("X-Gitea-Event", "issue_comment"),
			body: `{"repository":{"clone_url":"http://gitea.local:3000/acme/fleet.git"}}`,
			want: Event{Source: Gitea, Kind: "issue_comment"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.source, tc.h, []byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %+v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripTag(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/acme/web:1.0":               "ghcr.io/acme/web",
		"127.0.0.1:5000/acme/web":            "127.0.0.1:5000/acme/web",
		"127.0.0.1:5000/acme/web:v2":         "127.0.0.1:5000/acme/web",
		"quay.io/acme/web@sha256:abc":        "quay.io/acme/web",
		"quay.io/acme/web:1.0@sha256:abc":    "quay.io/acme/web",
		"localhost:5000/web":                 "localhost:5000/web",
		"harbor.example.com/library/web:1.6": "harbor.example.com/library/web",
	} {
		if got := StripTag(in); got != want {
			t.Errorf("StripTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that no body crashes a parser, and that what a parser
// accepts names only non-empty, unique images and repositories.
func FuzzParse(f *testing.F) {
	for _, s := range []string{distributionPush, `{"repository":{"repo_name":"a/b"}}`, `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"h/a:1"}]}}`,
		`{"docker_url":"quay.io/a/b"}`, `{"repository":{"clone_url":"x"},"package":{"package_type":"container","name":"n","namespace":"o"}}`,
		`{"project":{"git_http_url":"u"}}`, `null`, `[]`, `{"events":null}`} {
		for _, src := range Sources {
			f.Add(string(src), s)
		}
	}
	f.Fuzz(func(t *testing.T, source, body string) {
		kinds := map[Source]string{GitHub: "push", GitLab: "Push Hook", Gitea: "pull_request"}
		s := Source(source)
		h := http.Header{}
		h.Set("X-GitHub-Event", kinds[GitHub])
		h.Set("X-Gitlab-Event", kinds[GitLab])
		h.Set("X-Gitea-Event", kinds[Gitea])
		ev, err := Parse(s, h, []byte(body))
		if err != nil {
			return
		}
		if ev.Source != s {
			t.Errorf("Source = %q, want %q", ev.Source, s)
		}
		seen := map[string]bool{}
		for _, v := range append(append([]string{}, ev.Images...), ev.Repositories...) {
			if v == "" || seen[v] {
				t.Errorf("empty or repeated name %q in %+v", v, ev)
			}
			seen[v] = true
		}
	})
}

// FuzzVerify checks that Verify never panics on any header, and that a
// GitHub or Gitea signature verifies exactly the body it was made for.
func FuzzVerify(f *testing.F) {
	f.Add("github", "sha256=00", "body", "secret", "x")
	f.Add("gitea", "zz", "{}", "s", "")
	f.Add("distribution", "Bearer s", "", "s", "")
	f.Fuzz(func(t *testing.T, source, headerValue, body, secret, pathSecret string) {
		h := http.Header{}
		for _, k := range []string{"X-Hub-Signature-256", "X-Gitea-Signature", "X-Gitlab-Token", "Authorization"} {
			h.Set(k, headerValue)
		}
		_ = Verify(Source(source), h, pathSecret, []byte(body), []byte(secret))
		if secret == "" {
			return
		}
		gh := header("X-Hub-Signature-256", "sha256="+sign(body, secret))
		if err := Verify(GitHub, gh, "", []byte(body), []byte(secret)); err != nil {
			t.Errorf("GitHub signature of the body refused: %v", err)
		}
		if err := Verify(GitHub, gh, "", []byte(body+"x"), []byte(secret)); err == nil {
			t.Error("GitHub signature verified another body")
		}
		gt := header("X-Gitea-Signature", sign(body, secret))
		if err := Verify(Gitea, gt, "", []byte(body), []byte(secret)); err != nil {
			t.Errorf("Gitea signature of the body refused: %v", err)
		}
	})
}
