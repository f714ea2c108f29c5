package gitwriter

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
)

// TestSyncLargeFileMemory checks that a large file in the tip (a hostile
// commit: the bot never reads such a manifest) costs a clone about its
// size in memory, once, and a later Sync nothing: go-git reads objects
// above largeObject as streams, and the clean check hashes a file as one.
// Before, a clone allocated seven times the file's size, and each later
// Sync of a racily clean copy read it whole.
func TestSyncLargeFileMemory(t *testing.T) {
	const size = 32 << 20
	s := gitserver.Start(t)
	s.NewRepo(t, "acme/big", map[string]string{"a.yaml": "a: 1\n"})
	blob := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(blob)
	s.Commit(t, "acme/big", "main", "a large file", map[string]string{"data/big.yaml": string(blob)})
	blob = nil
	opts := tokenOptions(t, s, "acme/big", t.TempDir(), nil)
	for _, tc := range []struct {
		name string
		max  uint64
	}{
		// go-git's pack parser holds the file once, twice with -race
		// (whose sync.Pool drops buffers); seven times before.
		{"clone", 3 * size},
		// A new Repo, as a new process has.
		{"unchanged", size / 8},
	} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := mustSync(t, mustNew(t, opts))
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > tc.max {
			t.Errorf("%s: Sync (%+v) allocated %d MiB with a %d MiB file in the tip, want at most %d MiB", tc.name, res, got>>20, size>>20, tc.max>>20)
		}
	}
}

// TestSyncRefusesLargeObject checks Options.MaxObjectSize: a tip holding a
// larger file fails the clone, and a fetch into a working copy, with an
// ObjectTooLargeError, leaving any working copy as it was; once the file is
// gone from the tip, Sync works again.
func TestSyncRefusesLargeObject(t *testing.T) {
	s := gitserver.Start(t)
	s.NewRepo(t, "acme/big", map[string]string{"a.yaml": "a: 1\n"})
	opts := tokenOptions(t, s, "acme/big", t.TempDir(), nil)
	opts.MaxObjectSize = 1 << 20
	big := string(randomBytes(2<<20, 7))
	tooLarge := func(t *testing.T, what string, err error) {
		t.Helper()
		var e *ObjectTooLargeError
		if !errors.As(err, &e) || e.Size != 2<<20 || e.Max != 1<<20 {
			t.Fatalf("%s: Sync = %v, want an ObjectTooLargeError of 2 MiB over 1 MiB", what, err)
		}
		if !strings.Contains(err.Error(), "2MiB, more than the 1MiB limits.maxObjectSize allows") {
			t.Errorf("%s: the error does not say sizes and setting: %v", what, err)
		}
	}

	// A working copy, then the file arrives: the fetch is refused.
	r := mustNew(t, opts)
	first := mustSync(t, r)
	s.Commit(t, "acme/big", "main", "a large file", map[string]string{"data/big.yaml": big})
	_, err := mustNew(t, opts).Sync(context.Background())
	tooLarge(t, "fetch", err)
	if got := readWorkFile(t, r, "a.yaml"); got != "a: 1\n" {
		t.Errorf("a.yaml = %q after the refused fetch, want the working copy as it was", got)
	}
	if head := gitIn(t, r.Dir(), "", "rev-parse", "HEAD"); head != first.Head {
		t.Errorf("HEAD = %s after the refused fetch, want %s", head, first.Head)
	}

	// No working copy: the clone is refused and leaves none.
	fresh := opts
	fresh.WorkDir = t.TempDir()
	_, err = mustNew(t, fresh).Sync(context.Background())
	tooLarge(t, "clone", err)
	if entries, _ := os.ReadDir(fresh.WorkDir); len(entries) != 0 {
		t.Errorf("the refused clone left %v in workDir", entries)
	}

	// Gone from the tip: the history is not fetched, Sync works.
	s.Commit(t, "acme/big", "main", "the large file goes", map[string]string{"data/big.yaml": ""})
	for _, o := range []Options{opts, fresh} {
		res := mustSync(t, mustNew(t, o))
		if res.Head != s.Ref(t, "acme/big", "main") {
			t.Errorf("Sync = %+v, want the new tip", res)
		}
	}
}
