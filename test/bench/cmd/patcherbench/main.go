// Command patcherbench runs one patcher pass over a generated tree, so that
// test/bench/patcher.sh can measure its wall time and peak RSS with
// /usr/bin/time. It is a benchmark driver, not part of imagebump.
//
//	patcherbench -gen DIR [-files 5000]    generate the tree at version 1
//	patcherbench -dir DIR -version N [-write]
//	patcherbench -dir DIR -floor           the floor of an atomic write pass
//
// -floor reads every YAML file and replaces each marked one, unchanged,
// as Plan.Write does (a temporary file in its directory, renamed over
// it), with no parsing, no check and no planning: what any byte-exact,
// crash-safe writer of those files pays on this file system.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/test/bench/internal/patchertree"
)

func main() {
	gen := flag.String("gen", "", "generate the tree in this directory and exit")
	files := flag.Int("files", 5000, "number of files to generate")
	dir := flag.String("dir", "", "tree to run the pass on")
	version := flag.Int("version", 1, "version the policies resolve to")
	write := flag.Bool("write", false, "write the planned changes")
	floorPass := flag.Bool("floor", false, "read the tree and replace each marked file atomically, unchanged, without planning")
	flag.Parse()
	if *floorPass {
		if err := floor(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "patcherbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*gen, *files, *dir, *version, *write); err != nil {
		fmt.Fprintln(os.Stderr, "patcherbench:", err)
		os.Exit(1)
	}
}

func run(gen string, files int, dir string, version int, write bool) error {
	if gen != "" {
		return patchertree.Generate(gen, files, 1)
	}
	ctx := context.Background()
	start := time.Now()
	plan, err := patcher.PlanDir(ctx, dir, nil, patchertree.Targets(version))
	if err != nil {
		return err
	}
	planned := time.Since(start)
	if write {
		if _, err := plan.Write(ctx); err != nil {
			return err
		}
	}
	total := time.Since(start)
	fmt.Printf("files changed %d, values changed %d, problems %d; plan %.3fs, total %.3fs\n",
		len(plan.Files), len(plan.Changes), len(plan.Problems), planned.Seconds(), total.Seconds())
	return nil
}

// floor is -floor: one goroutine, the standard library only.
func floor(dir string) error {
	replaced := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("$imagepolicy")) {
			return err
		}
		tmp := filepath.Join(filepath.Dir(p), ".floor.tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		replaced++
		return os.Rename(tmp, p)
	})
	fmt.Printf("files replaced %d\n", replaced)
	return err
}
