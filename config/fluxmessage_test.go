package config

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

// The commit message templates below are from Flux's documentation
// (fluxcd/image-automation-controller docs/spec/v1/imageupdateautomations.md,
// "Message Template", the Gerrit and the Gitea examples); the expected
// texts were worked out by hand from text/template's rules and Flux's
// TemplateData, not by running this code.

const (
	deployYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.1.0 # {"$imagepolicy": "flux-system:web"}
`
	kustomizationYAML = `---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: redis
    newTag: 7.4.1-alpine # {"$imagepolicy": "flux-system:redis:tag"}
`
)

var messageChanges = []MarkerChange{
	{File: "apps/web/deploy.yaml", Line: 11, Setter: "flux-system:web", Old: "ghcr.io/acme/web:1.0.0", New: "ghcr.io/acme/web:1.1.0"},
	{File: "apps/kustomization.yaml", Line: 6, Setter: "flux-system:redis:tag", Old: "7.2.4-alpine", New: "7.4.1-alpine"},
}

func TestAutomationMessage(t *testing.T) {
	changeIDInput := "flux-system/flux-system" +
		"map[kustomization.yaml:map[{{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}:[{7.2.4-alpine 7.4.1-alpine flux-system:redis:tag}]] web/deploy.yaml:map[{{{apps/v1 Deployment} {web prod}}}:[{ghcr.io/acme/web:1.0.0 ghcr.io/acme/web:1.1.0 flux-system:web}]]]" +
		"map[{{{apps/v1 Deployment} {web prod}}}:[{ghcr.io/acme/web:1.0.0 ghcr.io/acme/web:1.1.0 flux-system:web}] {{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}:[{7.2.4-alpine 7.4.1-alpine flux-system:redis:tag}]]" +
		"[{7.2.4-alpine 7.4.1-alpine flux-system:redis:tag} {ghcr.io/acme/web:1.0.0 ghcr.io/acme/web:1.1.0 flux-system:web}]"
	sum := sha256.Sum256([]byte(changeIDInput))

	tests := []struct {
		name   string
		commit string // lines below spec.git.commit
		want   string
	}{
		{"default", "", "Update from image update automation"},
		{"files and objects", `      messageTemplate: |
        Automated image update

        Automation name: {{ .AutomationObject }}

        Files:
        {{ range $filename, $_ := .Changed.FileChanges -}}
        - {{ $filename }}
        {{ end -}}

        Objects:
        {{ range $resource, $changes := .Changed.Objects -}}
        - {{ $resource.Kind }} {{ $resource.Name }}
          Changes:
        {{- range $_, $change := $changes }}
            - {{ $change.OldValue }} -> {{ $change.NewValue }}
        {{ end -}}
        {{ end -}}
`, "Automated image update\n\nAutomation name: flux-system/flux-system\n\nFiles:\n- kustomization.yaml\n- web/deploy.yaml\nObjects:\n" +
			"- Deployment web\n  Changes:\n    - ghcr.io/acme/web:1.0.0 -> ghcr.io/acme/web:1.1.0\n" +
			"- Kustomization \n  Changes:\n    - 7.2.4-alpine -> 7.4.1-alpine\n"},
		{"values", `      messageTemplate: |-
        Automated image update by Flux for cluster {{ .Values.cluster }}.
      messageTemplateValues:
        cluster: prod
`, "Automated image update by Flux for cluster prod."},
		{"gerrit change-id", `      messageTemplate: |
        Perform automatic image update

        Automation name: {{ .AutomationObject }}

        {{- $ChangeId := .AutomationObject -}}
        {{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.FileChanges | toString ) -}}
        {{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Objects | toString ) -}}
        {{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Changes | toString ) }}
        Change-Id: {{ printf "I%s" ( sha256sum $ChangeId | trunc 40 ) }}
`, "Perform automatic image update\n\nAutomation name: flux-system/flux-system\nChange-Id: I" + hex.EncodeToString(sum[:])[:40] + "\n"},
		{"gitea", `      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println
        .NewValue}}{{end}}'
`, "7.2.4-alpine -> 7.4.1-alpine\nghcr.io/acme/web:1.0.0 -> ghcr.io/acme/web:1.1.0\n"},
	}
	content := map[string]string{"apps/web/deploy.yaml": deployYAML, "apps/kustomization.yaml": kustomizationYAML}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filetree.Write(t, map[string]string{"clusters/auto.yaml": automation("flux-system", tc.commit)})
			ps, err := LoadPolicies(root)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ps.Flux.Automation.Message(messageChanges, func(f string) []byte { return []byte(content[f]) })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
