package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yaml "go.yaml.in/yaml/v4"
)

// fluxDefaultMessage is image-automation-controller's commit message when
// the automation has no template.
const fluxDefaultMessage = "Update from image update automation"

// fluxMessage is an ImageUpdateAutomation's commit message template with
// its messageTemplateValues.
type fluxMessage struct {
	tmpl   *template.Template
	values map[string]string
}

// newFluxMessage parses a template as image-automation-controller does:
// text/template with Sprig's hermetic functions (no environment, time or
// randomness), so a template written for Flux renders the same here.
func newFluxMessage(text string, values map[string]string) (*fluxMessage, error) {
	if text == "" {
		text = fluxDefaultMessage
	}
	t, err := template.New("commit message").Funcs(sprig.HermeticTxtFuncMap()).Parse(text)
	if err != nil {
		return nil, err
	}
	return &fluxMessage{tmpl: t, values: values}, nil
}

// FluxTemplateData is what an ImageUpdateAutomation's messageTemplate
// sees; its shape is image-automation-controller's TemplateData, field
// for field, so that templates (and what fmt prints of the values, as
// toString does) give the same text.
type FluxTemplateData struct {
	AutomationObject NamespacedName
	Changed          FluxResult
	Values           map[string]string
}

// NamespacedName is a Kubernetes object's namespace and name; it prints
// as namespace/name.
type NamespacedName struct {
	Namespace string
	Name      string
}

func (n NamespacedName) String() string { return n.Namespace + "/" + n.Name }

// FluxResult holds the changes of a commit by file, then object.
type FluxResult struct {
	// FileChanges is keyed by the file's path relative to update.path.
	FileChanges map[string]FluxObjectChanges
}

// FluxObjectChanges are the changes to each object of a file.
type FluxObjectChanges map[FluxObjectID][]FluxChange

// FluxObjectID identifies the YAML object a change is in; a
// kustomization.yaml may have no name. It nests as Flux's (an
// ObjectIdentifier holding kyaml's ResourceIdentifier) so that fmt prints
// it alike: {{{apps/v1 Deployment} {web default}}}.
type FluxObjectID struct {
	ResourceIdentifier
}

// ResourceIdentifier is an object's type and name.
type ResourceIdentifier struct {
	TypeMeta
	NameMeta
}

// TypeMeta is an object's apiVersion and kind.
type TypeMeta struct {
	APIVersion string
	Kind       string
}

// NameMeta is an object's metadata.name and metadata.namespace.
type NameMeta struct {
	Name      string
	Namespace string
}

// FluxChange is one rewritten value: Setter is the marker's reference
// ("flux-system:podinfo:tag").
type FluxChange struct {
	OldValue string
	NewValue string
	Setter   string
}

// Changes returns every distinct change, by file and object.
func (r FluxResult) Changes() []FluxChange {
	seen := map[FluxChange]bool{}
	var out []FluxChange
	for _, f := range sortedKeys(r.FileChanges) {
		oc := r.FileChanges[f]
		for _, id := range oc.ids() {
			for _, c := range oc[id] {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Objects returns the changes by object, whatever file they are in.
func (r FluxResult) Objects() FluxObjectChanges {
	out := FluxObjectChanges{}
	for _, f := range sortedKeys(r.FileChanges) {
		for id, cs := range r.FileChanges[f] {
			out[id] = append(out[id], cs...)
		}
	}
	return out
}

func (oc FluxObjectChanges) ids() []FluxObjectID {
	ids := make([]FluxObjectID, 0, len(oc))
	for id := range oc {
		ids = append(ids, id)
	}
	// The order text/template ranges over such keys in: field by field.
	slices.SortFunc(ids, func(a, b FluxObjectID) int {
		for _, c := range [][2]string{{a.APIVersion, b.APIVersion}, {a.Kind, b.Kind}, {a.Name, b.Name}, {a.Namespace, b.Namespace}} {
			if d := strings.Compare(c[0], c[1]); d != 0 {
				return d
			}
		}
		return 0
	})
	return ids
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// MarkerChange is one value a commit changes, for Automation.Message.
type MarkerChange struct {
	// File is relative to the repository root, with forward slashes; Line
	// is the changed value's, in the new content.
	File string
	Line int
	// Setter is the marker's reference, Old and New the values.
	Setter   string
	Old, New string
}

// Message renders the automation's commit message for changes. content
// returns a changed file's new bytes, to tell which object each change is
// in.
func (a *Automation) Message(changes []MarkerChange, content func(file string) []byte) (string, error) {
	data := FluxTemplateData{
		AutomationObject: NamespacedName{Namespace: a.Namespace, Name: a.Name},
		Changed:          FluxResult{FileChanges: map[string]FluxObjectChanges{}},
		Values:           a.message.values,
	}
	docs := map[string][]objectAt{}
	for _, c := range changes {
		if _, ok := docs[c.File]; !ok {
			docs[c.File] = objectsOf(content(c.File))
		}
		id := objectAtLine(docs[c.File], c.Line)
		// Flux names files relative to update.path, where it reads them.
		rel := c.File
		if a.Path != "" {
			if r, ok := strings.CutPrefix(c.File, a.Path+"/"); ok {
				rel = r
			}
		}
		oc := data.Changed.FileChanges[rel]
		if oc == nil {
			oc = FluxObjectChanges{}
			data.Changed.FileChanges[rel] = oc
		}
		oc[id] = append(oc[id], FluxChange{OldValue: c.Old, NewValue: c.New, Setter: c.Setter})
	}
	return a.message.render(data)
}

func (m *fluxMessage) render(data FluxTemplateData) (string, error) {
	var b bytes.Buffer
	if err := m.tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering the ImageUpdateAutomation's messageTemplate: %w", err)
	}
	return b.String(), nil
}

// objectAt is a YAML document's identity and its first line.
type objectAt struct {
	line int
	id   FluxObjectID
}

// objectsOf reads the identity of every document of a YAML file.
func objectsOf(src []byte) []objectAt {
	var out []objectAt
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) || err != nil {
			return out
		}
		if len(doc.Content) == 0 {
			continue
		}
		top := doc.Content[0]
		meta := valueOf(top, "metadata")
		out = append(out, objectAt{line: top.Line, id: FluxObjectID{ResourceIdentifier{
			TypeMeta: TypeMeta{APIVersion: scalar(valueOf(top, "apiVersion")), Kind: scalar(valueOf(top, "kind"))},
			NameMeta: NameMeta{Name: scalar(valueOf(meta, "name")), Namespace: scalar(valueOf(meta, "namespace"))},
		}}})
	}
}

// objectAtLine is the identity of the last document starting at or
// before line.
func objectAtLine(objs []objectAt, line int) FluxObjectID {
	var id FluxObjectID
	for _, o := range objs {
		if o.line > line {
			break
		}
		id = o.id
	}
	return id
}
