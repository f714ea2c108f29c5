// Command gitea-build builds the Gitea the tests run (or finds it in the
// cache) before the tests start, so that a cold build, which takes minutes,
// runs outside go test's per-package timeout. make test runs it (make
// gitea) before any test; while it builds it says so every 30 seconds.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/imagebump/imagebump/test/giteaserver"
)

func main() {
	b, ok, err := giteaserver.Cached()
	if err != nil {
		fail(err)
	}
	if ok {
		fmt.Printf("gitea for tests: %s (cached)\n", b.Binary)
		return
	}
	dir, err := giteaserver.CacheDir()
	if err != nil {
		fail(err)
	}
	fmt.Printf("gitea for tests: building Gitea %s from source, once; it is cached in %s for later runs.\n", giteaserver.Version, dir)
	fmt.Println("  A cold build takes about 9 minutes on an idle 2-core machine (15 CPU-minutes), more on a loaded one.")
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Printf("  still building Gitea: %s, %s\n", phase(dir, start), time.Since(start).Round(time.Second))
			}
		}
	}()
	b, err = giteaserver.BuildOrReuse()
	close(done)
	if err != nil {
		fail(err)
	}
	fmt.Printf("gitea for tests: built %s in %s\n", b.Binary, time.Since(start).Round(time.Second))
}

// phase guesses from the cache directory what the build is doing: the
// module's source is copied into a fresh gitea-build-* directory next to
// the cache once it is downloaded. Directories older than this run are
// left over from an interrupted build.
func phase(dir string, start time.Time) string {
	builds, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "gitea-build-*"))
	for _, b := range builds {
		fi, err := os.Stat(b)
		if err != nil || fi.ModTime().Before(start.Add(-time.Minute)) {
			continue
		}
		if _, err := os.Stat(filepath.Join(b, "src")); err == nil {
			return "compiling"
		}
	}
	return "downloading its modules (or waiting for another build)"
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "gitea-build: %v\n", err)
	os.Exit(1)
}
