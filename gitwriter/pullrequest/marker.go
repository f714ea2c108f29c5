package pullrequest

import (
	"encoding/json"
	"strings"
)

// markerPrefix opens the hidden HTML comment that records what a pull
// request proposes. HTML comments survive in the body's markdown source
// and are not shown on any of the forges.
const markerPrefix = "<!-- imagebump: "

// foreignNote is the hidden mark of the bot's one comment about commits it
// did not make; finding it in a comment means the bot already said so.
const foreignNote = "<!-- imagebump-note: foreign-commits -->"

// closeNote marks the bot's comment on a pull request it closes, so a
// close that failed after commenting does not comment twice when retried.
const closeNote = "<!-- imagebump-note: closing -->"

// hasNote reports whether one of comments carries note.
func hasNote(comments []string, note string) bool {
	for _, c := range comments {
		if strings.Contains(c, note) {
			return true
		}
	}
	return false
}

// Marker is the data the bot hides in the body of its pull requests.
type Marker struct {
	Group    string    `json:"group"`
	Versions []Version `json:"versions"`
	// Retired is set when the bot itself closed the pull request because
	// the base had caught up; such a close is not a human declining the
	// versions.
	Retired bool `json:"retired,omitempty"`
}

// String renders m as the hidden comment ParseMarker reads.
func (m Marker) String() string {
	// json.Marshal escapes <, > and & as \u003c..., so "-->" can never
	// occur inside and end the comment early.
	b, err := json.Marshal(m)
	if err != nil {
		// Marker holds only strings and bools.
		panic("pullrequest: marshaling marker: " + err.Error())
	}
	return markerPrefix + string(b) + " -->"
}

// ParseMarker finds the bot's marker in a pull request body. It reports
// false when there is none or none that decodes; when a human pasted
// another marker into the body, the last one that decodes wins, since the
// bot writes its own at the end.
func ParseMarker(body string) (Marker, bool) {
	rest := body
	var found Marker
	ok := false
	for {
		i := strings.Index(rest, markerPrefix)
		if i < 0 {
			return found, ok
		}
		rest = rest[i+len(markerPrefix):]
		j := strings.Index(rest, "-->")
		if j < 0 {
			return found, ok
		}
		var m Marker
		if err := json.Unmarshal([]byte(strings.TrimSpace(rest[:j])), &m); err == nil && m.Group != "" && len(m.Versions) > 0 {
			found, ok = m, true
		}
		// Go on from just after this prefix, not after its "-->": a stray
		// unterminated prefix must not swallow the real marker that follows.
	}
}

// setRetired returns body with its marker marked retired, or body with a
// retired marker appended when it has none.
func setRetired(body string, m Marker) string {
	m.Retired = true
	i := strings.LastIndex(body, markerPrefix)
	if i >= 0 {
		if j := strings.Index(body[i:], "-->"); j >= 0 {
			return body[:i] + m.String() + body[i+j+len("-->"):]
		}
	}
	return strings.TrimRight(body, "\n") + "\n\n" + m.String() + "\n"
}
