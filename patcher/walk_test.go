package patcher

import (
	stdcmp "cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
)

const marked = "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\"}\n"

func planPaths(p *Plan) []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Path)
	}
	return out
}

func TestPlanDirSelectsFiles(t *testing.T) {
	outside := filetree.Write(t, map[string]string{"evil.yaml": marked})
	root := filetree.Write(t, map[string]string{
		"a.yaml":                marked,
		"b.yml":                 marked,
		"c.YAML.txt":            marked,
		"notes.md":              marked,
		".git/config.yaml":      marked,
		"sub/.git/x.yaml":       marked,
		"sub/deep/d.yaml":       marked,
		".github/workflow.yaml": marked,
		"unmarked.yaml":         "image: ghcr.io/acme/web:1.0.0\n",
	})
	for link, target := range map[string]string{"link.yaml": "a.yaml", "linkdir": outside, "sub/up.yaml": filepath.Join(outside, "evil.yaml")} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".github/workflow.yaml", "a.yaml", "b.yml", "sub/deep/d.yaml"}
	if diff := cmp.Diff(want, planPaths(plan)); diff != "" {
		t.Errorf("planned files (-want +got):\n%s", diff)
	}
	if len(plan.Problems) != 0 {
		t.Errorf("problems: %v", plan.Problems)
	}
	scan, err := ScanDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var scanned []string
	for _, m := range scan.Markers {
		scanned = append(scanned, m.File)
	}
	if diff := cmp.Diff(want, scanned); diff != "" {
		t.Errorf("scanned files (-want +got):\n%s", diff)
	}
	refs, err := ReferencesDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var referenced []string
	for _, m := range refs {
		referenced = append(referenced, m.File)
	}
	if diff := cmp.Diff(want, referenced); diff != "" {
		t.Errorf("referencing files (-want +got):\n%s", diff)
	}
}

func TestPlanDirPaths(t *testing.T) {
	outside := filetree.Write(t, map[string]string{"evil.yaml": marked})
	root := filetree.Write(t, map[string]string{
		"a.yaml":           marked,
		"apps/web/w.yaml":  marked,
		"apps/api/a.yaml":  marked,
		"apps/api/x/y.yml": marked,
	})
	if err := os.Symlink(outside, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("apps", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
		err   string
	}{
		{"all", nil, []string{"a.yaml", "apps/api/a.yaml", "apps/api/x/y.yml", "apps/web/w.yaml"}, ""},
		{"subdir", []string{"apps/api"}, []string{"apps/api/a.yaml", "apps/api/x/y.yml"}, ""},
		{"overlapping", []string{"apps/api/x", "apps", "apps/api/"}, []string{"apps/api/a.yaml", "apps/api/x/y.yml", "apps/web/w.yaml"}, ""},
		{"single file", []string{"apps/web/w.yaml"}, []string{"apps/web/w.yaml"}, ""},
		{"dot", []string{"."}, []string{"a.yaml", "apps/api/a.yaml", "apps/api/x/y.yml", "apps/web/w.yaml"}, ""},
		{"cleaned inside", []string{"apps/../apps/web"}, []string{"apps/web/w.yaml"}, ""},
		{"parent", []string{"../x"}, nil, "not inside the root"},
		{"absolute", []string{"/etc"}, nil, "not inside the root"},
		{"escaping", []string{"apps/../../x"}, nil, "not inside the root"},
		{"symlink out", []string{"linked"}, nil, "symbolic link"},
		{"symlink in", []string{"alias/web"}, nil, "symbolic link"},
		{"missing", []string{"nope"}, nil, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := PlanDir(context.Background(), root, tc.paths, testTargets())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, planPaths(plan)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanDirResultsSorted(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"z.yaml", "a/b.yaml", "a.yaml", "m/n/o.yaml", "b.yaml"} {
		files[name] = marked + "other: x # {\"$imagepolicy\": \"nosuch\"}\n" + strings.Replace(marked, "image", "second", 1)
	}
	root := filetree.Write(t, files)
	for range 5 { // concurrency must not show in the order
		plan, err := PlanDir(context.Background(), root, nil, testTargets())
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) != 10 || len(plan.Problems) != 5 {
			t.Fatalf("%d changes, %d problems", len(plan.Changes), len(plan.Problems))
		}
		if !slices.IsSortedFunc(plan.Changes, func(a, b Change) int {
			return stdcmp.Or(strings.Compare(a.File, b.File), a.Line-b.Line)
		}) || plan.Changes[0].File != "a.yaml" || plan.Changes[1].Line != 3 {
			t.Fatalf("changes not sorted: %v", plan.Changes)
		}
		if !slices.IsSortedFunc(plan.Problems, func(a, b problem.Problem) int { return strings.Compare(a.File, b.File) }) {
			t.Fatalf("problems not sorted: %v", plan.Problems)
		}
	}
}

func TestWrite(t *testing.T) {
	root := filetree.Write(t, map[string]string{
		"private.yaml": marked,
		"exec.yaml":    marked,
		"same.yaml":    "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
	})
	must(t, os.Chmod(filepath.Join(root, "private.yaml"), 0o600))
	must(t, os.Chmod(filepath.Join(root, "exec.yaml"), 0o755))
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	must(t, os.Chtimes(filepath.Join(root, "same.yaml"), old, old))

	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"exec.yaml", "private.yaml"}, planPaths(plan)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// Planning wrote nothing.
	if b, _ := os.ReadFile(filepath.Join(root, "private.yaml")); string(b) != marked {
		t.Fatalf("PlanDir wrote %q", b)
	}
	if _, err := plan.Write(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(marked, "1.0.0", "1.5.0", 1)
	for name, mode := range map[string]os.FileMode{"private.yaml": 0o600, "exec.yaml": 0o755} {
		p := filepath.Join(root, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, mode)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "same.yaml")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged file was rewritten")
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 3 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteRefusesFileChangedSincePlan(t *testing.T) {
	root := filetree.Write(t, map[string]string{"a.yaml": marked, "b.yaml": marked})
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	edited := marked + "# edited by someone else\n"
	must(t, os.WriteFile(filepath.Join(root, "a.yaml"), []byte(edited), 0o644))
	_, err = plan.Write(context.Background())
	if err == nil || !strings.Contains(err.Error(), "a.yaml") || !strings.Contains(err.Error(), "changed since") {
		t.Fatalf("Write error = %v, want one about a.yaml having changed", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a.yaml")); string(b) != edited {
		t.Errorf("a.yaml was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "b.yaml")); !strings.Contains(string(b), "1.5.0") {
		t.Errorf("b.yaml was not written: %q", b)
	}
}

func TestPlanDirNoopKeepsNothing(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		files[n+".yaml"] = "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n"
	}
	plan, err := PlanDir(context.Background(), filetree.Write(t, files), nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 0 || len(plan.Changes) != 0 {
		t.Fatalf("no-op plan holds %d files, %d changes", len(plan.Files), len(plan.Changes))
	}
	if _, err := plan.Write(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPlanDirCanceled(t *testing.T) {
	root := filetree.Write(t, map[string]string{"a.yaml": marked})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PlanDir(ctx, root, nil, testTargets()); err == nil {
		t.Fatal("PlanDir with a canceled context succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriteReportsEachFile breaks files between PlanDir and Write in ways
// that stop even root from writing them, and checks that Write says what
// became of every file and still writes the others.
func TestWriteReportsEachFile(t *testing.T) {
	files := map[string]string{}
	for _, name := range []string{"a.yaml", "edited.yaml", "gone.yaml", "isdir.yaml", "lost/x.yaml", "z.yaml"} {
		files[name] = marked
	}
	root := filetree.Write(t, files)
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	must(t, os.WriteFile(at("edited.yaml"), []byte(marked+"# edited\n"), 0o644))
	must(t, os.Remove(at("gone.yaml")))
	must(t, os.Remove(at("isdir.yaml")))
	must(t, os.Mkdir(at("isdir.yaml"), 0o755))
	// The directory of a planned file replaced by a regular file.
	must(t, os.RemoveAll(at("lost")))
	must(t, os.WriteFile(at("lost"), []byte("not a directory\n"), 0o644))

	results, err := plan.Write(context.Background())
	want := []struct{ path, err string }{ // err: what the error ends with
		{"a.yaml", ""},
		{"edited.yaml", "the file changed since it was planned"},
		{"gone.yaml", "gone.yaml: no such file or directory"},
		{"isdir.yaml", "not a regular file"},
		{"lost/x.yaml", "lost: not a directory"},
		{"z.yaml", ""},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(results), len(want), results)
	}
	for i, w := range want {
		r := results[i]
		switch {
		case r.Path != w.path:
			t.Errorf("result %d is for %s, want %s", i, r.Path, w.path)
		case w.err == "" && r.Err != nil:
			t.Errorf("%s: %v, want it written", r.Path, r.Err)
		case w.err != "" && (r.Err == nil || !strings.HasSuffix(r.Err.Error(), w.err)):
			t.Errorf("%s: %v, want an error ending in %q", r.Path, r.Err, w.err)
		case w.err != "" && (err == nil || !strings.Contains(err.Error(), "writing "+w.path+": ")):
			t.Errorf("joined error %v does not name %s", err, w.path)
		}
	}
	after := filetree.Read(t, root)
	for _, name := range []string{"a.yaml", "z.yaml"} {
		if !strings.Contains(after[name], "1.5.0") {
			t.Errorf("%s was not written: %q", name, after[name])
		}
	}
	if after["edited.yaml"] != marked+"# edited\n" || after["lost"] != "not a directory\n" {
		t.Errorf("a file that was not to be written changed: %q", after)
	}
	if _, err := os.Stat(at("gone.yaml")); !os.IsNotExist(err) {
		t.Errorf("gone.yaml was recreated: %v", err)
	}
	assertNoTemporary(t, root)
}

// TestWriteCanceled checks that Write starts no file once its context is
// done, and says so for each.
func TestWriteCanceled(t *testing.T) {
	root := filetree.Write(t, map[string]string{"a.yaml": marked, "b.yaml": marked})
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("terminated signal received"))
	results, err := plan.Write(ctx)
	if err == nil {
		t.Error("Write with a canceled context returned no error")
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for _, r := range results {
		if !errors.Is(r.Err, ErrInterrupted) || !strings.Contains(r.Err.Error(), "terminated signal received") {
			t.Errorf("%s: %v, want ErrInterrupted with the cause", r.Path, r.Err)
		}
	}
	if got := filetree.Read(t, root); got["a.yaml"] != marked || got["b.yaml"] != marked {
		t.Errorf("a canceled Write wrote: %q", got)
	}
}

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".imagebump-0123456789abcdef.tmp", true},
		{tempName(), true},
		{".imagebump-0123456789abcde.tmp", false},   // 15 digits
		{".imagebump-0123456789abcdef0.tmp", false}, // 17
		{".imagebump-0123456789ABCDEF.tmp", false},
		{".imagebump-0123456789abcdeg.tmp", false},
		{".imagebump-0123456789abcdef.tmp.yaml", false},
		{"x.imagebump-0123456789abcdef.tmp", false},
		{".imagebump.yaml", false},
		{".imagebump-notes.tmp", false},
		{".imagebump-deploy.yaml-3k2j4h", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsTemporary(tc.name); got != tc.want {
				t.Errorf("IsTemporary(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestLeftovers plants what a killed Write leaves, beside look-alikes, and
// checks that the walk neither reads them as manifests nor leaves them: the
// next Write removes exactly them, even when there is nothing to write.
func TestLeftovers(t *testing.T) {
	const stale = ".imagebump-00000000deadbeef.tmp"
	files := map[string]string{
		"current.yaml":                     "image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		stale:                              "",
		"apps/" + stale:                    marked[:10],
		".git/" + stale:                    "",
		".imagebump-notes.tmp":             "keep",
		".imagebump-0123456789abcdef.yaml": marked,
	}
	for _, changed := range []bool{false, true} {
		t.Run(fmt.Sprintf("changes=%v", changed), func(t *testing.T) {
			fs := maps.Clone(files)
			if changed {
				fs["old.yaml"] = marked
			}
			root := filetree.Write(t, fs)
			must(t, os.Mkdir(filepath.Join(root, "apps", ".imagebump-1111111111111111.tmp"), 0o755))
			must(t, os.Symlink("current.yaml", filepath.Join(root, ".imagebump-2222222222222222.tmp")))
			// What a Write killed between keeping an inode and the
			// rename over it leaves: a second name of a live manifest.
			const link = ".imagebump-3333333333333333.tmp"
			must(t, os.Link(filepath.Join(root, "current.yaml"), filepath.Join(root, link)))

			plan, err := PlanDir(context.Background(), root, nil, testTargets())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{stale, link, "apps/" + stale}, plan.Leftovers); diff != "" {
				t.Errorf("leftovers (-want +got):\n%s", diff)
			}
			var warned []string
			for _, w := range plan.Warnings {
				warned = append(warned, w.File)
			}
			if diff := cmp.Diff([]string{stale, link, "apps/" + stale}, warned); diff != "" {
				t.Errorf("warned files (-want +got):\n%s", diff)
			}
			wantFiles := []string{".imagebump-0123456789abcdef.yaml"}
			if changed {
				wantFiles = append(wantFiles, "old.yaml")
			}
			if diff := cmp.Diff(wantFiles, planPaths(plan)); diff != "" {
				t.Errorf("planned files (-want +got):\n%s", diff)
			}
			if _, err := plan.Write(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := filetree.Read(t, root)
			want := maps.Clone(fs)
			delete(want, stale)
			delete(want, "apps/"+stale)
			for _, name := range wantFiles {
				want[name] = strings.Replace(want[name], "1.0.0", "1.5.0", 1)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tree after Write (-want +got):\n%s", diff)
			}
			if fi, err := os.Lstat(filepath.Join(root, "apps", ".imagebump-1111111111111111.tmp")); err != nil || !fi.IsDir() {
				t.Errorf("a directory named like a temporary file was touched: %v", err)
			}
			if fi, err := os.Lstat(filepath.Join(root, ".imagebump-2222222222222222.tmp")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("a symbolic link named like a temporary file was touched: %v", err)
			}
		})
	}
}

// assertNoTemporary fails when a temporary file of Write is left under root.
func assertNoTemporary(t *testing.T, root string) {
	t.Helper()
	for name := range filetree.Read(t, root) {
		if IsTemporary(path.Base(name)) {
			t.Errorf("temporary file left: %s", name)
		}
	}
}
