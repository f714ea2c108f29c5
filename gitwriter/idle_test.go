package gitwriter

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/gitserver"
)

// TestIdleCopies checks which directories of a workDir IdleCopies lists:
// only working copies (DirName's names, with a .git directory) that are
// not kept and were last used longer ago than the idle time; and that a
// Sync marks its copy used.
func TestIdleCopies(t *testing.T) {
	workDir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-8*24*time.Hour), now.Add(-time.Hour)
	copyDir := func(name string, used *time.Time, index *time.Time) {
		t.Helper()
		dotGit := filepath.Join(workDir, name, ".git")
		if err := os.MkdirAll(dotGit, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, when := range map[string]*time.Time{usedFile: used, "index": index} {
			if when == nil {
				continue
			}
			p := filepath.Join(dotGit, file)
			writeTo(t, p, "")
			if err := os.Chtimes(p, *when, *when); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyDir("github.com-acme-gone-0123456789ab", &old, &recent)                              // idle: listed
	copyDir("github.com-acme-fleet-0123456789ab", &old, nil)                                 // kept
	copyDir("github.com-acme-busy-0123456789ab", &recent, &old)                              // used lately
	copyDir("github.com-acme-older-0123456789ab", nil, &old)                                 // no stamp: its index says
	copyDir("github.com-acme-fresher-0123456789ab", nil, &recent)                            // no stamp, index recent
	copyDir("notes", &old, &old)                                                             // not a copy's name
	copyDir(".github.com-acme-x-0123456789ab.clone-42", &old, &old)                          // a clone's temp: Sync's own
	if err := os.MkdirAll(filepath.Join(workDir, "plain-0123456789ab"), 0o755); err != nil { // no .git
		t.Fatal(err)
	}
	writeTo(t, filepath.Join(workDir, "file-0123456789ab"), "") // a file

	got, err := IdleCopies(workDir, []string{"github.com-acme-fleet-0123456789ab"}, 7*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(workDir, "github.com-acme-gone-0123456789ab"), filepath.Join(workDir, "github.com-acme-older-0123456789ab")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IdleCopies (-want +got):\n%s", diff)
	}
	if got, err := IdleCopies(filepath.Join(workDir, "missing"), nil, time.Hour, now); err != nil || got != nil {
		t.Errorf("IdleCopies of a missing workDir = %v, %v; want nothing", got, err)
	}

	s := gitserver.Start(t)
	s.NewRepo(t, "acme/used", map[string]string{"a.yaml": "a: 1\n"})
	r := mustNew(t, tokenOptions(t, s, "acme/used", workDir, nil))
	mustSync(t, r)
	if fi, err := os.Stat(filepath.Join(r.Dir(), ".git", usedFile)); err != nil || time.Since(fi.ModTime()) > time.Hour {
		t.Errorf("Sync did not mark its copy used: %v", err)
	}
}
