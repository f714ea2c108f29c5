package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
)

// demoEdit is one value the demo's pass must change: the bytes old become
// new, once, in file.
type demoEdit struct {
	file, old, new string
}

// demoEdits are what the demo's pass must change in the sample fleet,
// given the tags of demoTags: web's newest 1.x (not the 1.3.0-rc.1
// prerelease, not 2.0.0), cache's newest -alpine (not 7.4.0, which has no
// alpine variant), api's newest main build with both platforms (not the
// newer amd64-only one).
var demoEdits = []demoEdit{
	{"apps/api/kustomization.yaml", "newTag: main-1a2b3c4-1700000000 #", "newTag: main-5d6e7f8-1700003600 #"},
	{"apps/web/deployment.yaml", "/acme/web:1.0.0 #", "/acme/web:1.2.1 #"},
	{"charts/cache/values.yaml", "tag: 7.2.4-alpine #", "tag: 7.2.5-alpine #"},
	{"clusters/production/cache.yaml", "tag: 7.2.4-alpine #", "tag: 7.2.5-alpine #"},
}

func TestDemoPush(t *testing.T) {
	tests := []struct {
		name string
		keep bool
	}{
		{name: "kept", keep: true},
		{name: "temporary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demoConfig{mode: string(config.Push)}
			if tc.keep {
				cfg.keep = filepath.Join(t.TempDir(), "demo")
			}
			var stdout, stderr bytes.Buffer
			d, err := demo(t.Context(), &stdout, &stderr, cfg)
			if err != nil {
				t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			out := stdout.String()
			if d.result.Pushed == nil || d.result.Pushed.Commit == "" {
				t.Fatalf("the pass pushed nothing; output:\n%s", out)
			}
			for _, want := range []string{
				"FILE ", "apps/web/deployment.yaml:17", // the plan's table
				"--- a/apps/web/deployment.yaml\n+++ b/apps/web/deployment.yaml\n", // its diff
				"commit " + d.result.Pushed.Commit + "\n",
				"Author: imagebump <imagebump@users.noreply.github.com>\n",
				"    Update 3 images\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if !tc.keep {
				if _, err := os.Stat(d.dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the temporary directory %s is still there (%v)", d.dir, err)
				}
				return
			}
			if !strings.Contains(out, "Kept in "+d.dir+":") {
				t.Errorf("output does not say where the repositories are kept:\n%s", out)
			}
			checkDemoCommit(t, d.bare, d.result.Pushed.Commit)
		})
	}
}

// checkDemoCommit checks the commit on main of the bare remote: it is
// commit, by imagebump, on the sample fleet's one commit, and it changes
// exactly the bytes of demoEdits.
func checkDemoCommit(t *testing.T, bare, commit string) {
	t.Helper()
	repo, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Hash().String() != commit {
		t.Fatalf("main of the remote is %s, the pass pushed %s", ref.Hash(), commit)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.Author.Name != "imagebump" || c.Author.Email != "imagebump@users.noreply.github.com" {
		t.Errorf("author = %s <%s>, want the bot config's imagebump <imagebump@users.noreply.github.com>", c.Author.Name, c.Author.Email)
	}
	if c.NumParents() != 1 {
		t.Fatalf("commit has %d parents, want 1 (the sample fleet)", c.NumParents())
	}
	parent, err := c.Parent(0)
	if err != nil {
		t.Fatal(err)
	}
	if parent.NumParents() != 0 || !strings.HasPrefix(parent.Message, "Sample fleet") {
		t.Errorf("the commit's parent is %q with %d parents, want the sample fleet's root commit", parent.Message, parent.NumParents())
	}
	from, err := parent.Tree()
	if err != nil {
		t.Fatal(err)
	}
	to, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, ch := range changes {
		changed = append(changed, ch.To.Name)
	}
	var wantFiles []string
	for _, e := range demoEdits {
		if !slices.Contains(wantFiles, e.file) {
			wantFiles = append(wantFiles, e.file)
		}
	}
	slices.Sort(changed)
	if diff := cmp.Diff(wantFiles, changed); diff != "" {
		t.Fatalf("files the commit changes (-want +got):\n%s", diff)
	}
	for _, file := range wantFiles {
		old := fileAt(t, parent, file)
		want := old
		for _, e := range demoEdits {
			if e.file != file {
				continue
			}
			if n := strings.Count(want, e.old); n != 1 {
				t.Fatalf("%s of the sample fleet holds %q %d times, want once", file, e.old, n)
			}
			want = strings.Replace(want, e.old, e.new, 1)
		}
		got := fileAt(t, c, file)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s after the pass (-want +got):\n%s", file, diff)
		}
		for _, never := range []string{"-rc.", ".sig", ":2.0.0", "7.4.0", "1700007200"} {
			if strings.Contains(got, never) && !strings.Contains(old, never) {
				t.Errorf("%s: the pass wrote %q, a tag no policy may choose", file, never)
			}
		}
	}
}

func fileAt(t *testing.T, c *object.Commit, path string) string {
	t.Helper()
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s at %s: %v", path, c.Hash, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDemoPullRequest(t *testing.T) {
	keep := t.TempDir()
	var stdout, stderr bytes.Buffer
	d, err := demo(t.Context(), &stdout, &stderr, demoConfig{mode: string(config.PullRequest), keep: keep})
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	host := d.registry

	type pr struct{ Action, Branch, Title string }
	var got []pr
	for _, r := range d.result.PullRequests {
		got = append(got, pr{string(r.Action), r.Branch, r.Title})
		if r.Err != nil {
			t.Errorf("%s: %v", r.Branch, r.Err)
		}
	}
	want := []pr{
		{"create", "imagebump/backend", "Update " + host + "/acme/api to main-5d6e7f8-1700003600"},
		{"create", "imagebump/cache", "Update " + host + "/acme/cache to 7.2.5-alpine"},
		{"create", "imagebump/web", "Update " + host + "/acme/web to 1.2.1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pull requests (-want +got):\n%s", diff)
	}
	for _, w := range want {
		for _, line := range []string{"  create " + w.Branch + ":", "    title: " + w.Title + "\n"} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
	}
	// The body of each: a table row of its change.
	if !regexp.MustCompile("(?m)^    \\| \\| `" + regexp.QuoteMeta(host) + "/acme/web` \\| `1.0.0` \\| `1.2.1` \\|").MatchString(out) {
		t.Errorf("output lacks web's pull request body:\n%s", out)
	}

	// A dry run: the remote still has the sample fleet alone.
	repo, err := git.PlainOpen(d.bare)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := repo.References()
	if err != nil {
		t.Fatal(err)
	}
	var branches []string
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Name().IsBranch() {
			branches = append(branches, r.Name().Short())
			c, err := repo.CommitObject(r.Hash())
			if err != nil || c.NumParents() != 0 {
				t.Errorf("branch %s moved in a dry run (err %v)", r.Name().Short(), err)
			}
		}
		return nil
	})
	if diff := cmp.Diff([]string{"main"}, branches); diff != "" {
		t.Errorf("branches of the remote after a dry run (-want +got):\n%s", diff)
	}
}

func TestDemoUsage(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown mode", []string{"demo", "--mode", "merge"}, `--mode "merge": want push or pullRequest`},
		{"keep dir not empty", []string{"demo", "--keep", full}, "is not empty (it holds notes.txt"},
		{"argument", []string{"demo", "extra"}, "takes at most 0 argument(s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != exitInvalid {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitInvalid, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(full, "notes.txt"))
	if err != nil || string(b) != "mine\n" {
		t.Errorf("the --keep directory's file was touched: %q, %v", b, err)
	}
}

// TestDemoGitServer checks the demo's git server with go-git as the bot
// uses it: a one-commit-deep clone, a push from elsewhere, then a fetch
// into the first clone (which sends what it has), and a push from it.
func TestDemoGitServer(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	bare := filepath.Join(dir, "fleet.git")
	url, stop, err := startGitServer(bare)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := createFleet(ctx, filepath.Join(dir, "seed"), bare, url, "registry.example:5000"); err != nil {
		t.Fatal(err)
	}

	clone := func(name string) *git.Repository {
		t.Helper()
		r, err := git.PlainCloneContext(ctx, filepath.Join(dir, name), false, &git.CloneOptions{
			URL: url, ReferenceName: plumbing.Main, SingleBranch: true, Depth: 1, Tags: git.NoTags,
		})
		if err != nil {
			t.Fatalf("cloning %s: %v", name, err)
		}
		return r
	}
	commit := func(r *git.Repository, file, content string) plumbing.Hash {
		t.Helper()
		wt, err := r.Worktree()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wt.Filesystem.Root(), file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(file); err != nil {
			t.Fatal(err)
		}
		who := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}
		h, err := wt.Commit("change "+file, &git.CommitOptions{Author: who, Committer: who})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.PushContext(ctx, &git.PushOptions{RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
			t.Fatalf("pushing %s: %v", file, err)
		}
		return h
	}

	a, b := clone("a"), clone("b")
	first := commit(b, "one.txt", "1\n")
	if err := a.FetchContext(ctx, &git.FetchOptions{Depth: 1, Tags: git.NoTags}); err != nil {
		t.Fatalf("fetching into a: %v", err)
	}
	got, err := a.Reference(plumbing.NewRemoteReferenceName("origin", "main"), true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != first {
		t.Fatalf("a fetched %s, want %s", got.Hash(), first)
	}
	if _, err := a.CommitObject(first); err != nil {
		t.Fatalf("a lacks the fetched commit: %v", err)
	}
	// A push on top of the fetched commit, as the bot's is.
	wt, err := a.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: first, Mode: git.HardReset}); err != nil {
		t.Fatal(err)
	}
	second := commit(a, "two.txt", "2\n")
	c, err := pushedCommit(bare, "main")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != second {
		t.Errorf("main of the remote is %s, want %s", c.Hash, second)
	}
}

// TestDemoContextCancelled checks that a cancelled demo stops with an
// error and leaves nothing behind.
func TestDemoContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	d, err := demo(ctx, &stdout, &stderr, demoConfig{mode: string(config.Push)})
	if err == nil {
		t.Fatalf("demo with a cancelled context succeeded:\n%s", &stdout)
	}
	if d.dir != "" {
		if _, err := os.Stat(d.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the temporary directory %s is still there (%v)", d.dir, err)
		}
	}
}

// TestDemoCLI runs the README's first command as main does.
func TestDemoCLI(t *testing.T) {
	stdout, stderr, code := runCLI(t, "demo")
	if code != exitOK {
		t.Fatalf("imagebump demo: exit code %d; stderr:\n%s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^commit [0-9a-f]{40}$`).MatchString(stdout) {
		t.Errorf("output names no pushed commit:\n%s", stdout)
	}
}
