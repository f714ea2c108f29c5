package gitwriter

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
)

var bot = Signature{Name: "imagebump", Email: "imagebump@example.com"}

// syncBuffer is a log destination safe for the race detector.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeFile writes content to a new file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenOptions are the options of a working copy of repo on s under workDir,
// with the server's token; the log goes to logs when it is not nil.
func tokenOptions(t *testing.T, s *gitserver.Server, repo, workDir string, logs *syncBuffer) Options {
	t.Helper()
	o := Options{
		URL:     s.RepoURL(repo),
		Branch:  "main",
		WorkDir: workDir,
		Auth:    Auth{TokenFile: writeFile(t, "token", s.Token+"\n")},
		Author:  bot,
	}
	if logs != nil {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o
}

func mustNew(t *testing.T, o Options) *Repo {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func mustSync(t *testing.T, r *Repo) SyncResult {
	t.Helper()
	res, err := r.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return res
}

func readWorkFile(t *testing.T, r *Repo, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir(), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// change is a one-file change set that sets a.yaml's image to tag.
func change(path, content, image, old, new string) ChangeSet {
	return ChangeSet{
		Files:   []File{{Path: path, Content: []byte(content)}},
		Changes: []Change{{File: path, Image: image, Policy: "web", Field: "tag", Old: old, New: new}},
	}
}
