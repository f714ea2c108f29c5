package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
	"github.com/imagebump/imagebump/test/registrytest"
)

func TestTagsRealRegistry(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	sig := "sha256-" + strings.Repeat("ab", 32) + ".sig"
	digest := reg.Seed(t, "acme/web", "1.0.0", "1.4.2", "v1.10.0", "2.0.0", "1.5.0-rc.1", "latest", sig)

	out, stderr, code := runCLI(t, "tags", reg.Repo("acme/web"), "--semver", "^1", "--exclude", "^1\\.0\\.", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got tagsReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	want := tagsReport{
		Image: reg.Repo("acme/web"), Selected: "v1.10.0", Digest: digest,
		Tags: []tagVerdict{
			{Tag: "v1.10.0", Kept: true, Reason: "selected"},
			{Tag: "1.4.2", Kept: true, Reason: "candidate"},
			{Tag: "1.0.0", Reason: "excluded", Detail: `excluded by '^1\.0\.'`},
			{Tag: "1.5.0-rc.1", Reason: "prerelease", Detail: "1.5.0-rc.1 is a prerelease; set prereleases: true or name a prerelease in the range"},
			{Tag: "2.0.0", Reason: "outside range", Detail: `2.0.0 is outside the range "^1"`},
			{Tag: "latest", Reason: "not semver", Detail: `"latest" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`},
			{Tag: sig, Reason: "signature/attestation", Detail: "cosign signature, attestation or SBOM tag"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags -o json (-want +got):\n%s", diff)
	}

	text, _, code := runCLI(t, "tags", reg.Repo("acme/web"), "--semver", ">=3")
	if code != exitFailed {
		t.Errorf("no match: exit %d, want %d", code, exitFailed)
	}
	for _, line := range []string{
		reg.Repo("acme/web") + ": no tag selected",
		`2.0.0 outside range 2.0.0 is outside the range ">=3"`,
		`latest not semver "latest" is not a version [v]MAJOR.MINOR.PATCH[-pre][+build]`,
	} {
		if !strings.Contains(squash(text), line) {
			t.Errorf("text output lacks %q:\n%s", line, text)
		}
	}
}

func TestTagsLazyChecks(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.StartInProcess(t)
	old := time.Now().Add(-30 * 24 * time.Hour)
	reg.Push(t, "acme/app:1.1.0", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: old},
		registrytest.ImageSpec{Platform: "linux/arm64", Created: old}))
	reg.Push(t, "acme/app:1.2.0", registrytest.NewImage(t, registrytest.ImageSpec{Platform: "linux/amd64", Created: old}))
	reg.Push(t, "acme/app:1.3.0", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: time.Now()},
		registrytest.ImageSpec{Platform: "linux/arm64", Created: time.Now()}))

	out, stderr, code := runCLI(t, "tags", reg.Repo("acme/app"), "--platform", "linux/arm64", "--min-age", "3d")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{
		reg.Repo("acme/app") + ": selected 1.1.0 (sha256:",
		"1.3.0 rejected created ",
		"1.2.0 rejected lacks platform linux/arm64",
		"1.1.0 selected",
	} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTagsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"tags"},
		{"tags", "r.io/a", "--semver", "latest"},
		{"tags", "r.io/a", "--semver", "*", "--numerical", "asc"},
		{"tags", "r.io/a", "--filter", "(", "--extract", "$1"},
		{"tags", "r.io/a", "-o", "yaml"},
	} {
		if _, stderr, code := runCLI(t, args...); code != exitInvalid {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitInvalid, stderr)
		}
	}
}

// TestTagsBadImage checks that IMAGE is parsed as strictly as a policy
// file's image, before any registry is asked.
func TestTagsBadImage(t *testing.T) {
	tests := []struct{ image, wantErr string }{
		{"ghcr.io/Acme/Web", `IMAGE: "ghcr.io/Acme/Web" is not a valid repository`},
		{"INVALID//name", `IMAGE: "INVALID//name" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"http://x/y", `IMAGE: "http://x/y" must be a repository such as ghcr.io/acme/web, without a URL scheme`},
		{"/srv/web", `IMAGE: "/srv/web" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"ghcr/acme/web", `IMAGE: "ghcr/acme/web" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"127.0.0.1:1/acme/web:1.0", `IMAGE: "127.0.0.1:1/acme/web:1.0" must be a repository without tag or digest`},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			_, stderr, code := runCLI(t, "tags", tc.image)
			if code != exitInvalid || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitInvalid, tc.wantErr)
			}
		})
	}
}

// squash collapses the column padding of each line to one space.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// TestConfigRegistries checks that --config's registries section reaches
// the registry client: the credentials of its dockerConfig open a registry
// that refuses anonymous access.
func TestConfigRegistries(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t, registrytest.WithBasicAuth("bot", "s3cret-pass"))
	reg.Seed(t, "acme/web", "1.0.0", "1.1.0")
	auth := base64.StdEncoding.EncodeToString([]byte("bot:s3cret-pass"))
	dir := filetree.Write(t, map[string]string{
		"docker/config.json": `{"auths": {"` + reg.Host + `": {"auth": "` + auth + `"}}}`,
		"bad.yaml":           "schedule: '@hourly'\nrepositories: [{url: https://github.com/a/b}]\nregistries: {dockerConfg: x}\n",
	})
	good := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(good, []byte("schedule: '@hourly'\nrepositories: [{url: https://github.com/a/b}]\nregistries:\n  dockerConfig: "+filepath.Join(dir, "docker/config.json")+"\n  hosts: [{host: '"+reg.Host+"', maxConcurrency: 1}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := runCLI(t, "tags", reg.Repo("acme/web"))
	if code != exitFailed || !strings.Contains(stderr, "401") && !strings.Contains(stderr, "UNAUTHORIZED") {
		t.Errorf("anonymous: exit %d, stderr %q; want 1 and an authentication error", code, stderr)
	}
	if strings.Contains(stderr, "s3cret-pass") {
		t.Errorf("stderr shows the password: %s", stderr)
	}
	out, stderr, code := runCLI(t, "tags", reg.Repo("acme/web"), "--config", good)
	if code != 0 || !strings.Contains(out, "selected 1.1.0") {
		t.Errorf("with --config: exit %d, out %q, stderr %q", code, out, stderr)
	}
	// A config used only for its registries needs nothing else.
	only := filepath.Join(dir, "registries.yaml")
	if err := os.WriteFile(only, []byte("registries:\n  dockerConfig: "+filepath.Join(dir, "docker/config.json")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCLI(t, "tags", reg.Repo("acme/web"), "--config", only)
	if code != 0 || !strings.Contains(out, "selected 1.1.0") {
		t.Errorf("with a registries-only --config: exit %d, out %q, stderr %q", code, out, stderr)
	}
	_, stderr, code = runCLI(t, "plan", dir, "--config", only)
	if code != 0 {
		t.Errorf("plan with a registries-only --config: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "plan", dir, "--config", filepath.Join(dir, "bad.yaml"))
	if code != exitInvalid || !strings.Contains(stderr, `bad.yaml:3: unknown field "dockerConfg"`) {
		t.Errorf("bad config: exit %d, stderr %q", code, stderr)
	}
}
