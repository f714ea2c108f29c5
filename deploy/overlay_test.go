package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// overlayHeader starts the README's overlay snippet.
const overlayHeader = "# my-overlay/kustomization.yaml"

// readmeOverlay returns the README's overlay snippet, as written there.
func readmeOverlay(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(src), -1) {
		if strings.HasPrefix(m[1], overlayHeader) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no yaml block starting with %q", overlayHeader)
	return ""
}

// TestReadmeOverlay renders the README's overlay, next to a copy of
// kubernetes/ where a clone would put it, and checks that the pods of the
// Deployment and of the CronJob run the image the overlay names; and, as
// the README says, that an overlay naming the placeholder "imagebump"
// changes nothing.
func TestReadmeOverlay(t *testing.T) {
	snippet := readmeOverlay(t)
	var k struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	if err := yaml.Unmarshal([]byte(snippet), &k); err != nil {
		t.Fatalf("the README's overlay is not YAML: %v", err)
	}
	if len(k.Images) != 1 || len(k.Resources) != 1 {
		t.Fatalf("the README's overlay has %d images and %d resources, want one of each", len(k.Images), len(k.Resources))
	}
	const base = "../imagebump/deploy/kubernetes"
	if k.Resources[0] != base {
		t.Fatalf("the README's overlay lists %q, want %q", k.Resources[0], base)
	}
	image := k.Images[0].NewName + ":" + k.Images[0].NewTag

	tests := []struct {
		name     string
		resource string // replaces base in the snippet
		imageFor string // replaces the images: name in the snippet
		want     func(baseImage string) string
	}{
		{name: "deployment", resource: base, want: func(string) string { return image }},
		{name: "cronjob", resource: base + "/cronjob", want: func(string) string { return image }},
		{name: "placeholder name does nothing", resource: base, imageFor: "imagebump", want: func(b string) string { return b }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kube := filepath.Join(dir, "imagebump", "deploy", "kubernetes")
			if err := os.CopyFS(kube, os.DirFS("kubernetes")); err != nil {
				t.Fatal(err)
			}
			text := strings.Replace(snippet, "  - "+base+" ", "  - "+tc.resource+" ", 1)
			if tc.imageFor != "" {
				text = strings.Replace(text, "  - name: "+k.Images[0].Name+" ", "  - name: "+tc.imageFor+" ", 1)
			}
			overlay := filepath.Join(dir, "my-overlay")
			if err := os.MkdirAll(overlay, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var p problems
			name, tag := baseImage(t, &p, kube)
			baseRef := name + ":" + tag
			m := build(t, &p, overlay)
			for _, msg := range p {
				t.Fatal(msg)
			}
			var pods []podTemplate
			for _, d := range m.deployments {
				pods = append(pods, d.Spec.Template)
			}
			for _, c := range m.cronJobs {
				pods = append(pods, c.Spec.JobTemplate.Spec.Template)
			}
			if len(pods) != 1 {
				t.Fatalf("%d workloads in the output, want 1: %v", len(pods), m.ids)
			}
			want := tc.want(baseRef)
			for _, c := range pods[0].Spec.Containers {
				if c.Image != want {
					t.Errorf("container %s runs %s, want %s", c.Name, c.Image, want)
				}
			}
			for id, ns := range m.namespaces {
				if ns != "imagebump" {
					t.Errorf("%s is in namespace %q, want the overlay's imagebump", id, ns)
				}
			}
		})
	}
}
