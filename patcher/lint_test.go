package patcher

import (
	"context"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

func TestLint(t *testing.T) {
	const notOne = "comment looks like a marker but is not one: "
	tests := []struct {
		name string
		src  string
		want []Warning // File is always "f.yaml"
	}{
		// Near misses: each is ignored by Scan and Apply without a word.
		{"key case", `image: r:1 # {"$imagePolicy": "web"}`, []Warning{{Line: 1, Message: notOne + `the key is "$imagePolicy", not "$imagepolicy"; not applied`}}},
		{"key upper case", `image: r:1 # {"$IMAGEPOLICY": "web"}`, []Warning{{Line: 1, Message: notOne + `the key is "$IMAGEPOLICY", not "$imagepolicy"; not applied`}}},
		{"key without $", `image: r:1 # {"imagepolicy": "web"}`, []Warning{{Line: 1, Message: notOne + `the key is "imagepolicy", not "$imagepolicy"; not applied`}}},
		{"missing brace", `image: r:1 # {"$imagepolicy": "web"`, []Warning{{Line: 1, Message: notOne + "the JSON object is not closed; not applied"}}},
		{"trailing text", `image: r:1 # {"$imagepolicy": "web"} bump weekly`, []Warning{{Line: 1, Message: notOne + "text after the JSON object; not applied"}}},
		{"trailing comment", `image: r:1 # {"$imagepolicy": "web"} # note`, []Warning{{Line: 1, Message: notOne + "text after the JSON object; not applied"}}},
		{"leading text", `image: r:1 # marker: {"$imagepolicy": "web"}`, []Warning{{Line: 1, Message: notOne + "text before the JSON object; not applied"}}},
		{"comment before", `image: r:1 # note # {"$imagepolicy": "web"}`, []Warning{{Line: 1, Message: notOne + "text before the JSON object; not applied"}}},
		{"single quotes, key case", `image: r:1 # {'$imagePolicy': 'web'}`, []Warning{{Line: 1, Message: notOne + "not valid JSON; not applied"}}},
		{"yaml flow style", `image: r:1 # {imagepolicy: web}`, []Warning{{Line: 1, Message: notOne + "not valid JSON; not applied"}}},
		{"no braces", `image: r:1 # $imagepolicy: web`, []Warning{{Line: 1, Message: notOne + "text before the JSON object; not applied"}}},
		{"line of its own", "a: 1\n# {\"$imagePolicy\": \"web\"}\nb: 2\n", []Warning{{Line: 2, Message: notOne + `the key is "$imagePolicy", not "$imagepolicy"; not applied`}}},
		{"lines counted as the parser does", "a: 1\r\nb: 2\rc: 3\u2028d: # {\"$imagepolicy\": \"web\"\n", []Warning{{Line: 4, Message: notOne + "the JSON object is not closed; not applied"}}},
		{"after a quoted value holding #", `image: "r #1" # {"$imagepolicy": "web"`, []Warning{{Line: 1, Message: notOne + "the JSON object is not closed; not applied"}}},
		{"one warning per line", `image: r:1 # {"$imagePolicy": "web"} {"$imagePolicy": "web"}`, []Warning{{Line: 1, Message: notOne + "text after the JSON object; not applied"}}},
		{"UTF-16LE with BOM", utf16LE("\ufeffimage: r:1 # {\"$imagepolicy\": \"web\"}\n", false), []Warning{{Line: 1, Message: utf16Message}}},
		{"UTF-16BE with BOM", utf16LE("\ufeffa: 1\nimage: r:1 # {\"$imagepolicy\": \"web\"}\n", true), []Warning{{Line: 2, Message: utf16Message}}},
		{"UTF-16LE without BOM", utf16LE("a: 1\r\nb: 2\r\nimage: r:1 # {\"$ImagePolicy\": \"web\"}\r\n", false), []Warning{{Line: 3, Message: utf16Message}}},
		{"UTF-16BE without BOM", utf16LE("image: r:1 # {\"$imagepolicy\": \"web\"}\n", true), []Warning{{Line: 1, Message: utf16Message}}},

		// Look-alikes that are fine or already reported.
		{"marker", `image: r:1 # {"$imagepolicy": "web"}`, nil},
		{"marker, spaced", `image: r:1 #   {  "$imagepolicy" :  "web:tag"  }  `, nil},
		{"malformed marker, a problem", `image: r:1 # {"$imagepolicy": 5}`, nil},
		{"single quotes, a problem", `image: r:1 # {'$imagepolicy': 'web'}`, nil},
		{"extra key, a problem", `image: r:1 # {"$imagepolicy": "web", "x": 1}`, nil},
		{"prose", `image: r:1 # bumped by the imagepolicy web, see docs`, nil},
		{"prose with $", `# the $imagepolicy markers below are managed by imagebump`, nil},
		{"imagePullPolicy", `imagePullPolicy: IfNotPresent # {"pull": "always"}`, nil},
		{"in a quoted value", `f: "# {\"$imagePolicy\": \"web\"}"`, nil},
		{"in a single-quoted value", `f: '# {"$imagePolicy": "web"}'`, nil},
		{"in a value, no comment", `description: {"$imagePolicy": "web"}`, nil},
		{"in a block scalar", "script: |\n  echo # {\"$imagePolicy\": \"web\"}\n  done\nnext: 1\n", nil},
		{"in a folded block scalar", "- >-\n  text # {\"$imagepolicy\": \"web\"} more\n", nil},
		{"UTF-16 without imagepolicy", utf16LE("\ufeffimage: r:1\n", false), nil},
		{"UTF-8 with BOM", "\ufeffimage: r:1 # {\"$imagepolicy\": \"web\"}\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.want {
				tc.want[i].File = "f.yaml"
			}
			got := Lint("f.yaml", []byte(tc.src))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Lint(%q) (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

// TestLintAfterBlockScalar checks that a block scalar ends where its
// indentation does: a near miss after it is warned about.
func TestLintAfterBlockScalar(t *testing.T) {
	src := "a:\n  script: |\n    # {\"$imagePolicy\": \"x\"}\n\n  image: r:1 # {\"$imagePolicy\": \"web\"}\n"
	got := Lint("f.yaml", []byte(src))
	if len(got) != 1 || got[0].Line != 5 {
		t.Errorf("Lint = %v, want one warning on line 5", got)
	}
}

const utf16Message = "the file is UTF-16 encoded and mentions imagepolicy; markers are read in UTF-8 files only, so none in this file is applied"

func utf16LE(s string, bigEndian bool) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b.WriteByte(byte(u >> 8))
			b.WriteByte(byte(u))
		} else {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
	}
	return b.String()
}

// TestDirWarnings checks that PlanDir and ScanDir warn about files the
// marker screen passes over (no "$imagepolicy" in UTF-8 bytes) and that
// warnings are not problems.
func TestDirWarnings(t *testing.T) {
	root := filetree.Write(t, map[string]string{
		"a.yaml":   marked,
		"case.yml": "image: r:1 # {\"$imagePolicy\": \"web\"}\n",
		"u16.yaml": utf16LE("\ufeffimage: r:1 # {\"$imagepolicy\": \"web\"}\n", false),
		"z.yaml":   marked + "x: 1 # {\"$imagepolicy\": \"web\"} later\n",
	})
	want := []string{
		`case.yml:1: warning: comment looks like a marker but is not one: the key is "$imagePolicy", not "$imagepolicy"; not applied`,
		"u16.yaml:1: warning: " + utf16Message,
		"z.yaml:2: warning: comment looks like a marker but is not one: text after the JSON object; not applied",
	}
	str := func(ws []Warning) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.String())
		}
		return out
	}
	plan, err := PlanDir(context.Background(), root, nil, testTargets())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, str(plan.Warnings)); diff != "" {
		t.Errorf("PlanDir warnings (-want +got):\n%s", diff)
	}
	if len(plan.Problems) != 0 {
		t.Errorf("PlanDir problems: %v", plan.Problems)
	}
	scan, err := ScanDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, str(scan.Warnings)); diff != "" {
		t.Errorf("ScanDir warnings (-want +got):\n%s", diff)
	}
	if len(scan.Problems) != 0 {
		t.Errorf("ScanDir problems: %v", scan.Problems)
	}
}
