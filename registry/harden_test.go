package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/registrytest"
)

// TestListBounds checks that a tag listing is bounded in pages, tags,
// bytes per page and time, and that exceeding a bound fails the
// repository with no tags at all.
func TestListBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		mw   func(http.Handler) http.Handler
		opts []Option
		// wantErr has %[1]s for the registry host.
		wantErr      string
		tagsRequests int64
	}{{
		name:         "endless pagination stops at the default of 1000 pages",
		mw:           endlessTags(1, 5000),
		wantErr:      "listing tags of %[1]s/app: more than 1000 pages, the most imagebump follows for one repository; refusing a partial list",
		tagsRequests: 1000,
	}, {
		name:         "endless pagination stops at WithMaxPages",
		mw:           endlessTags(2, 5000),
		opts:         []Option{WithMaxPages(5)},
		wantErr:      "listing tags of %[1]s/app: more than 5 pages, the most imagebump follows for one repository; refusing a partial list",
		tagsRequests: 5,
	}, {
		name:         "too many tags",
		mw:           endlessTags(4, 5000),
		opts:         []Option{WithMaxTags(10)},
		wantErr:      "listing tags of %[1]s/app: more than 10 tags, the most imagebump accepts for one repository; refusing a partial list",
		tagsRequests: 3,
	}, {
		name:         "too slow",
		mw:           slowTags,
		opts:         []Option{WithListTimeout(200 * time.Millisecond), WithTimeout(time.Second)},
		wantErr:      "listing tags of %[1]s/app: not complete within 200ms, the time imagebump allows one repository's tag list; refusing a partial list",
		tagsRequests: 2,
	}, {
		name:         "a page over the size cap",
		mw:           rawTags(http.StatusOK, `{"name":"app","tags":["`+strings.Repeat("a", 2000)+`"]}`),
		opts:         []Option{withMaxPageBytes(1000)},
		wantErr:      "listing tags of %[1]s/app: a page of the tag list is larger than 1000 bytes, the most imagebump reads",
		tagsRequests: 1,
	}, {
		name: "bounds met exactly are fine",
		mw:   endlessTags(2, 5),
		opts: []Option{WithMaxPages(5), WithMaxTags(10)},
		// 5 pages of 2 tags.
		tagsRequests: 5,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.StartInProcess(t, registrytest.WithMiddleware(tc.mw))
			c := newClient(t, nil, tc.opts...)
			tags, err := c.Tags(t.Context(), r.Repo("app"))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
				if tags != nil {
					t.Errorf("a failed listing returned %d tags", len(tags))
				}
			}
			wantErr := ""
			if tc.wantErr != "" {
				wantErr = fmt.Sprintf(tc.wantErr, r.Host)
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if wantErr != "" {
				var le *ListLimitError
				if !errors.As(err, &le) {
					t.Errorf("error %v is not a *ListLimitError", err)
				}
			}
			if got := count(c.Counts(), r.Host, KindTags); got != tc.tagsRequests {
				t.Errorf("%d tags/list requests, want %d", got, tc.tagsRequests)
			}
		})
	}
}

func TestListBoundOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"zero pages", WithMaxPages(0), "max pages must be at least 1, got 0"},
		{"zero tags", WithMaxTags(0), "max tags must be at least 1, got 0"},
		{"negative list timeout", WithListTimeout(-time.Second), "negative list timeout -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRegistryDown checks that a registry nobody listens on is reported
// as that first, whatever schemes were tried.
func TestRegistryDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		repo string
		opts []Option
		want string
	}{
		{"loopback", host + "/app", nil, "listing tags of HOST/app: cannot connect to HOST: connection refused"},
		{"localhost, marked insecure", strings.Replace(host, "127.0.0.1", "localhost", 1) + "/app",
			[]Option{WithHosts(Host{Host: strings.Replace(host, "127.0.0.1", "localhost", 1), Insecure: true})},
			"listing tags of LOCALHOST/app: cannot connect to LOCALHOST: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, nil, tc.opts...)
			_, err := c.Tags(t.Context(), tc.repo)
			want := strings.NewReplacer("LOCALHOST", strings.Replace(host, "127.0.0.1", "localhost", 1), "HOST", host).Replace(tc.want)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			var ce *ConnectError
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *ConnectError", err)
			}
		})
	}
}

// TestAccessDenied checks that a 401 or 403 says whether credentials were
// sent and where they came from, never what they were.
func TestAccessDenied(t *testing.T) {
	const wrong = "wrong-secret-value"
	basic := registrytest.StartInProcess(t, registrytest.WithBasicAuth(user, password))
	tokens := &tokenAuth{user: user, password: password}
	bearer := registrytest.StartInProcess(t, registrytest.WithMiddleware(tokens.middleware))
	denied := registrytest.StartInProcess(t, registrytest.WithMiddleware(rawTags(http.StatusForbidden,
		`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)))
	t.Setenv("IMAGEBUMP_TEST_WRONG", wrong)

	// config writes a docker config.json into dir and returns its path.
	config := func(t *testing.T, dir, body string) string {
		t.Helper()
		p := filepath.Join(dir, "config.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// helper installs docker-credential-NAME printing user:secret.
	helper := func(t *testing.T, dir, name, secret string) {
		t.Helper()
		script := fmt.Sprintf("#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}' \"$server\"\n", user, secret)
		if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	wrongAuth := fmt.Sprintf("%q", "Ym90Ond"+"yb25nLXNlY3JldC12YWx1ZQ==") // bot:wrong-secret-value

	for _, tc := range []struct {
		name  string
		reg   *registrytest.Registry
		setup func(t *testing.T, dir string, host string) []Option
		// want has HOST for the registry's host and DIR for the test's
		// directory.
		want string
	}{{
		name: "anonymous, no docker config",
		reg:  basic,
		setup: func(t *testing.T, dir, _ string) []Option {
			t.Setenv("DOCKER_CONFIG", dir)
			return nil
		},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); no credentials were sent: no docker config at DIR/config.json and no registries.hosts credentials for HOST: GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}, {
		name: "anonymous, docker config without an entry for the host",
		reg:  basic,
		setup: func(t *testing.T, dir, _ string) []Option {
			return []Option{WithDockerConfig(config(t, dir, `{"auths": {"elsewhere.example": {"auth": "eDp5"}}}`))}
		},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); no credentials were sent: none for HOST in the docker config DIR/config.json or registries.hosts: GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}, {
		name: "docker config entry",
		reg:  basic,
		setup: func(t *testing.T, dir, host string) []Option {
			return []Option{WithDockerConfig(config(t, dir, fmt.Sprintf(`{"auths": {%q: {"auth": %s}}}`, host, wrongAuth)))}
		},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from the docker config DIR/config.json entry for HOST: GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}, {
		name: "credential helper",
		reg:  basic,
		setup: func(t *testing.T, dir, host string) []Option {
			helper(t, dir, "wrong", wrong)
			return []Option{WithDockerConfig(config(t, dir, fmt.Sprintf(`{"credHelpers": {%q: "wrong"}}`, host)))}
		},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from credential helper docker-credential-wrong (docker config DIR/config.json): GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}, {
		name: "registries.hosts entry, token exchange refused",
		reg:  bearer,
		setup: func(t *testing.T, _, host string) []Option {
			return []Option{WithHosts(Host{Host: host, Username: user, Password: "${IMAGEBUMP_TEST_WRONG}"})}
		},
		want: "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); credentials were sent from the registries.hosts entry for HOST: GET http://HOST/token?scope=repository%3Aapp%3Apull&service=registrytest: UNAUTHORIZED: invalid credentials",
	}, {
		name: "403",
		reg:  denied,
		setup: func(t *testing.T, dir, _ string) []Option {
			return []Option{WithDockerConfig(config(t, dir, `{}`))}
		},
		want: "listing tags of HOST/app: access to app denied by HOST (403 Forbidden); no credentials were sent: none for HOST in the docker config DIR/config.json or registries.hosts: GET http://HOST/v2/app/tags/list?n=1000: DENIED: requested access to the resource is denied",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := newClient(t, nil, tc.setup(t, dir, tc.reg.Host)...)
			_, err := c.Tags(t.Context(), tc.reg.Repo("app"))
			got := ""
			if err != nil {
				got = err.Error()
			}
			want := strings.NewReplacer("HOST", tc.reg.Host, "DIR", dir).Replace(tc.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(got, wrong) {
				t.Errorf("error %q holds the secret", got)
			}
			var ae *AccessError
			if !errors.As(err, &ae) {
				t.Errorf("error %v is not an *AccessError", err)
			}
		})
	}
}

// TestCredentialHelperFails runs real helper scripts that fail after
// printing a secret: the error names the helper, the host and the exit
// status, and never the output.
func TestCredentialHelperFails(t *testing.T) {
	const secret = "s3cr3t-from-the-helper"
	r := registrytest.StartInProcess(t, registrytest.WithBasicAuth(user, password))
	for _, tc := range []struct {
		name   string
		script string
		want   string
	}{{
		name:   "exit 1 after printing a secret",
		script: "echo '{\"Username\":\"bot\",\"Secret\":\"" + secret + "\"}'\necho " + secret + " >&2\nexit 1",
		want:   "listing tags of HOST/app: docker config DIR/config.json: credential helper docker-credential-leaky failed for HOST: exit status 1",
	}, {
		name:   "exit 3 printing only the secret",
		script: "echo " + secret + "\nexit 3",
		want:   "listing tags of HOST/app: docker config DIR/config.json: credential helper docker-credential-leaky failed for HOST: exit status 3",
	}, {
		name:   "exit 0 with malformed output",
		script: "echo '" + secret + "'",
		want:   "listing tags of HOST/app: docker config DIR/config.json: credential helper docker-credential-leaky failed for HOST: its output is not credentials",
	}, {
		name:   "helper missing from PATH",
		script: "",
		want:   `listing tags of HOST/app: docker config DIR/config.json: credential helper docker-credential-leaky failed for HOST: exec: "docker-credential-leaky": executable file not found in $PATH`,
	}, {
		name:   "credentials not found is anonymous access",
		script: "echo 'credentials not found in native keychain'\nexit 1",
		want:   "listing tags of HOST/app: access to app denied by HOST (401 Unauthorized); no credentials were sent: none for HOST in the docker config DIR/config.json or registries.hosts: GET http://HOST/v2/app/tags/list?n=1000: UNAUTHORIZED: authentication required",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.script != "" {
				if err := os.WriteFile(filepath.Join(dir, "docker-credential-leaky"), []byte("#!/bin/sh\nread server\n"+tc.script+"\n"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			cfg := filepath.Join(dir, "config.json")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"credHelpers": {%q: "leaky"}}`, r.Host)), 0o600); err != nil {
				t.Fatal(err)
			}
			// What the helper prints on stderr must not reach ours (the
			// bot's log) either.
			stderr, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			saved := os.Stderr
			os.Stderr = stderr
			t.Cleanup(func() { os.Stderr = saved })

			c := newClient(t, nil, WithDockerConfig(cfg))
			_, err = c.Tags(t.Context(), r.Repo("app"))
			os.Stderr = saved
			got := ""
			if err != nil {
				got = err.Error()
			}
			if strings.Contains(got, secret) {
				t.Errorf("error %q holds the helper's output", got)
			}
			if b, _ := os.ReadFile(stderr.Name()); strings.Contains(string(b), secret) {
				t.Errorf("the helper's output reached our stderr: %q", b)
			}
			want := strings.NewReplacer("HOST", r.Host, "DIR", dir).Replace(tc.want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegistryTextEscaped checks that what a registry sends (error
// bodies, Link headers) reaches an error message with its control and
// invisible characters escaped.
func TestRegistryTextEscaped(t *testing.T) {
	for _, tc := range []struct {
		name string
		mw   func(http.Handler) http.Handler
		want string
	}{{
		name: "error body with ANSI escapes",
		mw:   rawTags(http.StatusBadRequest, `{"errors":[{"code":"NAME_INVALID","message":"\u001b[2J\u001b]0;owned\u0007bad\u200bname"}]}`),
		want: `listing tags of HOST/app: GET http://HOST/v2/app/tags/list?n=1000: NAME_INVALID: \x1b[2J\x1b]0;owned\abad\u200bname`,
	}, {
		name: "raw error body",
		mw:   rawTags(http.StatusBadRequest, "oops\x1b[31m\r\nred\n"),
		want: `listing tags of HOST/app: GET http://HOST/v2/app/tags/list?n=1000: unexpected status code 400 Bad Request: oops\x1b[31m\r\nred`,
	}, {
		name: "Link to another host with a zero-width space",
		mw:   linkTags("<http://evil\u200b.example/v2/app/tags/list?n=1000&last=a>; rel=\"next\"", `["a"]`),
		want: `listing tags of HOST/app: registry HOST links the next page of app to another host, evil\u200b.example`,
	}, {
		name: "failed ping of a loopback host says nothing of HTTPS",
		mw: func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "nope\x1b[0m", http.StatusBadRequest)
			})
		},
		want: `listing tags of HOST/app: GET http://HOST/v2/: unexpected status code 400 Bad Request: nope\x1b[0m`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.StartInProcess(t, registrytest.WithMiddleware(tc.mw))
			c := newClient(t, nil, WithAttempts(1))
			_, err := c.Tags(t.Context(), r.Repo("app"))
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

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text: 1.0.0", "plain text: 1.0.0"},
		{"naïve café", "naïve café"},
		{"a\x1b[31mb", `a\x1b[31mb`},
		{"tab\tnewline\n", `tab\tnewline\n`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bidi\u202eflip", `bidi\u202eflip`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"c1 \u009b", `c1 \u009b`},
		{"replacement \ufffd kept", "replacement \ufffd kept"},
	} {
		if got := escape(tc.in); got != tc.want {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
