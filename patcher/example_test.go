package patcher_test

import (
	"fmt"

	"github.com/imagebump/imagebump/patcher"
)

func ExampleApply() {
	src := []byte(`spec:
  containers:
  - name: web
    image: ghcr.io/acme/web:1.4.2   # {"$imagepolicy": "web"}
  - name: api
    image: 'ghcr.io/acme/api:2.0.0' # {"$imagepolicy": "api"}
    env:
    - {name: LEGACY_TAG, value: x}
    - name: TAG
      value: 1.9 # {"$imagepolicy": "legacy:tag"}
`)
	targets := patcher.Targets{
		"web":    {Image: "ghcr.io/acme/web", Tag: "1.5.0"},
		"api":    {Image: "ghcr.io/acme/api", Tag: "2.1.0", Digest: "sha256:4f1c", PinDigest: true},
		"legacy": {Image: "docker.io/library/legacy", Tag: "1.10"},
	}
	res := patcher.Apply("deploy.yaml", src, targets)
	fmt.Print(string(res.Out))
	for _, c := range res.Changes {
		fmt.Printf("%s:%d %s %s: %s -> %s\n", c.File, c.Line, c.Policy, c.Field, c.Old, c.New)
	}
	// Output:
	// spec:
	//   containers:
	//   - name: web
	//     image: ghcr.io/acme/web:1.5.0   # {"$imagepolicy": "web"}
	//   - name: api
	//     image: 'ghcr.io/acme/api:2.1.0@sha256:4f1c' # {"$imagepolicy": "api"}
	//     env:
	//     - {name: LEGACY_TAG, value: x}
	//     - name: TAG
	//       value: "1.10" # {"$imagepolicy": "legacy:tag"}
	// deploy.yaml:4 web ref: ghcr.io/acme/web:1.4.2 -> ghcr.io/acme/web:1.5.0
	// deploy.yaml:6 api ref: ghcr.io/acme/api:2.0.0 -> ghcr.io/acme/api:2.1.0@sha256:4f1c
	// deploy.yaml:10 legacy tag: 1.9 -> 1.10
}

func ExampleApply_downgrade() {
	src := []byte("image: ghcr.io/acme/web:2.0.0 # {\"$imagepolicy\": \"web\"}\n")
	targets := patcher.Targets{"web": {
		Image:  "ghcr.io/acme/web",
		Tag:    "1.5.0",
		Higher: func(current string) bool { return current == "2.0.0" },
	}}
	res := patcher.Apply("deploy.yaml", src, targets)
	fmt.Println(res.Changed())
	for _, s := range res.Skipped {
		fmt.Printf("%s:%d %s: %s (current %s, selected %s)\n", s.File, s.Line, s.Policy, s.Reason, s.Current, s.Selected)
	}
	// Output:
	// false
	// deploy.yaml:1 web: would downgrade (current 2.0.0, selected 1.5.0)
}

func ExampleScan() {
	src := []byte(`images:
- name: web
  newName: ghcr.io/acme/web # {"$imagepolicy": "flux-system:web:name"}
  newTag: 1.4.2 # {"$imagepolicy": "flux-system:web:tag"}
spec: # {"$imagepolicy": "api"}
  replicas: 2
`)
	markers, problems := patcher.Scan("kustomization.yaml", src)
	for _, m := range markers {
		fmt.Printf("%s:%d:%d policy %q field %s\n", m.File, m.Line, m.Column, m.Policy, m.Field)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// kustomization.yaml:3:12 policy "flux-system:web" field name
	// kustomization.yaml:4:11 policy "flux-system:web" field tag
	// kustomization.yaml:5: marker is on a mapping, not on a scalar value; not applied
}
