package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/registrytest"
)

const (
	user     = "bot"
	password = "correct-horse-battery"
)

// dockerConfig writes a docker config.json to path giving user:password
// for host.
func dockerConfig(t *testing.T, path, host string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	b, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDockerConfig(t *testing.T) {
	r := registrytest.StartInProcess(t, registrytest.WithBasicAuth(user, password))
	r.Seed(t, "app", "1.0.0")
	// unauthorized has NONE for where credentials were looked for.
	unauthorized := fmt.Sprintf("listing tags of %[1]s/app: access to app denied by %[1]s (401 Unauthorized); no credentials were sent: NONE: GET http://%[1]s/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required", r.Host)

	for _, tc := range []struct {
		name string
		// setup writes files under dir and returns the client's options.
		setup   func(t *testing.T, dir string) []Option
		wantErr string
	}{{
		name: "explicit config.json",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, "config.json"), r.Host)
			return []Option{WithDockerConfig(filepath.Join(dir, "config.json"))}
		},
	}, {
		name: "explicit directory",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, "config.json"), r.Host)
			return []Option{WithDockerConfig(dir)}
		},
	}, {
		name: "mounted Kubernetes dockerconfigjson secret",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, "secret", ".dockerconfigjson"), r.Host)
			return []Option{WithDockerConfig(filepath.Join(dir, "secret", ".dockerconfigjson"))}
		},
	}, {
		name: "DOCKER_CONFIG",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, "dc", "config.json"), r.Host)
			// A wrong home config must lose to DOCKER_CONFIG.
			dockerConfig(t, filepath.Join(dir, "home", ".docker", "config.json"), "elsewhere.example")
			t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "dc"))
			t.Setenv("HOME", filepath.Join(dir, "home"))
			return nil
		},
	}, {
		name: "~/.docker/config.json",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, ".docker", "config.json"), r.Host)
			t.Setenv("DOCKER_CONFIG", "")
			t.Setenv("HOME", dir)
			return nil
		},
	}, {
		name: "credential helper",
		setup: func(t *testing.T, dir string) []Option {
			// docker-credential-<name> get: reads the server on stdin and
			// prints the credentials as JSON.
			script := fmt.Sprintf("#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\"\n", user, password)
			if err := os.WriteFile(filepath.Join(dir, "docker-credential-fake"), []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			cfg := fmt.Sprintf(`{"credHelpers": {%q: "fake"}}`, r.Host)
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return []Option{WithDockerConfig(filepath.Join(dir, "config.json"))}
		},
	}, {
		name: "no docker config is anonymous",
		setup: func(t *testing.T, dir string) []Option {
			t.Setenv("DOCKER_CONFIG", "")
			t.Setenv("HOME", dir)
			return nil
		},
		wantErr: strings.ReplaceAll(unauthorized, "NONE", "no docker config at DIR/.docker/config.json and no registries.hosts credentials for "+r.Host),
	}, {
		name: "config for another host",
		setup: func(t *testing.T, dir string) []Option {
			dockerConfig(t, filepath.Join(dir, "config.json"), "elsewhere.example")
			return []Option{WithDockerConfig(filepath.Join(dir, "config.json"))}
		},
		wantErr: strings.ReplaceAll(unauthorized, "NONE", "none for "+r.Host+" in the docker config DIR/config.json or registries.hosts"),
	}, {
		name: "malformed config",
		setup: func(t *testing.T, dir string) []Option {
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": [`), 0o600); err != nil {
				t.Fatal(err)
			}
			return []Option{WithDockerConfig(filepath.Join(dir, "config.json"))}
		},
		wantErr: fmt.Sprintf("listing tags of %s/app: docker config DIR/config.json: unexpected EOF", r.Host),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := newClient(t, nil, tc.setup(t, dir)...)
			tags, err := c.Tags(t.Context(), r.Repo("app"))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(strings.ReplaceAll(tc.wantErr, "DIR", dir), got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if err == nil && !cmp.Equal(tags, []string{"1.0.0"}) {
				t.Errorf("tags = %v, want [1.0.0]", tags)
			}
		})
	}
}

func TestHostCredentials(t *testing.T) {
	basic := registrytest.StartInProcess(t, registrytest.WithBasicAuth(user, password))
	basic.Seed(t, "app", "1.0.0")
	tokens := &tokenAuth{user: user, password: password}
	bearer := registrytest.StartInProcess(t, registrytest.WithMiddleware(tokens.middleware))
	(&registrytest.Registry{Host: bearer.Host, Username: user, Password: password}).Seed(t, "app", "1.0.0")

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMAGEBUMP_TEST_PASSWORD", password)
	t.Setenv("IMAGEBUMP_TEST_USER", user)
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	for _, tc := range []struct {
		name       string
		reg        *registrytest.Registry
		host       Host
		wantTokens int64
	}{
		{"basic, password from ${ENV}", basic, Host{Username: "${IMAGEBUMP_TEST_USER}", Password: "${IMAGEBUMP_TEST_PASSWORD}"}, 0},
		{"basic, password file", basic, Host{Username: user, PasswordFile: pwFile}, 0},
		{"token exchange", bearer, Host{Username: user, Password: "${IMAGEBUMP_TEST_PASSWORD}"}, 1},
		{"registry token sent as is", bearer, Host{Token: "T repository:app:pull"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.host
			h.Host = tc.reg.Host
			c := newClient(t, nil, WithHosts(h))
			tags, err := c.Tags(t.Context(), tc.reg.Repo("app"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"1.0.0"}, tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if got := kinds(c.Counts())[KindToken]; got != tc.wantTokens {
				t.Errorf("%d token requests, want %d", got, tc.wantTokens)
			}
		})
	}
}

// TestSecretsNotInErrors makes authentication fail in ways whose raw
// error text would carry the credentials, and checks the error returned
// does not.
func TestSecretsNotInErrors(t *testing.T) {
	const secret = "hunter2-very-secret"
	encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
	echo := &tokenAuth{echo: true}
	echoing := registrytest.StartInProcess(t, registrytest.WithMiddleware(echo.middleware))
	basic := registrytest.StartInProcess(t, registrytest.WithBasicAuth(user, password))
	t.Setenv("IMAGEBUMP_TEST_SECRET", secret)
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, echoing.Host, encoded)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		reg  *registrytest.Registry
		opts []Option
		// want is the error with HOST for the registry's host.
		want string
	}{{
		name: "token server echoes host credentials",
		reg:  echoing,
		opts: []Option{WithHosts(Host{Host: echoing.Host, Username: user, Password: "${IMAGEBUMP_TEST_SECRET}"})},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from the registries.hosts entry for HOST: GET http://HOST/token?scope=repository%3Aapp%3Apull&service=registrytest: UNAUTHORIZED: invalid credentials Basic REDACTED (password REDACTED)",
	}, {
		name: "token server echoes docker config credentials",
		reg:  echoing,
		opts: []Option{WithDockerConfig(cfgPath)},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from the docker config CONFIG entry for HOST: GET http://HOST/token?scope=repository%3Aapp%3Apull&service=registrytest: UNAUTHORIZED: invalid credentials Basic REDACTED (password REDACTED)",
	}, {
		name: "wrong password",
		reg:  basic,
		opts: []Option{WithHosts(Host{Host: basic.Host, Username: user, Password: "${IMAGEBUMP_TEST_SECRET}"})},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from the registries.hosts entry for HOST: GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, nil, tc.opts...)
			_, err := c.Tags(t.Context(), tc.reg.Repo("app"))
			if err == nil {
				t.Fatal("Tags succeeded with bad credentials")
			}
			for _, s := range []string{secret, encoded, url.QueryEscape(secret)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
			if diff := cmp.Diff(strings.NewReplacer("HOST", tc.reg.Host, "CONFIG", cfgPath).Replace(tc.want), err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMAGEBUMP_TEST_SET", "value-of-secret")
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"duplicate host", []Option{WithHosts(Host{Host: "r.example"}, Host{Host: "r.example"})}, `registry host "r.example": configured twice`},
		{"docker.io twice", []Option{WithHosts(Host{Host: "docker.io"}, Host{Host: "index.docker.io"})}, `registry host "index.docker.io": configured twice`},
		{"empty host", []Option{WithHosts(Host{})}, `registry host "": not a registry host name`},
		{"bad host", []Option{WithHosts(Host{Host: "https://r.example"})}, `registry host "https://r.example": not a registry host name`},
		{"negative concurrency", []Option{WithHosts(Host{Host: "r.example", MaxConcurrency: -1})}, `registry host "r.example": maxConcurrency must not be negative, got -1`},
		{"negative rate", []Option{WithHosts(Host{Host: "r.example", RequestsPerSecond: -2})}, `registry host "r.example": requestsPerSecond must not be negative, got -2`},
		{"missing CA file", []Option{WithHosts(Host{Host: "r.example", CAFile: filepath.Join(dir, "nope.pem")})}, `registry host "r.example": reading caFile: open DIR/nope.pem: no such file or directory`},
		{"CA file without certificates", []Option{WithHosts(Host{Host: "r.example", CAFile: notPEM})}, `registry host "r.example": caFile DIR/ca.pem holds no PEM certificate`},
		{"unset environment variable", []Option{WithHosts(Host{Host: "r.example", Username: "u", Password: "${IMAGEBUMP_TEST_UNSET}"})}, `registry host "r.example": password: environment variable IMAGEBUMP_TEST_UNSET is not set`},
		{"missing password file", []Option{WithHosts(Host{Host: "r.example", Username: "u", PasswordFile: filepath.Join(dir, "nope")})}, `registry host "r.example": reading passwordFile: open DIR/nope: no such file or directory`},
		{"empty token file", []Option{WithHosts(Host{Host: "r.example", TokenFile: empty})}, `registry host "r.example": tokenFile DIR/empty is empty`},
		{"password and password file", []Option{WithHosts(Host{Host: "r.example", Username: "u", Password: "x", PasswordFile: empty})}, `registry host "r.example": both password and passwordFile are set`},
		{"token and password", []Option{WithHosts(Host{Host: "r.example", Username: "u", Password: "${IMAGEBUMP_TEST_SET}", Token: "${IMAGEBUMP_TEST_SET}"})}, `registry host "r.example": set either a token or a username and password, not both`},
		{"username without password", []Option{WithHosts(Host{Host: "r.example", Username: "u"})}, `registry host "r.example": username without password`},
		{"missing docker config", []Option{WithDockerConfig(filepath.Join(dir, "nope.json"))}, `docker config: stat DIR/nope.json: no such file or directory`},
		{"zero attempts", []Option{WithAttempts(0)}, `attempts must be at least 1, got 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(strings.ReplaceAll(tc.want, "DIR", dir), got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(got, "value-of-secret") {
				t.Errorf("error %q contains a secret", got)
			}
		})
	}
}

func TestSchemePolicy(t *testing.T) {
	c := newClient(t, nil, WithHosts(Host{Host: "insecure.example:5000", Insecure: true}))
	for _, tc := range []struct {
		url  string
		want string // empty: the request may go out
	}{
		{"https://127.0.0.1:1/v2/", "127.0.0.1:1 is a loopback host, spoken to over plain HTTP only"},
		{"https://localhost:1/v2/", "localhost:1 is a loopback host, spoken to over plain HTTP only"},
		{"https://[::1]:1/v2/", "[::1]:1 is a loopback host, spoken to over plain HTTP only"},
		{"http://10.1.2.3:5000/v2/", "refusing plain HTTP to 10.1.2.3:5000: mark the host insecure to allow it"},
		{"http://registry.local:5000/v2/", "refusing plain HTTP to registry.local:5000: mark the host insecure to allow it"},
		{"http://ghcr.io/v2/", "refusing plain HTTP to ghcr.io: mark the host insecure to allow it"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.send(req)
			var se *SchemeError
			if !errors.As(err, &se) {
				t.Fatalf("send(%s) = %v, want a *SchemeError", tc.url, err)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	if got := c.Counts(); len(got) != 0 {
		t.Errorf("refused requests were counted: %v", got)
	}
	// An insecure host may be spoken to either way.
	for _, u := range []string{"http://insecure.example:5000/v2/", "https://insecure.example:5000/v2/"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.send(req)
		var se *SchemeError
		if errors.As(err, &se) {
			t.Errorf("send(%s) refused: %v", u, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":        true,
		"localhost:5000":   true,
		"LOCALHOST:5000":   true,
		"127.0.0.1":        true,
		"127.1.2.3:5000":   true,
		"[::1]:5000":       true,
		"::1":              true,
		"10.0.0.1:5000":    false,
		"192.168.1.1":      false,
		"ghcr.io":          false,
		"localhost.evil":   false,
		"127.0.0.1.nip.io": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %t, want %t", host, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		want        Kind
	}{
		{"GET", "http://r/v2/", KindPing},
		{"GET", "http://r/v2/app/tags/list?n=1000", KindTags},
		{"GET", "http://r/v2/org/team/app/tags/list?n=1000&last=x", KindTags},
		{"HEAD", "http://r/v2/app/manifests/1.0.0", KindManifestHead},
		{"GET", "http://r/v2/app/manifests/sha256:abc", KindManifestGet},
		{"GET", "http://r/v2/app/blobs/sha256:abc", KindBlob},
		{"GET", "https://auth.docker.io/token?scope=repository:library/nginx:pull&service=registry.docker.io", KindToken},
		{"GET", "https://ghcr.io/token?scope=repository:acme/web:pull", KindToken},
		{"GET", "https://gitlab.example/jwt/auth?service=container_registry&scope=x", KindToken},
		{"GET", "http://r/v2/_catalog", KindOther},
		{"GET", "http://r/healthz", KindOther},
	} {
		t.Run(tc.method+" "+tc.url, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := classify(req); got != tc.want {
				t.Errorf("classify = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestLoopbackSchemes checks that every spelling of a loopback host is
// parsed for plain HTTP, also those go-containerregistry would send HTTPS.
func TestLoopbackSchemes(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		want string
	}{
		{"localhost/app", "http"},
		{"localhost:5000/app", "http"},
		{"127.0.0.2:5000/app", "http"},
		{"127.0.0.1/app", "http"},
		{"[::1]:5000/app", "http"},
		{"ghcr.io/acme/app", "https"},
	} {
		r, err := c.repository(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Scheme(); got != tc.want {
			t.Errorf("repository(%q).Scheme() = %s, want %s", tc.ref, got, tc.want)
		}
		ref, err := c.reference(tc.ref + ":1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Context().Scheme(); got != tc.want {
			t.Errorf("reference(%q).Scheme() = %s, want %s", tc.ref, got, tc.want)
		}
	}
}
