package gitwriter

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/imagebump/imagebump/test/gitserver"
)

func sshOptions(t *testing.T, x *gitserver.SSH, repo, knownHosts string) Options {
	t.Helper()
	return Options{
		URL:     x.RepoURL(repo),
		Branch:  "main",
		WorkDir: t.TempDir(),
		Auth:    Auth{SSHKeyFile: x.KeyFile, KnownHostsFile: knownHosts},
		Author:  bot,
	}
}

func TestSSH(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	x := s.StartSSH(t)
	ctx := context.Background()

	t.Run("clone, sync and push with a verified host key", func(t *testing.T) {
		r := mustNew(t, sshOptions(t, x, "fleet", x.KnownHostsFile))
		if res := mustSync(t, r); !res.Cloned {
			t.Errorf("Sync = %+v, want a clone", res)
		}
		if got := readWorkFile(t, r, "a.yaml"); got != "a: 1\n" {
			t.Errorf("a.yaml = %q", got)
		}
		tip := s.Commit(t, "fleet", "main", "someone", map[string]string{"b.yaml": "b: 1\n"})
		if res := mustSync(t, r); res.Cloned || !res.Fetched || res.Head != tip {
			t.Errorf("Sync = %+v, want a fetch to %s", res, tip)
		}
		res, err := r.Push(ctx, change("a.yaml", "a: 2\n", "web", "1", "2"), nil)
		if err != nil {
			t.Fatalf("Push over SSH: %v", err)
		}
		if got := s.Ref(t, "fleet", "refs/heads/main"); got != res.Commit {
			t.Errorf("main = %s, want %s", got, res.Commit)
		}
	})

	t.Run("unknown host key refused", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		other, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		kh := writeFile(t, "known_hosts", gitserver.KnownHostsLine(x.Addr, other))
		r := mustNew(t, sshOptions(t, x, "fleet", kh))
		_, err = r.Sync(ctx)
		if err == nil || !strings.Contains(err.Error(), "key mismatch") {
			t.Errorf("Sync against an unknown host key = %v, want a key mismatch", err)
		}
		if _, statErr := os.Stat(r.Dir()); !os.IsNotExist(statErr) {
			t.Errorf("a working copy was made: %v", statErr)
		}
	})

	t.Run("host missing from known_hosts refused", func(t *testing.T) {
		kh := writeFile(t, "known_hosts", gitserver.KnownHostsLine("127.0.0.1:1", x.HostKey))
		r := mustNew(t, sshOptions(t, x, "fleet", kh))
		if _, err := r.Sync(ctx); err == nil || !strings.Contains(err.Error(), "knownhosts") {
			t.Errorf("Sync against a host known_hosts lacks = %v, want a knownhosts error", err)
		}
	})
}
