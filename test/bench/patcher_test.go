package bench

import (
	"context"
	"testing"

	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/test/bench/internal/patchertree"
)

const benchFiles = 5000

// BenchmarkPatcherNoop is a pass over 5,000 files whose marked values are all
// current: the cost of a repository with nothing to do.
func BenchmarkPatcherNoop(b *testing.B) {
	dir := b.TempDir()
	if err := patchertree.Generate(dir, benchFiles, 1); err != nil {
		b.Fatal(err)
	}
	targets := patchertree.Targets(1)
	ctx := context.Background()
	for b.Loop() {
		p, err := patcher.PlanDir(ctx, dir, nil, targets)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Files) != 0 || len(p.Problems) != 0 {
			b.Fatalf("no-op pass plans %d files, %d problems", len(p.Files), len(p.Problems))
		}
	}
}

// BenchmarkPatcherWrite is a pass that rewrites every marked file (2,500 of
// 5,000): plan and write. Iterations alternate between two versions so each
// one changes every marked file.
func BenchmarkPatcherWrite(b *testing.B) {
	dir := b.TempDir()
	if err := patchertree.Generate(dir, benchFiles, 1); err != nil {
		b.Fatal(err)
	}
	versions := [2]patcher.Targets{patchertree.Targets(2), patchertree.Targets(1)}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		p, err := patcher.ApplyDir(ctx, dir, nil, versions[i%2])
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Files) != benchFiles/2 || len(p.Changes) != benchFiles {
			b.Fatalf("write pass changed %d files, %d values", len(p.Files), len(p.Changes))
		}
		i++
	}
}

// BenchmarkPatcherScan lists the markers of the same 5,000 files: unlike a
// no-op PlanDir it parses every marked file.
func BenchmarkPatcherScan(b *testing.B) {
	dir := b.TempDir()
	if err := patchertree.Generate(dir, benchFiles, 1); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		scan, err := patcher.ScanDir(ctx, dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(scan.Markers) != benchFiles || len(scan.Problems) != 0 {
			b.Fatalf("scan found %d markers, %d problems", len(scan.Markers), len(scan.Problems))
		}
	}
}

// BenchmarkPatcherReferences finds the policies the same files use without
// parsing them: what a pass needs before it resolves policies.
func BenchmarkPatcherReferences(b *testing.B) {
	dir := b.TempDir()
	if err := patchertree.Generate(dir, benchFiles, 1); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		refs, err := patcher.ReferencesDir(ctx, dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(refs) != benchFiles {
			b.Fatalf("found %d references", len(refs))
		}
	}
}

// BenchmarkApply is Apply on one marked file, in memory.
func BenchmarkApply(b *testing.B) {
	dir := b.TempDir()
	if err := patchertree.Generate(dir, 1, 1); err != nil {
		b.Fatal(err)
	}
	plan, err := patcher.PlanDir(context.Background(), dir, nil, patchertree.Targets(2))
	if err != nil || len(plan.Files) != 1 {
		b.Fatalf("plan: %v, %d files", err, len(plan.Files))
	}
	src := plan.Files[0].Old
	targets := patchertree.Targets(2)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if r := patcher.Apply("f.yaml", src, targets); len(r.Changes) != 2 {
			b.Fatalf("%d changes", len(r.Changes))
		}
	}
}
