package patcher

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		ref, policy string
		field       Field
	}{
		{"web", "web", FieldRef},
		{"web:tag", "web", FieldTag},
		{"web:name", "web", FieldName},
		{"web:digest", "web", FieldDigest},
		{"flux-system:web", "flux-system:web", FieldRef},
		{"flux-system:web:tag", "flux-system:web", FieldTag},
		{"a:b:c:digest", "a:b:c", FieldDigest},
		{"web:tags", "web:tags", FieldRef},
		{"web:tag:tag", "web:tag", FieldTag},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			p, f := ParseRef(tc.ref)
			if p != tc.policy || f != tc.field {
				t.Errorf("ParseRef(%q) = %q, %q; want %q, %q", tc.ref, p, f, tc.policy, tc.field)
			}
		})
	}
}

func TestParseMarker(t *testing.T) {
	tests := []struct {
		name, comment string
		policy        string
		field         Field
		err           string // "" ok, "-" not a marker, else a substring of the error
	}{
		{"plain", `# {"$imagepolicy": "web"}`, "web", FieldRef, ""},
		{"no space", `#{"$imagepolicy":"web:tag"}`, "web", FieldTag, ""},
		{"spaces inside", "#  {  \"$imagepolicy\"\t:  \"ns:web:name\"  }  ", "ns:web", FieldName, ""},
		{"trailing text", `# {"$imagepolicy": "web"} pinned`, "", "", "-"},
		{"leading text", `# see {"$imagepolicy": "web"}`, "", "", "-"},
		{"other key only", `# {"$imagepolicyx": "web"}`, "", "", "-"},
		{"unrelated comment", `# http`, "", "", "-"},
		{"empty", ``, "", "", "-"},
		{"not a string", `# {"$imagepolicy": 1}`, "", "", "not a string"},
		{"extra key", `# {"$imagepolicy": "web", "a": 1}`, "", "", "keys other than"},
		{"bad json", `# {"$imagepolicy": web}`, "", "", "malformed marker"},
		{"empty policy", `# {"$imagepolicy": ":digest"}`, "", "", "empty policy"},
		{"escaped", `# {"$imagepolicy": "we\u0062:tag"}`, "web", FieldTag, ""},
		{"escaped key", `# {"\u0024imagepolicy": "web"}`, "", "", "-"},
		{"repeated key: the last wins, as in encoding/json", `# {"$imagepolicy": "api", "$imagepolicy": "web"}`, "web", FieldRef, ""},
		{"trailing comma", `# {"$imagepolicy": "web",}`, "", "", "malformed marker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, f, err := parseMarker(tc.comment)
			switch {
			case tc.err == "-":
				if err != errNotMarker {
					t.Fatalf("parseMarker(%q) = %q, %q, %v; want not a marker", tc.comment, p, f, err)
				}
			case tc.err != "":
				if err == nil || err == errNotMarker || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseMarker(%q) error = %v; want one containing %q", tc.comment, err, tc.err)
				}
			case err != nil || p != tc.policy || f != tc.field:
				t.Fatalf("parseMarker(%q) = %q, %q, %v; want %q, %q", tc.comment, p, f, err, tc.policy, tc.field)
			}
		})
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct{ ref, name, tag, digest string }{
		{"ghcr.io/acme/web:1.2", "ghcr.io/acme/web", "1.2", ""},
		{"ghcr.io/acme/web", "ghcr.io/acme/web", "", ""},
		{"localhost:5000/app:1.2", "localhost:5000/app", "1.2", ""},
		{"localhost:5000/app", "localhost:5000/app", "", ""},
		{"web:1.2@sha256:abc", "web", "1.2", "sha256:abc"},
		{"localhost:5000/app@sha256:abc", "localhost:5000/app", "", "sha256:abc"},
		{"[::1]:5000/app:v1", "[::1]:5000/app", "v1", ""},
	}
	for _, tc := range tests {
		n, tag, d := splitRef(tc.ref)
		if n != tc.name || tag != tc.tag || d != tc.digest {
			t.Errorf("splitRef(%q) = %q, %q, %q; want %q, %q, %q", tc.ref, n, tag, d, tc.name, tc.tag, tc.digest)
		}
	}
}

// TestRender checks that every rendered value reads back, in the context it
// is written into, as the same string.
func TestRender(t *testing.T) {
	values := []string{"1.5.0", "1.10", "1.0", "10", "0x1F", "1e3", "true", "True", "yes", "on", "n", "null", "~", "",
		"2024-05-01", "20240501", "1_000", "12:30", ".inf", "v1.2.3", "latest", "main-abc", "ghcr.io/acme/web:1.5.0",
		"a: b", "a #b", "#x", "-x", "it's", `say "hi"`, `back\slash`, "a,b", "[x]", "{x}", "é→", "*a", "&a", "!x", "%x", "@x", "`x"}
	styles := []struct {
		name    string
		style   yaml.Style
		tag     string
		wrap    string // %s is replaced by the rendered value
		flow    bool
		keepsAs string // the quote the output must start with, "" for any
	}{
		{"plain", 0, "", "k: %s\n", false, ""},
		{"plain in flow", 0, "", "k: [%s, x]\n", true, ""},
		{"plain in flow map", 0, "", "{k: %s}\n", true, ""},
		{"single", yaml.SingleQuotedStyle, "", "k: %s\n", false, "'"},
		{"double", yaml.DoubleQuotedStyle, "", "k: %s\n", false, `"`},
		{"str tagged", yaml.TaggedStyle, "!!str", "k: !!str %s\n", false, ""},
	}
	for _, st := range styles {
		for _, v := range values {
			out := render(v, &yaml.Node{Kind: yaml.ScalarNode, Style: st.style, Tag: st.tag}, st.flow)
			if st.keepsAs != "" && !strings.HasPrefix(out, st.keepsAs) {
				t.Errorf("%s: render(%q) = %s, lost the quote style", st.name, v, out)
			}
			doc := strings.Replace(st.wrap, "%s", out, 1)
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
				t.Errorf("%s: render(%q) = %s does not parse: %v", st.name, v, out, err)
				continue
			}
			s := n.Content[0].Content[1]
			if s.Kind == yaml.SequenceNode {
				s = s.Content[0]
			}
			if s.Value != v || s.Tag != "!!str" {
				t.Errorf("%s: render(%q) = %s reads back as %q (%s)", st.name, v, out, s.Value, s.Tag)
			}
			if st.tag == "" && yaml.IsValueNonString(out) && !strings.HasPrefix(out, `"`) && !strings.HasPrefix(out, "'") {
				t.Errorf("%s: render(%q) = %s is not a string in YAML 1.1", st.name, v, out)
			}
		}
	}
	// Plain stays plain when it can.
	for _, v := range []string{"1.5.0", "v1.2.3", "ghcr.io/acme/web:1.5.0", "main-abc", "sha256:abc"} {
		if out := render(v, &yaml.Node{Kind: yaml.ScalarNode}, false); out != v {
			t.Errorf("render(%q) = %s, want it unquoted", v, out)
		}
	}
}

func TestLineIndex(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		want      int
	}{
		{"first", "ab: c", 1, 5, 4},
		{"lf", "a: 1\nbc: d", 2, 5, 9},
		{"crlf", "a: 1\r\nbc: d", 2, 5, 10},
		{"cr", "a: 1\rbc: d", 2, 5, 9},
		{"nel", "a: 1\u0085b: d", 2, 4, 9},
		{"ls", "a: 1\u2028b: d", 2, 4, 10},
		{"bom", "\ufeffa: b", 1, 4, 6},
		{"multibyte", "é→: x", 1, 5, 7},
		{"tab", "a:\tx", 1, 4, 3},
		{"multibyte value line", "a: é\nb: [é, x]", 2, 8, 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			idx := newLineIndex(src)
			got, ok := idx.offset(src, tc.line, tc.col)
			if !ok || got != tc.want {
				t.Fatalf("offset(%d, %d) = %d, %v; want %d", tc.line, tc.col, got, ok, tc.want)
			}
			if l, c := idx.position(src, got); l != tc.line || c != tc.col {
				t.Fatalf("position(%d) = %d:%d; want %d:%d", got, l, c, tc.line, tc.col)
			}
			// The parser agrees on where the value starts.
			var n yaml.Node
			if err := yaml.Unmarshal(src, &n); err != nil {
				t.Fatal(err)
			}
			v := n.Content[0].Content[len(n.Content[0].Content)-1]
			if v.Kind == yaml.SequenceNode {
				v = v.Content[len(v.Content)-1]
			}
			if v.Line != tc.line || v.Column != tc.col {
				t.Fatalf("parser puts the value at %d:%d, test says %d:%d", v.Line, v.Column, tc.line, tc.col)
			}
		})
	}
}

func TestApplyUnchangedReturnsInput(t *testing.T) {
	for _, src := range []string{
		"no markers: here\n",
		"image: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"}\n",
		"{{ broken }} # {\"$imagepolicy\": \"web\"}\n",
	} {
		in := []byte(src)
		res := Apply("f.yaml", in, testTargets())
		if len(res.Changes) != 0 || &res.Out[0] != &in[0] {
			t.Errorf("Apply(%q) changed %v or copied the input", src, res.Changes)
		}
	}
}

func TestApplyTargets(t *testing.T) {
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	tests := []struct {
		name   string
		target *Target
		ref    string // the marker's reference to policy p
		src    string
		want   string
	}{
		{"ref", &Target{Image: "r/web", Tag: "2"}, "p", "v: r/web:1", "v: r/web:2"},
		{"ref pinned", &Target{Image: "r/web", Tag: "2", Digest: digest, PinDigest: true}, "p", "v: r/web:1", "v: r/web:2@" + digest},
		{"ref pinned without digest", &Target{Image: "r/web", Tag: "2", PinDigest: true}, "p", "v: r/web:1", "v: r/web:2"},
		{"same tag gains digest", &Target{Image: "r/web", Tag: "1", Digest: digest, PinDigest: true}, "p", "v: r/web:1", "v: r/web:1@" + digest},
		{"unpinned drops digest", &Target{Image: "r/web", Tag: "1", Digest: digest}, "p", "v: r/web:1@sha256:00", "v: r/web:1"},
		{"digest", &Target{Image: "r/web", Tag: "2", Digest: digest}, "p:digest", "v: sha256:00", "v: " + digest},
		{"digest unresolved", &Target{Image: "r/web", Tag: "2"}, "p:digest", "v: sha256:00", "v: sha256:00"},
		{"name", &Target{Image: "r/web2", Tag: "2"}, "p:name", "v: r/web", "v: r/web2"},
		{"tag", &Target{Image: "r/web", Tag: "2"}, "p:tag", "v: '1'", "v: '2'"},
		{"no tag selected", &Target{Image: "r/web"}, "p", "v: r/web:1", "v: r/web:1"},
		{"downgrade refused", &Target{Image: "r/web", Tag: "2", Higher: func(c string) bool { return c == "3" }}, "p", "v: r/web:3", "v: r/web:3"},
		{"higher not asked about the same tag", &Target{Image: "r/web", Tag: "3", Digest: digest, PinDigest: true, Higher: func(string) bool { return true }}, "p", "v: r/web:3", "v: r/web:3@" + digest},
		{"value with spaces refused", &Target{Image: "r/web", Tag: "a b"}, "p", "v: r/web:1", "v: r/web:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marker := ` # {"$imagepolicy": "` + tc.ref + `"}` + "\n"
			res := Apply("f.yaml", []byte(tc.src+marker), Targets{"p": tc.target})
			if diff := cmp.Diff(tc.want+marker, string(res.Out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
