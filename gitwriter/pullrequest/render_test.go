package pullrequest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name   string
		group  Group
		linked int
	}{
		{name: "one-image", group: web("1.5.0")},
		{
			name: "three-images",
			group: Group{Name: "backend", Branch: "imagebump/backend", Changes: []Change{
				{Policy: "web", Image: "ghcr.io/acme/web", From: "v1.4.2", To: "v1.5.0", Files: []string{"apps/web/deployment.yaml", "apps/web/values.yaml"}, Digest: "sha256:" + strings.Repeat("1", 64), Source: "https://github.com/acme/web.git"},
				{Policy: "api", Image: "ghcr.io/acme/api", From: "2.0.0", To: "2.1.0", Files: []string{"apps/api/deployment.yaml"}, Source: "https://gitlab.com/acme/api"},
				{Policy: "db", Image: "docker.io/library/postgres", From: "16.2", To: "16.3", Files: []string{"infra/db.yaml"}},
			}},
		},
		{name: "supersedes", group: web("1.6.0"), linked: 7},
		{
			name: "digest-tracking-has-no-compare-link",
			group: Group{Name: "edge", Changes: []Change{{
				Policy: "edge", Image: "ghcr.io/acme/edge", From: "latest@sha256:" + strings.Repeat("a", 64), To: "latest@sha256:" + strings.Repeat("b", 64),
				Files: []string{"apps/edge.yaml"}, Source: "https://github.com/acme/edge",
			}}},
		},
		{
			name: "hostile-values-are-escaped",
			group: Group{Name: "x|y", Changes: []Change{{
				Policy: "p`q", Image: "ghcr.io/acme/web", From: "1.0.0", To: "1.1.0",
				Files:  []string{"a|b.yaml", "``odd``.yaml", "new\nline.yaml"},
				Source: "https://github.com/acme/web)(javascript:alert(1)",
			}, {
				Policy: "q", Image: "ghcr.io/acme/other", From: "1", To: "2", Files: []string{"o.yaml"},
				Source: "javascript:alert(1)",
			}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := "# " + Title(tc.group) + "\n\n" + Body(tc.group, tc.linked) + "\n---- commit message\n" + message(tc.group)
			path := filepath.Join("testdata", "golden", tc.name+".md")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./gitwriter/pullrequest -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("rendering (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	sameImageTwoFiles := web("1.5.0")
	sameImageTwoFiles.Changes = append(sameImageTwoFiles.Changes, Change{Policy: "web", Image: "ghcr.io/acme/web", From: "1.4.0", To: "1.5.0"})
	three := Group{Changes: []Change{api("2.1.0").Changes[0], web("1.5.0").Changes[0], {Policy: "db", Image: "postgres", To: "16.3"}}}
	for _, tc := range []struct {
		name  string
		group Group
		want  string
	}{
		{"one image", web("1.5.0"), "Update ghcr.io/acme/web to 1.5.0"},
		{"one image from two old values", sameImageTwoFiles, "Update ghcr.io/acme/web to 1.5.0"},
		{"three images", three, "Update 3 images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Title(tc.group); got != tc.want {
				t.Errorf("Title = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCompareLink(t *testing.T) {
	for _, tc := range []struct {
		name, source, from, to string
		want                   string // "" = no compare link
	}{
		{"tags", "https://github.com/acme/web", "1.4.2", "1.5.0", "(https://github.com/acme/web/compare/1.4.2...1.5.0)"},
		{"dot git and trailing path", "https://github.com/acme/web.git/", "v1", "v2", "(https://github.com/acme/web/compare/v1...v2)"},
		{"not github", "https://gitlab.com/acme/web", "1", "2", ""},
		{"digest is not a ref", "https://github.com/acme/web", "sha256:aa", "sha256:bb", ""},
		{"no repository in path", "https://github.com/acme", "1", "2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := sourceLine(Change{Image: "i", Source: tc.source, From: tc.from, To: tc.to})
			has := strings.Contains(line, "/compare/")
			if tc.want == "" && has || tc.want != "" && !strings.Contains(line, tc.want) {
				t.Errorf("sourceLine = %q, want compare link %q", line, tc.want)
			}
		})
	}
}

func TestParseMarker(t *testing.T) {
	m := Marker{Group: "web", Versions: versionsOf(web("1.5.0").Changes)}
	for _, tc := range []struct {
		name string
		body string
		want Marker
		ok   bool
	}{
		{"rendered body", Body(web("1.5.0"), 0), m, true},
		{"table edited away", "We changed everything\n" + m.String(), m, true},
		{"no marker", "hand-written", Marker{}, false},
		{"unterminated", "<!-- imagebump: {\"group\":\"web\"", Marker{}, false},
		{"broken json", "<!-- imagebump: {\"group\": -->", Marker{}, false},
		{"no versions", `<!-- imagebump: {"group":"web","versions":[]} -->`, Marker{}, false},
		{"pasted marker before the real one", Marker{Group: "api", Versions: []Version{{Policy: "api", Image: "a", To: "1"}}}.String() + "\n" + m.String(), m, true},
		{"garbage after the real one", m.String() + "\n<!-- imagebump: nope -->", m, true},
		{"CRLF", strings.ReplaceAll(Body(web("1.5.0"), 0), "\n", "\r\n"), m, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseMarker(tc.body)
			if ok != tc.ok {
				t.Fatalf("ParseMarker ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseMarker (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseMarker checks that any body parses without panicking, and that a
// marker of any values survives being embedded in any text that does not
// itself hold a marker.
func FuzzParseMarker(f *testing.F) {
	f.Add("web", "ghcr.io/acme/web", "1.5.0", "prefix")
	f.Add("a-->b", "<!-- imagebump: x -->", "\"}", "<!-- imagebump: ")
	f.Add("", "", "", "-->")
	f.Fuzz(func(t *testing.T, group, image, to, text string) {
		ParseMarker(text)
		ParseMarker(text + group + image + to)
		m := Marker{Group: group, Versions: []Version{{Policy: group, Image: image, To: to}}}
		got, ok := ParseMarker(text + "\n" + m.String())
		if group == "" {
			return // not a valid marker; only "no panic" is asserted
		}
		if !ok {
			t.Fatalf("marker %q not found after %q", m.String(), text)
		}
		// Invalid UTF-8 is replaced by encoding/json on the way out.
		if want := jsonRoundTrip(t, m); !cmp.Equal(want, got) {
			t.Errorf("ParseMarker (-want +got):\n%s", cmp.Diff(want, got))
		}
	})
}
