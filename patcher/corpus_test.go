package patcher

import (
	"context"
	"fmt"
	"testing"
)

// TestCorpus plans testTargets over the realistic manifests in
// testdata/corpus and checks every marker against the field semantics:
// each is rewritten to what its field asks for, already holds it, is a
// refused downgrade, or is reported; nothing else changes (the byte-level
// half of that is TestPatchProperties).
func TestCorpus(t *testing.T) {
	ctx := context.Background()
	targets := testTargets()
	scan, err := ScanDir(ctx, "testdata/corpus", nil)
	if err != nil {
		t.Fatal(err)
	}
	markers, scanProblems := scan.Markers, scan.Problems
	plan, err := PlanDir(ctx, "testdata/corpus", nil, targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(scanProblems) != 0 {
		t.Errorf("problems in the corpus: %v", scanProblems)
	}
	if len(plan.Problems) != 0 {
		t.Errorf("problems in the corpus: %v", plan.Problems)
	}
	key := func(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }
	changes := map[string]Change{}
	for _, c := range plan.Changes {
		changes[key(c.File, c.Line)] = c
	}
	skipped := map[string]bool{}
	for _, s := range plan.Skipped {
		skipped[key(s.File, s.Line)] = true
	}
	unchanged := 0
	for _, m := range markers {
		k := key(m.File, m.Line)
		tg := targets[m.Policy]
		var want string
		switch m.Field {
		case FieldRef:
			want = tg.Image + ":" + tg.Tag
			if tg.PinDigest {
				want += "@" + tg.Digest
			}
		case FieldTag:
			want = tg.Tag
		case FieldName:
			want = tg.Image
		case FieldDigest:
			want = tg.Digest
		}
		c, ok := changes[k]
		delete(changes, k)
		switch {
		case ok && c.New != want:
			t.Errorf("%s: %s marker rewritten to %q, want %q", k, m.Field, c.New, want)
		case !ok && !skipped[k]:
			unchanged++ // must already hold want: checked by planning again below
		}
	}
	for k, c := range changes {
		t.Errorf("%s: change %q -> %q without a marker", k, c.Old, c.New)
	}
	if len(plan.Files) == 0 || len(plan.Changes) < 10 {
		t.Fatalf("corpus barely exercised: %d files, %d changes", len(plan.Files), len(plan.Changes))
	}
	// Applying to the planned output changes nothing more: the pass converges.
	for _, f := range plan.Files {
		res := Apply(f.Path, f.New, targets)
		if len(res.Changes) != 0 || len(res.Problems) != 0 {
			t.Errorf("%s: second pass changes %v, problems %v", f.Path, res.Changes, res.Problems)
		}
	}
	t.Logf("%d markers: %d changed, %d skipped, %d already current", len(markers), len(plan.Changes), len(plan.Skipped), unchanged)
}
