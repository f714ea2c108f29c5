package bench

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/test/bench/internal/patchertree"
	"github.com/imagebump/imagebump/test/gitserver"
)

// gitCommits is the history depth of the benchmark repository; each commit
// after the first rewrites gitFilesPerCommit files.
const (
	gitCommits        = 200
	gitFilesPerCommit = 25
)

// fleetRepo serves a repository of benchFiles generated manifests (2 MB+)
// with gitCommits commits of history, built with git fast-import in the
// bare repository.
func fleetRepo(b *testing.B) (*gitserver.Server, string) {
	b.Helper()
	tree := b.TempDir()
	if err := patchertree.Generate(tree, benchFiles, 1); err != nil {
		b.Fatal(err)
	}
	var paths []string
	contents := map[string][]byte{}
	var total int64
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tree, p)
		c, err := os.ReadFile(p)
		paths = append(paths, filepath.ToSlash(rel))
		contents[filepath.ToSlash(rel)] = c
		total += int64(len(c))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if total < 2<<20 {
		b.Fatalf("generated tree is %d bytes, want 2 MB+", total)
	}
	s := gitserver.Start(b)
	s.NewRepo(b, "fleet", map[string]string{"README": "fleet\n"})
	var stream bytes.Buffer
	data := func(c []byte) { fmt.Fprintf(&stream, "data %d\n%s\n", len(c), c) }
	for k := range gitCommits {
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter Another Person <another@example.com> %d +0000\n", 1700000000+k*60)
		data(fmt.Appendf(nil, "commit %d", k))
		if k == 0 {
			stream.WriteString("from refs/heads/main^0\n")
		}
		files := paths
		if k > 0 {
			files = nil
			for j := range gitFilesPerCommit {
				files = append(files, paths[(k*gitFilesPerCommit+j)%len(paths)])
			}
		}
		for _, p := range files {
			c := contents[p]
			if k > 0 {
				c = bytes.ReplaceAll(c, []byte(patchertree.Tag(1)), []byte(patchertree.Tag(k+1)))
				contents[p] = c
			}
			fmt.Fprintf(&stream, "M 100644 inline %s\n", p)
			data(c)
		}
		stream.WriteString("\n")
	}
	cmd := exec.Command("git", "-C", s.Dir("fleet"), "fast-import", "--quiet")
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v: %s", err, out)
	}
	// One pack, as a hosted repository would have.
	s.Git(b, "fleet", "gc", "--quiet")
	if n := strings.Count(s.Git(b, "fleet", "rev-list", "main"), "\n") + 1; n != gitCommits+1 {
		b.Fatalf("history has %d commits, want %d", n, gitCommits+1)
	}
	return s, "fleet"
}

func gitOptions(b *testing.B, s *gitserver.Server, repo, workDir string) gitwriter.Options {
	b.Helper()
	token := filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(token, []byte(s.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	return gitwriter.Options{
		URL: s.RepoURL(repo), Branch: "main", WorkDir: workDir,
		Auth:   gitwriter.Auth{TokenFile: token},
		Author: gitwriter.Signature{Name: "imagebump", Email: "imagebump@example.com"},
	}
}

// reportTraffic reports what the server sent per operation.
func reportTraffic(b *testing.B, s *gitserver.Server) {
	tr := s.Traffic()
	n := float64(b.N)
	b.ReportMetric(float64(tr.AdvertBytes+tr.PackBytes)/n, "bytes-received/op")
	b.ReportMetric(float64(tr.PackBytes)/n, "pack-bytes/op")
	b.ReportMetric(float64(tr.Requests)/n, "requests/op")
}

// BenchmarkGitClone is a fresh shallow clone of the fleet repository: the
// first pass of a bot with an empty workDir.
func BenchmarkGitClone(b *testing.B) {
	s, repo := fleetRepo(b)
	ctx := context.Background()
	s.ResetTraffic()
	b.ResetTimer()
	for b.Loop() {
		r, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		if res, err := r.Sync(ctx); err != nil || !res.Cloned {
			b.Fatalf("Sync = %+v, %v; want a clone", res, err)
		}
	}
	reportTraffic(b, s)
}

// BenchmarkGitWarmSync is a later pass over an unchanged remote: ref list,
// hard reset, clean.
func BenchmarkGitWarmSync(b *testing.B) {
	s, repo := fleetRepo(b)
	ctx := context.Background()
	r, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	s.ResetTraffic()
	b.ResetTimer()
	for b.Loop() {
		if res, err := r.Sync(ctx); err != nil || res.Cloned || res.Fetched {
			b.Fatalf("Sync = %+v, %v; want neither clone nor fetch", res, err)
		}
	}
	reportTraffic(b, s)
}

// BenchmarkGitCommitPush commits a one-file change to the warm copy and
// pushes it.
func BenchmarkGitCommitPush(b *testing.B) {
	s, repo := fleetRepo(b)
	ctx := context.Background()
	r, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	const path = "apps/team-000/svc-00000.yaml"
	orig, err := os.ReadFile(filepath.Join(r.Dir(), path))
	if err != nil {
		b.Fatal(err)
	}
	s.ResetTraffic()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		content := append(bytes.Clone(orig), fmt.Appendf(nil, "# %d\n", i)...)
		cs := gitwriter.ChangeSet{
			Files:   []gitwriter.File{{Path: path, Content: content}},
			Changes: []gitwriter.Change{{File: path, Image: "ghcr.io/acme/svc-00", Old: "1", New: fmt.Sprint(i)}},
		}
		res, err := r.Push(ctx, cs, nil)
		if err != nil || res.Commit == "" || res.Attempts != 1 {
			b.Fatalf("Push = %+v, %v", res, err)
		}
	}
	tr := s.Traffic()
	b.ReportMetric(float64(tr.PushBytes)/float64(b.N), "bytes-sent/op")
	b.ReportMetric(float64(tr.Requests)/float64(b.N), "requests/op")
}

// BenchmarkGitBranchState reads a bot branch one commit ahead of a base
// that moved on by one commit since: what a pull-request pass does per
// group before deciding anything.
func BenchmarkGitBranchState(b *testing.B) {
	s, repo := fleetRepo(b)
	ctx := context.Background()
	r, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	const path = "apps/team-000/svc-00000.yaml"
	cs := gitwriter.ChangeSet{Files: []gitwriter.File{{Path: path, Content: []byte("changed\n")}}}
	if _, err := r.Publish(ctx, gitwriter.BotBranch{Prefix: "imagebump/", Name: "imagebump/web"}, cs, ""); err != nil {
		b.Fatal(err)
	}
	s.Commit(b, repo, "main", "someone", map[string]string{"README": "moved\n"})
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	// A fresh working copy reads the branch for the first time.
	cold, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cold.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	s.ResetTraffic()
	if _, err := cold.Branch(ctx, "imagebump/web"); err != nil {
		b.Fatal(err)
	}
	firstRead := s.Traffic().PackBytes
	s.ResetTraffic()
	for b.Loop() {
		st, err := r.Branch(ctx, "imagebump/web")
		if err != nil || len(st.Commits) != 1 || !st.Commits[0].ByBot {
			b.Fatalf("Branch = %+v, %v", st, err)
		}
	}
	reportTraffic(b, s)
	b.ReportMetric(float64(firstRead), "first-read-pack-bytes")
}

// BenchmarkGitSyncMoved is a later pass after someone pushed one commit
// changing one file: an incremental fetch and a reset.
func BenchmarkGitSyncMoved(b *testing.B) {
	s, repo := fleetRepo(b)
	ctx := context.Background()
	r, err := gitwriter.New(gitOptions(b, s, repo, b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	s.ResetTraffic()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		s.Commit(b, repo, "main", "someone", map[string]string{"apps/team-001/svc-00050.yaml": fmt.Sprintf("x: %d\n", i)})
		b.StartTimer()
		if res, err := r.Sync(ctx); err != nil || !res.Fetched || res.Cloned {
			b.Fatalf("Sync = %+v, %v; want a fetch", res, err)
		}
	}
	reportTraffic(b, s)
}
