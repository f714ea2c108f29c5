// Command patcherbench runs one patcher pass over a generated tree, so that
// test/bench/patcher.sh can measure its wall time and peak RSS with
// /usr/bin/time. It is a benchmark driver, not part of imagebump.
//
//	patcherbench -gen DIR [-files 5000]    generate the tree at version 1
//	patcherbench -dir DIR -version N [-write]
//	patcherbench -dir DIR -floor           the floor of an atomic write pass
//	patcherbench -dir DIR -floor-create    the same with a new inode per file
//
// -cpuprofile FILE writes a CPU profile of the pass (go tool pprof).
//
// -floor reads every YAML file and replaces each marked one, unchanged,
// as Plan.Write does (a temporary file in its directory, renamed over it,
// the inode it replaced kept for the next file), with no parsing, no
// check and no planning: what any byte-exact, crash-safe writer of those
// files pays on this file system. -floor-create is the same writer giving
// every file a new inode, as most do (file systems where creating a file
// is costly show the difference).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
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
	floorPass := flag.Bool("floor", false, "read the tree and replace each marked file atomically, unchanged, without planning, recycling inodes")
	createPass := flag.Bool("floor-create", false, "as -floor, with a new inode for every file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the pass to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "patcherbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *floorPass || *createPass {
		if err := floor(*dir, *createPass); err != nil {
			fail(err)
		}
		return
	}
	if err := run(*gen, *files, *dir, *version, *write); err != nil {
		fail(err)
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

// fail reports err and exits 1, after stopping a CPU profile so that it
// is complete.
func fail(err error) {
	pprof.StopCPUProfile()
	fmt.Fprintln(os.Stderr, "patcherbench:", err)
	os.Exit(1)
}

// floor is -floor: one goroutine, the standard library only. Unless
// create is set, it recycles inodes as Plan.Write does where it can: the
// inode a rename replaced, kept by a hard link, takes the next file's
// content; with create, every file gets a new inode.
func floor(dir string, create bool) error {
	replaced := 0
	spare := "" // a file holding a replaced inode, or ""
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("$imagepolicy")) {
			return err
		}
		tmp := filepath.Join(filepath.Dir(p), ".floor.tmp")
		if spare != "" {
			if err := os.Rename(spare, tmp); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteAt(b, 0)
		if err == nil {
			err = f.Truncate(int64(len(b)))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		spare = ""
		if !create {
			spare = filepath.Join(filepath.Dir(p), ".floor-spare.tmp")
			if err := os.Link(p, spare); err != nil {
				return err
			}
		}
		replaced++
		return os.Rename(tmp, p)
	})
	if spare != "" {
		if rerr := os.Remove(spare); err == nil {
			err = rerr
		}
	}
	fmt.Printf("files replaced %d\n", replaced)
	return err
}
