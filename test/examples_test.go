package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/test/registrytest"
)

// These tests keep examples/ working: the policy files and markers there
// validate, the Flux example's markers are rewritten by a real plan and
// apply, and the GitHub Actions workflow and its bot config fit together.

const examples = "../examples"

// markerComment matches a Flux setter marker at the end of a line, the
// way a reader of the example sees it, independently of the patcher.
var markerComment = regexp.MustCompile(`#\s*\{"\$imagepolicy":\s*"([^"]+)"\}\s*$`)

// markerLine is one line of an example carrying a marker.
type markerLine struct {
	File   string
	Line   int
	Policy string
	Field  patcher.Field
}

// grepMarkers finds the marker lines of every YAML file under root by
// reading text, so a marker the patcher would skip shows up as missing.
func grepMarkers(t *testing.T, root string) []markerLine {
	t.Helper()
	var found []markerLine
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isYAML(path) {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			m := markerComment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			policy, field := splitRef(m[1])
			found = append(found, markerLine{File: filepath.ToSlash(rel), Line: i + 1, Policy: policy, Field: field})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func isYAML(path string) bool {
	return strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")
}

// splitRef splits a marker's reference into policy and field as Flux
// does: a trailing :tag, :name or :digest is the field, the rest (which may
// hold ':') the policy.
func splitRef(ref string) (string, patcher.Field) {
	for _, f := range []patcher.Field{patcher.FieldTag, patcher.FieldName, patcher.FieldDigest} {
		if p, ok := strings.CutSuffix(ref, ":"+string(f)); ok {
			return p, f
		}
	}
	return ref, patcher.FieldRef
}

func TestExamplesValidate(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		// mustUse are marker forms the example exists to show.
		mustUse []markerLine
	}{
		{
			name: "flux",
			dir:  "flux",
			mustUse: []markerLine{
				{Policy: "flux-system:podinfo", Field: patcher.FieldRef},
				{Policy: "flux-system:podinfo", Field: patcher.FieldTag},
				{Policy: "flux-system:podinfo", Field: patcher.FieldName},
				{Policy: "flux-system:redis", Field: patcher.FieldTag},
				{Policy: "flux-system:redis", Field: patcher.FieldName},
			},
		},
		{
			name: "fleet",
			dir:  "fleet",
			mustUse: []markerLine{
				{Policy: "web", Field: patcher.FieldRef},
				{Policy: "flux-system:api", Field: patcher.FieldTag},
				{Policy: "flux-system:api", Field: patcher.FieldName},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(examples, tc.dir)

			out, err := exec.Command(binary(t), "validate", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("imagebump validate %s: %v\n%s", dir, err, out)
			}

			v, err := bot.Validate(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Problems) > 0 || len(v.Warnings) > 0 {
				t.Fatalf("problems %v, warnings %v", v.Problems, v.Warnings)
			}
			var got []markerLine
			for _, m := range v.Markers {
				got = append(got, markerLine{File: filepath.ToSlash(m.File), Line: m.Line, Policy: m.Policy, Field: m.Field})
			}
			byPlace := func(a, b markerLine) int {
				return strings.Compare(a.File, b.File)*2 + cmpInt(a.Line, b.Line)
			}
			slices.SortFunc(got, byPlace)
			want := grepMarkers(t, dir)
			slices.SortFunc(want, byPlace)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("markers the patcher reads differ from the marker comments in the files (-want +got):\n%s", diff)
			}

			used := map[string]bool{}
			missing := slices.Clone(tc.mustUse)
			for _, m := range got {
				used[m.Policy] = true
				missing = slices.DeleteFunc(missing, func(u markerLine) bool { return u.Policy == m.Policy && u.Field == m.Field })
			}
			for _, u := range missing {
				t.Errorf("no marker %s with field %s", u.Policy, u.Field)
			}
			for _, p := range v.Policies.Policies {
				if !used[p.Name()] {
					t.Errorf("policy %s (%s) is used by no marker", p.Name(), p.File)
				}
			}
		})
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestExamplesFluxMarkers checks that the Flux example's places for
// markers are the ones its README names: a HelmRelease values block and a
// kustomization images: entry, besides a plain image field.
func TestExamplesFluxMarkers(t *testing.T) {
	dir := filepath.Join(examples, "flux")
	kinds := map[string]bool{}
	for _, m := range grepMarkers(t, dir) {
		src, err := os.ReadFile(filepath.Join(dir, m.File))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.Contains(src, []byte("\nkind: HelmRelease\n")):
			kinds["HelmRelease"] = true
		case bytes.Contains(src, []byte("\nkind: Kustomization\n")) && bytes.Contains(src, []byte("\nimages:\n")):
			kinds["kustomization images"] = true
		case bytes.Contains(src, []byte("\nkind: Deployment\n")):
			kinds["Deployment"] = true
		}
	}
	want := map[string]bool{"HelmRelease": true, "kustomization images": true, "Deployment": true}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("kinds of files with markers (-want +got):\n%s", diff)
	}
}

// planJSON is the part of `plan -o json` this test reads.
type planJSON struct {
	Changes []struct {
		File   string `json:"file"`
		Policy string `json:"policy"`
		Field  string `json:"field"`
		Old    string `json:"old"`
		New    string `json:"new"`
	} `json:"changes"`
	Policies []struct {
		Name  string `json:"name"`
		Tag   string `json:"tag"`
		Error string `json:"error"`
	} `json:"policies"`
	Problems []json.RawMessage `json:"problems"`
	Skipped  []json.RawMessage `json:"skipped"`
	Warnings []json.RawMessage `json:"warnings"`
}

// TestExamplesFluxPlanAndApply runs plan and apply on a copy of the Flux
// example whose images point at a local registry, and checks that exactly
// the marked values change, byte for byte.
func TestExamplesFluxPlanAndApply(t *testing.T) {
	reg := registrytest.StartInProcess(t)

	// What the registry holds per policy, the tag the example's manifests
	// have now, and the tag the policy's range must select.
	seeds := map[string]struct {
		tags          []string
		current, want string
	}{
		"flux-system:podinfo": {
			tags:    []string{"6.4.1", "6.5.0", "6.5.4", "6.7.1", "6.8.0-rc.1", "7.0.0"},
			current: "6.5.0", want: "6.7.1",
		},
		"flux-system:redis": {
			tags:    []string{"7.2.4-alpine", "7.2.5-alpine", "7.4.1-alpine", "7.4.2", "7.4.2-bookworm", "8.0.0-alpine"},
			current: "7.2.4-alpine", want: "7.4.1-alpine",
		},
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(examples, "flux"))); err != nil {
		t.Fatal(err)
	}
	pols, err := config.LoadPolicies(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The example works from its Flux objects alone, as Flux would.
	if len(pols.Files) > 0 {
		t.Errorf("the Flux example has policy files %v; it must work from its Flux objects alone", pols.Files)
	}
	if a := pols.Flux.Auto(); a == nil || a.Path != "apps" || a.CheckoutBranch != "main" || a.AuthorEmail != "fluxcdbot@users.noreply.github.com" {
		t.Errorf("the Flux example's ImageUpdateAutomation reads as %+v; want update.path apps, branch main, author fluxcdbot", a)
	}
	var names []string
	for _, p := range pols.Policies {
		names = append(names, p.Name())
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"flux-system:podinfo", "flux-system:redis"}, names); diff != "" {
		t.Fatalf("the example's policies are not the ones this test seeds (-want +got):\n%s", diff)
	}

	// Point every policy's image at the local registry, in the policy file
	// and the manifests alike, and push its tags there.
	rewrite := map[string]string{}
	for _, p := range pols.Policies {
		_, path, ok := strings.Cut(p.Spec().Image, "/")
		if !ok {
			t.Fatalf("policy %s: image %s has no registry host", p.Name(), p.Spec().Image)
		}
		rewrite[p.Spec().Image] = reg.Repo(path)
		reg.Seed(t, path, seeds[p.Name()].tags...)
	}
	before := map[string][]byte{} // relative path → contents after the rewrite
	uses := map[string]int{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if isYAML(path) {
			for from, to := range rewrite {
				uses[from] += bytes.Count(src, []byte(from))
				src = bytes.ReplaceAll(src, []byte(from), []byte(to))
			}
			if err := os.WriteFile(path, src, 0o644); err != nil {
				return err
			}
		}
		rel, err := filepath.Rel(dir, path)
		before[filepath.ToSlash(rel)] = src
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for from, n := range uses {
		if n < 2 { // the ImageRepository and at least one manifest
			t.Fatalf("image %s appears %d times in the example; the rewrite to the local registry did nothing", from, n)
		}
	}

	// Each marked line gets the wanted tag in place of the current one; a
	// :name marker already holds the image. Nothing else changes.
	want := map[string][]byte{}
	var wantChanges []string
	for _, m := range grepMarkers(t, dir) {
		s, ok := seeds[m.Policy]
		if !ok {
			t.Fatalf("%s:%d: marker names %s, which this test does not seed", m.File, m.Line, m.Policy)
		}
		if m.Field == patcher.FieldName {
			continue
		}
		src, ok := want[m.File]
		if !ok {
			src = before[m.File]
		}
		lines := strings.SplitAfter(string(src), "\n")
		value, comment, _ := strings.Cut(lines[m.Line-1], "#")
		if !strings.Contains(value, s.current) {
			t.Fatalf("%s:%d: %q does not hold %s, the tag this test expects the example to have", m.File, m.Line, value, s.current)
		}
		lines[m.Line-1] = strings.Replace(value, s.current, s.want, 1) + "#" + comment
		want[m.File] = []byte(strings.Join(lines, ""))
		wantChanges = append(wantChanges, m.File+" "+m.Policy+" "+string(m.Field))
	}
	for file, src := range before {
		if _, ok := want[file]; !ok {
			want[file] = src
		}
	}
	if len(wantChanges) == 0 {
		t.Fatal("no marker in the example would change")
	}

	dockerConfig := t.TempDir() // no credentials: the registry is anonymous
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("imagebump %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out
	}

	var plan planJSON
	if err := json.Unmarshal(run("plan", dir, "-o", "json"), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Problems)+len(plan.Skipped)+len(plan.Warnings) > 0 {
		t.Errorf("plan: problems %s, skipped %s, warnings %s", plan.Problems, plan.Skipped, plan.Warnings)
	}
	gotTags := map[string]string{}
	for _, p := range plan.Policies {
		if p.Error != "" {
			t.Errorf("policy %s: %s", p.Name, p.Error)
		}
		gotTags[p.Name] = p.Tag
	}
	wantTags := map[string]string{}
	for name, s := range seeds {
		wantTags[name] = s.want
	}
	if diff := cmp.Diff(wantTags, gotTags); diff != "" {
		t.Errorf("selected tags (-want +got):\n%s", diff)
	}
	var gotChanges []string
	for _, c := range plan.Changes {
		gotChanges = append(gotChanges, c.File+" "+c.Policy+" "+c.Field)
	}
	slices.Sort(gotChanges)
	slices.Sort(wantChanges)
	if diff := cmp.Diff(wantChanges, gotChanges); diff != "" {
		t.Errorf("planned changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, readTree(t, dir)); diff != "" {
		t.Fatalf("plan wrote files (-before +after):\n%s", diff)
	}

	run("apply", dir)
	got := readTree(t, dir)
	for file := range want {
		if diff := cmp.Diff(string(want[file]), string(got[file])); diff != "" {
			t.Errorf("%s after apply (-want +got):\n%s", file, diff)
		}
	}
	for file := range got {
		if _, ok := want[file]; !ok {
			t.Errorf("apply left a new file %s", file)
		}
	}

	var again planJSON
	if err := json.Unmarshal(run("plan", dir, "-o", "json"), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) > 0 {
		t.Errorf("a plan after apply still has changes: %+v", again.Changes)
	}
}

// readTree returns every file under root by its slash-separated relative path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = src
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	On struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
		WorkflowDispatch *yaml.Node `yaml:"workflow_dispatch"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []workflowStep    `yaml:"steps"`
	} `yaml:"jobs"`
}

type workflowStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

// TestExamplesGitHubActions checks that the workflow parses and runs the
// bot the way its README says, that the bot config loads with the
// variables a runner sets, and that the token step writes the file the
// config's tokenFile names.
func TestExamplesGitHubActions(t *testing.T) {
	dir := filepath.Join(examples, "github-actions")
	src, err := os.ReadFile(filepath.Join(dir, "imagebump.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&wf); err != nil {
		t.Fatalf("imagebump.yml: %v", err)
	}

	if len(wf.On.Schedule) == 0 {
		t.Error("on.schedule: no cron")
	}
	for _, s := range wf.On.Schedule {
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			t.Errorf("on.schedule cron %q: %v", s.Cron, err)
		}
	}
	if wf.On.WorkflowDispatch == nil {
		t.Error("on.workflow_dispatch is missing")
	}
	for _, p := range []string{"contents", "pull-requests"} {
		if wf.Permissions[p] != "write" {
			t.Errorf("permissions.%s is %q, want write", p, wf.Permissions[p])
		}
	}
	if len(wf.Jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(wf.Jobs))
	}

	var (
		setupGo, install bool
		tokenStep        *workflowStep
		configArg        string
		envNames         = map[string]bool{}
	)
	for name := range wf.Env {
		envNames[name] = true
	}
	for _, job := range wf.Jobs {
		for name := range job.Env {
			envNames[name] = true
		}
		for i, st := range job.Steps {
			switch {
			case strings.HasPrefix(st.Uses, "actions/setup-go@"):
				setupGo = true
			case strings.Contains(st.Run, "go install github.com/imagebump/imagebump/cmd/imagebump@"):
				install = true
			case st.ID == "token":
				tokenStep = &job.Steps[i]
			case strings.HasPrefix(st.Run, "imagebump "):
				args := strings.Fields(st.Run)
				if !slices.Equal(args[:2], []string{"imagebump", "run"}) || !slices.Contains(args, "--once") || slices.Contains(args, "--dry-run") {
					t.Errorf("step %q runs %q, want imagebump run --config F --once", st.Name, st.Run)
				}
				if i := slices.Index(args, "--config"); i >= 0 && i+1 < len(args) {
					configArg = args[i+1]
				}
				for name := range st.Env {
					envNames[name] = true
				}
			}
		}
	}
	if !setupGo || !install {
		t.Errorf("actions/setup-go step: %v, go install step: %v", setupGo, install)
	}
	if tokenStep == nil {
		t.Fatal("no step with id token writes the git token")
	}
	if got := tokenStep.Env["GITHUB_TOKEN"]; got != "${{ secrets.GITHUB_TOKEN }}" {
		t.Errorf("the token step's GITHUB_TOKEN is %q", got)
	}
	// The workflow reads the config from where the README says to copy
	// this folder's imagebump.yaml.
	if configArg != ".github/imagebump.yaml" {
		t.Fatalf("imagebump run --config %q, want .github/imagebump.yaml", configArg)
	}
	configPath := filepath.Join(dir, filepath.Base(configArg))

	// Every ${NAME} in the bot config must be there on a runner: a default
	// variable (GITHUB_*, RUNNER_*) or one the workflow sets.
	cfgSrc, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllSubmatch(stripComments(cfgSrc), -1) {
		name := string(m[1])
		if !strings.HasPrefix(name, "GITHUB_") && !strings.HasPrefix(name, "RUNNER_") && !envNames[name] {
			t.Errorf("the bot config references ${%s}, which neither the runner nor the workflow sets", name)
		}
	}

	// Run the token step's script as the runner would, then load the
	// config with the same environment.
	runnerTemp := t.TempDir()
	const token = "ghs_exampleTokenForTests"
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash runs the workflow's steps: %v", err)
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", tokenStep.Run)
	cmd.Env = append(os.Environ(), "RUNNER_TEMP="+runnerTemp, "GITHUB_TOKEN="+token)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the token step: %v\n%s", err, out)
	}

	t.Setenv("RUNNER_TEMP", runnerTemp)
	t.Setenv("GITHUB_REPOSITORY", "acme/fleet")
	t.Setenv("GITHUB_REF_NAME", "main")
	b, err := config.LoadBot(configPath, forges.All())
	if err != nil {
		t.Fatalf("loading %s: %v", configPath, err)
	}
	if len(b.Repositories) != 1 {
		t.Fatalf("%d repositories, want 1", len(b.Repositories))
	}
	repo := b.Repositories[0]
	type view struct {
		URL, Branch, Owner, Name string
		Mode                     config.Mode
		Forge                    string
	}
	wantRepo := view{URL: "https://github.com/acme/fleet.git", Branch: "main", Owner: "acme", Name: "fleet", Mode: config.PullRequest, Forge: "github"}
	gotRepo := view{URL: repo.URL, Branch: repo.Branch, Owner: repo.Owner, Name: repo.Name, Mode: repo.Mode, Forge: repo.Forge.Name}
	if diff := cmp.Diff(wantRepo, gotRepo); diff != "" {
		t.Errorf("repository (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(b.WorkDir, runnerTemp+"/") {
		t.Errorf("workDir %s is not under RUNNER_TEMP %s", b.WorkDir, runnerTemp)
	}

	got, err := os.ReadFile(repo.Auth.TokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("auth.tokenFile %s is not the file the workflow writes", repo.Auth.TokenFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != token {
		t.Errorf("auth.tokenFile holds %q, want the token %q", got, token)
	}
	fi, err := os.Stat(repo.Auth.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the token file's mode is %v: others may read it", fi.Mode().Perm())
	}
}

// stripComments drops YAML line comments, so ${NAME} in prose is not
// taken for a reference. Good enough for the example's plain values.
func stripComments(src []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(src, []byte("\n")) {
		if i := bytes.Index(line, []byte("#")); i >= 0 && (i == 0 || line[i-1] == ' ') {
			line = line[:i]
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}
