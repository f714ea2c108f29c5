// Command imagebuild assembles the imagebump container image without a
// Docker engine, the way ko does: each platform's static binary (built by
// `make binaries`) becomes one layer on top of a base image, with
// go-containerregistry's mutate API, and the per-platform images are put
// together in one index that is pushed to a registry or written as an OCI
// image layout.
//
//	go run ./deploy/imagebuild -base gcr.io/distroless/static-debian12:nonroot \
//	  -binary linux/amd64=dist/imagebump-linux-amd64 \
//	  -binary linux/arm64=dist/imagebump-linux-arm64 \
//	  -version v1.2.3 -revision $(git rev-parse HEAD) -tag ghcr.io/OWNER/imagebump:v1.2.3
//
// `make image` runs it with the repository's values. It prints the
// reference of what it wrote, by digest, on standard output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a problem with the command line.
type usageError struct{ error }

// binaryFlags collects repeated -binary PLATFORM=PATH flags in order.
type binaryFlags []Binary

func (b *binaryFlags) String() string { return fmt.Sprint(*b) }

func (b *binaryFlags) Set(s string) error {
	platform, path, ok := strings.Cut(s, "=")
	if !ok || platform == "" || path == "" {
		return fmt.Errorf("%q is not PLATFORM=PATH", s)
	}
	*b = append(*b, Binary{Platform: platform, Path: path})
	return nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		o          Options
		binaries   binaryFlags
		created    string
		tag        string
		layoutDir  string
		allowShell bool
	)
	fs.StringVar(&o.Base, "base", DefaultBase, "base image: an index holding every platform, or a single image of the one platform")
	fs.Var(&binaries, "binary", "PLATFORM=PATH of a static binary (repeatable), e.g. linux/arm64=dist/imagebump-linux-arm64")
	fs.StringVar(&o.Labels.Source, "source", "", "org.opencontainers.image.source: the repository URL")
	fs.StringVar(&o.Labels.Version, "version", "", "org.opencontainers.image.version")
	fs.StringVar(&o.Labels.Revision, "revision", "", "org.opencontainers.image.revision: the commit")
	fs.StringVar(&o.Labels.Licenses, "licenses", "", "org.opencontainers.image.licenses: an SPDX expression")
	fs.StringVar(&created, "created", "", "org.opencontainers.image.created and the image's timestamps, RFC 3339 (the commit's time makes the build reproducible)")
	fs.StringVar(&tag, "tag", "", "push the index to this reference")
	fs.StringVar(&layoutDir, "oci-layout", "", "write the index into this OCI image layout directory instead")
	fs.BoolVar(&allowShell, "allow-shell", false, "accept a base image that has /bin/sh (a debug base)")
	if err := fs.Parse(args); err != nil {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return usageError{fmt.Errorf("%w\n%s", err, b.String())}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if (tag == "") == (layoutDir == "") {
		return usageError{errors.New("give exactly one of -tag and -oci-layout")}
	}
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return usageError{fmt.Errorf("-created: %w", err)}
		}
		o.Labels.Created = t.UTC()
	}
	o.Binaries = binaries
	o.AllowShell = allowShell

	idx, err := Build(ctx, o)
	if err != nil {
		return err
	}
	var ref string
	if tag != "" {
		ref, err = Push(ctx, idx, tag)
	} else {
		ref, err = WriteLayout(idx, layoutDir, o.Labels.Version)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(out, ref)
	return nil
}
