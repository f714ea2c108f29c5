package gitwriter

import (
	"errors"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// fullDisk is an object store that has no room left after n objects.
type fullDisk struct {
	*memory.Storage
	n int
}

func (f *fullDisk) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	if f.n == 0 {
		return plumbing.ZeroHash, &writeError{}
	}
	f.n--
	return f.Storage.SetEncodedObject(o)
}

// writeError reads as the error of a write to a full disk does.
type writeError struct{}

func (*writeError) Error() string {
	return "write /tmp/work/repo/.git/objects/pack/tmp_obj_123: " + syscall.ENOSPC.Error()
}

// TestWriteTreeErrors checks that an error storing an object says which
// path it was for, in one piece (issue 16: "apps/web/write /tmp/…").
func TestWriteTreeErrors(t *testing.T) {
	files := map[string][]byte{"apps/web/deploy.yaml": []byte("a: 1\n")}
	tests := []struct {
		room int
		want string
	}{
		{0, "storing apps/web/deploy.yaml: write /tmp/work/repo/.git/objects/pack/tmp_obj_123: no space left on device"},
		{1, "storing the tree of apps/web/: write /tmp/work/repo/.git/objects/pack/tmp_obj_123: no space left on device"},
		{3, "storing the tree of the repository's root: write /tmp/work/repo/.git/objects/pack/tmp_obj_123: no space left on device"},
	}
	for _, tc := range tests {
		_, err := writeTree(&fullDisk{Storage: memory.NewStorage(), n: tc.room}, plumbing.ZeroHash, files, "")
		if err == nil || err.Error() != tc.want {
			t.Errorf("room for %d objects: error %v, want %q", tc.room, err, tc.want)
		}
		if !errors.As(err, new(*writeError)) {
			t.Errorf("room for %d objects: %v does not wrap the write error", tc.room, err)
		}
	}
}
