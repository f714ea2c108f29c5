//go:build imagecheck

package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
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
// whose other tests also run: it is built only with the tag imagecheck,
// which make image-check sets with a timeout of its own, so that go test
// ./... neither runs nor skips it.
func TestImage(t *testing.T) {
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
