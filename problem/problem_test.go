package problem

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Message: "m"}, "a.yaml: m"},
		{Problem{File: "a.yaml", Line: 3, Message: "m"}, "a.yaml:3: m"},
		{Problem{File: "a.yaml", Line: 3, Column: 7, Message: "m"}, "a.yaml:3:7: m"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
	if got, want := (List{tests[0].p, tests[1].p}).Error(), "a.yaml: m\na.yaml:3: m"; got != want {
		t.Errorf("List.Error() = %q, want %q", got, want)
	}
}

func TestSorted(t *testing.T) {
	in := List{
		{File: "b.yaml", Line: 1, Message: "x"},
		{File: "a.yaml", Line: 9, Message: "y"},
		{File: "a.yaml", Line: 2, Column: 5, Message: "z"},
		{File: "a.yaml", Line: 9, Message: "w"},
		{File: "a.yaml", Line: 9, Message: "y"}, // reported twice
		{File: "a.yaml", Line: 2, Column: 1, Message: "z"},
	}
	want := List{
		{File: "a.yaml", Line: 2, Column: 1, Message: "z"},
		{File: "a.yaml", Line: 2, Column: 5, Message: "z"},
		{File: "a.yaml", Line: 9, Message: "y"},
		{File: "a.yaml", Line: 9, Message: "w"},
		{File: "b.yaml", Line: 1, Message: "x"},
	}
	if diff := cmp.Diff(want, in.Sorted()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestJSON checks the shape of a problem in the JSON output: DESIGN.md's
// file, line and message, and a column only when it is known.
func TestJSON(t *testing.T) {
	b, err := json.Marshal(List{{File: "a.yaml", Line: 3, Message: "m"}, {File: "b.yaml", Line: 1, Column: 4, Message: "n"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"file":"a.yaml","line":3,"message":"m"},{"file":"b.yaml","line":1,"column":4,"message":"n"}]`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}
