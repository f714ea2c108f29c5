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
	"unicode"

	"github.com/imagebump/imagebump/problem"
)

// Plan is the outcome of PlanDir: what applying the targets to a directory
// tree would change. Nothing has been written yet; see Write.
type Plan struct {
	// Root is the directory the paths are relative to.
	Root string
	// Files are the files whose content changes, sorted by path.
	Files []FileChange
	// Changes, Problems, Skipped and Warnings gather those of every file
	// and of the walk itself, sorted by file, then line.
	Changes  []Change
	Problems []problem.Problem
	Skipped  []Skipped
	Warnings []Warning
	// Leftovers are the temporary files an interrupted Write left behind
	// (named as IsTemporary says), sorted; the next Write removes them.
	Leftovers []string
}

// FileChange is the new content of one file. Old is the content it was
// planned from.
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
	problems []problem.Problem
	skipped  []Skipped
	changes  []Change
	warnings []Warning
}

func (r *fileResult) empty() bool {
	return r.change == nil && len(r.markers) == 0 && len(r.problems) == 0 && len(r.skipped) == 0 && len(r.changes) == 0 && len(r.warnings) == 0
}

// walkResult is what Tree.each found: the result of each file that has
// one, in path order, and what the walk itself met.
type walkResult struct {
	files     []fileResult
	problems  []problem.Problem // directories that could not be read
	warnings  []Warning         // leftover temporary files
	leftovers []string
}

// problemsAndWarnings merges the walk's problems and warnings with those of
// the files, sorted by file, then line.
func (w walkResult) problemsAndWarnings() ([]problem.Problem, []Warning) {
	problems, warnings := slices.Clone(w.problems), slices.Clone(w.warnings)
	for _, r := range w.files {
		problems = append(problems, r.problems...)
		warnings = append(warnings, r.warnings...)
	}
	slices.SortStableFunc(problems, func(a, b problem.Problem) int { return cmpPos(a.File, a.Line, b.File, b.Line) })
	slices.SortStableFunc(warnings, func(a, b Warning) int { return cmpPos(a.File, a.Line, b.File, b.Line) })
	return problems, warnings
}

func cmpPos(fileA string, lineA int, fileB string, lineB int) int {
	if c := strings.Compare(fileA, fileB); c != 0 {
		return c
	}
	return lineA - lineB
}

// PlanDir applies t to every *.yaml and *.yml file under root, or under the
// given paths (relative to root, which they may not leave), and returns what
// would change without writing anything. Symbolic links are never followed
// and .git directories are skipped. Files are read concurrently, and the
// plan keeps only the contents of files that change. A file or directory
// that cannot be read is reported as a Problem and the rest is planned; the
// error is for a root or path that cannot be walked at all. It is ReadTree
// followed by Tree.Plan.
func PlanDir(ctx context.Context, root string, paths []string, t Targets, opts ...Option) (*Plan, error) {
	tree, err := ReadTree(ctx, root, paths, opts...)
	if err != nil {
		return nil, err
	}
	return tree.Plan(ctx, t)
}

// ScanResult is what ScanDir found.
type ScanResult struct {
	Markers  []Marker
	Problems []problem.Problem // that do not depend on which policies exist
	Warnings []Warning
}

// ScanDir lists the markers in the same files PlanDir reads, with the
// problems that do not depend on which policies exist, and the warnings.
func ScanDir(ctx context.Context, root string, paths []string, opts ...Option) (*ScanResult, error) {
	tree, err := ReadTree(ctx, root, paths, opts...)
	if err != nil {
		return nil, err
	}
	return tree.Scan(), nil
}

// ReferencesDir runs References on the same files PlanDir reads: a cheap
// superset of ScanDir's markers, to learn which policies a tree uses.
// Files and directories that cannot be read are skipped: PlanDir reports
// them.
func ReferencesDir(ctx context.Context, root string, paths []string, opts ...Option) ([]Marker, error) {
	tree, err := readTree(ctx, root, paths, false, newOptions(opts))
	if err != nil {
		return nil, err
	}
	return tree.References(), nil
}

// ApplyDir is PlanDir followed by Write.
func ApplyDir(ctx context.Context, root string, paths []string, t Targets, opts ...Option) (*Plan, error) {
	p, err := PlanDir(ctx, root, paths, t, opts...)
	if err != nil {
		return nil, err
	}
	_, err = p.Write(ctx)
	return p, err
}

// WriteResult is what Write did with one planned file.
type WriteResult struct {
	Path string // as in FileChange
	// Err is nil when the file was written. Otherwise the file was left as
	// it was, and Err says why; it wraps ErrInterrupted when the context
	// was done before the file's turn came.
	Err error
}

// ErrInterrupted is wrapped by the WriteResult.Err of a file Write did not
// start on because its context was done.
var ErrInterrupted = errors.New("interrupted before it was written")

// Write removes the Leftovers and writes the planned files, and returns a
// result for each file, in the order of Files. Each file is replaced
// atomically (a temporary file in the same directory, renamed over it) and
// keeps its mode; on Linux the temporary file is, where it can be, the
// inode an earlier rename of the pass replaced (see writeFile). A file
// whose content is no longer the planned Old is not overwritten. A file
// that cannot be written does not stop the others, but once ctx is done no
// further file is started. The error joins every
// failure; it is nil when every file was written. Files are not synced to
// disk: a killed process leaves either the old or the new content, never a
// mix, and at most a temporary file that the next Write removes.
func (p *Plan) Write(ctx context.Context) ([]WriteResult, error) {
	results := make([]WriteResult, len(p.Files))
	for i, f := range p.Files {
		results[i].Path = f.Path
	}
	if len(p.Files) == 0 && len(p.Leftovers) == 0 {
		return results, nil
	}
	r, err := os.OpenRoot(p.Root)
	if err != nil {
		for i := range results {
			results[i].Err = err
		}
		return results, fmt.Errorf("writing planned files: %w", err)
	}
	defer r.Close()
	var errs []error
	for _, name := range p.Leftovers {
		if err := removeLeftover(r, name); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", name, err))
		}
	}
	started := make([]bool, len(p.Files))
	_ = parallel(ctx, len(p.Files), func(w *worker, i int) {
		started[i] = true
		f := &p.Files[i]
		w.root = r
		dirName := path.Dir(f.Path)
		dir, err := w.dir(r, dirName)
		if err == nil {
			err = w.writeFile(dir, dirName, path.Base(f.Path), f)
		}
		results[i].Err = err
	})
	for i := range results {
		if !started[i] {
			results[i].Err = fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		}
		if results[i].Err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", results[i].Path, results[i].Err))
		}
	}
	return results, errors.Join(errs...)
}

const (
	tempPrefix = ".imagebump-"
	tempSuffix = ".tmp"
	tempDigits = 16 // lowercase hex
)

// IsTemporary reports whether a file name (without directory) is one Write
// gives its temporary files: ".imagebump-" followed by 16 lowercase hex
// digits and ".tmp". Such a file outside a running Write was left by a
// killed process; it is never a manifest and never worth committing.
func IsTemporary(name string) bool {
	hex, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	hex, ok = strings.CutSuffix(hex, tempSuffix)
	if !ok || len(hex) != tempDigits {
		return false
	}
	return strings.IndexFunc(hex, func(c rune) bool { return !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') }) < 0
}

func tempName() string {
	return fmt.Sprintf("%s%0*x%s", tempPrefix, tempDigits, rand.Uint64(), tempSuffix)
}

// removeLeftover removes the temporary file name, if it is still one.
func removeLeftover(r *os.Root, name string) error {
	native := filepath.FromSlash(name)
	fi, err := r.Lstat(native)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || !IsTemporary(fi.Name()) {
		return nil
	}
	err = r.Remove(native)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// writeFile replaces the file dirName/name, open as dir, with f.New, if it
// still holds f.Old: it writes f.New to a temporary file in dir and
// renames that over name. Where the platform allows (see reusable), the
// inode being replaced is kept, by a hard link under a new temporary name,
// as the temporary file of the worker's next write, moved to that write's
// directory when it is another: a write pass then allocates about one
// inode per worker instead of one per file, which on some file systems
// costs more than everything else a write does.
func (w *worker) writeFile(dir *os.Root, dirName, name string, f *FileChange) error {
	fi, err := dir.Lstat(name)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	// At most one byte more than planned: enough to tell a change, and
	// bounded whatever the file has become.
	cur, err := readAtMost(dir, name, int64(len(f.Old))+1)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, f.Old) {
		return errors.New("the file changed since it was planned")
	}
	mode := fi.Mode().Perm()
	tmp, out, err := w.temp(dir, dirName, fi)
	if err != nil {
		return err
	}
	_, err = out.WriteAt(f.New, 0)
	if err == nil {
		// A reused inode may hold more than f.New.
		err = out.Truncate(int64(len(f.New)))
	}
	if err == nil {
		// OpenFile's mode is subject to the umask, and a reused inode
		// has another file's: keep this file's own.
		err = out.Chmod(mode)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = dir.Remove(tmp)
		return err
	}
	next := ""
	if recycleInodes && !w.noLink {
		next = tempName()
		if dir.Link(name, next) != nil {
			// No hard links here (or the file went): create
			// temporary files from now on.
			next, w.noLink = "", true
		}
	}
	if err := dir.Rename(tmp, name); err != nil {
		_ = dir.Remove(tmp)
		if next != "" {
			_ = dir.Remove(next)
		}
		return err
	}
	if next != "" {
		w.spare = path.Join(dirName, next)
	}
	return nil
}

// temp returns a temporary file in dir (dirName under the worker's root),
// open for writing, for a write that replaces target: the worker's spare
// inode, moved into dir, when reusable says it carries nothing of its
// former file but bytes; a new file otherwise.
func (w *worker) temp(dir *os.Root, dirName string, target fs.FileInfo) (string, *os.File, error) {
	if spare := w.spare; spare != "" {
		w.spare = ""
		name := path.Base(spare)
		if path.Dir(spare) != dirName {
			name = tempName()
			if w.root.Rename(filepath.FromSlash(spare), filepath.FromSlash(path.Join(dirName, name))) != nil {
				_ = w.root.Remove(filepath.FromSlash(spare))
				name = ""
			}
		}
		if name != "" {
			f, err := dir.OpenFile(name, os.O_WRONLY|openNoFollow|openNonBlock, 0)
			if err == nil {
				if reusable(f, target) {
					return name, f, nil
				}
				f.Close()
			}
			// Another link to it (or whatever it became) is left
			// alone; only this name goes.
			_ = dir.Remove(name)
		}
	}
	name := tempName()
	f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, target.Mode().Perm())
	return name, f, err
}

// readAtMost reads up to n bytes of the file name in dir.
func readAtMost(dir *os.Root, name string, n int64) ([]byte, error) {
	r, err := dir.OpenFile(name, os.O_RDONLY|openNoFollow|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, n))
}

// worker is what one goroutine of parallel keeps from file to file: the
// directory it is in (files come in path order, so mostly from the same
// directory as the last one), a read buffer, since most files are screened
// out by a byte search and never retained, and when writing, the inode its
// last write replaced (see writeFile).
type worker struct {
	dirName string
	dirRoot *os.Root
	buf     []byte
	// root is the tree a write pass writes, and spare a temporary file
	// in it (a slash-separated path), the inode the worker's last write
	// replaced, or "". noLink is set once a hard link failed.
	root   *os.Root
	spare  string
	noLink bool
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
	w.closeDir()
	d, err := r.OpenRoot(filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	w.dirName, w.dirRoot = name, d
	return d, nil
}

// close closes the worker's directory and removes its spare inode, if it
// has one. Should that fail, the next Write removes it as a leftover.
func (w *worker) close() {
	if w.spare != "" {
		_ = w.root.Remove(filepath.FromSlash(w.spare))
		w.spare = ""
	}
	w.closeDir()
}

// closeDir closes the worker's directory; its spare inode, if any, stays
// for a write in the next one.
func (w *worker) closeDir() {
	if w.dirRoot != nil {
		w.dirRoot.Close()
		w.dirRoot = nil
	}
}

// read reads the file name in dir into the worker's buffer. The directory
// walk lists regular files only; O_NOFOLLOW and O_NONBLOCK keep a file
// swapped since for a symlink or a FIFO from being followed or blocking.
// A file larger than limit is not kept: read scans it in pieces and
// returns what it found as a *tooLarge instead.
func (w *worker) read(dir *os.Root, name string, limit int64) ([]byte, *tooLarge, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY|openNoFollow|openNonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, 16<<10)
	}
	if fi.Size() > limit {
		large, err := scanLarge(f, w.buf[:cap(w.buf)])
		return nil, large, err
	}
	// The file may have grown since: read at most one byte more than the
	// limit, and scan the rest if there is any.
	lr := io.LimitReader(f, limit+1)
	b := w.buf[:0]
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(len(b), int(limit+1)-len(b)))
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	w.buf = b
	if int64(len(b)) > limit {
		large, err := scanLarge(io.MultiReader(bytes.NewReader(b), f), nil)
		return nil, large, err
	}
	return b, nil, nil
}

// reread reads the file name in dir again, into the worker's buffer, for a
// Tree that read it when it was size bytes long: its content, at most one
// byte more than size, and its mode. A file that is no longer a regular
// file of that size is errChanged, and not read.
func (w *worker) reread(dir *os.Root, name string, size int64) ([]byte, fs.FileMode, error) {
	f, err := dir.OpenFile(name, os.O_RDONLY|openNoFollow|openNonBlock, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return nil, 0, errChanged
	}
	b := slices.Grow(w.buf[:0], int(size)+1)
	for {
		n, err := f.Read(b[len(b):min(cap(b), int(size)+1)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) || len(b) > int(size) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	w.buf = b
	return b, fi.Mode(), nil
}

// listing is what listFiles found.
type listing struct {
	files     []string          // YAML files, sorted
	leftovers []string          // temporary files of a killed Write, sorted
	problems  []problem.Problem // directories that could not be read
}

// listFiles walks paths (the whole root when empty). A directory below a
// path that cannot be read is a Problem, and the walk goes on without it; a
// path that cannot be walked at all is an error.
func listFiles(ctx context.Context, r *os.Root, paths []string) (listing, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	fsys := r.FS()
	var l listing
	for _, p := range paths {
		start, err := cleanPath(r, p)
		if err != nil {
			return listing{}, err
		}
		err = fs.WalkDir(fsys, start, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				if name == start {
					return fmt.Errorf("walking %s: %w", name, err)
				}
				// Called a second time for a directory whose entries
				// could not be read: skip it, say so.
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				l.problems = append(l.problems, problem.Problem{File: name, Message: "cannot read directory: " + err.Error()})
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if hasControl(d.Name()) && (d.IsDir() || isYAML(name)) {
				// git checks such a path out, but it cannot be shown
				// as it is, and git hosts and tools choke on it: the
				// file (or the directory) is a problem of its own.
				what := "file"
				if d.IsDir() {
					what = "directory"
				}
				l.problems = append(l.problems, problem.Problem{File: escapePath(name), Message: fmt.Sprintf("the %s's name has a control character; it is not read", what)})
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			switch {
			case d.IsDir() && d.Name() == ".git":
				return fs.SkipDir
			case !d.Type().IsRegular():
			case isYAML(name):
				l.files = append(l.files, name)
			case IsTemporary(d.Name()):
				l.leftovers = append(l.leftovers, name)
			}
			return nil
		})
		if err != nil {
			return listing{}, err
		}
	}
	slices.Sort(l.files)
	l.files = slices.Compact(l.files)
	slices.Sort(l.leftovers)
	l.leftovers = slices.Compact(l.leftovers)
	slices.SortStableFunc(l.problems, func(a, b problem.Problem) int { return strings.Compare(a.File, b.File) })
	l.problems = slices.CompactFunc(l.problems, func(a, b problem.Problem) bool { return a.File == b.File })
	return l, nil
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

// hasControl reports whether name has a control character: C0, DEL or
// C1.
func hasControl(name string) bool {
	return strings.ContainsFunc(name, unicode.IsControl)
}

// escapePath is name fit for a line of output: control characters and
// bytes that are not UTF-8 escaped as Go would quote them.
func escapePath(name string) string {
	q := strconv.Quote(name)
	return q[1 : len(q)-1]
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

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
