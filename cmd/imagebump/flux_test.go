package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

const fluxObjects = `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: ghcr.io/acme/web
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: web
  policy:
    semver:
      range: ^1
`

// TestValidateFlux checks that validate reads Flux objects by default,
// says what it read, reports their problems and notes, and skips them
// with --no-flux or flux: false.
func TestValidateFlux(t *testing.T) {
	marker := "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		wantOut  string
		wantCode int
	}{
		{"read by default", map[string]string{"clusters/images.yaml": fluxObjects, "apps/web.yaml": marker}, nil,
			"ok: 1 policies in 0 policy files and 1 Flux object files, 1 markers\n", 0},
		{"--no-flux", map[string]string{"clusters/images.yaml": fluxObjects, "apps/web.yaml": marker}, []string{"--no-flux"},
			"apps/web.yaml:1: marker names policy \"flux-system:web\", which no policy file defines\n", 2},
		{"flux: false", map[string]string{".imagebump.yaml": "flux: false\n", "clusters/images.yaml": fluxObjects}, nil,
			"ok: 0 policies in 1 policy files, 0 markers\n", 0},
		{"defined twice", map[string]string{
			".imagebump.yaml":      "policies:\n  - {name: 'flux-system:web', image: ghcr.io/acme/web, semver: '^1'}\n",
			"clusters/images.yaml": fluxObjects}, nil,
			"clusters/images.yaml:12: policy \"flux-system:web\" is defined twice: here and at .imagebump.yaml:2\n", 2},
		{"a note is a warning", map[string]string{"clusters/images.yaml": fluxObjects + "  digestReflectionPolicy: IfNotPresent\n", "apps/web.yaml": marker}, nil,
			"clusters/images.yaml:20: warning: ImagePolicy flux-system/web: IfNotPresent keeps the digest Flux first saw for a tag; imagebump writes the tag's digest as the registry has it on every pass, as Always does\n" +
				"ok: 1 policies in 0 policy files and 1 Flux object files, 1 markers, 1 warning(s)\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filetree.Write(t, tc.files)
			out, _, code := runCLI(t, append([]string{"validate", dir}, tc.args...)...)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
		})
	}
}
