package gitwriter

import (
	"math/rand/v2"
	"runtime"
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
		{"clone", 2 * size},
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
