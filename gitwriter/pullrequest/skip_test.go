package pullrequest

import "testing"

// TestSkipReasons checks the vocabulary is whole: every reason has words
// of its own for people, and no two reasons share a value or words.
func TestSkipReasons(t *testing.T) {
	values, texts := map[SkipReason]bool{}, map[string]bool{}
	for _, r := range SkipReasons() {
		if r.Text() == string(r) || r.Text() == "" {
			t.Errorf("reason %q has no words of its own", r)
		}
		if values[r] || texts[r.Text()] {
			t.Errorf("reason %q (%q) listed twice", r, r.Text())
		}
		values[r], texts[r.Text()] = true, true
	}
	if len(values) != 6 {
		t.Errorf("%d reasons, want the 6 of the vocabulary", len(values))
	}
}
