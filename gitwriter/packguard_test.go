package gitwriter

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitOut runs git in dir and returns its standard output, as it is.
func gitOut(t testing.TB, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// packs builds, with git, the packs the guard is tested on: "full", every
// object of a history where one file grows (the older versions stored as
// deltas of the newer, OFS_DELTA), and "thin", the last commit alone
// against the one before (its file a REF_DELTA to a base not in the
// pack, whose result is larger than any object the pack holds whole).
func packs(t *testing.T) (full, thin []byte, largest int64) {
	t.Helper()
	dir := t.TempDir()
	gitOut(t, dir, nil, "init", "-q")
	base := randomBytes(1<<20, 1)
	content := base
	for i := range 4 {
		content = append(content, randomBytes(64<<10, byte(i+2))...)
		if err := os.WriteFile(filepath.Join(dir, "data.yaml"), content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "small.yaml"), []byte(strings.Repeat("a: 1\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		gitOut(t, dir, nil, "add", ".")
		gitOut(t, dir, nil, "commit", "-q", "-m", "v")
	}
	full = gitOut(t, dir, []byte("HEAD\n"), "pack-objects", "--stdout", "--revs", "-q")
	thin = gitOut(t, dir, []byte("HEAD\n^HEAD~1\n"), "pack-objects", "--stdout", "--revs", "--thin", "-q")
	return full, thin, int64(len(content))
}

// sink is a WriteCloser keeping what it was written.
type sink struct {
	bytes.Buffer
	closed bool
}

func (s *sink) Close() error { s.closed = true; return nil }

// guard writes pack through a packGuard allowing max in pieces of the
// given size, as a fetch does, and returns what reached the writer behind
// it and the error.
func guard(pack []byte, max int64, piece int) ([]byte, error) {
	s := &sink{}
	g := guardPack(s, max)
	var err error
	for rest := pack; len(rest) > 0 && err == nil; {
		n := min(piece, len(rest))
		_, err = g.Write(rest[:n])
		rest = rest[n:]
	}
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	return s.Bytes(), err
}

// TestPackGuard checks that a pack of objects within the limit reaches the
// writer byte for byte, whatever the pieces it comes in, and that one with
// a larger object, stored whole or as a delta, is refused before that
// object reaches it.
func TestPackGuard(t *testing.T) {
	full, thin, largest := packs(t)
	for _, piece := range []int{1, 7, 32 << 10, 1 << 30} {
		for name, pack := range map[string][]byte{"full": full, "thin": thin} {
			got, err := guard(pack, largest, piece)
			if err != nil || !bytes.Equal(got, pack) {
				t.Errorf("%s pack in pieces of %d, limit = its largest object: %d of %d bytes passed, %v", name, piece, len(got), len(pack), err)
			}
			got, err = guard(pack, largest-1, piece)
			var tooLarge *ObjectTooLargeError
			// git stores the newest version whole, and in the thin pack
			// as a delta to the version before, not in the pack.
			if !errors.As(err, &tooLarge) || tooLarge.Size != largest || tooLarge.Max != largest-1 || tooLarge.delta != (name == "thin") {
				t.Errorf("%s pack in pieces of %d, limit one byte less: %#v, want an ObjectTooLargeError of %d bytes (a delta: %v)", name, piece, err, largest, name == "thin")
			}
			// Refused on its header, a whole object sends nothing on; a
			// delta at most what inflating its first bytes took (a
			// stored block of random data is read 32 KiB at a time).
			// The large object is over 1 MiB whole, 64 KiB as a delta.
			if rest := map[string]int{"full": int(largest) / 2, "thin": 16 << 10}[name]; len(got) > len(pack)-rest || !bytes.HasPrefix(pack, got) {
				t.Errorf("%s pack in pieces of %d: %d of %d bytes reached the writer past the refusal", name, piece, len(got), len(pack))
			}
		}
	}
}

// TestPackGuardMalformed checks that a pack the guard cannot read is
// refused with an error saying so, not passed on, and that none hangs.
func TestPackGuardMalformed(t *testing.T) {
	full, _, _ := packs(t)
	for _, tc := range []struct {
		name string
		pack []byte
		want string
	}{
		{"not a pack", []byte("HTTP/1.1 200 OK\r\n\r\n"), "without the PACK signature"},
		{"version 4", append([]byte("PACK\x00\x00\x00\x04"), full[8:]...), "version 4"},
		{"cut in an object", full[:len(full)/2], ""},
		{"unknown type", append(append([]byte{}, full[:12]...), 0x50, 0, 0), "unknown type 5"},
		{"corrupt data", append(append([]byte{}, full[:12]...), bytes.Repeat([]byte{0x35, 0xff}, 100)...), "object 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := guard(tc.pack, 1<<30, 4096)
			if tc.want == "" {
				// Cut short, as when a fetch fails: the guard leaves
				// the error to the fetch.
				if err != nil {
					t.Errorf("guard = %v, want nil (the fetch reports a cut pack)", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("guard = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// FuzzPackGuard checks that any input ends, without a panic, either passed
// on whole or refused.
func FuzzPackGuard(f *testing.F) {
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x35\x78\x9c\x4b\x04\x00\x00\x62\x00\x62"), int64(10))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x7f\x00\x01\x02"), int64(1))
	f.Fuzz(func(t *testing.T, pack []byte, max int64) {
		if max < 0 {
			max = -max
		}
		got, err := guard(pack, max, 5)
		if err == nil && !bytes.Equal(got, pack) {
			t.Fatalf("passed %d of %d bytes without an error", len(got), len(pack))
		}
		if _, err := io.Copy(io.Discard, bytes.NewReader(got)); err != nil {
			t.Fatal(err)
		}
	})
}
