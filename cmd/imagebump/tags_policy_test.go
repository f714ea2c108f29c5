package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

// policyFleet writes a checkout whose policies, one per kind of rule, use
// reg, with a marker for each but "unused".
func policyFleet(t *testing.T, reg *registrytest.Registry) string {
	t.Helper()
	old := time.Now().Add(-30 * 24 * time.Hour)
	reg.Seed(t, "acme/web", "1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0", "latest")
	reg.Seed(t, "acme/cache", "7.2.4-alpine", "7.2.5-alpine", "7.3.0", "7.4.0-alpine")
	reg.Push(t, "acme/api:main-a-100", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: old}, registrytest.ImageSpec{Platform: "linux/arm64", Created: old}))
	reg.Push(t, "acme/api:main-b-200", registrytest.NewImage(t, registrytest.ImageSpec{Platform: "linux/amd64", Created: old}))
	reg.Push(t, "acme/api:main-c-300", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: time.Now()}, registrytest.ImageSpec{Platform: "linux/arm64", Created: time.Now()}))
	web, cache, api := reg.Repo("acme/web"), reg.Repo("acme/cache"), reg.Repo("acme/api")
	return filetree.Write(t, map[string]string{
		".imagebump.yaml": `policies:
  - name: web
    image: ` + web + `
    semver: ">=1.0.0 <2.0.0"
    exclude: ['^1\.2\.']
    pinDigest: true
  - name: cache
    image: ` + cache + `
    semver: "*"
    filterTags:
      pattern: '^(?P<v>\d+\.\d+\.\d+)-alpine$'
      extract: '$v'
  - name: unused
    image: ` + web + `
    alphabetical: asc
`,
		"apps/api/.imagebump.yaml": `policies:
  - name: flux-system:api
    image: ` + api + `
    numerical: asc
    filterTags:
      pattern: '^main-[a-z]+-(?P<ts>\d+)$'
      extract: '$ts'
    platforms: [linux/arm64]
    minAge: 72h
`,
		"apps/web.yaml":        "image: " + web + ":1.0.0 # {\"$imagepolicy\": \"web\"}\n",
		"apps/cache.yaml":      "tag: 7.2.4-alpine # {\"$imagepolicy\": \"cache:tag\"}\n",
		"apps/api/values.yaml": "tag: main-a-100 # {\"$imagepolicy\": \"flux-system:api:tag\"}\n",
	})
}

// TestTagsPolicyMatchesPlan checks that tags --policy gives, for every
// policy plan resolves, the tag and digest plan gives, and says where the
// policy comes from.
func TestTagsPolicyMatchesPlan(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	dir := policyFleet(t, reg)

	out, stderr, code := runCLI(t, "plan", dir, "-o", "json")
	if code != exitOK {
		t.Fatalf("plan: exit %d: %s\n%s", code, stderr, out)
	}
	var plan planReport
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Policies) != 3 {
		t.Fatalf("plan resolved %d policies, want 3: %+v", len(plan.Policies), plan.Policies)
	}
	where := map[string]tagsSource{
		"web": {Name: "web", File: ".imagebump.yaml", Line: 2,
			Rule: `semver ">=1.0.0 <2.0.0"; exclude '^1\.2\.'`},
		"cache": {Name: "cache", File: ".imagebump.yaml", Line: 7,
			Rule: `semver "*"; filterTags '^(?P<v>\d+\.\d+\.\d+)-alpine$' extract '$v'`},
		"flux-system:api": {Name: "flux-system:api", File: "apps/api/.imagebump.yaml", Line: 2,
			Rule: `numerical asc; filterTags '^main-[a-z]+-(?P<ts>\d+)$' extract '$ts'; platforms linux/arm64; minAge 72h`},
	}
	for _, pp := range plan.Policies {
		t.Run(pp.Name, func(t *testing.T) {
			if pp.Error != "" || pp.Tag == "" {
				t.Fatalf("plan did not resolve %s: %+v", pp.Name, pp)
			}
			out, stderr, code := runCLI(t, "tags", "--policy", pp.Name, dir, "-o", "json")
			if code != exitOK {
				t.Fatalf("tags --policy %s: exit %d: %s", pp.Name, code, stderr)
			}
			var got tagsReport
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Image != pp.Image || got.Selected != pp.Tag {
				t.Errorf("tags --policy %s selected %s:%s, plan %s:%s", pp.Name, got.Image, got.Selected, pp.Image, pp.Tag)
			}
			if pp.Digest != "" && got.Digest != pp.Digest {
				t.Errorf("tags --policy %s: digest %s, plan's %s", pp.Name, got.Digest, pp.Digest)
			}
			if diff := cmp.Diff(where[pp.Name], *got.Policy); diff != "" {
				t.Errorf("where the policy comes from (-want +got):\n%s", diff)
			}
			text, _, _ := runCLI(t, "tags", "--policy", pp.Name, dir)
			w := where[pp.Name]
			if first := strings.SplitN(text, "\n", 2)[0]; first != "policy "+w.Name+" ("+w.File+":"+strconv.Itoa(w.Line)+"): "+w.Rule {
				t.Errorf("first line %q does not name the policy, its file:line and rule", first)
			}
			if !strings.Contains(text, pp.Image+": selected "+pp.Tag) {
				t.Errorf("text output lacks the selection %s:\n%s", pp.Tag, text)
			}
		})
	}
	// The tags plan must pass over, so that equal answers mean something.
	want := map[string]string{"web": "1.0.0", "cache": "7.4.0-alpine", "flux-system:api": "main-a-100"}
	for _, pp := range plan.Policies {
		if pp.Tag != want[pp.Name] {
			t.Errorf("plan selected %s for %s, want %s", pp.Tag, pp.Name, want[pp.Name])
		}
	}

	// A policy no marker uses, which plan leaves alone, from the current
	// directory by default.
	t.Chdir(dir)
	out, stderr, code = runCLI(t, "tags", "--policy", "unused")
	if code != exitOK || !strings.HasPrefix(out, "policy unused (.imagebump.yaml:13): alphabetical asc\n"+reg.Repo("acme/web")+": selected latest (sha256:") {
		t.Errorf("tags --policy unused: exit %d, stderr %s, out:\n%s", code, stderr, out)
	}
}

func TestTagsPolicyErrors(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	good := filetree.Write(t, map[string]string{
		".imagebump.yaml":      "policies:\n  - {name: web, image: 127.0.0.1:1/acme/web, semver: '*'}\n",
		"apps/.imagebump.yaml": "policies:\n  - {name: api, image: 127.0.0.1:1/acme/api, semver: '*'}\n",
	})
	bad := filetree.Write(t, map[string]string{".imagebump.yaml": "policies:\n  - name: web\n    image: r.io/web\n    semvar: '*'\n"})
	empty := filetree.Write(t, map[string]string{"a.yaml": "a: 1\n"})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown name", []string{"tags", "--policy", "wbe", good}, exitInvalid, `no policy "wbe" in the policy files under ` + good + ` (.imagebump.yaml, apps/.imagebump.yaml); they define: api, web`},
		{"no policy file", []string{"tags", "--policy", "web", empty}, exitInvalid, `no policy "web": no policy file under ` + empty},
		{"invalid policy file", []string{"tags", "--policy", "web", bad}, exitInvalid, ".imagebump.yaml:4: unknown field \"semvar\""},
		{"with a rule flag", []string{"tags", "--policy", "web", good, "--semver", "^1"}, exitInvalid, "--semver cannot be combined with --policy"},
		{"two directories", []string{"tags", "--policy", "web", good, good}, exitInvalid, "tags --policy takes at most one DIR argument, got 2"},
		{"not a directory", []string{"tags", "--policy", "web", "/etc/hostname"}, exitInvalid, "/etc/hostname is not a directory"},
		{"registry fails", []string{"tags", "--policy", "web", good}, exitFailed, `policy "web" (.imagebump.yaml:2): `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
