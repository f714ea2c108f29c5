package patcher

import (
	"bytes"
	"sort"
)

// References lists the marker references in src without parsing it: every
// comment on a line mentioning $imagepolicy whose text is a marker,
// wherever it is (Column is 0: values are not located). That is a superset
// of Scan's markers, cheap enough to run on every pass to learn which
// policies to resolve; Scan and Apply say which markers are really usable.
func References(file string, src []byte) []Marker {
	if !bytes.Contains(src, markerBytes) {
		return nil
	}
	var refs []Marker
	lines := newLineIndex(src)
	for off := 0; ; {
		i := bytes.Index(src[off:], markerBytes)
		if i < 0 {
			return refs
		}
		i += off
		line := sort.Search(len(lines), func(n int) bool { return lines[n] > i })
		start, end := lines[line-1], len(src)
		if line < len(lines) {
			end = lines[line]
		}
		text := bytes.TrimRight(src[start:end], "\r\n\u0085\u2028\u2029 \t")
		for j := range text {
			if text[j] != '#' {
				continue
			}
			if policy, field, err := parseMarker(string(text[j:])); err == nil {
				refs = append(refs, Marker{File: file, Line: line, Policy: policy, Field: field})
			}
		}
		off = max(end, i+1)
	}
}
