// Command demo runs imagebump plan (or any imagebump command) against the
// example repository in examples/fleet with a registry it starts itself,
// so the main job can be tried with nothing external:
//
//	go run ./test/demo              # imagebump plan on a copy of examples/fleet
//	go run ./test/demo apply -o json
//
// The registry is go-containerregistry's in-memory one on 127.0.0.1,
// seeded with a few tags for each example image. The example is copied to a
// temporary directory with localhost:5000 replaced by the registry's
// address, and imagebump, built from ./cmd/imagebump, runs there; its exit
// status is the demo's.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// seed lists the tags pushed for each example repository.
var seed = map[string][]string{
	"acme/web": {"0.9.0", "1.0.0", "1.2.0", "1.3.0-rc.1", "1.3.1", "2.0.0", "latest"},
	"acme/api": {"main-1a2b3c4-1700000000", "main-5d6e7f8-1700003600", "pr-12-1800000000"},
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("demo: ")
	if err := run(os.Args[1:]); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		log.Fatal(err)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		args = []string{"plan"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: ggcr.New(ggcr.Logger(log.New(ioDiscard{}, "", 0)))}
	go srv.Serve(ln)
	defer srv.Close()
	host := ln.Addr().String()

	for repo, tags := range seed {
		img, err := random.Image(256, 1)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			ref, err := name.NewTag(host + "/" + repo + ":" + tag)
			if err != nil {
				return err
			}
			if err := remote.Write(ref, img); err != nil {
				return fmt.Errorf("seeding %s: %w", ref, err)
			}
		}
	}

	dir, err := os.MkdirTemp("", "imagebump-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := copyExample("examples/fleet", filepath.Join(dir, "fleet"), host); err != nil {
		return fmt.Errorf("copying examples/fleet (run the demo from the repository root): %w", err)
	}
	log.Printf("registry on %s; example repository copied to %s", host, filepath.Join(dir, "fleet"))

	bin := filepath.Join(dir, "imagebump")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imagebump")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building imagebump: %w", err)
	}
	cmd := exec.Command(bin, append([]string{args[0], filepath.Join(dir, "fleet")}, args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Credentials of the machine are not needed and not wanted here.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir+"/.docker")
	return cmd.Run()
}

// copyExample copies the example tree, pointing its images at host.
func copyExample(src, dst, host string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, []byte(strings.ReplaceAll(string(b), "localhost:5000", host)), 0o644)
	})
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }
