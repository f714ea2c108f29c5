package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPhase(t *testing.T) {
	const downloading = "downloading its modules (or waiting for another build)"
	start := time.Now()
	tests := []struct {
		name  string
		build string    // a gitea-build-* directory, or none
		src   bool      // with the copied source in it
		mtime time.Time // of the build directory
		want  string
	}{
		{name: "nothing yet", want: downloading},
		{name: "downloading", build: "gitea-build-1", mtime: start, want: downloading},
		{name: "compiling", build: "gitea-build-1", src: true, mtime: start, want: "compiling"},
		{name: "left over from an interrupted build", build: "gitea-build-1", src: true, mtime: start.Add(-time.Hour), want: downloading},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			if tc.build != "" {
				b := filepath.Join(cache, tc.build)
				if err := os.MkdirAll(b, 0o755); err != nil {
					t.Fatal(err)
				}
				if tc.src {
					if err := os.Mkdir(filepath.Join(b, "src"), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Chtimes(b, tc.mtime, tc.mtime); err != nil {
					t.Fatal(err)
				}
			}
			if got := phase(filepath.Join(cache, "gitea-v1"), start); got != tc.want {
				t.Errorf("phase = %q, want %q", got, tc.want)
			}
		})
	}
}
