package patcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// markerKey is the only key of a marker's JSON object; Flux uses the same.
const markerKey = "$imagepolicy"

// Field is the part of an image reference a marker selects.
type Field string

// The fields a marker can select, by the suffix of its reference.
const (
	FieldRef    Field = "ref"    // no suffix: the full reference name:tag[@digest]
	FieldTag    Field = "tag"    // ":tag"
	FieldName   Field = "name"   // ":name": the repository without tag
	FieldDigest Field = "digest" // ":digest": sha256:...
)

// ParseRef splits a marker reference of the form policy[:tag|:name|:digest]
// into the policy name and the field. A reference without one of the three
// suffixes selects FieldRef; policy names may themselves contain ':'.
func ParseRef(ref string) (policy string, field Field) {
	for _, f := range [...]Field{FieldTag, FieldName, FieldDigest} {
		if p, ok := strings.CutSuffix(ref, ":"+string(f)); ok {
			return p, f
		}
	}
	return ref, FieldRef
}

// errNotMarker is not reported: the comment is simply not a marker.
var errNotMarker = errors.New("not a marker")

// parseMarker reads a YAML comment ("# ...") whose whole text must be the JSON
// object {"$imagepolicy": "REF"}. It returns errNotMarker when the comment is
// something else, and a descriptive error when it is a JSON object that names
// $imagepolicy but is not a valid marker, so typos get reported.
func parseMarker(comment string) (policy string, field Field, err error) {
	if !strings.Contains(comment, markerKey) {
		return "", "", errNotMarker
	}
	text, ok := strings.CutPrefix(comment, "#")
	if !ok {
		return "", "", errNotMarker
	}
	text = strings.Trim(text, " \t")
	if len(text) < 2 || text[0] != '{' || text[len(text)-1] != '}' {
		return "", "", errNotMarker
	}
	if ref, ok := simpleMarker(text); ok {
		policy, field = ParseRef(ref)
		if policy == "" {
			return "", "", fmt.Errorf("malformed marker %s: empty policy name", text)
		}
		return policy, field, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return "", "", fmt.Errorf("malformed marker %s: %v", text, err)
	}
	raw, ok := obj[markerKey]
	if !ok {
		return "", "", errNotMarker
	}
	if len(obj) != 1 {
		return "", "", fmt.Errorf("malformed marker %s: keys other than %q", text, markerKey)
	}
	var ref string
	if err := json.Unmarshal(raw, &ref); err != nil {
		return "", "", fmt.Errorf("malformed marker %s: the reference is not a string", text)
	}
	policy, field = ParseRef(ref)
	if policy == "" {
		return "", "", fmt.Errorf("malformed marker %s: empty policy name", text)
	}
	return policy, field, nil
}

// simpleMarker reads the common spelling {"$imagepolicy": "REF"} (any JSON
// whitespace, no escapes in REF) without the cost of encoding/json, which
// handles everything else.
func simpleMarker(text string) (ref string, ok bool) {
	s := strings.TrimLeft(text[1:], " \t\r\n")
	s, ok = strings.CutPrefix(s, `"`+markerKey+`"`)
	if !ok {
		return "", false
	}
	s, ok = strings.CutPrefix(strings.TrimLeft(s, " \t\r\n"), ":")
	if !ok {
		return "", false
	}
	s, ok = strings.CutPrefix(strings.TrimLeft(s, " \t\r\n"), `"`)
	if !ok {
		return "", false
	}
	end := strings.IndexAny(s, `"\`)
	if end < 0 || s[end] != '"' {
		return "", false
	}
	ref = s[:end]
	for _, c := range []byte(ref) {
		if c < 0x20 {
			return "", false
		}
	}
	if strings.TrimLeft(s[end+1:], " \t\r\n") != "}" {
		return "", false
	}
	return ref, true
}
