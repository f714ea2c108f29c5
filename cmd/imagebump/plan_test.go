package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

// fleet writes a small manifests checkout whose policies use reg.
func fleet(t *testing.T, reg *registrytest.Registry) string {
	t.Helper()
	reg.Seed(t, "acme/web", "1.0.0", "1.4.2", "1.10.0", "2.0.0")
	reg.Seed(t, "acme/api", "3.1.0", "3.2.0")
	web, api, gone := reg.Repo("acme/web"), reg.Repo("acme/api"), reg.Repo("acme/gone")
	return filetree.Write(t, map[string]string{
		".imagebump.yaml": `policies:
  - name: web
    image: ` + web + `
    semver: ^1
  - name: flux-system:api
    image: ` + api + `
    semver: '*'
    pinDigest: true
  - name: gone
    image: ` + gone + `
    semver: '*'
`,
		"apps/web.yaml": "# web\r\napiVersion: apps/v1\r\nkind: Deployment\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n        - name: web\r\n          image: " + web + ":1.0.0 # {\"$imagepolicy\": \"web\"}\r\n        - name: side\r\n          image: '" + web + ":1.4.2' # {\"$imagepolicy\": \"web\"}\r\n",
		"apps/values.yaml": `image:
  repository: ` + api + ` # {"$imagepolicy": "flux-system:api:name"}
  tag: "3.1.0"  # {"$imagepolicy": "flux-system:api:tag"}
  digest: sha256:0000000000000000000000000000000000000000000000000000000000000000 # {"$imagepolicy": "flux-system:api:digest"}
old: ` + web + `:9.0.0 # {"$imagepolicy": "web"}
broken: ` + gone + `:1 # {"$imagepolicy": "gone"}
typo: x # {"$imagepolicy": "wbe"}
`,
	})
}

func TestPlanAndApply(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	dir := fleet(t, reg)
	web, api := reg.Repo("acme/web"), reg.Repo("acme/api")
	before := filetree.Read(t, dir)

	out, stderr, code := runCLI(t, "plan", dir, "-o", "json")
	if code != exitFailed {
		t.Errorf("plan exit %d, want %d (a policy failed): %s", code, exitFailed, stderr)
	}
	var got planReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	apiDigest := got.Policies[0].Digest
	if !strings.HasPrefix(apiDigest, "sha256:") {
		t.Fatalf("flux-system:api has no digest: %+v", got.Policies)
	}
	if got.Policies[1].Error == "" {
		t.Fatalf("policy gone did not fail: %+v", got.Policies)
	}
	got.Policies[1].Error = strings.SplitAfter(got.Policies[1].Error, "listing tags of "+reg.Repo("acme/gone")+":")[0]
	want := planReport{
		Changes: []planChange{
			{File: "apps/values.yaml", Line: 3, Policy: "flux-system:api", Field: "tag", Old: "3.1.0", New: "3.2.0"},
			{File: "apps/values.yaml", Line: 4, Policy: "flux-system:api", Field: "digest", Old: "sha256:" + strings.Repeat("0", 64), New: apiDigest},
			{File: "apps/web.yaml", Line: 9, Policy: "web", Field: "ref", Old: web + ":1.0.0", New: web + ":1.10.0"},
			{File: "apps/web.yaml", Line: 11, Policy: "web", Field: "ref", Old: web + ":1.4.2", New: web + ":1.10.0"},
		},
		Policies: []planPolicy{
			{Name: "flux-system:api", Image: api, Tag: "3.2.0", Digest: apiDigest},
			{Name: "gone", Image: reg.Repo("acme/gone"), Error: `policy "gone" (.imagebump.yaml:9): listing tags of ` + reg.Repo("acme/gone") + ":"},
			{Name: "web", Image: web, Tag: "1.10.0"},
		},
		Problems: []problem.Problem{{File: "apps/values.yaml", Line: 7, Message: `marker names policy "wbe", which no policy file defines`}},
		Skipped:  []planSkipped{{File: "apps/values.yaml", Line: 5, Policy: "web", Current: "9.0.0", Selected: "1.10.0", Reason: "would downgrade"}},
		Warnings: []patcher.Warning{},
		// web changes two fields and refuses a downgrade of a third: changed.
		Summary: planSummary{Defined: 3, Used: 3, Resolved: 2, Changed: 2, SkippedReasons: map[pullrequest.SkipReason]int{}, Failing: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan -o json (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, filetree.Read(t, dir)); diff != "" {
		t.Errorf("plan wrote files (-before +after):\n%s", diff)
	}

	// The text report has the table and a diff that keeps CRLF.
	text, _, _ := runCLI(t, "plan", dir)
	for _, s := range []string{"apps/web.yaml:9", "--- a/apps/web.yaml", "+          image: " + web + ":1.10.0 # {\"$imagepolicy\": \"web\"}\r\n", "Problems:", "Skipped:", "Policies that failed:"} {
		if !strings.Contains(text, s) {
			t.Errorf("plan text lacks %q:\n%s", s, text)
		}
	}

	// apply writes exactly the planned values; a second plan finds nothing
	// to change.
	if _, stderr, code := runCLI(t, "apply", dir); code != exitFailed {
		t.Errorf("apply exit %d, want %d: %s", code, exitFailed, stderr)
	}
	after := filetree.Read(t, dir)
	wantWeb := strings.ReplaceAll(before["apps/web.yaml"], ":1.0.0 #", ":1.10.0 #")
	wantWeb = strings.ReplaceAll(wantWeb, ":1.4.2' #", ":1.10.0' #")
	if diff := cmp.Diff(wantWeb, after["apps/web.yaml"]); diff != "" {
		t.Errorf("apps/web.yaml after apply (-want +got):\n%s", diff)
	}
	out, _, _ = runCLI(t, "plan", dir, "-o", "json")
	var again planReport
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("plan after apply still has changes: %+v", again.Changes)
	}
}

func TestPlanExitCodes(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.1.0")
	policies := "policies:\n  - {name: web, image: " + reg.Repo("acme/web") + ", semver: '*'}\n"
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  int
	}{
		{"changes", map[string]string{".imagebump.yaml": policies, "d.yaml": "image: " + reg.Repo("acme/web") + ":1.0.0 # {\"$imagepolicy\": \"web\"}\n"}, []string{"--exit-code"}, exitChanges},
		{"changes without --exit-code", map[string]string{".imagebump.yaml": policies, "d.yaml": "image: " + reg.Repo("acme/web") + ":1.0.0 # {\"$imagepolicy\": \"web\"}\n"}, nil, exitOK},
		{"up to date", map[string]string{".imagebump.yaml": policies, "d.yaml": "image: " + reg.Repo("acme/web") + ":1.1.0 # {\"$imagepolicy\": \"web\"}\n"}, []string{"--exit-code"}, exitOK},
		{"invalid policy file, json", map[string]string{".imagebump.yaml": policies + "    semvar: x\n"}, []string{"-o", "json"}, exitInvalid},
		{"invalid policy file", map[string]string{".imagebump.yaml": policies + "    semvar: x\n", "d.yaml": "image: " + reg.Repo("acme/web") + ":1.0.0 # {\"$imagepolicy\": \"web\"}\n"}, []string{"--exit-code"}, exitInvalid},
		{"invalid image", map[string]string{".imagebump.yaml": "policies:\n  - {name: web, image: /srv/web, semver: '*'}\n", "d.yaml": "image: x:1.0.0 # {\"$imagepolicy\": \"web\"}\n"}, nil, exitInvalid},
		{"marker on a mapping", map[string]string{".imagebump.yaml": policies, "d.yaml": "image: # {\"$imagepolicy\": \"web\"}\n  a: b\n"}, []string{"--exit-code"}, exitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			for _, cmd := range []string{"plan", "apply"} {
				want := tc.want
				if cmd == "apply" {
					if tc.args != nil {
						continue // --exit-code is plan's
					}
				}
				before := filetree.Read(t, dir)
				_, stderr, code := runCLI(t, append([]string{cmd, dir}, tc.args...)...)
				if code != want {
					t.Errorf("%s: exit %d, want %d: %s", cmd, code, want, stderr)
				}
				if want == exitInvalid {
					if diff := cmp.Diff(before, filetree.Read(t, dir)); diff != "" {
						t.Errorf("%s wrote files despite an invalid policy file:\n%s", cmd, diff)
					}
				}
			}
		})
	}
}

// TestPlanSummary checks the summary that ends plan's text report and the
// counts of -o json: each policy a marker uses is changed, up to date,
// skipped (with the reason) or failing; unused policies count as defined.
func TestPlanSummary(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/a", "1.0.0", "1.1.0")
	reg.Seed(t, "acme/b", "2.0.0")
	reg.Seed(t, "acme/c", "3.0.0")
	pol := func(names ...string) string {
		s := "policies:\n"
		for _, n := range names {
			s += "  - {name: " + n + ", image: " + reg.Repo("acme/"+n) + ", semver: '*'}\n"
		}
		return s
	}
	marker := func(name, tag string) string {
		return "- " + reg.Repo("acme/"+name) + ":" + tag + " # {\"$imagepolicy\": \"" + name + "\"}\n"
	}
	tests := []struct {
		name     string
		files    map[string]string
		want     planSummary
		wantLine string
	}{
		{"every state", map[string]string{
			".imagebump.yaml": pol("a", "b", "c", "d", "e"),
			"m.yaml":          marker("a", "1.0.0") + marker("b", "2.0.0") + marker("c", "4.0.0") + marker("d", "1.0.0"),
		}, planSummary{Defined: 5, Used: 4, Resolved: 3, Changed: 1, UpToDate: 1, Skipped: 1, SkippedReasons: map[pullrequest.SkipReason]int{pullrequest.SkipDowngrade: 1}, Failing: 1},
			"Summary: 4 policies used by markers (5 defined); 3 resolved: 1 changed, 1 up to date, 1 skipped (refused downgrade: 1); 1 failing."},
		{"up to date", map[string]string{
			".imagebump.yaml": pol("b"),
			"m.yaml":          marker("b", "2.0.0"),
		}, planSummary{Defined: 1, Used: 1, Resolved: 1, UpToDate: 1, SkippedReasons: map[pullrequest.SkipReason]int{}},
			"Summary: 1 policy used by markers (1 defined); 1 resolved: 1 up to date."},
		{"no marker", map[string]string{
			".imagebump.yaml": pol("a", "b"),
			"m.yaml":          "image: x\n",
		}, planSummary{Defined: 2, SkippedReasons: map[pullrequest.SkipReason]int{}},
			"Summary: no marker uses any of the 2 policies defined."},
		{"no policy file", map[string]string{"m.yaml": "image: x\n"}, planSummary{SkippedReasons: map[pullrequest.SkipReason]int{}},
			"Summary: no policy is defined (no policy file, or only empty ones)."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			out, stderr, _ := runCLI(t, "plan", dir, "-o", "json")
			var got planReport
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v in %s (stderr %s)", err, out, stderr)
			}
			if diff := cmp.Diff(tc.want, got.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			text, _, _ := runCLI(t, "plan", dir)
			lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
			if got := lines[len(lines)-1]; got != tc.wantLine {
				t.Errorf("last line of the text report:\n got %q\nwant %q\nreport:\n%s", got, tc.wantLine, text)
			}
		})
	}
}

// TestPlanJSONInvalidPolicyFile checks that -o json stays JSON when the
// policy files are invalid: the problems go where a run's problems go.
func TestPlanJSONInvalidPolicyFile(t *testing.T) {
	dir := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    image: r/web\n    semvar: '*'\n"})
	out, _, code := runCLI(t, "plan", dir, "-o", "json")
	if code != exitInvalid {
		t.Errorf("exit %d, want %d", code, exitInvalid)
	}
	var got planReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	want := planReport{Changes: []planChange{}, Policies: []planPolicy{}, Skipped: []planSkipped{}, Warnings: []patcher.Warning{},
		Problems: []problem.Problem{
			{File: ".imagebump.yaml", Line: 2, Message: `policy "web": semver: a policy needs exactly one of semver, alphabetical, numerical, track; it has none`},
			{File: ".imagebump.yaml", Line: 4, Message: `unknown field "semvar"`},
		},
		Summary: planSummary{SkippedReasons: map[pullrequest.SkipReason]int{}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan -o json (-want +got):\n%s", diff)
	}
}

// TestPlanWarnings checks that plan and apply show warnings (text and
// JSON) and that a warning does not change the exit status.
func TestPlanWarnings(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.1.0")
	web := reg.Repo("acme/web")
	files := map[string]string{
		".imagebump.yaml": "policies:\n  - {name: web, image: " + web + ", semver: '*'}\n",
		"d.yaml":          "image: " + web + ":1.0.0 # {\"$imagepolicy\": \"web\"}\nside: " + web + ":1.0.0 # {\"$imagepolicy\": \"web\"} # pinned\n",
	}
	const warning = `d.yaml:2: warning: comment looks like a marker but is not one: text after the JSON object; not applied`
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"plan"}, exitOK},
		{[]string{"plan", "--exit-code"}, exitChanges},
		{[]string{"apply"}, exitOK},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := filetree.Write(t, files)
			out, stderr, code := runCLI(t, append(tc.args, dir)...)
			if code != tc.want {
				t.Errorf("exit %d, want %d: %s", code, tc.want, stderr)
			}
			if !strings.Contains(out, "\nWarnings:\n  "+warning+"\n") {
				t.Errorf("output lacks the warning:\n%s", out)
			}
		})
	}
	out, _, code := runCLI(t, "plan", filetree.Write(t, files), "-o", "json")
	if code != exitOK {
		t.Errorf("plan -o json: exit %d", code)
	}
	var got planReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := []patcher.Warning{{File: "d.yaml", Line: 2, Message: "comment looks like a marker but is not one: text after the JSON object; not applied"}}
	if diff := cmp.Diff(want, got.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
