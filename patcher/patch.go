package patcher

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/imagebump/imagebump/problem"
)

// Target is what one policy resolved to.
type Target struct {
	Image     string // repository without tag, e.g. ghcr.io/acme/web
	Tag       string // selected tag
	Digest    string // "sha256:..." of the selected tag; "" when not resolved
	PinDigest bool   // unsuffixed markers get name:tag@digest
	// Higher reports whether a tag currently in a manifest is ordered above Tag
	// by the policy (a refused downgrade). Nil means never.
	Higher func(current string) bool
}

// Targets maps policy names to their targets. A name present with a nil
// *Target is a known policy that could not be resolved this pass: its markers
// are left alone silently (the policy error is reported elsewhere). A name
// absent is an unknown policy: a Problem.
type Targets map[string]*Target

// Marker is one marker found on a rewritable scalar.
type Marker struct {
	File   string
	Line   int // 1-based line of the marked value
	Column int // 1-based column of the marked value, in characters
	Policy string
	Field  Field
	// Value is the marked scalar's value (quotes taken off, as Change.Old
	// has it), filled by Scan; References leaves it empty.
	Value string
}

// Change is one rewritten value. Old and New are the values, not their
// source text: quotes are not included.
type Change struct {
	File   string
	Line   int // 1-based line of the value
	Column int // 1-based column of the value, in characters
	Policy string
	Field  Field
	Old    string
	New    string
}

// ReasonDowngrade is the Reason of a Skipped field whose current tag the
// policy orders above the selected one.
const ReasonDowngrade = "would downgrade"

// Skipped is a marked field deliberately left alone, such as a refused
// downgrade.
type Skipped struct {
	File     string
	Line     int
	Policy   string
	Current  string // the tag in the file
	Selected string // the tag the policy selected
	Reason   string
}

// Result is the outcome of Apply on one file.
type Result struct {
	// Out is the new content. It is the input slice itself when nothing changed.
	Out      []byte
	Changes  []Change
	Problems []problem.Problem
	Skipped  []Skipped
}

// Changed reports whether Out differs from the input.
func (r Result) Changed() bool { return len(r.Changes) > 0 }

var markerBytes = []byte(markerKey)

// Apply rewrites the values marked in src to what t says, changing no other
// byte; file only labels the results. A marker is a line comment that is
// exactly {"$imagepolicy": "policy[:tag|:name|:digest]"} after a scalar
// value (`key: value # marker`, `- value # marker`). A file that does not
// parse is reported and left untouched.
//
// Files that do not mention $imagepolicy are not parsed, and neither is a
// file whose marker lines are all simple `key: value # marker` lines that
// already hold what t says: nothing is reported for such a file, even a
// syntax error elsewhere in it. Scan, which always parses, reports those.
func Apply(file string, src []byte, t Targets) Result {
	res, _ := apply(file, src, t)
	return res
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

func apply(file string, src []byte, t Targets) (Result, []edit) {
	if !bytes.Contains(src, markerBytes) || current(src, t) {
		return Result{Out: src}, nil
	}
	return applyParsed(file, src, t)
}

// applyParsed is Apply without the shortcut for files that need nothing.
func applyParsed(file string, src []byte, t Targets) (Result, []edit) {
	found, problems := findMarkers(file, src)
	res := Result{Out: src, Problems: problems}
	// A policy whose tag or reference is kept in this file as a refused
	// downgrade keeps its :digest fields here too: a digest of the selected
	// tag beside the kept tag would deploy the older image by digest.
	downgraded := map[string]bool{}
	for _, f := range found {
		if tg := t[f.marker.Policy]; tg != nil && refusedDowngrade(tg, f.marker.Field, f.node.Value) != "" {
			downgraded[f.marker.Policy] = true
		}
	}
	var edits []edit
	for _, f := range found {
		m := f.marker
		tg, known := t[m.Policy]
		if !known {
			res.Problems = append(res.Problems, problem.Problem{File: file, Line: m.Line, Message: fmt.Sprintf("marker names policy %q, which no policy file defines", m.Policy)})
			continue
		}
		old := f.node.Value
		v := want(tg, m.Field)
		if v == "" || v == old {
			continue
		}
		if cur := refusedDowngrade(tg, m.Field, old); cur != "" {
			res.Skipped = append(res.Skipped, Skipped{file, m.Line, m.Policy, cur, tg.Tag, ReasonDowngrade})
			continue
		}
		if m.Field == FieldDigest && downgraded[m.Policy] {
			res.Skipped = append(res.Skipped, Skipped{file, m.Line, m.Policy, old, v, ReasonDowngrade})
			continue
		}
		if !writable(v) {
			res.Problems = append(res.Problems, problem.Problem{File: file, Line: m.Line, Message: fmt.Sprintf("policy %q resolved to %q, which is not written into manifests", m.Policy, v)})
			continue
		}
		edits = append(edits, edit{f.start, f.end, render(v, f.node, f.inFlow)})
		res.Changes = append(res.Changes, Change{file, m.Line, m.Column, m.Policy, m.Field, old, v})
	}
	if len(edits) > 0 {
		res.Out = splice(src, edits)
	}
	sortProblems(res.Problems)
	return res, edits
}

// refusedDowngrade returns the current tag of a ref or tag field whose
// value the policy orders above the selected tag, or "" when the field may
// be written.
func refusedDowngrade(tg *Target, field Field, old string) string {
	if field != FieldRef && field != FieldTag {
		return ""
	}
	cur := old
	if field == FieldRef {
		_, cur, _ = splitRef(old)
	}
	if cur != "" && cur != tg.Tag && tg.Higher != nil && tg.Higher(cur) {
		return cur
	}
	return ""
}

// want is the value a field marked for tg should hold, or "" when the
// target does not say (an unresolved policy, no digest): then the field is
// left alone.
func want(tg *Target, field Field) string {
	if tg == nil {
		return ""
	}
	switch field {
	case FieldRef:
		if tg.Image == "" || tg.Tag == "" {
			return ""
		}
		if tg.PinDigest && tg.Digest != "" {
			return tg.Image + ":" + tg.Tag + "@" + tg.Digest
		}
		return tg.Image + ":" + tg.Tag
	case FieldTag:
		if tg.Image == "" {
			return ""
		}
		return tg.Tag
	case FieldName:
		return tg.Image
	case FieldDigest:
		return tg.Digest
	}
	return ""
}

// writable refuses values no image reference has, which could otherwise
// break the line they are written into.
func writable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	return strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

func splice(src []byte, edits []edit) []byte {
	n := len(src)
	for _, e := range edits {
		n += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, e := range edits {
		out = append(out, src[prev:e.start]...)
		out = append(out, e.text...)
		prev = e.end
	}
	return append(out, src[prev:]...)
}

// splitRef splits an image reference name[:tag][@digest]; a ':' followed by a
// '/' belongs to a registry host:port, not to a tag.
func splitRef(s string) (name, tag, digest string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, digest = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], '/') < 0 {
		return s[:i], s[i+1:], digest
	}
	return s, "", digest
}

// Scan lists the markers in src that Apply would act on, and the problems
// that do not depend on which policies exist (see Apply).
func Scan(file string, src []byte) ([]Marker, []problem.Problem) {
	found, problems := findMarkers(file, src)
	var markers []Marker
	for _, f := range found {
		markers = append(markers, f.marker)
	}
	sortProblems(problems)
	return markers, problems
}

// found is a marker on a scalar whose source text is src[start:end].
type found struct {
	marker     Marker
	node       *yaml.Node
	start, end int
	inFlow     bool
}

var errLine = regexp.MustCompile(`line (\d+)`)

// findMarkers parses every document of src and returns the markers on
// rewritable scalars in source order, and the problems met.
func findMarkers(file string, src []byte) ([]found, []problem.Problem) {
	if !bytes.Contains(src, markerBytes) {
		return nil, nil
	}
	docs, err := decodeAll(src)
	if err != nil {
		line := 0
		if m := errLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "line "+strconv.Itoa(line)+": ")
		return nil, []problem.Problem{{File: file, Line: line, Message: "not valid YAML, left untouched: " + msg}}
	}
	w := &walker{file: file, src: src, lines: newLineIndex(src), claimed: map[int]bool{}}
	for _, d := range docs {
		w.walk(d, false, false)
	}
	for _, s := range w.strays {
		w.problem(w.commentLine(s), "marker is not on the line of a scalar value; not applied")
	}
	return w.found, w.problems
}

// decodeAll parses every document of src. A panic in the parser, which no
// repository file should be able to cause, is turned into an error.
func decodeAll(src []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

type walker struct {
	file     string
	src      []byte
	lines    lineIndex
	found    []found
	problems []problem.Problem
	claimed  map[int]bool // lines whose line comment was read as a marker
	strays   []stray
}

// stray is a marker the parser kept as a head or foot comment of the node
// at line.
type stray struct {
	text string
	line int
	head bool
}

// claim records that the line comment on line was read as a marker.
func (w *walker) claim(line int) { w.claimed[line] = true }

func (w *walker) problem(line int, format string, args ...any) {
	w.problems = append(w.problems, problem.Problem{File: w.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// walk visits n. Only a scalar that is a value (not a mapping key) carries a
// marker as Flux reads them: `key: value # marker` or `- value # marker`.
func (w *walker) walk(n *yaml.Node, isKey, inFlow bool) {
	w.strayComments(n)
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, false, false)
		}
	case yaml.MappingNode:
		w.onCollection(n.LineComment, n.Line, "mapping")
		flow := inFlow || n.Style&yaml.FlowStyle != 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if _, _, err := parseMarker(k.LineComment); err != errNotMarker {
				w.claim(k.Line)
				switch v.Kind {
				case yaml.MappingNode:
					w.onCollection(k.LineComment, k.Line, "mapping")
				case yaml.SequenceNode:
					w.onCollection(k.LineComment, k.Line, "sequence")
				default:
					w.problem(k.Line, "marker is on key %q, not after its value on the same line; not applied", k.Value)
				}
			}
			w.walk(k, true, flow)
			w.walk(v, false, flow)
		}
	case yaml.SequenceNode:
		w.onCollection(n.LineComment, n.Line, "sequence")
		flow := inFlow || n.Style&yaml.FlowStyle != 0
		for _, c := range n.Content {
			w.walk(c, false, flow)
		}
	case yaml.AliasNode:
		if _, _, err := parseMarker(n.LineComment); err != errNotMarker {
			w.claim(n.Line)
			w.problem(n.Line, "marker is on an alias (*%s); mark the anchored value instead; not applied", n.Value)
		}
	case yaml.ScalarNode:
		if isKey {
			return // reported by the mapping
		}
		policy, field, err := parseMarker(n.LineComment)
		if err == errNotMarker {
			return
		}
		w.claim(n.Line)
		if err != nil {
			w.problem(n.Line, "%v", err)
			return
		}
		if n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != "!!str" && n.Tag != "!" {
			w.problem(n.Line, "marker is on a value tagged %s, not a string; not applied", n.Tag)
			return
		}
		off, ok := w.lines.offset(w.src, n.Line, n.Column)
		if !ok {
			w.problem(n.Line, "cannot locate the marked value; not applied")
			return
		}
		start, end, err := locateScalar(w.src, off, n, inFlow)
		if err != nil {
			w.problem(n.Line, "%v; not applied", err)
			return
		}
		line, col := w.lines.position(w.src, start)
		w.found = append(w.found, found{
			marker: Marker{File: w.file, Line: line, Column: col, Policy: policy, Field: field, Value: n.Value},
			node:   n, start: start, end: end, inFlow: inFlow,
		})
	}
}

// onCollection reports a marker comment on a mapping or sequence.
func (w *walker) onCollection(comment string, line int, kind string) {
	if _, _, err := parseMarker(comment); err != errNotMarker {
		w.claim(line)
		w.problem(line, "marker is on a %s, not on a scalar value; not applied", kind)
	}
}

// strayComments collects markers the parser attached to n as a head or foot
// comment: they sit on a line of their own (or after a `-` or `key:` with no
// scalar value) and mark nothing. Their lines are found after the walk, once
// the lines of real markers are known.
func (w *walker) strayComments(n *yaml.Node) {
	for i, c := range [...]string{n.HeadComment, n.FootComment} {
		if !strings.Contains(c, markerKey) {
			continue
		}
		for text := range strings.SplitSeq(c, "\n") {
			text = strings.TrimSpace(text)
			if _, _, err := parseMarker(text); err != errNotMarker {
				w.strays = append(w.strays, stray{text: text, line: n.Line, head: i == 0})
			}
		}
	}
}

// commentLine finds the line of a stray marker: the nearest unclaimed line
// holding its text, before its node for a head comment and after it for a
// foot comment. The parser does not record where these comments are.
func (w *walker) commentLine(s stray) int {
	best, bestDist := 0, -1
	for pass := range 2 {
		for i, start := range w.lines {
			line := i + 1
			if w.claimed[line] || pass == 0 && (s.head && line >= s.line || !s.head && line <= s.line) {
				continue
			}
			end := len(w.src)
			if i+1 < len(w.lines) {
				end = w.lines[i+1]
			}
			text := w.src[start:end]
			j := bytes.Index(text, []byte(s.text))
			if j < 0 {
				continue
			}
			if before := bytes.Trim(text[:j], " \t"); len(before) != 0 &&
				!bytes.HasSuffix(before, []byte("-")) && !bytes.HasSuffix(before, []byte(":")) {
				continue
			}
			if d := abs(line - s.line); bestDist < 0 || d < bestDist {
				best, bestDist = line, d
			}
		}
		if best > 0 {
			w.claim(best)
			return best
		}
	}
	return 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// sortProblems orders problems by line, keeping source order within a line.
func sortProblems(p []problem.Problem) {
	slices.SortStableFunc(p, func(a, b problem.Problem) int { return a.Line - b.Line })
}
