// Command patcherbench runs one patcher pass over a generated tree, so that
// test/bench/patcher.sh can measure its wall time and peak RSS with
// /usr/bin/time. It is a benchmark driver, not part of imagebump.
//
//	patcherbench -gen DIR [-files 5000]    generate the tree at version 1
//	patcherbench -dir DIR -version N [-write]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
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
	flag.Parse()
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
