package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultBase is the base image of the release: CA certificates, tzdata,
// /etc/passwd with nonroot (65532), no shell. The Dockerfile uses it too.
const DefaultBase = "gcr.io/distroless/static-debian12:nonroot"

// Where the image puts things. The Dockerfile puts them in the same places.
const (
	binaryPath = "/imagebump"
	workDir    = "/var/lib/imagebump" // the config's default workDir, writable by nonroot
	nonroot    = 65532
)

// What the base must hold for the static binary to work: the CA bundle Go's
// crypto/x509 reads on Linux, and the zone files time.LoadLocation reads
// for CRON_TZ= schedules.
const (
	caBundle = "etc/ssl/certs/ca-certificates.crt"
	zoneinfo = "usr/share/zoneinfo/"
)

// shells are the files whose presence means the base has a shell.
var shells = []string{"bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "bin/busybox", "usr/bin/busybox"}

// Binary is one platform's static executable.
type Binary struct {
	Platform string // os/arch[/variant], e.g. linux/arm64
	Path     string
}

// Labels are the OCI annotations the image config carries as labels (and
// the index as annotations).
type Labels struct {
	Source, Version, Revision, Licenses string
	Created                             time.Time // zero: now
}

// Options says what Build makes.
type Options struct {
	// Base is the reference of the base image: an index with an image for
	// every platform of Binaries, or a single image of the one platform.
	Base     string
	Binaries []Binary
	Labels   Labels
	// AllowShell accepts a base with a shell; by default Build refuses one.
	AllowShell bool
}

// Build returns an index with one image per binary: the base image of the
// binary's platform plus one layer holding the binary at /imagebump and the
// empty workDir owned by nonroot, running as 65532:65532 with the binary
// as entrypoint.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no binaries: give -binary PLATFORM=PATH for each platform")
	}
	lb := o.Labels
	if lb.Created.IsZero() {
		lb.Created = time.Now().UTC().Truncate(time.Second)
	}
	for field, v := range map[string]string{"source": lb.Source, "version": lb.Version, "revision": lb.Revision, "licenses": lb.Licenses} {
		if v == "" {
			return nil, fmt.Errorf("label org.opencontainers.image.%s is empty: give -%s", field, field)
		}
	}
	labels := map[string]string{
		"org.opencontainers.image.source":   lb.Source,
		"org.opencontainers.image.version":  lb.Version,
		"org.opencontainers.image.revision": lb.Revision,
		"org.opencontainers.image.licenses": lb.Licenses,
		"org.opencontainers.image.created":  lb.Created.Format(time.RFC3339),
		"org.opencontainers.image.title":    "imagebump",
	}

	baseRef, err := name.ParseReference(o.Base)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", o.Base, err)
	}
	base, err := newBase(ctx, baseRef)
	if err != nil {
		return nil, err
	}

	var adds []mutate.IndexAddendum
	seen := map[string]bool{}
	for _, b := range o.Binaries {
		p, err := v1.ParsePlatform(b.Platform)
		if err != nil {
			return nil, fmt.Errorf("-binary %s=%s: %w", b.Platform, b.Path, err)
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("-binary %s=%s: platform %s given twice", b.Platform, b.Path, p)
		}
		seen[p.String()] = true
		img, desc, err := base.image(*p)
		if err != nil {
			return nil, err
		}
		if err := checkBase(img, *p, o.Base, o.AllowShell); err != nil {
			return nil, err
		}
		bin, err := os.ReadFile(b.Path)
		if err != nil {
			return nil, err
		}
		if err := checkBinary(bin, *p); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Path, err)
		}
		out, err := withBinary(img, bin, base.oci, lb.Created, labels)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p, err)
		}
		if base.oci {
			out = mutate.Annotations(out, map[string]string{
				"org.opencontainers.image.base.name":   baseRef.Name(),
				"org.opencontainers.image.base.digest": desc.String(),
			}).(v1.Image)
		}
		cf, err := out.ConfigFile()
		if err != nil {
			return nil, err
		}
		plat := cf.Platform()
		if plat == nil {
			plat = p
		}
		adds = append(adds, mutate.IndexAddendum{Add: out, Descriptor: v1.Descriptor{Platform: plat}})
	}

	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	if base.oci {
		idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	}
	idx = mutate.AppendManifests(idx, adds...)
	if base.oci {
		idx = mutate.Annotations(idx, labels).(v1.ImageIndex)
	}
	return idx, nil
}

// base is the base image, an index or a single image.
type base struct {
	ref    name.Reference
	index  v1.ImageIndex // nil for a single image
	single v1.Image
	oci    bool // OCI media types rather than Docker's
}

func newBase(ctx context.Context, ref name.Reference) (*base, error) {
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, fmt.Errorf("fetching base %s: %w", ref, err)
	}
	b := &base{ref: ref}
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		b.oci = desc.MediaType == types.OCIImageIndex
		b.index, err = desc.ImageIndex()
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		b.oci = desc.MediaType == types.OCIManifestSchema1
		b.single, err = desc.Image()
	default:
		return nil, fmt.Errorf("base %s is a %s, not an image or an index", ref, desc.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	return b, nil
}

// image returns the base image of platform p and its digest.
func (b *base) image(p v1.Platform) (v1.Image, v1.Hash, error) {
	if b.single != nil {
		cf, err := b.single.ConfigFile()
		if err != nil {
			return nil, v1.Hash{}, fmt.Errorf("base %s: %w", b.ref, err)
		}
		if got := cf.Platform(); got == nil || !matches(*got, p) {
			return nil, v1.Hash{}, fmt.Errorf("base %s is a single image of platform %v, not %s: use an index holding every platform", b.ref, cf.Platform(), p)
		}
		d, err := b.single.Digest()
		return b.single, d, err
	}
	im, err := b.index.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %s: %w", b.ref, err)
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if matches(*d.Platform, p) {
			img, err := b.index.Image(d.Digest)
			if err != nil {
				return nil, v1.Hash{}, fmt.Errorf("base %s, platform %s: %w", b.ref, p, err)
			}
			return img, d.Digest, nil
		}
	}
	return nil, v1.Hash{}, fmt.Errorf("base %s has no image for platform %s (it has %s)", b.ref, p, strings.Join(have, ", "))
}

// matches reports whether a base image of platform got serves want: same
// OS and architecture, and the same variant where want names one.
func matches(got, want v1.Platform) bool {
	return got.OS == want.OS && got.Architecture == want.Architecture &&
		(want.Variant == "" || got.Variant == want.Variant)
}

// checkBase refuses a base the static binary cannot work on: no CA
// bundle, no tzdata, or (unless allowed) a shell.
func checkBase(img v1.Image, p v1.Platform, ref string, allowShell bool) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var hasCA, hasZones bool
	var shell string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading base %s (%s): %w", ref, p, err)
		}
		n := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		switch {
		case n == caBundle:
			hasCA = true
		case strings.HasPrefix(n, zoneinfo) && h.Typeflag == tar.TypeReg:
			hasZones = true
		}
		for _, s := range shells {
			if n == s && shell == "" {
				shell = "/" + s
			}
		}
	}
	switch {
	case !hasCA:
		return fmt.Errorf("base %s (%s) has no /%s: TLS to registries and forges would fail", ref, p, caBundle)
	case !hasZones:
		return fmt.Errorf("base %s (%s) has no zone files under /%s: CRON_TZ= schedules would fail", ref, p, zoneinfo)
	case shell != "" && !allowShell:
		return fmt.Errorf("base %s (%s) has a shell (%s); the image ships without one (-allow-shell for a debug image)", ref, p, shell)
	}
	return nil
}

// elfMachines is the ELF machine of each Go architecture the image may be
// built for.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkBinary refuses a binary that is not a static Linux executable of
// platform p: the base has no libc and no dynamic loader.
func checkBinary(bin []byte, p v1.Platform) error {
	if p.OS != "linux" {
		return fmt.Errorf("platform %s: only linux images are built", p)
	}
	want, ok := elfMachines[p.Architecture]
	if !ok {
		return fmt.Errorf("platform %s: unknown architecture", p)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	if f.Machine != want {
		return fmt.Errorf("built for %s, not %s (%s)", f.Machine, want, p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (it names a program interpreter); build with CGO_ENABLED=0 (make binaries)")
		}
	}
	return nil
}

// withBinary returns img plus a layer with the binary and the workDir, and
// its config set to run the binary as nonroot.
func withBinary(img v1.Image, bin []byte, oci bool, created time.Time, labels map[string]string) (v1.Image, error) {
	layerTar, err := binaryLayer(bin, created)
	if err != nil {
		return nil, err
	}
	var opts []tarball.LayerOption
	if oci {
		opts = append(opts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Author:    "imagebuild",
			Created:   v1.Time{Time: created},
			CreatedBy: "imagebuild: " + binaryPath + " and " + workDir,
			Comment:   "imagebump " + labels["org.opencontainers.image.version"],
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.Config.User = fmt.Sprintf("%d:%d", nonroot, nonroot)
	cf.Config.Entrypoint = []string{binaryPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = ""
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
	}
	return mutate.ConfigFile(img, cf)
}

// binaryLayer is the tar of the layer: /imagebump (root-owned, not
// writable by the user it runs as) and /var/lib/imagebump owned by
// nonroot, every time stamp the creation time so that the layer is
// reproducible.
func binaryLayer(bin []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		hdr  tar.Header
		body []byte
	}{
		{tar.Header{Name: strings.TrimPrefix(binaryPath, "/"), Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}, bin},
		{tar.Header{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "var/lib/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: strings.TrimPrefix(workDir, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: nonroot, Gid: nonroot}, nil},
	}
	for _, e := range entries {
		h := e.hdr
		h.ModTime = created
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Push writes idx to the reference tag with the credentials of the docker
// config, and returns the reference by digest.
func Push(ctx context.Context, idx v1.ImageIndex, tag string) (string, error) {
	ref, err := name.ParseReference(tag)
	if err != nil {
		return "", fmt.Errorf("-tag %q: %w", tag, err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(d.String()).String(), nil
}

// WriteLayout adds idx to the OCI image layout in dir (made if missing),
// named version, and returns dir@digest.
func WriteLayout(idx v1.ImageIndex, dir, version string) (string, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return "", fmt.Errorf("OCI layout %s: %w", dir, err)
		}
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
		return "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return dir + "@" + d.String(), nil
}
