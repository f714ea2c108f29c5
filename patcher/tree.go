package patcher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sync"
	"unique"

	"github.com/imagebump/imagebump/problem"
)

// Tree is the YAML files of a directory tree (or of paths under it), read
// once: a pass learns which policies the markers use (References), then
// plans (Plan), without walking the tree twice. A Tree keeps no file's
// content, so that its memory follows the number of files, not their
// size: of each file that mentions $imagepolicy it keeps its markers as
// References finds them, what Plan needs to tell without parsing that the
// file is current (see Apply), and its length and SHA-256; of every file,
// its warnings. Scan, and Plan for a file that is not current, read the
// file again, and a file whose content is no longer what the tree read is
// a Problem of theirs, never scanned or planned: a Tree is what the disk
// held when it was read. Plan.Write checks each file against the disk
// once more before replacing it. A Tree is safe for concurrent use.
type Tree struct {
	root      string
	files     []treeFile        // in path order
	problems  []problem.Problem // directories that could not be read
	warnings  []Warning         // leftover temporary files
	leftovers []string
}

// treeFile is one YAML file of a Tree.
type treeFile struct {
	name     string
	marked   *markedFile // nil unless the file mentions $imagepolicy
	problem  *problem.Problem
	warnings []Warning
}

// markedFile is what a Tree keeps of a file that mentions $imagepolicy.
type markedFile struct {
	size    int64
	sum     [sha256.Size]byte
	refs    []ref
	summary summary
}

// ref is a Marker as References finds it, without the file's name.
type ref struct {
	line   int
	policy string
	field  Field
}

// intern makes the strings of m that repeat from file to file (policy
// names, values) share their memory with every other file's.
func (m *markedFile) intern() {
	for i := range m.refs {
		m.refs[i].policy = unique.Make(m.refs[i].policy).Value()
	}
	m.summary.markers = slices.Clip(m.summary.markers)
	for i := range m.summary.markers {
		q := &m.summary.markers[i]
		q.policy, q.value = unique.Make(q.policy).Value(), unique.Make(q.value).Value()
	}
}

// errChanged is the error of a file whose content is no longer what the
// tree read.
var errChanged = errors.New("the file changed on disk while the pass ran; it is not planned (run again)")

// ReadTree reads the files PlanDir would read: every *.yaml and *.yml file
// under root, or under the given paths (relative to root, which they may
// not leave), never following symbolic links and skipping .git
// directories. A file or directory that cannot be read becomes a Problem
// of Plan and Scan; the error is for a root or path that cannot be walked
// at all.
//
// A file larger than the size bound (WithMaxFileSize) is never read whole:
// it is a Problem when it mentions imagepolicy, and passed over otherwise.
func ReadTree(ctx context.Context, root string, paths []string, opts ...Option) (*Tree, error) {
	return readTree(ctx, root, paths, true, newOptions(opts))
}

// readTree is ReadTree; without lint, files are not linted and leftover
// temporary files are not warned about, for References alone.
func readTree(ctx context.Context, root string, paths []string, lint bool, o options) (*Tree, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", root, err)
	}
	defer r.Close()
	l, err := listFiles(ctx, r, paths)
	if err != nil {
		return nil, err
	}
	t := &Tree{root: root, files: make([]treeFile, len(l.files)), problems: l.problems, leftovers: l.leftovers}
	if lint {
		for _, name := range l.leftovers {
			t.warnings = append(t.warnings, Warning{File: name, Message: "temporary file left by an interrupted apply; the next apply removes it"})
		}
	}
	err = parallel(ctx, len(l.files), func(wk *worker, i int) {
		name := l.files[i]
		f := &t.files[i]
		f.name = name
		dir, err := wk.dir(r, path.Dir(name))
		var src []byte
		var large *tooLarge
		if err == nil {
			src, large, err = wk.read(dir, path.Base(name), o.maxFileSize)
		}
		if err != nil {
			f.problem = &problem.Problem{File: name, Message: "reading: " + err.Error()}
			return
		}
		if large != nil {
			if large.mentions {
				f.problem = &problem.Problem{File: name, Message: large.problem(o.maxFileSize)}
			}
			return
		}
		if bytes.Contains(src, markerBytes) {
			m := &markedFile{size: int64(len(src)), sum: sha256.Sum256(src), summary: summarize(src)}
			for _, r := range References(name, src) {
				m.refs = append(m.refs, ref{line: r.Line, policy: r.Policy, field: r.Field})
			}
			m.intern()
			f.marked = m
		}
		if lint {
			f.warnings = Lint(name, src)
		}
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Root is the directory the tree's paths are relative to.
func (t *Tree) Root() string { return t.root }

// References runs References on every file of the tree: a cheap superset
// of Scan's markers, to learn which policies the tree uses. Files that
// could not be read are left out; Plan reports them.
func (t *Tree) References() []Marker {
	var refs []Marker
	for _, f := range t.files {
		if f.marked != nil {
			for _, r := range f.marked.refs {
				refs = append(refs, Marker{File: f.name, Line: r.line, Policy: r.policy, Field: r.field})
			}
		}
	}
	return refs
}

// Scan lists the markers of the tree, with the problems that do not depend
// on which policies exist, and the warnings. It reads every marked file
// again.
func (t *Tree) Scan() *ScanResult {
	r := t.opener()
	defer r.close()
	// Without a context to stop it, each cannot fail.
	w, _ := t.each(context.Background(), func(wk *worker, f *treeFile) fileResult {
		src, _, err := t.reread(wk, r, f)
		if err != nil {
			return fileResult{problems: []problem.Problem{{File: f.name, Message: err.Error()}}}
		}
		m, p := Scan(f.name, src)
		return fileResult{markers: m, problems: p}
	})
	s := &ScanResult{}
	for _, r := range w.files {
		s.Markers = append(s.Markers, r.markers...)
	}
	s.Problems, s.Warnings = w.problemsAndWarnings()
	return s
}

// Plan applies targets to the tree's files and returns what would change,
// as PlanDir does. A file that is current (see Apply) is not read again;
// any other marked file is. The mode of a changed file is the one it has
// on disk then. It may be called more than once, with different targets.
func (t *Tree) Plan(ctx context.Context, targets Targets) (*Plan, error) {
	r := t.opener()
	defer r.close()
	w, err := t.each(ctx, func(wk *worker, f *treeFile) fileResult {
		if f.marked.summary.current(targets) {
			return fileResult{}
		}
		src, mode, err := t.reread(wk, r, f)
		if err != nil {
			return fileResult{problems: []problem.Problem{{File: f.name, Message: err.Error()}}}
		}
		res, _ := applyParsed(f.name, src, targets)
		fr := fileResult{problems: res.Problems, skipped: res.Skipped, changes: res.Changes}
		if res.Changed() {
			// src is the worker's buffer, reused for the next file.
			fr.change = &FileChange{Path: f.name, Mode: mode, Old: bytes.Clone(src), New: res.Out, Changes: res.Changes}
		}
		return fr
	})
	if err != nil {
		return nil, err
	}
	p := &Plan{Root: t.root, Leftovers: w.leftovers}
	for _, r := range w.files {
		if r.change != nil {
			p.Files = append(p.Files, *r.change)
		}
		p.Changes = append(p.Changes, r.changes...)
		p.Skipped = append(p.Skipped, r.skipped...)
	}
	p.Problems, p.Warnings = w.problemsAndWarnings()
	return p, nil
}

// reread reads the marked file f again through wk, with its mode now, and
// checks that it is what the tree read. The content is wk's buffer: it
// is valid until wk reads another file.
func (t *Tree) reread(wk *worker, r *opener, f *treeFile) ([]byte, fs.FileMode, error) {
	root, err := r.open()
	if err != nil {
		return nil, 0, err
	}
	dir, err := wk.dir(root, path.Dir(f.name))
	if err != nil {
		return nil, 0, fmt.Errorf("reading: %w", err)
	}
	m := f.marked
	src, mode, err := wk.reread(dir, path.Base(f.name), m.size)
	switch {
	case errors.Is(err, errChanged):
		return nil, 0, err
	case err != nil:
		return nil, 0, fmt.Errorf("reading: %w", err)
	case int64(len(src)) != m.size || sha256.Sum256(src) != m.sum:
		return nil, 0, errChanged
	}
	return src, mode, nil
}

// opener opens a tree's root once, when a file is first read again: a
// plan with nothing to do touches no disk.
type opener struct {
	root string
	once sync.Once
	r    *os.Root
	err  error
}

func (t *Tree) opener() *opener { return &opener{root: t.root} }

func (o *opener) open() (*os.Root, error) {
	o.once.Do(func() {
		o.r, o.err = os.OpenRoot(o.root)
		if o.err != nil {
			o.err = fmt.Errorf("opening %s: %w", o.root, o.err)
		}
	})
	return o.r, o.err
}

func (o *opener) close() {
	if o.r != nil {
		o.r.Close()
	}
}

// each runs fn on every marked file of the tree, concurrently, and gathers
// the results in path order with the tree's problems and warnings.
func (t *Tree) each(ctx context.Context, fn func(w *worker, f *treeFile) fileResult) (walkResult, error) {
	// A result for each file that has one, in path order: a pointer per
	// file, not a result, so that a tree of files with nothing to say
	// costs little.
	results := make([]*fileResult, len(t.files))
	err := parallel(ctx, len(t.files), func(wk *worker, i int) {
		f := &t.files[i]
		var r fileResult
		switch {
		case f.problem != nil:
			r.problems = []problem.Problem{*f.problem}
		case f.marked != nil:
			r = fn(wk, f)
			r.warnings = f.warnings
		default:
			r.warnings = f.warnings
		}
		if !r.empty() {
			results[i] = &r
		}
	})
	if err != nil {
		return walkResult{}, err
	}
	w := walkResult{problems: t.problems, warnings: t.warnings, leftovers: t.leftovers}
	for _, r := range results {
		if r != nil {
			w.files = append(w.files, *r)
		}
	}
	return w, nil
}
