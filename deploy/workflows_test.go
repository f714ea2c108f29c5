package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// TestWorkflowsRunMake checks that the GitHub workflows build and test with
// the make targets that .ci/run runs locally: every `make TARGET` in a
// step is a target of the Makefile, and the release builds the image and
// the binaries with make image and make binaries after make test and make
// release-check.
func TestWorkflowsRunMake(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`).FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	makeCall := regexp.MustCompile(`\bmake\s+([a-z][a-z0-9-]*)`)

	files, err := filepath.Glob("../.github/workflows/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{} // file → make targets, in order
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Run string `yaml:"run"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(src, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for job, j := range wf.Jobs {
			for _, s := range j.Steps {
				for _, m := range makeCall.FindAllStringSubmatch(s.Run, -1) {
					if !targets[m[1]] {
						t.Errorf("%s: job %s runs make %s, which the Makefile does not define", f, job, m[1])
					}
					used[filepath.Base(f)] = append(used[filepath.Base(f)], m[1])
				}
			}
		}
	}
	for _, want := range []string{"test", "release-check", "image", "binaries"} {
		if !slices.Contains(used["release.yml"], want) {
			t.Errorf("release.yml never runs make %s; it runs %v", want, used["release.yml"])
		}
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^make release-check$`).Match(ci) {
		t.Error(".ci/run does not run make release-check (the image check and actionlint)")
	}
	if !strings.Contains(string(mk), "github.com/rhysd/actionlint/cmd/actionlint@") {
		t.Error("the Makefile does not run actionlint's Go module")
	}
}
