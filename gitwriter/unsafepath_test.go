package gitwriter

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

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

// TestSyncUnsafePath checks that a commit holding a path go-git will not
// check out (a .git directory inside the tree, a control character) fails
// the sync with an error that names the path, not "directory not found"
// (issue 16).
func TestSyncUnsafePath(t *testing.T) {
	tests := []struct {
		name, dir, file, want string
	}{
		{".git directory", "sub/.git", "x.yaml", "holds apps/sub/.git/ (a .git directory inside the tree), which cannot be checked out; remove or rename it"},
		{"control character", "sub", "we\x01b.yaml", `holds apps/sub/we\x01b.yaml (its name has a control character), which cannot be checked out; remove or rename it`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := gitserver.Start(t)
			s.NewRepo(t, "fleet", map[string]string{"apps/web.yaml": "a: 1\n"})
			bare := s.Dir("fleet")
			blob := gitIn(t, bare, "a: 2\n", "hash-object", "-w", "--stdin")
			tree := gitIn(t, bare, "100644 blob "+blob+"\t"+tc.file+"\n", "mktree")
			parts := strings.Split(tc.dir, "/")
			for i := len(parts) - 1; i >= 1; i-- {
				tree = gitIn(t, bare, "040000 tree "+tree+"\t"+parts[i]+"\n", "mktree")
			}
			apps := gitIn(t, bare, "", "rev-parse", "main:apps")
			appsTree := gitIn(t, bare, gitIn(t, bare, "", "ls-tree", apps)+"\n040000 tree "+tree+"\t"+parts[0]+"\n", "mktree")
			root := gitIn(t, bare, "040000 tree "+appsTree+"\tapps\n", "mktree")
			commit := gitIn(t, bare, "", "commit-tree", root, "-p", "main", "-m", "hostile")
			gitIn(t, bare, "", "update-ref", "refs/heads/main", commit)

			r := mustNew(t, tokenOptions(t, s, "fleet", t.TempDir(), nil))
			_, err := r.Sync(context.Background())
			var ue *UnsafePathError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "commit "+commit+" "+tc.want) {
				t.Fatalf("Sync error %v, want one saying commit %s %s", err, commit, tc.want)
			}
			if strings.Contains(err.Error(), "directory not found") {
				t.Errorf("Sync error %q still says directory not found", err)
			}
		})
	}
}
