package main

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Debian's files the test base is made of: the ca-certificates and tzdata
// packages.
const (
	hostCABundle = "/etc/ssl/certs/ca-certificates.crt"
	hostZoneinfo = "/usr/share/zoneinfo"
)

// baseFiles says what goes into a test base.
type baseFiles struct {
	ca, zones bool
	shell     bool // a /bin/sh (any file: it is never run)
}

// fullBase is what distroless static:nonroot offers the binary.
var fullBase = baseFiles{ca: true, zones: true}

// pushBase makes a base image from the files of this machine, one image
// per platform (the files are the same for all), and pushes it as an OCI
// index to ref. A stand-in for distroless static: /etc/passwd and
// /etc/group with nonroot (65532), /tmp, and what files says.
func pushBase(t *testing.T, ref string, files baseFiles, platforms ...string) {
	t.Helper()
	layerTar := baseLayer(t, files)
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, ps := range platforms {
		p, err := v1.ParsePlatform(ps)
		if err != nil {
			t.Fatal(err)
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.AppendLayers(img, layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		cf.Config.User = "65532"
		cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=" + hostCABundle}
		cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "test base"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("pushing the base %s: %v", ref, err)
	}
}

// baseLayer is the tar of a test base's single layer.
func baseLayer(t *testing.T, files baseFiles) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = epoch
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	dir := func(n string, mode int64) { add(&tar.Header{Name: n + "/", Typeflag: tar.TypeDir, Mode: mode}, nil) }
	file := func(n string, body []byte) { add(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644}, body) }

	dir("etc", 0o755)
	file("etc/passwd", []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
	file("etc/group", []byte("root:x:0:\nnonroot:x:65532:\n"))
	dir("tmp", 0o1777)
	dir("var", 0o755)
	dir("var/lib", 0o755)
	if files.ca {
		ca, err := os.ReadFile(hostCABundle)
		if err != nil {
			t.Fatalf("Debian's ca-certificates package makes the test base: %v", err)
		}
		dir("etc/ssl", 0o755)
		dir("etc/ssl/certs", 0o755)
		file("etc/ssl/certs/ca-certificates.crt", ca)
	}
	if files.zones {
		dir("usr", 0o755)
		dir("usr/share", 0o755)
		err := filepath.WalkDir(hostZoneinfo, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			n := strings.TrimPrefix(p, "/")
			switch {
			case d.IsDir():
				dir(n, 0o755)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				add(&tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}, nil)
			case d.Type().IsRegular():
				body, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				file(n, body)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Debian's tzdata package makes the test base: %v", err)
		}
	}
	if files.shell {
		dir("bin", 0o755)
		add(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755}, []byte("not really a shell"))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// buildTiny builds a small static program for linux/arch and returns its
// path: a binary to put in images whose content does not matter.
func buildTiny(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tiny-"+arch)
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build (%s): %v\n%s", arch, err, b)
	}
	return out
}
