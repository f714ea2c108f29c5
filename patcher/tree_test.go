package patcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

// twoWalks is what a pass learned before Tree, spelled out naively as the
// oracle for TestTreeMatchesTwoWalks: one walk with os.ReadFile for
// References, another for the plan, each file on its own.
func twoWalks(t *testing.T, root string, targets Targets) ([]Marker, *Plan, *ScanResult) {
	t.Helper()
	var files, leftovers []string
	var walkProblems []problem.Problem
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		name := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(p, root), string(filepath.Separator)))
		if name == "" {
			name = "."
		}
		if err != nil {
			if name == "." {
				return err
			}
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			walkProblems = append(walkProblems, problem.Problem{File: name, Message: "cannot read directory: " + err.Error()})
			return nil
		}
		switch {
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case !d.Type().IsRegular():
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			files = append(files, name)
		case IsTemporary(d.Name()):
			leftovers = append(leftovers, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	slices.Sort(leftovers)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("the oracle reads only readable files: %v", err)
		}
		return b
	}

	var refs []Marker
	for _, name := range files {
		refs = append(refs, References(name, read(name))...)
	}

	plan := &Plan{Root: root, Leftovers: leftovers}
	scan := &ScanResult{}
	problems := slices.Clone(walkProblems)
	var warnings []Warning
	for _, name := range leftovers {
		warnings = append(warnings, Warning{File: name, Message: "temporary file left by an interrupted apply; the next apply removes it"})
	}
	scanProblems := slices.Clone(problems)
	for _, name := range files {
		src := read(name)
		warnings = append(warnings, Lint(name, src)...)
		if !bytes.Contains(src, markerBytes) {
			continue
		}
		m, p := Scan(name, src)
		scan.Markers = append(scan.Markers, m...)
		scanProblems = append(scanProblems, p...)
		res := Apply(name, src, targets)
		plan.Changes = append(plan.Changes, res.Changes...)
		plan.Skipped = append(plan.Skipped, res.Skipped...)
		problems = append(problems, res.Problems...)
		if res.Changed() {
			fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			plan.Files = append(plan.Files, FileChange{Path: name, Mode: fi.Mode(), Old: src, New: res.Out, Changes: res.Changes})
		}
	}
	byPos := func(a, b problem.Problem) int { return cmpPos(a.File, a.Line, b.File, b.Line) }
	slices.SortStableFunc(problems, byPos)
	slices.SortStableFunc(scanProblems, byPos)
	slices.SortStableFunc(warnings, func(a, b Warning) int { return cmpPos(a.File, a.Line, b.File, b.Line) })
	plan.Problems, plan.Warnings = problems, warnings
	scan.Problems, scan.Warnings = scanProblems, slices.Clone(warnings)
	return refs, plan, scan
}

// treeCases are the test trees TestTreeMatchesTwoWalks runs on: the golden
// inputs, the corpus, and a tree of the walk's corner cases.
func treeCases(t *testing.T) map[string]string {
	t.Helper()
	cases := map[string]string{"corpus": "testdata/corpus"}
	golden, err := filepath.Glob("testdata/golden/*/input")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range golden {
		cases[filepath.Base(filepath.Dir(dir))] = dir
	}
	corners := filetree.Write(t, map[string]string{
		"a.yaml":                              marked,
		"b.yml":                               marked,
		"unmarked.yaml":                       "image: ghcr.io/acme/web:1.0.0\n",
		"current.yaml":                        "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		"unknown.yaml":                        "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"nope\"}\n",
		"down.yaml":                           "image: ghcr.io/acme/web:9.0.0 # {\"$imagepolicy\": \"web\"}\n",
		"case.yml":                            "image: r:1 # {\"$imagePolicy\": \"web\"}\n",
		"u16.yaml":                            utf16LE("\ufeffimage: r:1 # {\"$imagepolicy\": \"web\"}\n", false),
		"z/after.yaml":                        marked + "x: 1 # {\"$imagepolicy\": \"web\"} later\n",
		"notes.md":                            marked,
		".git/config.yaml":                    marked,
		"sub/.git/x.yaml":                     marked,
		"sub/deep/d.yaml":                     marked,
		"sub/.imagebump-0123456789abcdef.tmp": "partial",
		".imagebump-fedcba9876543210.tmp":     "partial",
	})
	must(t, os.Chmod(filepath.Join(corners, "b.yml"), 0o600))
	must(t, os.Symlink("a.yaml", filepath.Join(corners, "link.yaml")))
	must(t, os.Symlink("sub", filepath.Join(corners, "linkdir")))
	cases["corners"] = corners
	return cases
}

// TestTreeMatchesTwoWalks checks that reading a tree once and asking it for
// References, Plan and Scan gives what walking and reading it for each
// gave, file by file, on every test tree.
func TestTreeMatchesTwoWalks(t *testing.T) {
	for name, dir := range treeCases(t) {
		t.Run(name, func(t *testing.T) {
			compareTree(t, dir, testTargets())
		})
	}
}

func compareTree(t *testing.T, root string, targets Targets) {
	t.Helper()
	ctx := context.Background()
	wantRefs, wantPlan, wantScan := twoWalks(t, root, targets)
	tree, err := ReadTree(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{cmpopts.EquateEmpty()}
	if diff := cmp.Diff(wantRefs, tree.References(), opts); diff != "" {
		t.Errorf("References (-want +got):\n%s", diff)
	}
	// Planned twice: a Tree plans each group of policies of a pass.
	for range 2 {
		plan, err := tree.Plan(ctx, targets)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantPlan, plan, opts); diff != "" {
			t.Errorf("Plan (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(wantScan, tree.Scan(), opts); diff != "" {
		t.Errorf("Scan (-want +got):\n%s", diff)
	}
	// The wrappers agree too.
	refs, err := ReferencesDir(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRefs, refs, opts); diff != "" {
		t.Errorf("ReferencesDir (-want +got):\n%s", diff)
	}
	plan, err := PlanDir(ctx, root, nil, targets)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantPlan, plan, opts); diff != "" {
		t.Errorf("PlanDir (-want +got):\n%s", diff)
	}
}

// TestTreePlanChecksDisk checks that a Tree is a snapshot of contents
// that keeps none of them: Plan reads a marked file again, takes its mode
// from the disk as it is then, and reports a file edited since the tree
// was read as a problem instead of planning it; Scan does the same; and
// Write refuses a file edited since it was planned.
func TestTreePlanChecksDisk(t *testing.T) {
	ctx := context.Background()
	root := filetree.Write(t, map[string]string{"a.yaml": marked, "b.yaml": marked, "c.yaml": marked})
	tree, err := ReadTree(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Chmod(filepath.Join(root, "a.yaml"), 0o600))
	// Same length, other bytes: only the checksum tells.
	edited := strings.Replace(marked, "1.0.0", "1.0.1", 1)
	if len(edited) != len(marked) || edited == marked {
		t.Fatalf("the edit must keep the length and change the content: %q", edited)
	}
	must(t, os.WriteFile(filepath.Join(root, "b.yaml"), []byte(edited), 0o644))
	plan, err := tree.Plan(ctx, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]fs.FileMode{}
	for _, f := range plan.Files {
		modes[f.Path] = f.Mode.Perm()
	}
	if diff := cmp.Diff(map[string]fs.FileMode{"a.yaml": 0o600, "c.yaml": 0o644}, modes); diff != "" {
		t.Errorf("planned modes (-want +got):\n%s", diff)
	}
	wantProblems := []problem.Problem{{File: "b.yaml", Message: errChanged.Error()}}
	if diff := cmp.Diff(wantProblems, plan.Problems); diff != "" {
		t.Errorf("Plan problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantProblems, tree.Scan().Problems); diff != "" {
		t.Errorf("Scan problems (-want +got):\n%s", diff)
	}

	// Edited after the plan: Write leaves it and writes the others.
	must(t, os.WriteFile(filepath.Join(root, "c.yaml"), []byte(edited), 0o644))
	results, err := plan.Write(ctx)
	if err == nil {
		t.Fatal("Write over a file edited since it was planned succeeded")
	}
	got := map[string]string{}
	for _, r := range results {
		got[r.Path] = "written"
		if r.Err != nil {
			got[r.Path] = r.Err.Error()
		}
	}
	if diff := cmp.Diff(map[string]string{"a.yaml": "written", "c.yaml": "the file changed since it was planned"}, got); diff != "" {
		t.Errorf("Write results (-want +got):\n%s", diff)
	}
	for _, name := range []string{"b.yaml", "c.yaml"} {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != edited {
			t.Errorf("%s = %q, %v; want the hand edit kept", name, b, err)
		}
	}
}

// TestTreeKeepsNoContent checks that a Tree does not hold the contents of
// the files it read: its memory follows their number, not their size.
func TestTreeKeepsNoContent(t *testing.T) {
	const files = 40
	big := marked + "# " + strings.Repeat("x", 256<<10) + "\n"
	tree := map[string]string{}
	for i := range files {
		tree[fmt.Sprintf("f%02d.yaml", i)] = big
	}
	root := filetree.Write(t, tree)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tr, err := ReadTree(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	if grew, read := int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(files*len(big)); grew > read/10 {
		t.Errorf("the heap holds %d bytes more with a tree of %d bytes of files read", grew, read)
	}
	if n := len(tr.References()); n != files {
		t.Errorf("the tree kept %d references, want %d", n, files)
	}
}

// TestTreePlanCanceled checks that planning a tree stops with the context.
func TestTreePlanCanceled(t *testing.T) {
	tree, err := ReadTree(context.Background(), filetree.Write(t, map[string]string{"a.yaml": marked}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tree.Plan(ctx, testTargets()); !errors.Is(err, context.Canceled) {
		t.Errorf("Plan with a canceled context: %v, want context.Canceled", err)
	}
}
