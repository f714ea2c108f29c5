package forgefake

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// RequireGit skips the test when git is missing, or fails it under CI=true
// where a missing prerequisite is an error.
func RequireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		msg := "git not found: apt-get install git to run tests against a real repository"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// gitIn runs git in dir with extra environment and returns its trimmed
// output.
func gitIn(dir string, env []string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Git runs git in dir, failing the test on error, and returns its trimmed
// output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitIn(dir, nil, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// InitRepo creates a bare repository whose branch base holds files in one
// commit, and returns its path.
func InitRepo(t testing.TB, base string, files map[string]string) string {
	t.Helper()
	RequireGit(t)
	dir := filepath.Join(t.TempDir(), "repo.git")
	Git(t, filepath.Dir(dir), "init", "-q", "--bare", "-b", base, dir)
	if _, err := CommitFiles(dir, "", base, files, "human@example.com", "initial"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CommitFiles makes one commit in the bare repository repo with parent's
// tree (none when parent is empty) plus files, authored by email, and
// points branch at it. It returns the commit. It is how tests push as a
// human, and how in-test Branches implementations publish.
func CommitFiles(repo, parent, branch string, files map[string]string, email, message string) (string, error) {
	dir, err := os.MkdirTemp("", "forgefake-index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	index := filepath.Join(dir, "index")
	env := []string{"GIT_INDEX_FILE=" + index,
		"GIT_AUTHOR_NAME=" + email, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + email, "GIT_COMMITTER_EMAIL=" + email}
	if parent != "" {
		if _, err := gitIn(repo, env, nil, "read-tree", parent); err != nil {
			return "", err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		blob, err := gitIn(repo, env, []byte(files[p]), "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		if _, err := gitIn(repo, env, nil, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+p); err != nil {
			return "", err
		}
	}
	tree, err := gitIn(repo, env, nil, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-m", message}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	commit, err := gitIn(repo, env, nil, args...)
	if err != nil {
		return "", err
	}
	if _, err := gitIn(repo, env, nil, "update-ref", "refs/heads/"+branch, commit); err != nil {
		return "", err
	}
	return commit, nil
}
