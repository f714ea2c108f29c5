package bot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
)

// TestPruneWorkDir checks that run's clean-up removes the old working copy
// of a repository no longer in the config and keeps the configured ones,
// however long unused, and a recently used one.
func TestPruneWorkDir(t *testing.T) {
	workDir := t.TempDir()
	now := time.Now()
	configured := config.Repository{URL: "https://github.com/acme/fleet.git", Branch: "main"}
	copyDir := func(url, branch string, used time.Time) string {
		dir := filepath.Join(workDir, gitwriter.DirName(url, branch))
		stamp := filepath.Join(dir, ".git", "imagebump-used")
		if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stamp, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(stamp, used, used); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	longAgo := now.Add(-IdleCopyAge - time.Hour)
	kept := copyDir(configured.URL, configured.Branch, longAgo)
	gone := copyDir("https://github.com/acme/removed.git", "main", longAgo)
	otherBranch := copyDir(configured.URL, "release", longAgo)
	busy := copyDir("https://github.com/acme/elsewhere.git", "main", now.Add(-time.Hour))

	removed := PruneWorkDir(&config.Bot{WorkDir: workDir, Repositories: []config.Repository{configured}}, now, nil)
	if diff := cmp.Diff([]string{gone, otherBranch}, removed, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for _, dir := range []string{kept, busy} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
	for _, dir := range []string{gone, otherBranch} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", dir, err)
		}
	}
}
