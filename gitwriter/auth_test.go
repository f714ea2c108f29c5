package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
)

func TestTokenNeverLeaks(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	var logs syncBuffer
	work := t.TempDir()
	r := mustNew(t, tokenOptions(t, s, "fleet", work, &logs))
	mustSync(t, r)
	if _, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), nil); err != nil {
		t.Fatalf("Push: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(r.Dir(), ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "url = "+s.RepoURL("fleet")+"\n") {
		t.Errorf(".git/config does not hold the plain url:\n%s", cfg)
	}
	// Nothing written under workDir holds the token.
	err = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s.Token) {
			t.Errorf("%s holds the token", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var errs []error
	// A rejected token, a missing branch, a server that is gone.
	o := tokenOptions(t, s, "fleet", work, &logs)
	o.Branch = "nope"
	_, err = mustNew(t, o).Sync(context.Background())
	errs = append(errs, err)
	o = tokenOptions(t, s, "missing", work, &logs)
	_, err = mustNew(t, o).Sync(context.Background())
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("Sync succeeded where it should fail")
		}
		if strings.Contains(err.Error(), s.Token) {
			t.Errorf("error holds the token: %v", err)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"pushed"`) {
		t.Fatalf("no log captured: %s", logs.String())
	}
	if strings.Contains(logs.String(), s.Token) {
		t.Errorf("logs hold the token:\n%s", logs.String())
	}
}

func TestErrorfRedacts(t *testing.T) {
	r := &Repo{token: "s3cr3t-token"}
	base := errors.New("GET https://x-access-token:s3cr3t-token@example.com failed")
	err := r.errorf("syncing: %w: %w", ErrPushRejected, base)
	if strings.Contains(err.Error(), "s3cr3t-token") {
		t.Errorf("errorf kept the token: %v", err)
	}
	if !strings.Contains(err.Error(), "x-access-token:REDACTED@example.com") {
		t.Errorf("errorf = %q, want the token replaced by REDACTED", err)
	}
	if !errors.Is(err, ErrPushRejected) {
		t.Errorf("errors.Is(%v, ErrPushRejected) = false", err)
	}
	if u := errors.Unwrap(err); u != nil {
		t.Errorf("Unwrap hands out %q", fmt.Sprint(u))
	}
}

func TestNewRejects(t *testing.T) {
	token := writeFile(t, "token", "abc")
	empty := writeFile(t, "empty", "\n")
	base := Options{URL: "https://example.com/acme/fleet.git", Branch: "main", WorkDir: t.TempDir(), Author: bot}
	tests := []struct {
		name   string
		modify func(o *Options)
		want   string
	}{
		{"password in url", func(o *Options) { o.URL = "https://x-access-token:hunter2@example.com/a.git" }, "carries credentials"},
		{"token as the user of an https url", func(o *Options) { o.URL = "https://hunter2@example.com/a.git" }, "carries credentials"},
		{"empty token file", func(o *Options) { o.Auth.TokenFile = empty }, "is empty"},
		{"token and ssh", func(o *Options) { o.Auth = Auth{TokenFile: token, SSHKeyFile: token} }, "give one"},
		{"ssh key without known_hosts", func(o *Options) { o.URL = "ssh://git@example.com/a.git"; o.Auth = Auth{SSHKeyFile: token} }, "needs both"},
		{"token over ssh", func(o *Options) { o.URL = "ssh://git@example.com/a.git"; o.Auth = Auth{TokenFile: token} }, "needs an http(s) url"},
		{"bad branch", func(o *Options) { o.Branch = "a..b" }, "contains .."},
		{"no author", func(o *Options) { o.Author = Signature{} }, "author"},
		{"bad template", func(o *Options) { o.MessageTemplate = "{{.Nope" }, "messageTemplate"},
		{"missing key file", func(o *Options) { o.SigningKeyFile = "/nonexistent/key.asc" }, "signingKeyFile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.modify(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error holds the password: %v", err)
			}
		})
	}
}

// TestTokenUsername checks that Auth.Username is the basic-auth user sent
// with the token, against a server that, like GitLab, accepts the token
// only with its user (oauth2).
func TestTokenUsername(t *testing.T) {
	s := gitserver.Start(t, gitserver.WithUser("oauth2"))
	s.NewRepo(t, "group/sub/fleet", map[string]string{"a.yaml": "a: 1\n"})
	tests := []struct {
		name, user string
		ok         bool
	}{
		{"default user refused", "", false},
		{"another user refused", "git", false},
		{"oauth2 accepted", "oauth2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tokenOptions(t, s, "group/sub/fleet", t.TempDir(), nil)
			o.Auth.Username = tc.user
			_, err := mustNew(t, o).Sync(context.Background())
			if (err == nil) != tc.ok {
				t.Fatalf("Sync = %v, want success %v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), s.Token) {
				t.Errorf("error holds the token: %v", err)
			}
		})
	}
}
