package patcher

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// parseAll decodes every document of src, or fails.
func parseAll(src []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		d := new(yaml.Node)
		err := dec.Decode(d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
}

// checkPatch verifies the properties every Apply must have on src:
//   - the output equals the input outside the edited byte ranges, and inside
//     each range the input holds the old value's text and the output the new;
//   - when the input parses, the output parses to the same document structure
//     (kinds, keys, anchors, comments, untouched scalars with their style),
//     and only the changed scalars differ, holding their New value as strings.
func checkPatch(t *testing.T, src []byte, res Result, edits []edit) {
	t.Helper()
	if len(edits) != len(res.Changes) {
		t.Fatalf("%d edits for %d changes", len(edits), len(res.Changes))
	}
	if len(edits) == 0 {
		if !bytes.Equal(res.Out, src) {
			t.Fatalf("no change reported but output differs")
		}
		return
	}
	// Outside the edits, byte for byte.
	in, out := 0, 0
	for i, e := range edits {
		if e.start < in {
			t.Fatalf("edits overlap or are out of order: %+v", edits)
		}
		gap := e.start - in
		if !bytes.Equal(src[in:e.start], res.Out[out:out+gap]) {
			t.Fatalf("bytes before edit %d differ:\n in: %q\nout: %q", i, src[in:e.start], res.Out[out:out+gap])
		}
		out += gap
		if got := string(res.Out[out : out+len(e.text)]); got != e.text {
			t.Fatalf("edit %d: output holds %q, want %q", i, got, e.text)
		}
		out += len(e.text)
		in = e.end
	}
	if !bytes.Equal(src[in:], res.Out[out:]) {
		t.Fatalf("bytes after the last edit differ")
	}

	before, err := parseAll(src)
	if err != nil {
		t.Fatalf("changes made to a file that does not parse: %v", err)
	}
	after, err := parseAll(res.Out)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, res.Out)
	}
	if len(before) != len(after) {
		t.Fatalf("%d documents became %d", len(before), len(after))
	}
	// Map each edited range start to its change; the walk finds the
	// original scalar at that offset independently of Apply.
	byStart := map[int]Change{}
	for i, e := range edits {
		byStart[e.start] = res.Changes[i]
	}
	lines := newLineIndex(src)
	seen := 0
	var walk func(a, b *yaml.Node, path string)
	walk = func(a, b *yaml.Node, path string) {
		if a.Kind != b.Kind || len(a.Content) != len(b.Content) || a.Anchor != b.Anchor ||
			a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment {
			t.Fatalf("%s: node changed: %+v -> %+v", path, *a, *b)
		}
		if a.Kind == yaml.ScalarNode {
			start := -1
			if off, ok := lines.offset(src, a.Line, a.Column); ok {
				if p, err := skipProperties(src, off); err == nil {
					start = p
				}
			}
			if c, ok := byStart[start]; ok {
				seen++
				if a.Value != c.Old || b.Value != c.New || b.Tag != "!!str" && b.Tag != "!" {
					t.Fatalf("%s: changed scalar %q (%s) -> %q (%s), want %q -> %q (!!str)", path, a.Value, a.Tag, b.Value, b.Tag, c.Old, c.New)
				}
				if _, _, err := parseMarker(a.LineComment); err != nil {
					t.Fatalf("%s: changed scalar %q has no marker (%q)", path, a.Value, a.LineComment)
				}
				if a.Line != c.Line {
					t.Fatalf("%s: change reported on line %d, value is on line %d", path, c.Line, a.Line)
				}
			} else if a.Value != b.Value || a.Tag != b.Tag || a.Style != b.Style {
				t.Fatalf("%s: untouched scalar changed: %q %s %v -> %q %s %v", path, a.Value, a.Tag, a.Style, b.Value, b.Tag, b.Style)
			}
		}
		for i := range a.Content {
			walk(a.Content[i], b.Content[i], path+"/"+a.Content[i].Value)
		}
	}
	for i := range before {
		walk(before[i], after[i], "")
	}
	if seen != len(edits) {
		t.Fatalf("found %d of %d changed scalars in the parsed input", seen, len(edits))
	}
}

// inputs returns every YAML input file of the golden cases and the corpus.
func inputs(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	for _, dir := range []string{"testdata/golden", "testdata/corpus"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isYAML(p) || strings.Contains(p, "/expected/") {
				return err
			}
			b, err := os.ReadFile(p)
			files[p] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestPatchProperties(t *testing.T) {
	files := inputs(t)
	if len(files) < 20 {
		t.Fatalf("only %d input files found", len(files))
	}
	changed := 0
	for name, src := range files {
		t.Run(name, func(t *testing.T) {
			res, edits := apply(name, src, testTargets())
			changed += len(edits)
			checkPatch(t, src, res, edits)
		})
	}
	if changed == 0 {
		t.Fatal("no input changed: the property was never exercised")
	}
}

// checkCurrent verifies the shortcut of Apply on a file that parses: when
// current says there is nothing to do, the full path agrees.
func checkCurrent(t *testing.T, src []byte, targets Targets) bool {
	t.Helper()
	if !current(src, targets) {
		return false
	}
	full, _ := applyParsed("f.yaml", src, targets)
	if len(full.Changes) != 0 || len(full.Problems) != 0 || len(full.Skipped) != 0 {
		t.Fatalf("current says nothing to do, parsing finds changes %v, problems %v, skipped %v", full.Changes, full.Problems, full.Skipped)
	}
	return true
}

// checkReferences verifies that References finds every marker Scan finds.
func checkReferences(t *testing.T, markers, refs []Marker) {
	t.Helper()
	type key struct {
		line   int
		policy string
		field  Field
	}
	seen := map[key]bool{}
	for _, r := range refs {
		seen[key{r.Line, r.Policy, r.Field}] = true
	}
	for _, m := range markers {
		if !seen[key{m.Line, m.Policy, m.Field}] {
			t.Fatalf("References misses %s:%d %s %s (found %v)", m.File, m.Line, m.Policy, m.Field, refs)
		}
	}
}

func TestReferences(t *testing.T) {
	n := 0
	for name, src := range inputs(t) {
		markers, _ := Scan(name, src)
		n += len(markers)
		checkReferences(t, markers, References(name, src))
	}
	if n == 0 {
		t.Fatal("no markers in the inputs")
	}
	// More than Scan: markers in block scalars and unparseable files.
	src := []byte("a: |\n  x # {\"$imagepolicy\": \"web\"}\n{{ x }} # {\"$imagepolicy\": \"api:tag\"}\n")
	want := []Marker{{File: "f", Line: 2, Policy: "web", Field: FieldRef}, {File: "f", Line: 3, Policy: "api", Field: FieldTag}}
	if diff := cmp.Diff(want, References("f", src)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCurrent runs the shortcut on every input once patched: then nothing
// is left to do, and the shortcut should see that on most files without
// parsing them.
func TestCurrent(t *testing.T) {
	shortcut, total := 0, 0
	for name, src := range inputs(t) {
		if _, err := parseAll(src); err != nil {
			continue
		}
		res, _ := apply(name, src, testTargets())
		again, _ := applyParsed(name, res.Out, testTargets())
		if len(again.Changes) != 0 {
			t.Fatalf("%s: a second pass changes %v", name, again.Changes)
		}
		total++
		if checkCurrent(t, res.Out, testTargets()) {
			shortcut++
		}
	}
	t.Logf("shortcut taken on %d of %d patched inputs", shortcut, total)
	if shortcut < total/3 {
		t.Errorf("shortcut taken on only %d of %d patched inputs", shortcut, total)
	}
}

func FuzzPatch(f *testing.F) {
	for _, src := range inputs(f) {
		f.Add(src)
	}
	f.Add([]byte("a: b # {\"$imagepolicy\": \"web\"}\n"))
	f.Add([]byte("- 'x' # {\"$imagepolicy\": \"web:tag\"}\r\n- \"y\" # {\"$imagepolicy\": \"api\"}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, edits := apply("fuzz.yaml", src, testTargets())
		markers, _ := Scan("fuzz.yaml", src)
		checkReferences(t, markers, References("fuzz.yaml", src))
		checkLint(t, markers, Lint("fuzz.yaml", src))
		if len(markers) < len(res.Changes)+len(res.Skipped) {
			t.Fatalf("%d markers for %d changes and %d skipped", len(markers), len(res.Changes), len(res.Skipped))
		}
		if _, err := parseAll(src); err != nil {
			if !bytes.Equal(res.Out, src) || len(res.Changes) != 0 {
				t.Fatalf("a file that does not parse was changed")
			}
			return
		}
		checkPatch(t, src, res, edits)
		checkCurrent(t, src, testTargets())
	})
}

// checkLint checks that no line holding a marker is also warned about as a
// near miss: Lint must find the same comment the parser does.
func checkLint(t *testing.T, markers []Marker, warnings []Warning) {
	t.Helper()
	for _, w := range warnings {
		for _, m := range markers {
			if m.Line == w.Line {
				t.Fatalf("line %d has a marker (%+v) and a warning: %s", w.Line, m, w)
			}
		}
	}
}
