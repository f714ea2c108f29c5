package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

const fluxObjects = `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: ghcr.io/acme/web
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: web
  policy:
    semver:
      range: ^1
`

// TestValidateFlux checks that validate reads Flux objects by default,
// says what it read, reports their problems and notes, and skips them
// with --no-flux or flux: false.
func TestValidateFlux(t *testing.T) {
	marker := "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		wantOut  string
		wantCode int
	}{
		{"read by default", map[string]string{"clusters/images.yaml": fluxObjects, "apps/web.yaml": marker}, nil,
			"ok: 1 policies in 0 policy files and 1 Flux object files, 1 markers\n", 0},
		{"--no-flux", map[string]string{"clusters/images.yaml": fluxObjects, "apps/web.yaml": marker}, []string{"--no-flux"},
			"apps/web.yaml:1: marker names policy \"flux-system:web\", which no policy file defines\n", 2},
		{"flux: false", map[string]string{".imagebump.yaml": "flux: false\n", "clusters/images.yaml": fluxObjects}, nil,
			"ok: 0 policies in 1 policy files, 0 markers\n", 0},
		{"defined twice", map[string]string{
			".imagebump.yaml":      "policies:\n  - {name: 'flux-system:web', image: ghcr.io/acme/web, semver: '^1'}\n",
			"clusters/images.yaml": fluxObjects}, nil,
			"clusters/images.yaml:12: policy \"flux-system:web\" is defined twice: here and at .imagebump.yaml:2\n", 2},
		{"a note is a warning", map[string]string{"clusters/images.yaml": fluxObjects + "  digestReflectionPolicy: IfNotPresent\n", "apps/web.yaml": marker}, nil,
			"clusters/images.yaml:20: warning: ImagePolicy flux-system/web: IfNotPresent keeps the digest Flux first saw for a tag; imagebump writes the tag's digest as the registry has it on every pass, as Always does\n" +
				"ok: 1 policies in 0 policy files and 1 Flux object files, 1 markers, 1 warning(s)\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			out, _, code := runCLI(t, append([]string{"validate", dir}, tc.args...)...)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
		})
	}
}

// TestTagsFluxPolicy explains a Flux ImagePolicy's choice with tags
// --flux-policy FILE:NAME, against a real registry.
func TestTagsFluxPolicy(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.4.2", "2.0.0", "1.5.0.sig", "1.6.0-alpha")
	dir := filetree.Write(t, map[string]string{
		"clusters/images.yaml": strings.Replace(fluxObjects, "ghcr.io/acme/web", reg.Repo("acme/web"), 1),
	})
	file := filepath.Join(dir, "clusters", "images.yaml")
	for _, ref := range []string{"flux-system:web", "web"} {
		out, stderr, code := runCLI(t, "tags", "--flux-policy", file+":"+ref, "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", ref, code, stderr)
		}
		var got tagsReport
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		var reasons []string
		for _, v := range got.Tags {
			reasons = append(reasons, v.Tag+" "+v.Reason)
		}
		want := []string{"1.4.2 selected", "1.0.0 candidate", "1.5.0.sig excluded", "1.6.0-alpha prerelease", "2.0.0 outside range"}
		if got.Image != reg.Repo("acme/web") || got.Selected != "1.4.2" {
			t.Errorf("%s: image %s selected %s; want %s and 1.4.2", ref, got.Image, got.Selected, reg.Repo("acme/web"))
		}
		if diff := cmp.Diff(want, reasons); diff != "" {
			t.Errorf("%s: verdicts (-want +got):\n%s", ref, diff)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--flux-policy", file + ":nope"}, exitInvalid, "holds no usable ImagePolicy nope"},
		{[]string{"--flux-policy", file}, exitInvalid, "want FILE:NAME"},
		{[]string{"--flux-policy", file + ":web", "--semver", "*"}, exitInvalid, "give no IMAGE or policy flags (--semver)"},
		{[]string{"ghcr.io/acme/web", "--flux-policy", file + ":web"}, exitInvalid, "give no IMAGE or policy flags (ghcr.io/acme/web)"},
	} {
		_, stderr, code := runCLI(t, append([]string{"tags"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("tags %v: exit %d, %q; want %d with %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// TestPlanFlux plans a repository holding only Flux objects and markers:
// the ImageUpdateAutomation's update.path and namespace decide which
// markers change, as they do for Flux.
func TestPlanFlux(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	reg.Seed(t, "acme/web", "1.0.0", "1.4.2", "2.0.0")
	reg.Seed(t, "acme/db", "5.0.0", "5.1.0")
	objects := func(ns, name string) string {
		return strings.NewReplacer("flux-system", ns, "web", name, "ghcr.io/acme/"+name, reg.Repo("acme/"+name)).Replace(fluxObjects)
	}
	marker := func(policy, image string) string {
		return "image: " + image + " # {\"$imagepolicy\": \"" + policy + "\"}\n"
	}
	dir := filetree.Write(t, map[string]string{
		"clusters/web.yaml": objects("flux-system", "web"),
		"clusters/db.yaml":  strings.Replace(objects("team", "db"), "range: ^1", "range: ^5", 1),
		"clusters/auto.yaml": `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: flux-system}
  git:
    commit:
      author: {email: flux@example.com}
  update:
    path: ./apps
`,
		"apps/web.yaml":    marker("flux-system:web", reg.Repo("acme/web")+":1.0.0"),
		"apps/db.yaml":     marker("team:db", reg.Repo("acme/db")+":5.0.0"),
		"staging/web.yaml": marker("flux-system:web", reg.Repo("acme/web")+":1.0.0"),
	})
	out, stderr, code := runCLI(t, "plan", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Changes []struct {
			File, Policy, New string
		} `json:"changes"`
		Problems []any `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	var changes []string
	for _, c := range got.Changes {
		changes = append(changes, c.File+" "+c.Policy+" "+c.New)
	}
	// staging/ is outside update.path; team:db is not in the automation's
	// namespace: Flux writes neither.
	want := []string{"apps/web.yaml flux-system:web " + reg.Repo("acme/web") + ":1.4.2"}
	if diff := cmp.Diff(want, changes); diff != "" || len(got.Problems) > 0 {
		t.Errorf("changes (-want +got):\n%s\nproblems: %v", diff, got.Problems)
	}
}
