package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagebump/imagebump/test/registrytest"
)

// TestImage is the release image end to end, as .ci/run checks it (make
// image-check): `make image` builds both platforms' binaries and pushes the
// image to Debian's docker-registry on 127.0.0.1, on a base made here from
// Debian's CA certificates and tzdata; the test pulls it back, checks the
// configs, labels and files of both platforms, and runs the amd64 binary.
//
// Cross-compiling both binaries takes minutes with a cold build cache on a
// small machine, more than go test's default timeout leaves a package
// whose other tests also run: it runs when IMAGEBUMP_IMAGE_TEST=1, as make
// image-check sets it with a timeout of its own.
func TestImage(t *testing.T) {
	if os.Getenv("IMAGEBUMP_IMAGE_TEST") != "1" {
		t.Skip("IMAGEBUMP_IMAGE_TEST=1 (make image-check, which .ci/run runs) builds the image")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the image's linux/amd64 binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	reg := registrytest.Start(t)
	base := reg.Repo("base/static:test")
	pushBase(t, base, fullBase, "linux/amd64", "linux/arm64/v8")

	root := repoRoot(t)
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	// What the Makefile's defaults must stamp: the checkout's description
	// and commit, and the commit's time.
	wantVersion := git("describe", "--tags", "--always", "--dirty")
	wantCommit := git("rev-parse", "HEAD")
	committed, err := time.Parse(time.RFC3339, git("log", "-1", "--format=%cI"))
	if err != nil {
		t.Fatal(err)
	}
	const source, licenses = "https://example.test/imagebump", "Apache-2.0"
	target := reg.Repo("imagebump:check")
	dist := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "image",
		"IMAGE="+target, "BASE_IMAGE="+base, "DIST="+dist,
		"SOURCE_URL="+source, "LICENSES="+licenses)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("make image:\n%s", out)
	if err != nil {
		t.Fatalf("make image: %v", err)
	}
	printed, err := os.ReadFile(filepath.Join(dist, "image-ref"))
	if err != nil {
		t.Fatal(err)
	}

	ref, err := name.ParseReference(target)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pulling %s: %v", target, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(printed)), ref.Context().Digest(digest.String()).String(); got != want {
		t.Errorf("make image printed %q, want the pushed index %q", got, want)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Errorf("index platforms (-want +got):\n%s", diff)
	}

	wantLabels := map[string]string{
		"org.opencontainers.image.source":   source,
		"org.opencontainers.image.version":  wantVersion,
		"org.opencontainers.image.revision": wantCommit,
		"org.opencontainers.image.licenses": licenses,
		"org.opencontainers.image.created":  committed.UTC().Format(time.RFC3339),
		"org.opencontainers.image.title":    "imagebump",
	}
	if diff := cmp.Diff(wantLabels, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	ca, err := os.ReadFile(hostCABundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		p := d.Platform.OS + "/" + d.Platform.Architecture
		t.Run(p, func(t *testing.T) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture {
				t.Errorf("config is for %s/%s, the index says %s", cf.OS, cf.Architecture, p)
			}
			if got, want := cf.Config.User, "65532:65532"; got != want {
				t.Errorf("user %q, want %q", got, want)
			}
			if diff := cmp.Diff([]string{"/imagebump"}, cf.Config.Entrypoint); diff != "" {
				t.Errorf("entrypoint (-want +got):\n%s", diff)
			}
			if len(cf.Config.Cmd) > 0 {
				t.Errorf("cmd %v; the pods pass only args", cf.Config.Cmd)
			}
			if !cf.Created.Equal(committed) {
				t.Errorf("created %v, want the commit's time %v", cf.Created, committed)
			}
			for k, v := range wantLabels {
				if got := cf.Config.Labels[k]; got != v {
					t.Errorf("label %s = %q, want %q", k, got, v)
				}
			}

			files := extract(t, img)
			bin, ok := files["imagebump"]
			if !ok {
				t.Fatal("no /imagebump")
			}
			if bin.hdr.Mode&0o111 == 0 || bin.hdr.Uid != 0 {
				t.Errorf("/imagebump mode %o uid %d, want executable and owned by root", bin.hdr.Mode, bin.hdr.Uid)
			}
			f, err := elf.NewFile(bytes.NewReader(bin.body))
			if err != nil {
				t.Fatalf("/imagebump: %v", err)
			}
			if want := elfMachines[d.Platform.Architecture]; f.Machine != want {
				t.Errorf("/imagebump is for %s, want %s", f.Machine, want)
			}
			if w, ok := files["var/lib/imagebump"]; !ok || w.hdr.Typeflag != tar.TypeDir || w.hdr.Uid != 65532 {
				t.Errorf("/var/lib/imagebump: %+v, want a directory owned by 65532", w.hdr)
			}
			if c, ok := files[caBundle]; !ok || !bytes.Equal(c.body, ca) {
				t.Errorf("/%s missing or not Debian's bundle", caBundle)
			}
			if _, ok := files["usr/share/zoneinfo/Europe/Berlin"]; !ok {
				t.Error("no /usr/share/zoneinfo/Europe/Berlin")
			}
			for _, s := range shells {
				if _, ok := files[s]; ok {
					t.Errorf("/%s: the image has a shell", s)
				}
			}

			if d.Platform.Architecture != runtime.GOARCH {
				return
			}
			exe := filepath.Join(t.TempDir(), "imagebump")
			if err := os.WriteFile(exe, bin.body, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(exe, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("imagebump version: %v\n%s", err, out)
			}
			lines := strings.Split(string(out), "\n")
			if diff := cmp.Diff([]string{"imagebump " + wantVersion, "commit: " + wantCommit}, lines[:min(2, len(lines))]); diff != "" {
				t.Errorf("imagebump version (-want +got):\n%s", diff)
			}
		})
	}
}

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
