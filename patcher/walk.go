package patcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Plan is the outcome of PlanDir: what applying the targets to a directory
// tree would change. Nothing has been written yet; see Write.
type Plan struct {
	// Root is the directory the paths are relative to.
	Root string
	// Files are the files whose content changes, sorted by path.
	Files []FileChange
	// Changes, Problems and Skipped gather those of every file, sorted by
	// file, then line.
	Changes  []Change
	Problems []Problem
	Skipped  []Skipped
}

// FileChange is the new content of one file.
type FileChange struct {
	Path    string      // relative to the root, with forward slashes
	Mode    fs.FileMode // when planned; Write keeps the mode the file has then
	Old     []byte
	New     []byte
	Changes []Change
}

// fileResult is what the pass over one file found.
type fileResult struct {
	change   *FileChange
	markers  []Marker
	problems []Problem
	skipped  []Skipped
	changes  []Change
}

// PlanDir applies t to every *.yaml and *.yml file under root, or under the
// given paths (relative to root, which they may not leave), and returns what
// would change without writing anything. Symbolic links are never followed
// and .git directories are skipped. Files are read concurrently, and only the
// contents of files that change are kept. A file that cannot be read is
// reported as a Problem; the error is for a root or path that cannot be
// walked at all.
func PlanDir(ctx context.Context, root string, paths []string, t Targets) (*Plan, error) {
	results, err := eachFile(ctx, root, paths, func(name string, src []byte, dir *os.Root) fileResult {
		res := Apply(name, src, t)
		fr := fileResult{problems: res.Problems, skipped: res.Skipped, changes: res.Changes}
		if res.Changed() {
			fi, err := dir.Lstat(path.Base(name))
			if err != nil {
				return fileResult{problems: []Problem{{File: name, Message: err.Error()}}}
			}
			fr.change = &FileChange{Path: name, Mode: fi.Mode(), Old: bytes.Clone(src), New: res.Out, Changes: res.Changes}
		}
		return fr
	})
	if err != nil {
		return nil, err
	}
	p := &Plan{Root: root}
	for _, r := range results {
		if r.change != nil {
			p.Files = append(p.Files, *r.change)
		}
		p.Changes = append(p.Changes, r.changes...)
		p.Problems = append(p.Problems, r.problems...)
		p.Skipped = append(p.Skipped, r.skipped...)
	}
	return p, nil
}

// ScanDir lists the markers in the same files PlanDir reads, with the
// problems that do not depend on which policies exist.
func ScanDir(ctx context.Context, root string, paths []string) ([]Marker, []Problem, error) {
	results, err := eachFile(ctx, root, paths, func(name string, src []byte, _ *os.Root) fileResult {
		m, p := Scan(name, src)
		return fileResult{markers: m, problems: p}
	})
	if err != nil {
		return nil, nil, err
	}
	var markers []Marker
	var problems []Problem
	for _, r := range results {
		markers = append(markers, r.markers...)
		problems = append(problems, r.problems...)
	}
	return markers, problems, nil
}

// ReferencesDir runs References on the same files PlanDir reads: a cheap
// superset of ScanDir's markers, to learn which policies a tree uses.
func ReferencesDir(ctx context.Context, root string, paths []string) ([]Marker, error) {
	results, err := eachFile(ctx, root, paths, func(name string, src []byte, _ *os.Root) fileResult {
		return fileResult{markers: References(name, src)}
	})
	if err != nil {
		return nil, err
	}
	var refs []Marker
	for _, r := range results {
		refs = append(refs, r.markers...)
	}
	return refs, nil
}

// ApplyDir is PlanDir followed by Write.
func ApplyDir(ctx context.Context, root string, paths []string, t Targets) (*Plan, error) {
	p, err := PlanDir(ctx, root, paths, t)
	if err != nil {
		return nil, err
	}
	return p, p.Write(ctx)
}

// Write writes the planned files. Each file is replaced atomically (a
// temporary file in the same directory, renamed over it) and keeps its mode;
// a file whose content is no longer the planned Old is not overwritten.
// Nothing is written when nothing changed. Files are not synced to disk: a
// killed process leaves either the old or the new content, never a mix.
func (p *Plan) Write(ctx context.Context) error {
	if len(p.Files) == 0 {
		return nil
	}
	r, err := os.OpenRoot(p.Root)
	if err != nil {
		return fmt.Errorf("writing planned files: %w", err)
	}
	defer r.Close()
	errs := make([]error, len(p.Files))
	err = parallel(ctx, len(p.Files), func(w *worker, i int) {
		f := &p.Files[i]
		dir, err := w.dir(r, path.Dir(f.Path))
		if err == nil {
			err = writeFile(dir, path.Base(f.Path), f)
		}
		if err != nil {
			errs[i] = fmt.Errorf("writing %s: %w", f.Path, err)
		}
	})
	return errors.Join(append(errs, err)...)
}

// writeFile replaces name in dir with f.New, if it still holds f.Old.
func writeFile(dir *os.Root, name string, f *FileChange) error {
	fi, err := dir.Lstat(name)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	cur, err := dir.ReadFile(name)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, f.Old) {
		return errors.New("the file changed since it was planned")
	}
	mode := fi.Mode().Perm()
	tmp := ".imagebump-" + name + "-" + strconv.FormatUint(rand.Uint64(), 36)
	w, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = w.Write(f.New)
	if err == nil {
		// OpenFile's mode is subject to the umask; keep the file's own.
		err = w.Chmod(mode)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = dir.Rename(tmp, name)
	}
	if err != nil {
		_ = dir.Remove(tmp)
	}
	return err
}

// eachFile runs fn on every YAML file under root (or under paths) that
// mentions $imagepolicy, concurrently, and returns the results in path
// order. fn gets the file's directory opened as a root.
func eachFile(ctx context.Context, root string, paths []string, fn func(name string, src []byte, dir *os.Root) fileResult) ([]fileResult, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", root, err)
	}
	defer r.Close()
	files, err := listFiles(ctx, r, paths)
	if err != nil {
		return nil, err
	}
	results := make([]fileResult, len(files))
	err = parallel(ctx, len(files), func(w *worker, i int) {
		name := files[i]
		dir, err := w.dir(r, path.Dir(name))
		var src []byte
		if err == nil {
			src, err = w.read(dir, path.Base(name))
		}
		if err != nil {
			results[i].problems = []Problem{{File: name, Message: "reading: " + err.Error()}}
			return
		}
		if bytes.Contains(src, markerBytes) {
			results[i] = fn(name, src, dir)
		}
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// worker is what one goroutine of parallel keeps from file to file: the
// directory it is in (files come in path order, so mostly from the same
// directory as the last one) and a read buffer, since most files are
// screened out by a byte search and never retained.
type worker struct {
	dirName string
	dirRoot *os.Root
	buf     []byte
}

// dir returns the directory name under r opened as a root of its own:
// opening a file in it then takes one system call instead of one per path
// element, and still cannot leave r.
func (w *worker) dir(r *os.Root, name string) (*os.Root, error) {
	if name == "." {
		return r, nil
	}
	if w.dirRoot != nil && w.dirName == name {
		return w.dirRoot, nil
	}
	w.close()
	d, err := r.OpenRoot(filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	w.dirName, w.dirRoot = name, d
	return d, nil
}

func (w *worker) close() {
	if w.dirRoot != nil {
		w.dirRoot.Close()
		w.dirRoot = nil
	}
}

// read reads the file name in dir into the worker's buffer. The directory
// walk lists regular files only; O_NOFOLLOW and O_NONBLOCK keep a file
// swapped since for a symlink or a FIFO from being followed or blocking.
func (w *worker) read(dir *os.Root, name string) ([]byte, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY|openNoFollow|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if w.buf == nil {
		w.buf = make([]byte, 0, 16<<10)
	}
	b := w.buf[:0]
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, len(b))
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	w.buf = b
	return b, nil
}

func listFiles(ctx context.Context, r *os.Root, paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	fsys := r.FS()
	var files []string
	for _, p := range paths {
		start, err := cleanPath(r, p)
		if err != nil {
			return nil, err
		}
		err = fs.WalkDir(fsys, start, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walking %s: %w", name, err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			switch {
			case d.IsDir() && d.Name() == ".git":
				return fs.SkipDir
			case d.Type().IsRegular() && isYAML(name):
				files = append(files, name)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// cleanPath checks that p names a directory or file inside the root reached
// without symbolic links, and returns it in io/fs form.
func cleanPath(r *os.Root, p string) (string, error) {
	clean := path.Clean(filepath.ToSlash(p))
	if !fs.ValidPath(clean) || !filepath.IsLocal(filepath.FromSlash(clean)) && clean != "." {
		return "", fmt.Errorf("path %q is not inside the root", p)
	}
	if clean == "." {
		return clean, nil
	}
	parts := strings.Split(clean, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fi, err := r.Lstat(filepath.FromSlash(prefix))
		if err != nil {
			return "", fmt.Errorf("path %q: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("path %q: %s is a symbolic link", p, prefix)
		}
	}
	return clean, nil
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// parallel calls fn(i) for i in [0, n) on at most GOMAXPROCS goroutines, each
// with a buffer of its own to reuse, and stops handing out work when ctx is
// done.

// parallel calls fn for i in [0, n) on at most GOMAXPROCS goroutines, each
// with a worker of its own, and stops handing out work when ctx is done.
func parallel(ctx context.Context, n int, fn func(w *worker, i int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var w worker
			defer w.close()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(&w, i)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}
