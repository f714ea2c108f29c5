package gitwriter

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/gitserver"
)

// gnupg makes a throwaway GNUPGHOME with one signing key for bot (protected
// by passphrase unless it is empty) and returns the home and the armored
// secret key file. The test is skipped without gpg, or fails under CI=true.
func gnupg(t *testing.T, passphrase string) (home, keyFile string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gpg not found: apt-get install gnupg")
		}
		t.Skip("gpg not found: apt-get install gnupg")
	}
	// Short path: gpg-agent's socket must fit in a sockaddr_un.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	gpg := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase}, args...)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v: %s", args, err, stderr.String())
		}
		return out
	}
	// gpg-agent calibrates the passphrase's key derivation to take about
	// 100 ms of its CPU; the Go side, under -race, took seconds per try.
	// The fewest iterations OpenPGP's S2K allows keep the key encrypted.
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("s2k-count 65536\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = cmd.Run()
		os.RemoveAll(home)
	})
	gpg("--quick-gen-key", bot.Name+" <"+bot.Email+">", "ed25519", "sign", "never")
	keyFile = filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(keyFile, gpg("--armor", "--export-secret-keys", bot.Email), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, keyFile
}

// verifyCommit runs git verify-commit on commit in the server's bare repo.
func verifyCommit(t *testing.T, s *gitserver.Server, repo, commit, gnupgHome string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", "-C", s.Dir(repo), "verify-commit", "-v", commit)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+gnupgHome)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSignedCommits(t *testing.T) {
	s := gitserver.Start(t)
	tests := []struct {
		name       string
		passphrase string
		sign       bool
	}{
		{"unencrypted key", "", true},
		{"key with a passphrase file", "correct horse", true},
		{"no key: unsigned", "", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := "r" + string(rune('a'+i))
			s.NewRepo(t, repo, map[string]string{"a.yaml": "a: 1\n"})
			home, key := gnupg(t, tc.passphrase)
			o := tokenOptions(t, s, repo, t.TempDir(), nil)
			if tc.sign {
				o.SigningKeyFile = key
				if tc.passphrase != "" {
					o.SigningPassphraseFile = writeFile(t, "pass", tc.passphrase+"\n")
				}
			}
			r := mustNew(t, o)
			mustSync(t, r)
			res, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), nil)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			raw := s.Git(t, repo, "cat-file", "commit", res.Commit)
			out, err := verifyCommit(t, s, repo, res.Commit, home)
			if tc.sign {
				if err != nil {
					t.Errorf("git verify-commit %s: %v\n%s\ncommit:\n%s", res.Commit, err, out, raw)
				}
				if !strings.Contains(out, "Good signature") {
					t.Errorf("git verify-commit says:\n%s", out)
				}
				return
			}
			if err == nil || strings.Contains(raw, "gpgsig") {
				t.Errorf("commit without a key is signed:\n%s\n%s", raw, out)
			}
		})
	}
}

func TestEncryptedKeyNeedsPassphrase(t *testing.T) {
	_, key := gnupg(t, "secret")
	o := Options{URL: "https://example.com/a.git", Branch: "main", WorkDir: t.TempDir(), Author: bot, SigningKeyFile: key}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "encrypted and no passphrase file") {
		t.Errorf("New without passphrase = %v", err)
	}
	o.SigningPassphraseFile = writeFile(t, "pass", "wrong")
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("New with a wrong passphrase = %v", err)
	}
}

func TestCommitMessage(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	tests := []struct {
		name     string
		template string
		cs       ChangeSet
		subject  string
		body     string
	}{
		{
			name:    "default, one image",
			cs:      change("a.yaml", "a: 2\n", "ghcr.io/acme/web", "1.4.2", "1.5.0"),
			subject: "Update ghcr.io/acme/web to 1.5.0",
			body:    "- ghcr.io/acme/web 1.4.2 → 1.5.0 (a.yaml)\n\n" + Trailer,
		},
		{
			// Issue 16: the subject names the version; full references
			// do not repeat the image in the old and new values.
			name: "default, one image in full references, tags and digests",
			cs: ChangeSet{
				Files: []File{{Path: "a.yaml", Content: []byte("a: 5\n")}, {Path: "b.yaml", Content: []byte("b: 5\n")}},
				Changes: []Change{
					{File: "a.yaml", Image: "ghcr.io/acme/web", Field: "ref", Old: "ghcr.io/acme/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"},
					{File: "a.yaml", Image: "ghcr.io/acme/web", Field: "ref", Old: "ghcr.io/acme/web:1.4.2@sha256:aaaa", New: "ghcr.io/acme/web:1.5.0@sha256:bbbb"},
					{File: "b.yaml", Image: "ghcr.io/acme/web", Field: "tag", Old: "1.4.2", New: "1.5.0"},
					{File: "b.yaml", Image: "ghcr.io/acme/web", Field: "digest", Old: "sha256:aaaa", New: "sha256:bbbb"},
					{File: "b.yaml", Image: "ghcr.io/acme/web", Field: "ref", Old: "mirror.io/web:1.4.2", New: "ghcr.io/acme/web:1.5.0"},
				},
			},
			subject: "Update ghcr.io/acme/web to 1.5.0",
			body: "- ghcr.io/acme/web 1.4.2 → 1.5.0 (a.yaml)\n" +
				"- ghcr.io/acme/web 1.4.2@sha256:aaaa → 1.5.0@sha256:bbbb (a.yaml)\n" +
				"- ghcr.io/acme/web 1.4.2 → 1.5.0 (b.yaml)\n" +
				"- ghcr.io/acme/web sha256:aaaa → sha256:bbbb (b.yaml)\n" +
				"- ghcr.io/acme/web mirror.io/web:1.4.2 → 1.5.0 (b.yaml)\n\n" + Trailer,
		},
		{
			name: "default, one image, two versions",
			cs: ChangeSet{
				Files: []File{{Path: "a.yaml", Content: []byte("a: 6\n")}},
				Changes: []Change{
					{File: "a.yaml", Image: "ghcr.io/acme/web", Field: "tag", Old: "1.4.2", New: "1.5.0"},
					{File: "a.yaml", Image: "ghcr.io/acme/web", Field: "tag", Old: "2.0.0", New: "2.1.0"},
				},
			},
			subject: "Update ghcr.io/acme/web",
			body:    "- ghcr.io/acme/web 1.4.2 → 1.5.0 (a.yaml)\n- ghcr.io/acme/web 2.0.0 → 2.1.0 (a.yaml)\n\n" + Trailer,
		},
		{
			name: "default, two images",
			cs: ChangeSet{
				Files: []File{{Path: "a.yaml", Content: []byte("a: 3\n")}, {Path: "b.yaml", Content: []byte("b: 2\n")}},
				Changes: []Change{
					{File: "a.yaml", Image: "ghcr.io/acme/web", Old: "1.5.0", New: "1.6.0"},
					{File: "b.yaml", Image: "ghcr.io/acme/api", Old: "2.0.0", New: "2.1.0"},
				},
			},
			subject: "Update 2 images",
			body:    "- ghcr.io/acme/web 1.5.0 → 1.6.0 (a.yaml)\n- ghcr.io/acme/api 2.0.0 → 2.1.0 (b.yaml)\n\n" + Trailer,
		},
		{
			name:     "custom template keeps the trailer",
			template: "chore: bump{{range .Changes}} {{.Policy}}={{.New}}{{end}}",
			cs:       change("a.yaml", "a: 4\n", "ghcr.io/acme/web", "1.6.0", "1.7.0"),
			subject:  "chore: bump web=1.7.0",
			body:     Trailer,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tokenOptions(t, s, "fleet", t.TempDir(), nil)
			o.MessageTemplate = tc.template
			r := mustNew(t, o)
			mustSync(t, r)
			if _, err := r.Push(context.Background(), tc.cs, nil); err != nil {
				t.Fatalf("Push: %v", err)
			}
			c := s.Log(t, "fleet", "main")[0]
			if diff := cmp.Diff(gitserver.Commit{Hash: c.Hash, Parents: c.Parents, Author: gitserver.Signature(bot), Subject: tc.subject, Body: tc.body}, c); diff != "" {
				t.Errorf("commit (-want +got):\n%s", diff)
			}
			// What a dry run shows is what the commit says.
			msg, err := Message(tc.template, tc.cs)
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if want := tc.subject + "\n\n" + tc.body + "\n"; msg != want {
				t.Errorf("Message = %q, want the commit's %q", msg, want)
			}
		})
	}
}

func TestNoEmptyCommit(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 1\n"})
	tests := []struct {
		name string
		cs   ChangeSet
	}{
		{"same content", change("dir/b.yaml", "b: 1\n", "web", "1", "1")},
		{"no files", ChangeSet{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			mustSync(t, r)
			tip := s.Ref(t, "fleet", "refs/heads/main")
			s.ResetTraffic()
			res, err := r.Push(context.Background(), tc.cs, nil)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if !res.Unchanged || res.Commit != "" {
				t.Errorf("Push = %+v, want Unchanged and no commit", res)
			}
			if got := s.Ref(t, "fleet", "refs/heads/main"); got != tip {
				t.Errorf("main moved from %s to %s", tip, got)
			}
			if tr := s.Traffic(); tr.ReceivePackPosts != 0 || tr.Requests != 0 {
				t.Errorf("Traffic = %+v, want no request at all", tr)
			}
		})
	}
}

func TestCommitPaths(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../b", ".git/config", "x/.GIT/hooks", "dir", "a.yaml/x", "a\\b"} {
		t.Run(p, func(t *testing.T) {
			if _, err := r.Push(context.Background(), change(p, "x", "web", "1", "2"), nil); err == nil {
				t.Errorf("Push of path %q succeeded", p)
			}
		})
	}
	t.Run("new nested file", func(t *testing.T) {
		cs := ChangeSet{Files: []File{{Path: "new/deep/c.yaml", Content: []byte("c: 1\n")}, {Path: "dir/b.yaml", Content: []byte("b: 2\n")}}}
		res, err := r.Push(context.Background(), cs, nil)
		if err != nil {
			t.Fatal(err)
		}
		// git fsck checks the trees are well-formed (sorted, modes).
		s.Git(t, "fleet", "fsck", "--strict", "--no-dangling")
		got := s.ReadFile(t, "fleet", res.Commit, "new/deep/c.yaml") + s.ReadFile(t, "fleet", res.Commit, "dir/b.yaml") + s.ReadFile(t, "fleet", res.Commit, "a.yaml")
		if got != "c: 1\nb: 2\na: 1\n" {
			t.Errorf("files = %q", got)
		}
		checkWorktree(t, r, map[string]string{"new/deep/c.yaml": "c: 1\n", "dir/b.yaml": "b: 2\n"})
	})
}
