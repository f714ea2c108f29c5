// Package patchertree generates the manifest tree the patcher benchmarks run
// on: many two-document files (a Deployment and a Service, with comments),
// half of them carrying image-policy markers.
package patchertree

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagebump/imagebump/patcher"
)

// Policies is the number of distinct policies the markers use.
const Policies = 20

// perDir is how many files share a directory.
const perDir = 50

// Tag is the tag every marked field holds at version v.
func Tag(v int) string { return fmt.Sprintf("1.%d.0", v) }

// Targets resolves every policy to version v: applied to a tree generated at
// version v it changes nothing; at any other version it changes every
// marked file.
func Targets(v int) patcher.Targets {
	t := patcher.Targets{}
	for i := range Policies {
		t[fmt.Sprintf("flux-system:svc-%02d", i)] = &patcher.Target{
			Image: fmt.Sprintf("ghcr.io/acme/svc-%02d", i),
			Tag:   Tag(v),
		}
	}
	return t
}

// Generate writes n files under dir with their markers at version v, in
// directories of 50 files; files with an even index are marked.
func Generate(dir string, n, v int) error {
	for i := range n {
		sub := filepath.Join(dir, "apps", fmt.Sprintf("team-%03d", i/perDir))
		if i%perDir == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		if err := writeFile(filepath.Join(sub, fmt.Sprintf("svc-%05d.yaml", i)), i, v); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, i, v int) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	policy := fmt.Sprintf("flux-system:svc-%02d", i%Policies)
	image := fmt.Sprintf("ghcr.io/acme/svc-%02d:%s", i%Policies, Tag(v))
	imageMarker, tagMarker := "", ""
	if i%2 == 0 {
		imageMarker = fmt.Sprintf(` # {"$imagepolicy": %q}`, policy)
		tagMarker = fmt.Sprintf(` # {"$imagepolicy": "%s:tag"}`, policy)
	}
	fmt.Fprintf(w, `# Service %[1]d of team %[2]d.
# Owned by the platform team; do not edit by hand.
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
  labels:
    app.kubernetes.io/name: svc-%[1]d
    app.kubernetes.io/part-of: team-%[2]d
spec:
  replicas: 2   # HPA takes over in prod
  selector:
    matchLabels:
      app.kubernetes.io/name: svc-%[1]d
  template:
    metadata:
      labels:
        app.kubernetes.io/name: svc-%[1]d
    spec:
      containers:
        - name: app
          image: %[3]s%[4]s
          ports:
            - containerPort: 8080   # http
          env:
            - name: VERSION
              value: "%[6]s"%[5]s
            - name: LOG_LEVEL
              value: info
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: "1", memory: 256Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
spec:
  selector:
    app.kubernetes.io/name: svc-%[1]d
  ports:
    - name: http
      port: 80
      targetPort: 8080
`, i, i/perDir, image, imageMarker, tagMarker, Tag(v))
	return w.Flush()
}
