package forge

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

func TestCapBody(t *testing.T) {
	marker := pullrequest.Marker{Group: "all", Versions: []pullrequest.Version{{Policy: "web", Image: "web", From: "1", To: "2"}}}.String()
	row := "| `web` | `1` | `2` | `app.yaml` | `wéb` |\n"
	for _, tc := range []struct {
		name  string
		body  string
		limit int
		cut   bool
	}{
		{"short body untouched", "table\n" + row + marker + "\n", 1000, false},
		{"at the limit untouched", strings.Repeat("é", 500), 500, false},
		{"long table cut", "intro\n\n" + strings.Repeat(row, 300) + "\n" + marker + "\n", 2000, true},
		{"one long line cut", strings.Repeat("x", 5000) + "\n" + marker, 3000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CapBody(tc.body, tc.limit, "TestForge")
			if n := utf8.RuneCountInString(got); n > tc.limit {
				t.Errorf("%d characters, want at most %d", n, tc.limit)
			}
			if !tc.cut {
				if got != tc.body {
					t.Errorf("a body within the limit changed:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, "imagebump cut this description: TestForge takes at most "+thousands(tc.limit)+" characters") {
				t.Errorf("the cut body does not say it was cut:\n%s", got[max(0, len(got)-400):])
			}
			if strings.Contains(tc.body, "<!--") {
				if m, ok := pullrequest.ParseMarker(got); !ok || m.Group != "all" {
					t.Errorf("marker lost from the cut body")
				}
			}
			if before, _, ok := strings.Cut(got, "\n\n… (imagebump cut"); ok && strings.Contains(tc.body, row) && !strings.HasSuffix(before, "|") {
				t.Errorf("the cut falls inside a table row: %q", before[max(0, len(before)-40):])
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{7: "7", 999: "999", 1000: "1,000", 65536: "65,536", 1048576: "1,048,576"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
