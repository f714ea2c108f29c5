package patcher

import "bytes"

// current reports, without parsing, that Apply has certainly nothing to do
// or report in src: every line mentioning $imagepolicy is a simple
// `key: value # comment` or `- value # comment` line whose comment is not a
// marker, or is a marker of a known policy whose value is already what the
// policy wants (or that the policy leaves alone). Anything less simple
// answers false and Apply parses the file.
//
// Parsing is most of a pass's cost, and in a steady-state repository nearly
// every marker is current. The shortcut does not see YAML syntax errors
// elsewhere in such a file; Scan, which always parses, reports those.
// FuzzPatch checks that on every input that parses the shortcut agrees with
// the full path.
func current(src []byte, t Targets) bool {
	s := summarize(src)
	return s.current(t)
}

// summary is what current needs of a file, taken without parsing it: the
// marker of each simple line that mentions $imagepolicy, and whether every
// such line is simple. A Tree keeps it instead of the file's content.
type summary struct {
	simple  bool
	markers []quick
}

// quick is the marker of one simple line and the value it marks.
type quick struct {
	policy string
	field  Field
	value  string
}

// current is current(src, t) for the src the summary was taken of.
func (s summary) current(t Targets) bool {
	if !s.simple {
		return false
	}
	for _, q := range s.markers {
		tg, known := t[q.policy]
		if !known {
			return false
		}
		if v := want(tg, q.field); v != "" && v != q.value {
			return false
		}
	}
	return true
}

// summarize takes the summary of src. Its strings are copies: it keeps
// nothing of src alive.
func summarize(src []byte) summary {
	s := summary{simple: true}
	for rest := src; ; {
		i := bytes.Index(rest, markerBytes)
		if i < 0 {
			return s
		}
		start := bytes.LastIndexAny(rest[:i], "\r\n") + 1
		end := i + bytes.IndexAny(rest[i:], "\r\n")
		if end < i {
			end = len(rest)
		}
		line := rest[start:end]
		if start == 0 && len(rest) == len(src) {
			line = bytes.TrimPrefix(line, bom)
		}
		q, marked, ok := simpleLine(line)
		if !ok {
			return summary{}
		}
		if marked {
			s.markers = append(s.markers, q)
		}
		rest = rest[end:]
	}
}

// simpleLine reads one line for summarize: ok is false when the line is
// not simple; marked is whether its comment is a marker, q that marker
// and the value it marks.
func simpleLine(line []byte) (q quick, marked, ok bool) {
	// Other line breaks (NEL, LS, PS) and tabs are rare enough to leave to
	// the parser.
	if bytes.IndexByte(line, '\t') >= 0 || bytes.Contains(line, []byte("\u0085")) ||
		bytes.Contains(line, []byte("\u2028")) || bytes.Contains(line, []byte("\u2029")) {
		return quick{}, false, false
	}
	p := 0
	for p < len(line) && line[p] == ' ' {
		p++
	}
	structured := false
	for p+1 < len(line) && line[p] == '-' && line[p+1] == ' ' {
		structured = true
		p += 2
		for p < len(line) && line[p] == ' ' {
			p++
		}
	}
	// An optional simple key: [A-Za-z0-9_] then [A-Za-z0-9_.-/], then ": ".
	if k := p; k < len(line) && isKeyStart(line[k]) {
		for k < len(line) && isKeyChar(line[k]) {
			k++
		}
		if k+1 < len(line) && line[k] == ':' && line[k+1] == ' ' {
			structured = true
			p = k + 2
			for p < len(line) && line[p] == ' ' {
				p++
			}
		}
	}
	if !structured || p >= len(line) {
		return quick{}, false, false
	}
	var value []byte
	switch c := line[p]; {
	case c == '\'':
		end := bytes.IndexByte(line[p+1:], '\'')
		if end < 0 || p+2+end < len(line) && line[p+2+end] == '\'' {
			return quick{}, false, false // unterminated, or an '' escape: let the parser decode it
		}
		value, p = line[p+1:p+1+end], p+2+end
	case c == '"':
		end := bytes.IndexByte(line[p+1:], '"')
		if end < 0 || bytes.IndexByte(line[p+1:p+1+end], '\\') >= 0 {
			return quick{}, false, false
		}
		value, p = line[p+1:p+1+end], p+2+end
	case isKeyStart(c):
		end := p
		for end < len(line) && !(line[end] == ' ' && (end+1 == len(line) || line[end+1] == '#' || line[end+1] == ' ')) {
			end++
		}
		value, p = line[p:end], end
		if bytes.ContainsAny(value, ",[]{}#") || bytes.Contains(value, []byte(": ")) || bytes.HasSuffix(value, []byte(":")) {
			return quick{}, false, false
		}
	default:
		return quick{}, false, false
	}
	for p < len(line) && line[p] == ' ' {
		p++
	}
	if p == len(line) {
		return quick{}, false, true // no comment: $imagepolicy is inside the value
	}
	if line[p] != '#' || p > 0 && line[p-1] != ' ' {
		return quick{}, false, false
	}
	policy, field, err := parseMarker(string(bytes.TrimRight(line[p:], " ")))
	if err == errNotMarker {
		return quick{}, false, true
	}
	if err != nil {
		return quick{}, false, false
	}
	return quick{policy: policy, field: field, value: string(value)}, true, true
}

func isKeyStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func isKeyChar(c byte) bool {
	return isKeyStart(c) || c == '.' || c == '-' || c == '/'
}
