package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/gitserver"
)

func TestSyncCycle(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "old.yaml": "o: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))

	first := mustSync(t, r)
	if !first.Cloned || first.Reason != "no working copy yet" || first.Head != s.Ref(t, "fleet", "main") {
		t.Fatalf("first Sync = %+v, want a clone at the server's main", first)
	}
	if shallow, err := os.ReadFile(filepath.Join(r.Dir(), ".git", "shallow")); err != nil || strings.TrimSpace(string(shallow)) != first.Head {
		t.Errorf(".git/shallow = %q, %v; want the clone shallow at %s", shallow, err, first.Head)
	}

	t.Run("unchanged remote: no fetch, no ref written", func(t *testing.T) {
		// Dated in the past, the refs show whether Sync rewrote them.
		past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		refs := []string{"HEAD", "refs/heads/main", "refs/remotes/origin/main"}
		for _, ref := range refs {
			if err := os.Chtimes(filepath.Join(r.Dir(), ".git", ref), past, past); err != nil {
				t.Fatal(err)
			}
		}
		s.ResetTraffic()
		res := mustSync(t, r)
		if res.Cloned || res.Fetched || res.Head != first.Head {
			t.Errorf("Sync = %+v, want no clone, no fetch", res)
		}
		if tr := s.Traffic(); tr.UploadPackPosts != 0 || tr.PackBytes != 0 {
			t.Errorf("Traffic = %+v, want no upload-pack POST", tr)
		}
		for _, ref := range refs {
			if fi, err := os.Stat(filepath.Join(r.Dir(), ".git", ref)); err != nil || !fi.ModTime().Equal(past) {
				t.Errorf(".git/%s was written by a Sync of an unchanged remote (%v)", ref, err)
			}
		}
	})

	t.Run("local edits and leftovers are reset", func(t *testing.T) {
		for name, content := range map[string]string{"a.yaml": "a: edited\n", ".imagebump-123.tmp": "half", "dir/.imagebump-9": "x"} {
			p := filepath.Join(r.Dir(), name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mustSync(t, r)
		if got := readWorkFile(t, r, "a.yaml"); got != "a: 1\n" {
			t.Errorf("a.yaml = %q after Sync, want the remote's", got)
		}
		for _, name := range []string{".imagebump-123.tmp", "dir"} {
			if _, err := os.Stat(filepath.Join(r.Dir(), name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s survived Sync: %v", name, err)
			}
		}
	})

	t.Run("remote moved: fetch and reset", func(t *testing.T) {
		tip := s.Commit(t, "fleet", "main", "change", map[string]string{"a.yaml": "a: 2\n", "old.yaml": "", "new/b.yaml": "b: 1\n"})
		s.ResetTraffic()
		res := mustSync(t, r)
		if res.Cloned || !res.Fetched || res.Head != tip {
			t.Errorf("Sync = %+v, want a fetch to %s", res, tip)
		}
		if tr := s.Traffic(); tr.UploadPackPosts != 1 {
			t.Errorf("Traffic = %+v, want one upload-pack POST", tr)
		}
		if got := readWorkFile(t, r, "a.yaml") + readWorkFile(t, r, "new/b.yaml"); got != "a: 2\nb: 1\n" {
			t.Errorf("files after Sync = %q", got)
		}
		if _, err := os.Stat(filepath.Join(r.Dir(), "old.yaml")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old.yaml, deleted on the remote, survived Sync: %v", err)
		}
		// A fresh process finds the copy warm too.
		r2 := mustNew(t, r.opts)
		if res := mustSync(t, r2); res.Cloned || res.Fetched {
			t.Errorf("Sync by a new Repo = %+v, want the existing copy used as is", res)
		}
	})
}

func TestSyncDirNames(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "one", map[string]string{"f": "one\n"})
	s.NewRepo(t, "two", map[string]string{"f": "two\n"})
	s.Commit(t, "one", "staging", "staging", map[string]string{"f": "staging\n"})
	work := t.TempDir()
	var dirs []string
	for _, c := range []struct{ repo, branch, want string }{{"one", "main", "one\n"}, {"two", "main", "two\n"}, {"one", "staging", "staging\n"}} {
		o := tokenOptions(t, s, c.repo, work, nil)
		o.Branch = c.branch
		r := mustNew(t, o)
		mustSync(t, r)
		dirs = append(dirs, filepath.Base(r.Dir()))
		if !strings.HasPrefix(filepath.Base(r.Dir()), "127.0.0.1-") || !strings.Contains(r.Dir(), c.repo+"-") {
			t.Errorf("working copy %s is not named after host and path", r.Dir())
		}
	}
	for _, c := range []struct{ dir, want string }{{dirs[0], "one\n"}, {dirs[1], "two\n"}, {dirs[2], "staging\n"}} {
		if b, err := os.ReadFile(filepath.Join(work, c.dir, "f")); err != nil || string(b) != c.want {
			t.Errorf("%s/f = %q, %v; want %q", c.dir, b, err, c.want)
		}
	}
	if dirs[0] == dirs[1] || dirs[0] == dirs[2] {
		t.Errorf("working copies share a directory: %v", dirs)
	}
	if got := DirName("git@github.com:acme/fleet.git", "main"); !strings.HasPrefix(got, "github.com-acme-fleet-") {
		t.Errorf("DirName(scp-like) = %q, want github.com-acme-fleet-HASH", got)
	}
}

func TestSyncRecovers(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "b/c.yaml": "c: 1\n"})
	foreign := s.NewRepo(t, "other", map[string]string{"x.yaml": "x: 1\n"})
	tests := []struct {
		name   string
		damage func(t *testing.T, r *Repo)
		reason string // prefix; "" when a fetch may repair the copy
	}{
		{"missing", func(t *testing.T, r *Repo) { os.RemoveAll(r.Dir()) }, "no working copy yet"},
		{"not a repository", func(t *testing.T, r *Repo) {
			os.RemoveAll(filepath.Join(r.Dir(), ".git"))
		}, "not a git repository"},
		{"garbage config", func(t *testing.T, r *Repo) {
			writeTo(t, filepath.Join(r.Dir(), ".git", "config"), "[[[ not a config")
		}, "not a git repository"},
		{"objects gone", func(t *testing.T, r *Repo) {
			os.RemoveAll(filepath.Join(r.Dir(), ".git", "objects"))
			os.MkdirAll(filepath.Join(r.Dir(), ".git", "objects"), 0o755)
		}, ""}, // fetched again: a fetch that succeeds repairs the copy
		{"pack truncated", func(t *testing.T, r *Repo) {
			packs, _ := filepath.Glob(filepath.Join(r.Dir(), ".git", "objects", "pack", "*.pack"))
			if len(packs) == 0 {
				t.Fatal("no pack to damage")
			}
			for _, p := range packs {
				if err := os.Truncate(p, 40); err != nil {
					t.Fatal(err)
				}
			}
		}, ""},
		{"foreign remote", func(t *testing.T, r *Repo) {
			os.RemoveAll(r.Dir())
			if _, err := git.PlainClone(r.Dir(), false, &git.CloneOptions{URL: foreign, Auth: r.auth}); err != nil {
				t.Fatal(err)
			}
		}, "remote origin is"},
		{"half clone left behind", func(t *testing.T, r *Repo) {
			os.RemoveAll(r.Dir())
			half := filepath.Join(filepath.Dir(r.Dir()), "."+filepath.Base(r.Dir())+".clone-123")
			writeTo(t, filepath.Join(half, ".git", "HEAD"), "ref: refs/heads/main\n")
		}, "no working copy yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			mustSync(t, r)
			tc.damage(t, r)
			res := mustSync(t, r)
			if tc.reason == "" && !res.Cloned && !res.Fetched {
				t.Errorf("Sync = %+v, want a fetch or a fresh clone", res)
			}
			if tc.reason != "" && (!res.Cloned || !strings.HasPrefix(res.Reason, tc.reason)) {
				t.Errorf("Sync = %+v, want a fresh clone because %q", res, tc.reason)
			}
			got := map[string]string{"a.yaml": readWorkFile(t, r, "a.yaml"), "b/c.yaml": readWorkFile(t, r, "b/c.yaml")}
			if diff := cmp.Diff(map[string]string{"a.yaml": "a: 1\n", "b/c.yaml": "c: 1\n"}, got); diff != "" {
				t.Errorf("files after recovery (-want +got):\n%s", diff)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(r.Dir()), ".*.clone-*"))
			if len(leftovers) != 0 {
				t.Errorf("clone directories left behind: %v", leftovers)
			}
			if res := mustSync(t, r); res.Cloned || res.Fetched {
				t.Errorf("Sync after recovery = %+v, want the copy used as is", res)
			}
		})
	}
}

func TestSyncRemoteProblemKeepsCopy(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	o := tokenOptions(t, s, "fleet", t.TempDir(), nil)
	r := mustNew(t, o)
	mustSync(t, r)
	marker := filepath.Join(r.Dir(), ".git", "keep-me")
	writeTo(t, marker, "x")
	o.Auth.TokenFile = writeFile(t, "token", "wrong-token")
	bad := mustNew(t, o)
	if _, err := bad.Sync(context.Background()); err == nil {
		t.Fatal("Sync with a wrong token succeeded")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the working copy was touched after a remote failure: %v", err)
	}
}

func writeTo(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSyncFetchIsIncremental: a copy that follows the remote fetches only
// the new commits, not the whole tree again as a depth-1 fetch into a
// shallow repository does; and the bot branch built on an older base can
// then be compared without fetching anything.
func TestSyncFetchIsIncremental(t *testing.T) {
	s := gitserver.Start(t)
	// Incompressible content, so the size of a pack tells what it holds.
	files := map[string]string{}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		b := make([]byte, 2048)
		for j := range b {
			b[j] = byte('a' + rnd.IntN(26))
		}
		files[fmt.Sprintf("apps/f%03d.yaml", i)] = string(b)
	}
	s.NewRepo(t, "fleet", files)
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	s.ResetTraffic()
	mustSync(t, r)
	clone := s.Traffic().PackBytes
	if clone < 100*2048/2 {
		t.Fatalf("clone received %d bytes; the test needs a bigger tree", clone)
	}
	ctx := context.Background()
	if _, err := r.Publish(ctx, bb("web"), change("apps/f000.yaml", "a: 2\n", "web", "1", "2"), ""); err != nil {
		t.Fatal(err)
	}
	var tip string
	for i := range 3 {
		tip = s.Commit(t, "fleet", "main", "someone", map[string]string{"apps/f050.yaml": fmt.Sprint(i)})
	}
	s.ResetTraffic()
	if res := mustSync(t, r); !res.Fetched || res.Head != tip {
		t.Fatalf("Sync = %+v, want a fetch to %s", res, tip)
	}
	if got := s.Traffic().PackBytes; got > clone/10 {
		t.Errorf("fetching 3 one-line commits received %d bytes; the clone was %d", got, clone)
	}
	if got := readWorkFile(t, r, "apps/f050.yaml"); got != "2" {
		t.Errorf("apps/f050.yaml = %q", got)
	}
	s.ResetTraffic()
	st, err := r.Branch(ctx, "imagebump/web")
	if err != nil || len(st.Commits) != 1 || st.Base != tip {
		t.Fatalf("Branch = %+v, %v", st, err)
	}
	if tr := s.Traffic(); tr.UploadPackPosts != 0 {
		t.Errorf("Branch fetched (%+v); the working copy had everything", tr)
	}
}

// TestSyncNoticesLocalChanges: the quick metadata check of a warm sync
// misses nothing a reset must undo.
func TestSyncNoticesLocalChanges(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "d/b.yaml": "b: 1\n"})
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
	}{
		{"same-size edit", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "a.yaml")
			writeTo(t, p, "a: 9\n")
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
		}},
		{"file deleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "d/b.yaml")) }},
		{"untracked file", func(t *testing.T, dir string) { writeTo(t, filepath.Join(dir, "d/.imagebump-1"), "x") }},
		{"mode changed", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "a.yaml"), 0o755) }},
		{"file replaced by a symlink", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "a.yaml")
			os.Remove(p)
			if err := os.Symlink("d/b.yaml", p); err != nil {
				t.Fatal(err)
			}
		}},
		{"index rewritten", func(t *testing.T, dir string) {
			writeTo(t, filepath.Join(dir, "a.yaml"), "a: 7\n")
			cmd := exec.Command("git", "-C", dir, "add", "a.yaml")
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git add: %v: %s", err, out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			mustSync(t, r)
			mustSync(t, r)
			if _, err := os.Stat(filepath.Join(r.Dir(), ".git", syncedFile)); err != nil {
				t.Fatalf("no sync record after two syncs: %v", err)
			}
			tc.change(t, r.Dir())
			if res := mustSync(t, r); res.Cloned || res.Fetched {
				t.Errorf("Sync = %+v, want a reset in place", res)
			}
			checkWorktree(t, r, map[string]string{"a.yaml": "a: 1\n", "d/b.yaml": "b: 1\n"})
			if fi, err := os.Lstat(filepath.Join(r.Dir(), "a.yaml")); err != nil || fi.Mode() != 0o644 {
				t.Errorf("a.yaml after Sync: %v, %v; want a 0644 file", fi.Mode(), err)
			}
		})
	}
}

// TestSyncWorktree: how each kind of pass brings the files to the tip,
// and that the cheap ways leave the same result as a reset.
func TestSyncWorktree(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n", "gone/b.yaml": "b: 1\n", "x": "file\n", "keep/k.yaml": "k: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	steps := []struct {
		name     string
		server   map[string]string // committed on the server first, if any
		local    func(dir string)
		worktree string
		files    map[string]string
	}{
		{name: "clone", worktree: WorktreeReset, // a fresh clone is checked out by Sync's reset
			files: map[string]string{"a.yaml": "a: 1\n", "x": "file\n"}},
		{name: "unchanged", worktree: WorktreeClean, files: map[string]string{"a.yaml": "a: 1\n"}},
		{
			name:     "moved: modify, delete, add, file to directory",
			server:   map[string]string{"a.yaml": "a: 2\n", "gone/b.yaml": "", "new/deep/c.yaml": "c: 1\n", "x": "", "x/inner.yaml": "i: 1\n"},
			worktree: WorktreeIncremental,
			files:    map[string]string{"a.yaml": "a: 2\n", "new/deep/c.yaml": "c: 1\n", "x/inner.yaml": "i: 1\n", "keep/k.yaml": "k: 1\n"},
		},
		{
			name:     "moved again: directory to file",
			server:   map[string]string{"x/inner.yaml": "", "x": "file again\n"},
			worktree: WorktreeIncremental,
			files:    map[string]string{"x": "file again\n", "a.yaml": "a: 2\n"},
		},
		{
			name:     "moved with a local edit: reset",
			server:   map[string]string{"a.yaml": "a: 3\n"},
			local:    func(dir string) { os.WriteFile(filepath.Join(dir, "keep/k.yaml"), []byte("k: edited\n"), 0o644) },
			worktree: WorktreeReset,
			files:    map[string]string{"a.yaml": "a: 3\n", "keep/k.yaml": "k: 1\n"},
		},
		{name: "unchanged after a reset", worktree: WorktreeClean, files: map[string]string{"a.yaml": "a: 3\n"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.server != nil {
				s.Commit(t, "fleet", "main", st.name, st.server)
			}
			if st.local != nil {
				st.local(r.Dir())
			}
			res := mustSync(t, r)
			if res.Worktree != st.worktree {
				t.Errorf("Sync = %+v, want worktree %q", res, st.worktree)
			}
			checkWorktree(t, r, st.files)
			for _, gone := range []string{"gone"} {
				if _, err := os.Stat(filepath.Join(r.Dir(), gone)); st.name != "clone" && st.name != "unchanged" && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still there: %v", gone, err)
				}
			}
		})
	}
}

// TestSyncProgress checks that the remote's progress messages of a clone
// and of a fetch reach Options.Progress.
func TestSyncProgress(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	var progress syncBuffer
	o := tokenOptions(t, s, "fleet", t.TempDir(), nil)
	o.Progress = &progress
	r := mustNew(t, o)
	mustSync(t, r)
	if !strings.Contains(progress.String(), "objects") {
		t.Errorf("clone progress = %q, want git's object counts", progress.String())
	}
	before := len(progress.String())
	s.Commit(t, "fleet", "main", "more", map[string]string{"b.yaml": "b: 1\n"})
	mustSync(t, r)
	if len(progress.String()) == before {
		t.Errorf("fetch wrote no progress")
	}
}

// TestSyncCompactsOvergrownCopy checks that a working copy does not grow
// without bound over weeks: once fetches have left more than maxPacks
// packs, or commits about maxLooseObjects loose objects, the next Sync
// clones it afresh (one pack, no loose objects, the same tip and files),
// and not before.
func TestSyncCompactsOvergrownCopy(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "acme/grow", map[string]string{"a.yaml": "a: 0\n"})
	r := mustNew(t, tokenOptions(t, s, "acme/grow", t.TempDir(), nil))
	mustSync(t, r)
	packs := func() int {
		t.Helper()
		p, err := filepath.Glob(filepath.Join(r.Dir(), ".git", "objects", "pack", "*.pack"))
		if err != nil {
			t.Fatal(err)
		}
		return len(p)
	}
	for i := 1; packs() <= maxPacks; i++ {
		s.Commit(t, "acme/grow", "main", "change", map[string]string{"a.yaml": fmt.Sprintf("a: %d\n", i)})
		if res := mustSync(t, r); res.Cloned {
			t.Fatalf("Sync %d cloned with %d packs, at most %d: %+v", i, packs(), maxPacks, res)
		}
	}
	s.Commit(t, "acme/grow", "main", "one more", map[string]string{"a.yaml": "a: last\n"})
	res := mustSync(t, r)
	if !res.Cloned || !strings.Contains(res.Reason, "packs from earlier fetches") || packs() != 1 {
		t.Errorf("Sync with %d packs = %+v, %d packs after; want a fresh clone, one pack", maxPacks+1, res, packs())
	}
	if got := readWorkFile(t, r, "a.yaml"); got != "a: last\n" || res.Head != s.Ref(t, "acme/grow", "main") {
		t.Errorf("after the fresh clone a.yaml = %q at %s, want the tip's", got, res.Head)
	}

	// Loose objects, as the bot's own commits leave them: estimated from
	// one object directory, as git gc --auto does.
	sample := filepath.Join(r.Dir(), ".git", "objects", "17")
	if err := os.MkdirAll(sample, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range maxLooseObjects/256 + 1 {
		writeTo(t, filepath.Join(sample, fmt.Sprintf("%038x", i)), "")
	}
	res = mustSync(t, r)
	if !res.Cloned || !strings.Contains(res.Reason, "loose objects") {
		t.Errorf("Sync with about %d loose objects = %+v; want a fresh clone", (maxLooseObjects/256+1)*256, res)
	}
	if _, err := os.Stat(sample); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the loose objects are still there after the fresh clone: %v", err)
	}
	if res := mustSync(t, r); res.Cloned {
		t.Errorf("the Sync after the fresh clone cloned again: %+v", res)
	}
}
