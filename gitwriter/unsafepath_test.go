package gitwriter

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/gitserver"
)

// gitIn runs git in dir with stdin and returns its trimmed output.
func gitIn(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSyncUnsafePath checks that a commit holding a path git does not
// check out (a .git directory inside the tree, a control character) is
// synced without it, the path named in SyncResult.Skipped, rather than
// failing the whole sync with "directory not found" (issue 16).
func TestSyncUnsafePath(t *testing.T) {
	tests := []struct {
		name, dir, file string
		want            []SkippedPath
	}{
		{".git directory", "sub/.git", "x.yaml", []SkippedPath{{Path: "apps/sub/.git", Why: "a .git directory inside the tree"}}},
		{"control character", "sub", "we\x01b.yaml", []SkippedPath{{Path: "apps/sub/we\x01b.yaml", Why: "its name has a control character"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{"apps/web.yaml": "a: 1\n", "top.yaml": "t: 1\n"})
			bare := s.Dir("fleet")
			blob := gitIn(t, bare, "a: 2\n", "hash-object", "-w", "--stdin")
			tree := gitIn(t, bare, "100644 blob "+blob+"\t"+tc.file+"\n", "mktree")
			parts := strings.Split(tc.dir, "/")
			for i := len(parts) - 1; i >= 1; i-- {
				tree = gitIn(t, bare, "040000 tree "+tree+"\t"+parts[i]+"\n", "mktree")
			}
			apps := gitIn(t, bare, "", "rev-parse", "main:apps")
			appsTree := gitIn(t, bare, gitIn(t, bare, "", "ls-tree", apps)+"\n040000 tree "+tree+"\t"+parts[0]+"\n", "mktree")
			top := gitIn(t, bare, "", "ls-tree", "main", "top.yaml")
			root := gitIn(t, bare, top+"\n040000 tree "+appsTree+"\tapps\n", "mktree")
			commit := gitIn(t, bare, "", "commit-tree", root, "-p", "main", "-m", "hostile")
			gitIn(t, bare, "", "update-ref", "refs/heads/main", commit)

			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			for range 2 { // a fresh clone, then an existing copy
				res := mustSync(t, r)
				if res.Worktree != WorktreePartial || res.Head != commit {
					t.Errorf("Sync = %+v, want worktree %q at %s", res, WorktreePartial, commit)
				}
				if diff := cmp.Diff(tc.want, res.Skipped); diff != "" {
					t.Errorf("skipped (-want +got):\n%s", diff)
				}
				// The index is not written: git status is not clean.
				for p, want := range map[string]string{"apps/web.yaml": "a: 1\n", "top.yaml": "t: 1\n"} {
					if got := readWorkFile(t, r, p); got != want {
						t.Errorf("%s in the working copy = %q, want %q", p, got, want)
					}
				}
				if _, err := os.Lstat(filepath.Join(r.Dir(), filepath.FromSlash(tc.want[0].Path))); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%q was written: %v", tc.want[0].Path, err)
				}
			}
		})
	}
}
