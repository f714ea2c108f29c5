package patcher

import "bytes"

// References lists the marker references in src without parsing it: every
// comment on a line mentioning $imagepolicy whose text is a marker,
// wherever it is (Column is 0: values are not located). That is a superset
// of Scan's markers, cheap enough to run on every pass to learn which
// policies to resolve; Scan and Apply say which markers are really usable.
func References(file string, src []byte) []Marker {
	var refs []Marker
	line, start := 1, 0 // start is where line begins
	if bytes.HasPrefix(src, bom) {
		start = 3
	}
	for {
		i := bytes.Index(src[start:], markerBytes)
		if i < 0 {
			return refs
		}
		i += start
		// Count line breaks up to i as the parser does, so that lines agree
		// with Scan's.
		for p := start; p < i; {
			if c := src[p]; c != '\n' && c != '\r' && c != 0xC2 && c != 0xE2 {
				p++
			} else if n := breakLen(src, p); n > 0 {
				p += n
				line, start = line+1, p
			} else {
				p++
			}
		}
		end := i
		for end < len(src) && breakLen(src, end) == 0 {
			end++
		}
		text := bytes.TrimRight(src[start:end], " \t")
		for j := range text {
			if text[j] != '#' {
				continue
			}
			if policy, field, err := parseMarker(string(text[j:])); err == nil {
				refs = append(refs, Marker{File: file, Line: line, Policy: policy, Field: field})
			}
		}
		if end == len(src) {
			return refs
		}
		line, start = line+1, end+breakLen(src, end)
	}
}
