package patcher

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/imagebump/imagebump/problem"
)

// Tree is the YAML files of a directory tree (or of paths under it), read
// once: a pass learns which policies the markers use (References), then
// plans (Plan), without walking and reading the tree twice. Only the
// contents of files that mention $imagepolicy are kept, with the warnings
// of every file; a 5,000-file tree takes a few megabytes at most. A Tree
// is what the disk held when it was read: Plan does not read files again,
// but Plan.Write still checks each file against the disk before replacing
// it. A Tree is safe for concurrent use.
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
	src      []byte // nil unless the file mentions $imagepolicy
	problem  *problem.Problem
	warnings []Warning
}

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
			// Never nil, even when empty: nil means unmarked.
			f.src = append(make([]byte, 0, len(src)), src...)
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
		if f.src != nil {
			refs = append(refs, References(f.name, f.src)...)
		}
	}
	return refs
}

// Scan lists the markers of the tree, with the problems that do not depend
// on which policies exist, and the warnings.
func (t *Tree) Scan() *ScanResult {
	// Without a context to stop it, each cannot fail.
	w, _ := t.each(context.Background(), func(f *treeFile) fileResult {
		m, p := Scan(f.name, f.src)
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
// as PlanDir does, without reading them again. The mode of a changed file
// is the one it has on disk now. It may be called more than once, with
// different targets.
func (t *Tree) Plan(ctx context.Context, targets Targets) (*Plan, error) {
	w, err := t.each(ctx, func(f *treeFile) fileResult {
		res := Apply(f.name, f.src, targets)
		fr := fileResult{problems: res.Problems, skipped: res.Skipped, changes: res.Changes}
		if res.Changed() {
			// Old is the tree's own copy, not another: a write pass
			// then holds each changed file twice (old and new), not
			// three times. Capped, so an append cannot reach the tree.
			fr.change = &FileChange{Path: f.name, Old: slices.Clip(f.src), New: res.Out, Changes: res.Changes}
		}
		return fr
	})
	if err != nil {
		return nil, err
	}
	if err := t.modes(w.files); err != nil {
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

// modes sets the Mode of every planned change from the disk; a file that
// cannot be stat'ed any more is a problem instead of a change.
func (t *Tree) modes(files []fileResult) error {
	var r *os.Root
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	for i := range files {
		fr := &files[i]
		if fr.change == nil {
			continue
		}
		if r == nil {
			var err error
			if r, err = os.OpenRoot(t.root); err != nil {
				return fmt.Errorf("opening %s: %w", t.root, err)
			}
		}
		fi, err := r.Lstat(filepath.FromSlash(fr.change.Path))
		if err != nil {
			*fr = fileResult{problems: []problem.Problem{{File: fr.change.Path, Message: err.Error()}}, warnings: fr.warnings}
			continue
		}
		fr.change.Mode = fi.Mode()
	}
	return nil
}

// each runs fn on every marked file of the tree, concurrently, and gathers
// the results in path order with the tree's problems and warnings.
func (t *Tree) each(ctx context.Context, fn func(f *treeFile) fileResult) (walkResult, error) {
	w := walkResult{files: make([]fileResult, len(t.files)), problems: t.problems, warnings: t.warnings, leftovers: t.leftovers}
	err := parallel(ctx, len(t.files), func(_ *worker, i int) {
		f := &t.files[i]
		if f.problem != nil {
			w.files[i].problems = []problem.Problem{*f.problem}
			return
		}
		if f.src != nil {
			w.files[i] = fn(f)
		}
		w.files[i].warnings = f.warnings
	})
	if err != nil {
		return walkResult{}, err
	}
	return w, nil
}
