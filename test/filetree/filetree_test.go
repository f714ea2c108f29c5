package filetree

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	files := map[string]string{"a.yaml": "a: 1\n", "deep/er/b.yml": "b\r\n", "empty": ""}
	if diff := cmp.Diff(files, Read(t, Write(t, files))); diff != "" {
		t.Errorf("Read(Write(files)) (-want +got):\n%s", diff)
	}
}
