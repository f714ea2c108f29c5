package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imagebump/imagebump/test/registrytest"
)

// TestBuildRefuses breaks one thing per case, the base or a binary, and
// expects Build to refuse it with a message saying what is wrong.
func TestBuildRefuses(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	amd64, arm64 := buildTiny(t, "amd64"), buildTiny(t, "arm64")
	labels := Labels{Source: "https://example.test/imagebump", Version: "v1.0.0", Revision: "abc", Licenses: "Apache-2.0"}
	both := []Binary{{"linux/amd64", amd64}, {"linux/arm64", arm64}}

	tests := []struct {
		name       string
		base       baseFiles
		platforms  []string // of the base
		binaries   []Binary
		labels     Labels
		allowShell bool
		want       string // in the error; "" for success
	}{
		{name: "full base", base: fullBase, platforms: []string{"linux/amd64", "linux/arm64/v8"}, binaries: both, labels: labels},
		{name: "no CA certificates", base: baseFiles{zones: true}, platforms: []string{"linux/amd64", "linux/arm64"}, binaries: both, labels: labels, want: "has no /etc/ssl/certs/ca-certificates.crt"},
		{name: "no tzdata", base: baseFiles{ca: true}, platforms: []string{"linux/amd64", "linux/arm64"}, binaries: both, labels: labels, want: "has no zone files"},
		{name: "a shell", base: baseFiles{ca: true, zones: true, shell: true}, platforms: []string{"linux/amd64", "linux/arm64"}, binaries: both, labels: labels, want: "has a shell (/bin/sh)"},
		{name: "a shell allowed", base: baseFiles{ca: true, zones: true, shell: true}, platforms: []string{"linux/amd64", "linux/arm64"}, binaries: both, labels: labels, allowShell: true},
		{name: "base lacks a platform", base: fullBase, platforms: []string{"linux/amd64"}, binaries: both, labels: labels, want: "has no image for platform linux/arm64"},
		{name: "binary of another architecture", base: fullBase, platforms: []string{"linux/amd64", "linux/arm64"}, binaries: []Binary{{"linux/amd64", amd64}, {"linux/arm64", amd64}}, labels: labels, want: "built for EM_X86_64, not EM_AARCH64"},
		{name: "dynamically linked binary", base: fullBase, platforms: []string{"linux/amd64"}, binaries: []Binary{{"linux/amd64", "/bin/true"}}, labels: labels, want: "dynamically linked"},
		{name: "platform twice", base: fullBase, platforms: []string{"linux/amd64"}, binaries: []Binary{{"linux/amd64", amd64}, {"linux/amd64", amd64}}, labels: labels, want: "given twice"},
		{name: "no license label", base: fullBase, platforms: []string{"linux/amd64"}, binaries: []Binary{{"linux/amd64", amd64}}, labels: Labels{Source: "s", Version: "v", Revision: "r"}, want: "org.opencontainers.image.licenses is empty"},
		{name: "no binaries", base: fullBase, platforms: []string{"linux/amd64"}, labels: labels, want: "no binaries"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := reg.Repo("base:" + string(rune('a'+i)))
			pushBase(t, base, tc.base, tc.platforms...)
			idx, err := Build(context.Background(), Options{Base: base, Binaries: tc.binaries, Labels: tc.labels, AllowShell: tc.allowShell})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Build: %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			// The result is complete: it writes to an OCI layout.
			dir := filepath.Join(t.TempDir(), "layout")
			got, err := WriteLayout(idx, dir, "v1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			p, err := layout.FromPath(dir)
			if err != nil {
				t.Fatal(err)
			}
			top, err := p.ImageIndex()
			if err != nil {
				t.Fatal(err)
			}
			tm, err := top.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(tm.Manifests) != 1 || dir+"@"+tm.Manifests[0].Digest.String() != got {
				t.Errorf("layout holds %+v; WriteLayout said %s", tm.Manifests, got)
			}
		})
	}
}

// TestRunUsage checks the command line's refusals.
func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{"-binary", "linux/amd64=x"}, "exactly one of -tag and -oci-layout"},
		{"two destinations", []string{"-tag", "r/x:1", "-oci-layout", "d"}, "exactly one of -tag and -oci-layout"},
		{"bad binary flag", []string{"-binary", "linux/amd64"}, "is not PLATFORM=PATH"},
		{"bad created", []string{"-tag", "r/x:1", "-created", "yesterday"}, "-created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run %v: %v, want a usage error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

type entry struct {
	hdr  tar.Header
	body []byte
}

// extract reads the flattened filesystem of img, by path without the
// leading slash.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.Trim(filepath.Clean("/"+h.Name), "/")] = entry{*h, body}
	}
	return files
}

// repoRoot is the directory of go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || slices.Contains([]string{os.DevNull}, mod) {
		t.Fatal("not in a module")
	}
	return filepath.Dir(mod)
}

// TestBuildReproducible builds twice from the same base, binaries and
// labels and expects the same index digest: the README promises that one
// commit builds one image.
func TestBuildReproducible(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	base := reg.Repo("base:repro")
	pushBase(t, base, fullBase, "linux/amd64", "linux/arm64")
	o := Options{
		Base:     base,
		Binaries: []Binary{{"linux/amd64", buildTiny(t, "amd64")}, {"linux/arm64", buildTiny(t, "arm64")}},
		Labels:   Labels{Source: "s", Version: "v1.0.0", Revision: "r", Licenses: "l", Created: time.Date(2026, 12, 1, 16, 47, 5, 0, time.UTC)},
	}
	var digests []string
	for range 2 {
		idx, err := Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same inputs: %s and %s", digests[0], digests[1])
	}
}
