package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/unprivileged"
)

func TestLoadPolicies(t *testing.T) {
	root := filetree.Write(t, map[string]string{
		".imagebump.yaml": `policies:
  - name: web
    image: ghcr.io/acme/web
    semver: ">=1.0.0 <2.0.0"
    exclude: ['-rc\.?\d*$']
    pinDigest: true
    platforms: [linux/amd64, linux/arm64]
    minAge: 3d
pullRequests:
  grouping: group
  labels: [dependencies]
  maxOpen: 0
`,
		"apps/api/.imagebump.yml": `policies:
- name: flux-system:api
  image: localhost:5000/acme/api
  numerical: asc
  filterTags:
    pattern: '^main-[0-9a-f]+-(?P<ts>\d+)$'
    extract: '$ts'
  group: backend
`,
		"apps/empty/.imagebump.yaml": "",
		".git/.imagebump.yaml":       "not: read",
	})
	ps, err := LoadPolicies(root)
	if err != nil {
		t.Fatalf("LoadPolicies: %v", err)
	}
	if diff := cmp.Diff([]string{".imagebump.yaml", "apps/api/.imagebump.yml", "apps/empty/.imagebump.yaml"}, ps.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	type summary struct {
		Name, File, Image, Group string
		Line                     int
		MinAge                   time.Duration
	}
	var got []summary
	for _, p := range ps.Policies {
		s := p.Spec()
		got = append(got, summary{p.Name(), p.File, s.Image, p.Group, p.Line, s.MinAge})
	}
	want := []summary{
		{"flux-system:api", "apps/api/.imagebump.yml", "localhost:5000/acme/api", "backend", 2, 0},
		{"web", ".imagebump.yaml", "ghcr.io/acme/web", "", 2, 72 * time.Hour},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	wantPRs := PullRequests{Grouping: ByGroup, BranchPrefix: "imagebump/", Labels: []string{"dependencies"}, MaxOpen: 0}
	if diff := cmp.Diff(wantPRs, ps.PullRequests); diff != "" {
		t.Errorf("PullRequests (-want +got):\n%s", diff)
	}
	if p := ps.Lookup("web"); p == nil || p.Name() != "web" {
		t.Errorf("Lookup(web) = %v", p)
	}
	if p := ps.Lookup("nope"); p != nil {
		t.Errorf("Lookup(nope) = %v, want nil", p)
	}
	if tag, _ := ps.Lookup("flux-system:api").Select([]string{"main-abc-10", "main-def-9"}); tag != "main-abc-10" {
		t.Errorf("compiled policy selected %q", tag)
	}
}

func TestLoadPoliciesDefaults(t *testing.T) {
	ps, err := LoadPolicies(filetree.Write(t, map[string]string{"x/.imagebump.yaml": "policies: []\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultPullRequests(), ps.PullRequests); diff != "" {
		t.Errorf("PullRequests (-want +got):\n%s", diff)
	}
}

func TestLoadPoliciesProblems(t *testing.T) {
	const ok = "policies:\n  - name: ok\n    image: r.io/ok\n    semver: '*'\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown field", map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    image: r.io/web\n    semvar: '*'\n"},
			[]string{
				// The rest of the file is still checked.
				`.imagebump.yaml:2: policy "web": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none`,
				`.imagebump.yaml:4: unknown field "semvar"`}},
		{"unknown top-level field", map[string]string{".imagebump.yaml": "polices: []\n"},
			[]string{`.imagebump.yaml:1: unknown field "polices"`}},
		{"syntax error", map[string]string{"a/.imagebump.yaml": "policies:\n  - name: web\n   image: x\n"},
			[]string{`a/.imagebump.yaml:3:4: did not find expected '-' indicator (while parsing a block collection that starts at line 2)`}},
		{"syntax error on line 4", map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    image: r.io/web\n  semver: '*'\n"},
			[]string{`.imagebump.yaml:4:3: did not find expected '-' indicator (while parsing a block collection that starts at line 2)`}},
		{"unclosed flow sequence", map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    exclude: [a,\n      b\n    image: x\n"},
			[]string{`.imagebump.yaml:5:10: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 3)`}},
		{"tab indentation", map[string]string{".imagebump.yaml": "policies:\n  - name: web\n\timage: x\n"},
			[]string{`.imagebump.yaml:3:1: found a tab character that violates indentation (while scanning a plain scalar that starts at line 2)`}},
		{"unterminated quote", map[string]string{".imagebump.yaml": "policies:\n  - name: 'web\n    image: x\n"},
			[]string{`.imagebump.yaml:4:1: found unexpected end of stream (while scanning a quoted scalar that starts at line 2)`}},
		{"wrong type", map[string]string{".imagebump.yaml": "policies:\n  - name: [a]\n"},
			[]string{`.imagebump.yaml:2: cannot construct seq into string`}},
		{"two documents", map[string]string{".imagebump.yaml": ok + "---\npolicies: []\n"},
			[]string{`.imagebump.yaml:5: a policy file holds one YAML document; found another`}},
		{"no kind", map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    image: r.io/web\n"},
			[]string{`.imagebump.yaml:2: policy "web": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none`}},
		{"errors point at their field", map[string]string{".imagebump.yaml": `policies:
  - name: web
    image: r.io/web
    semver: '*'
    numerical: up
    filterTags:
      pattern: '^(?P<v>.*)$'
      extract: '$ver'
    exclude:
      - ok
      - '(('
    minAge: soon
    group: a/b
  - image: r.io/anon
    alphabetical: asc
`},
			[]string{
				`.imagebump.yaml:5: policy "web": numerical: "up" is not asc or desc`,
				`.imagebump.yaml:5: policy "web": numerical: a policy needs exactly one of semver, alphabetical, numerical, track; it has semver and numerical`,
				`.imagebump.yaml:8: policy "web": filterTags.extract: "$ver" refers to group "ver", which the pattern does not define`,
				".imagebump.yaml:11: policy \"web\": exclude[1]: error parsing regexp: missing closing ): `((`",
				`.imagebump.yaml:12: policy "web": minAge: "soon" is not a duration such as 72h or 3d`,
				`.imagebump.yaml:13: policy "web": group: "a/b" cannot be part of a branch name`,
				`.imagebump.yaml:14: policy: name: is required`,
			}},
		{"aliases refused", map[string]string{".imagebump.yaml": "policies:\n  - &p {name: w, image: r.io/w, semver: '*', minAge: soon}\n  - *p\n  - {name: v, image: r.io/v, <<: *p}\n"},
			[]string{
				`.imagebump.yaml:3: YAML alias *p: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:4: YAML alias *p: aliases are not allowed in policy files; write the value out`,
			}},
		// Before aliases were refused, this printed each problem of the
		// anchored entry once per expansion.
		{"alias bomb", map[string]string{".imagebump.yaml": aliasBomb(10)},
			[]string{
				`.imagebump.yaml:3: YAML alias *a0: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:4: YAML alias *a1: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:5: YAML alias *a2: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:6: YAML alias *a3: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:7: YAML alias *a4: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:8: YAML alias *a5: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:9: YAML alias *a6: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:10: YAML alias *a7: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:11: YAML alias *a8: aliases are not allowed in policy files; write the value out`,
				`.imagebump.yaml:12: YAML alias *a9: aliases are not allowed in policy files; write the value out`,
			}},
		{"duplicate across files", map[string]string{".imagebump.yaml": ok, "b/.imagebump.yaml": "\n" + ok},
			[]string{`b/.imagebump.yaml:3: policy "ok" is defined twice: here and at .imagebump.yaml:2`}},
		{"pull requests outside root", map[string]string{".imagebump.yaml": ok, "b/.imagebump.yaml": "pullRequests:\n  draft: true\n"},
			[]string{`b/.imagebump.yaml:1: pullRequests is read from the repository's root policy file only`}},
		{"bad pull requests", map[string]string{".imagebump.yaml": "pullRequests:\n  grouping: team\n  branchPrefix: 'bot..x/'\n  maxOpen: -1\n  labels: ['']\n"},
			[]string{
				`.imagebump.yaml:2: pullRequests.grouping: "team" is not policy, group or all`,
				`.imagebump.yaml:3: pullRequests.branchPrefix: "bot..x/" is not a valid start of a git branch name`,
				`.imagebump.yaml:4: pullRequests.maxOpen: -1 is negative (0 means no limit)`,
				`.imagebump.yaml:5: pullRequests.labels[0] is empty`,
			}},
		{"problems in several files, the valid one ignored", map[string]string{
			"z/.imagebump.yaml": "policies: 3\n", "a/.imagebump.yml": "policies:\n - {name: x, image: r.io/x, track: ''}\n", "m/.imagebump.yaml": ok},
			[]string{
				`a/.imagebump.yml:2: policy "x": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none`,
				`z/.imagebump.yaml:1: cannot construct int ` + "`3`" + ` into []config.policyEntry`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := LoadPolicies(filetree.Write(t, tc.files))
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadPolicies = %v, %v; want problem.List", ps, err)
			}
			if ps != nil {
				t.Errorf("LoadPolicies returned policies along with problems")
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadPoliciesLinkedRoot checks that a root that is itself a symbolic
// link is read through, while links inside it are still not followed.
func TestLoadPoliciesLinkedRoot(t *testing.T) {
	outside := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - {name: evil, image: r.io/e, semver: '*'}\n"})
	target := filetree.Write(t, map[string]string{
		".imagebump.yaml":     "policies:\n  - {name: web, image: r.io/w, semver: '*'}\n",
		"apps/.imagebump.yml": "policies:\n  - {name: api, image: r.io/a, semver: '*'}\n",
	})
	if err := os.Symlink(outside, filepath.Join(target, "apps", "linked")); err != nil {
		t.Fatal(err)
	}
	links := t.TempDir()
	if err := os.Symlink(target, filepath.Join(links, "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("current", filepath.Join(links, "repo")); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"current", "repo"} {
		t.Run(root, func(t *testing.T) {
			ps, err := LoadPolicies(filepath.Join(links, root))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{".imagebump.yaml", "apps/.imagebump.yml"}, ps.Files); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}

// aliasBomb is a policy file whose policies list, decoded, holds 9^levels
// copies of one invalid policy.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("x:\n  - &a0 {name: w, image: r.io/w, semver: '*', minAge: soon, exclude: ['(']}\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  - &a%d [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	fmt.Fprintf(&b, "policies: [%s]\n", strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", levels-1), 9), ", "))
	return b.String()
}

func TestProblemsSorted(t *testing.T) {
	ps := problem.List{
		{File: "b", Line: 2, Message: "m"},
		{File: "a", Line: 3, Column: 2, Message: "m"},
		{File: "a", Line: 3, Column: 1, Message: "m"},
		{File: "b", Line: 2, Message: "m"},
		{File: "a", Line: 1, Message: "m"},
		{File: "b", Line: 2, Message: "other"},
		{File: "a", Line: 1, Message: "m"},
	}
	want := problem.List{
		{File: "a", Line: 1, Message: "m"},
		{File: "a", Line: 3, Column: 1, Message: "m"},
		{File: "a", Line: 3, Column: 2, Message: "m"},
		{File: "b", Line: 2, Message: "m"},
		{File: "b", Line: 2, Message: "other"},
	}
	if diff := cmp.Diff(want, ps.Sorted()); diff != "" {
		t.Errorf("sorted (-want +got):\n%s", diff)
	}
}

func TestLoadPoliciesSkipsLinks(t *testing.T) {
	outside := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - {name: evil, image: r.io/e, semver: '*'}\n"})
	root := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - {name: web, image: r.io/w, semver: '*'}\n"})
	if err := os.Symlink(outside, filepath.Join(root, "linked-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, ".imagebump.yaml"), filepath.Join(root, "sub", ".imagebump.yaml")); err != nil {
		if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(outside, ".imagebump.yaml"), filepath.Join(root, "sub", ".imagebump.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := LoadPolicies(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".imagebump.yaml"}, ps.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// TestLoadPoliciesUnreadable checks that a directory or policy file that
// cannot be read is a problem with its path, and that the rest of the tree
// is still read and reported on.
func TestLoadPoliciesUnreadable(t *testing.T) {
	if unprivileged.Run(t) {
		return
	}
	root := filetree.Write(t, map[string]string{
		".imagebump.yaml":               "policies:\n  - {name: web, image: r.io/w, semver: '*'}\n",
		"noread/.imagebump.yaml":        "policies:\n  - {name: hidden, image: r.io/h, semver: '*'}\n",
		"deep/er/noread/x.yaml":         "a: b\n",
		"secret/.imagebump.yaml":        "policies: []\n",
		"z/.imagebump.yaml":             "policies:\n  - {name: z, image: r.io/z, semvar: '*'}\n",
		"zz/.imagebump.yml":             "policies:\n  - {name: web, image: r.io/w, semver: '*'}\n",
		"apps/ok/.imagebump.yaml":       "policies:\n  - {name: ok, image: r.io/ok, semver: '*'}\n",
		"apps/ok/deploy/.imagebump.yml": "",
	})
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{"noread", 0}, {"deep/er/noread", 0o300}, {"secret/.imagebump.yaml", 0}} {
		full := filepath.Join(root, filepath.FromSlash(p.path))
		if err := os.Chmod(full, p.mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(full, 0o755) })
	}
	ps, err := LoadPolicies(root)
	var problems problem.List
	if !errors.As(err, &problems) {
		t.Fatalf("LoadPolicies = %v, %v; want problem.List", ps, err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"deep/er/noread: cannot read directory: permission denied",
		"noread: cannot read directory: permission denied",
		"secret/.imagebump.yaml: cannot read: permission denied",
		`z/.imagebump.yaml:2: unknown field "semvar"`,
		`z/.imagebump.yaml:2: policy "z": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none`,
		`zz/.imagebump.yml:2: policy "web" is defined twice: here and at .imagebump.yaml:2`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
