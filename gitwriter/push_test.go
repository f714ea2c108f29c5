package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
)

// replan is a RebuildFunc that sets path to content on whatever the working
// copy holds, counting its calls; it checks that the copy is at the remote tip.
func replan(t *testing.T, s *gitserver.Server, repo, branch, path, content string, calls *atomic.Int32) RebuildFunc {
	return func(ctx context.Context, dir string) (ChangeSet, error) {
		calls.Add(1)
		if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
			return ChangeSet{}, fmt.Errorf("rebuild got %s, not the working copy: %v", dir, err)
		}
		// The copy must hold the other side's change: the rebuild plans on it.
		b, err := os.ReadFile(filepath.Join(dir, "other.yaml"))
		if err != nil {
			return ChangeSet{}, fmt.Errorf("working copy lacks the other push: %v", err)
		}
		if len(b) == 0 {
			return ChangeSet{}, fmt.Errorf("other.yaml is empty")
		}
		return change(path, content, "web", "1", "2"), nil
	}
}

// checkLinear fails unless every commit of branch has at most one parent
// and wantSubjects appear in it, in this order (newest first).
func checkLinear(t *testing.T, s *gitserver.Server, repo, branch string, wantSubjects ...string) {
	t.Helper()
	log := s.Log(t, repo, branch)
	var subjects []string
	for _, c := range log {
		if len(c.Parents) > 1 {
			t.Errorf("merge commit %s on %s", c.Hash, branch)
		}
		subjects = append(subjects, c.Subject)
	}
	got := strings.Join(subjects, " | ")
	if want := strings.Join(wantSubjects, " | "); got != want {
		t.Errorf("history of %s = %q, want %q", branch, got, want)
	}
}

func TestPushRace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		moveOn func(gitserver.Request) bool // when the other push lands
	}{
		// The other push lands after our ref list was read: go-git's own
		// fast-forward check refuses.
		{"before the ref advertisement", func(r gitserver.Request) bool { return r.Service == "git-receive-pack" && r.Advertise }},
		// It lands between the advertisement and our pack: the server
		// refuses the ref update.
		{"between advertisement and pack", func(r gitserver.Request) bool { return r.Service == "git-receive-pack" && !r.Advertise }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			mustSync(t, r)
			var once atomic.Bool
			s.SetHook(func(req gitserver.Request) {
				if tc.moveOn(req) && once.CompareAndSwap(false, true) {
					s.Commit(t, "fleet", "main", "other push", map[string]string{"other.yaml": "o: 1\n"})
				}
			})
			var calls atomic.Int32
			res, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), replan(t, s, "fleet", "main", "a.yaml", "a: 2\n", &calls))
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if calls.Load() != 1 || res.Attempts != 2 {
				t.Errorf("rebuild called %d times, %d attempts; want 1 and 2", calls.Load(), res.Attempts)
			}
			if got := s.Ref(t, "fleet", "refs/heads/main"); got != res.Commit {
				t.Errorf("main = %s, want the pushed %s", got, res.Commit)
			}
			checkLinear(t, s, "fleet", "main", "Update web to 2", "other push", "initial")
			if got := s.ReadFile(t, "fleet", "main", "a.yaml") + s.ReadFile(t, "fleet", "main", "other.yaml"); got != "a: 2\no: 1\n" {
				t.Errorf("main holds %q, want both changes", got)
			}
			checkWorktree(t, r, map[string]string{"a.yaml": "a: 2\n", "other.yaml": "o: 1\n"})
			if res := mustSync(t, r); res.Fetched || res.Cloned {
				t.Errorf("Sync after the push = %+v, want nothing to fetch", res)
			}
		})
	}
}

func TestPushNeverForced(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	// Someone always pushes first.
	var n atomic.Int32
	var want []string
	s.SetHook(func(req gitserver.Request) {
		if req.Service == "git-receive-pack" && req.Advertise {
			i := n.Add(1)
			s.Commit(t, "fleet", "main", fmt.Sprintf("other %d", i), map[string]string{"other.yaml": fmt.Sprintf("o: %d\n", i)})
		}
	})
	var calls atomic.Int32
	_, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), replan(t, s, "fleet", "main", "a.yaml", "a: 2\n", &calls))
	if !errors.Is(err, ErrPushRejected) {
		t.Fatalf("Push = %v, want ErrPushRejected", err)
	}
	if n.Load() != MaxPushAttempts || calls.Load() != MaxPushAttempts-1 {
		t.Errorf("%d pushes, %d rebuilds; want %d and %d", n.Load(), calls.Load(), MaxPushAttempts, MaxPushAttempts-1)
	}
	for i := MaxPushAttempts; i >= 1; i-- {
		want = append(want, fmt.Sprintf("other %d", i))
	}
	checkLinear(t, s, "fleet", "main", append(want, "initial")...)
	if got := s.ReadFile(t, "fleet", "main", "a.yaml"); got != "a: 1\n" {
		t.Errorf("a.yaml on main = %q, want it untouched", got)
	}
}

func TestPushBranch(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	o := tokenOptions(t, s, "fleet", t.TempDir(), nil)
	o.PushBranch = "auto"
	r := mustNew(t, o)
	if res := mustSync(t, r); res.Branch != "main" {
		t.Errorf("Sync follows %s before auto exists, want main", res.Branch)
	}
	main := s.Ref(t, "fleet", "refs/heads/main")
	first, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Branch != "auto" || s.Ref(t, "fleet", "refs/heads/auto") != first.Commit || s.Ref(t, "fleet", "refs/heads/main") != main {
		t.Errorf("Push = %+v: auto %s, main %s; want auto created from main, main untouched", first, s.Ref(t, "fleet", "refs/heads/auto"), s.Ref(t, "fleet", "refs/heads/main"))
	}
	// A new Repo follows auto now that it exists, and commits pile up on it.
	r2 := mustNew(t, o)
	if res := mustSync(t, r2); res.Branch != "auto" || res.Head != first.Commit {
		t.Errorf("Sync = %+v, want auto at %s", res, first.Commit)
	}
	second, err := r2.Push(context.Background(), change("a.yaml", "a: 3\n", "web", "2", "3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkLinear(t, s, "fleet", "auto", "Update web to 3", "Update web to 2", "initial")
	if second.Attempts != 1 {
		t.Errorf("second push took %d attempts", second.Attempts)
	}
}

func TestPushRebuildError(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	s.Commit(t, "fleet", "main", "other push", map[string]string{"other.yaml": "o: 1\n"})
	boom := errors.New("registry down")
	_, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), func(context.Context, string) (ChangeSet, error) { return ChangeSet{}, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Push = %v, want the rebuild's error", err)
	}
	// A rebuild that finds nothing left to do ends without a commit.
	s.Commit(t, "fleet", "main", "other push 2", map[string]string{"other.yaml": "o: 2\n"})
	res, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), func(context.Context, string) (ChangeSet, error) { return ChangeSet{}, nil })
	if err != nil || !res.Unchanged {
		t.Errorf("Push = %+v, %v; want Unchanged", res, err)
	}
}

// checkWorktree fails unless the working copy holds files and git (the
// command line, not go-git) finds nothing to report in it.
func checkWorktree(t *testing.T, r *Repo, files map[string]string) {
	t.Helper()
	for p, want := range files {
		if got := readWorkFile(t, r, p); got != want {
			t.Errorf("%s in the working copy = %q, want %q", p, got, want)
		}
	}
	// --no-optional-locks: git status must not refresh (rewrite) the index.
	cmd := exec.Command("git", "--no-optional-locks", "-C", r.Dir(), "status", "--porcelain")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("git status in the working copy: %v\n%s", err, out)
	}
}

func TestPushWithoutRebuild(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "fleet", map[string]string{"a.yaml": "a: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
	mustSync(t, r)
	other := s.Commit(t, "fleet", "main", "other push", map[string]string{"a.yaml": "a: theirs\n"})
	res, err := r.Push(context.Background(), change("a.yaml", "a: 2\n", "web", "1", "2"), nil)
	if !errors.Is(err, ErrPushRejected) || res.Attempts != 1 {
		t.Errorf("Push = %+v, %v; want ErrPushRejected after one attempt", res, err)
	}
	if got := s.Ref(t, "fleet", "refs/heads/main"); got != other {
		t.Errorf("main = %s, want the other push %s kept", got, other)
	}
}
