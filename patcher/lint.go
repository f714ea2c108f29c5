package patcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Warning is something that may not be what its author meant but changes
// nothing: a comment that looks like a marker and is not one, a UTF-16 file
// that mentions imagepolicy, a temporary file left by a killed Write. A
// warning never changes an exit status.
type Warning struct {
	File    string `json:"file"`
	Line    int    `json:"line"` // 1-based; 0 when the warning concerns the whole file
	Message string `json:"message"`
}

// String formats the warning as file:line: warning: message.
func (w Warning) String() string {
	if w.Line == 0 {
		return w.File + ": warning: " + w.Message
	}
	return w.File + ":" + strconv.Itoa(w.Line) + ": warning: " + w.Message
}

// Lint lists what Scan and Apply pass over without a word although its
// author probably meant a marker: a line comment that looks like a marker
// but is not exactly one (a key spelled otherwise than "$imagepolicy", a
// missing brace, text before or after the JSON object), and a UTF-16 file
// mentioning imagepolicy, in which no marker is read. Prose that mentions
// imagepolicy without a JSON object is not warned about, and neither is a
// comment Scan reports as a Problem.
func Lint(file string, src []byte) []Warning {
	if text, ok := decodeUTF16(src); ok {
		lower := strings.ToLower(text)
		i := strings.Index(lower, "imagepolicy")
		if i < 0 {
			return nil
		}
		return []Warning{{file, lineOf(lower, i), "the file is UTF-16 encoded and mentions imagepolicy; markers are read in UTF-8 files only, so none in this file is applied"}}
	}
	offs := mentions(src)
	var warnings []Warning
	var idx lineIndex      // built only for a file with a near miss
	var block map[int]bool // likewise
	lastEnd := -1          // end of the last line looked at
	for _, off := range offs {
		if off < lastEnd {
			continue // one warning per line
		}
		start, end := lineBounds(src, off)
		lastEnd = end
		reason := nearMiss(src[start:end])
		if reason == "" {
			continue
		}
		if idx == nil {
			idx = newLineIndex(src)
			block = blockScalarLines(len(idx), func(line int) []byte {
				end := len(src)
				if line < len(idx) {
					end = idx[line]
				}
				_, end = lineBounds(src[:end], idx[line-1])
				return src[idx[line-1]:end]
			})
		}
		line := sort.Search(len(idx), func(i int) bool { return idx[i] > off })
		if !block[line] {
			warnings = append(warnings, Warning{file, line, "comment looks like a marker but is not one: " + reason + "; not applied"})
		}
	}
	return warnings
}

// lineBounds returns the start and end of the line around src[off],
// without its line break, and without a byte order mark on the first line.
func lineBounds(src []byte, off int) (start, end int) {
	for start = off; start > 0; start-- {
		c := src[start-1]
		if c == '\n' || c == '\r' ||
			c == 0x85 && start >= 2 && src[start-2] == 0xC2 ||
			(c == 0xA8 || c == 0xA9) && start >= 3 && src[start-2] == 0x80 && src[start-3] == 0xE2 {
			break
		}
	}
	if start == 0 && bytes.HasPrefix(src, bom) {
		start = min(len(bom), len(src))
	}
	end = max(off, start)
	for end < len(src) && breakLen(src, end) == 0 {
		end++
	}
	return start, end
}

// mentions returns the offsets of "imagepolicy" in src, in lower, camel or
// upper case, in order.
func mentions(src []byte) []int {
	var out []int
	for _, tail := range [...]string{"olicy", "OLICY"} {
		for p := 0; ; {
			i := bytes.Index(src[p:], []byte(tail))
			if i < 0 {
				break
			}
			i += p
			if i >= 6 && bytes.EqualFold(src[i-6:i], []byte("imagep")) {
				out = append(out, i-6)
			}
			p = i + len(tail)
		}
	}
	slices.Sort(out) // the two spellings were searched one after the other
	return out
}

// blockHeader matches the end of a line that starts a block scalar.
var blockHeader = regexp.MustCompile(`(^|[ \t]|^[ \t]*- |: )[|>][-+0-9]*$`)

// blockScalarLines returns the lines (1 to n) that are the content of a
// block scalar (`key: |`): text, whose comments mean nothing to YAML.
func blockScalarLines(n int, lineText func(int) []byte) map[int]bool {
	block := map[int]bool{}
	inBlock, blockIndent := false, 0
	for line := 1; line <= n; line++ {
		text := lineText(line)
		body := bytes.TrimLeft(text, " ")
		indent := len(text) - len(body)
		if inBlock && (len(bytes.Trim(body, " \t")) == 0 || indent > blockIndent) {
			block[line] = true
			continue
		}
		inBlock = false
		if c := commentStart(text); c >= 0 {
			text = text[:c]
		}
		text = bytes.TrimRight(text, " \t")
		// The regexp only where the last byte can end a header.
		if len(text) > 0 && strings.IndexByte("|>-+0123456789", text[len(text)-1]) >= 0 && blockHeader.Match(text) {
			inBlock, blockIndent = true, indent
		}
	}
	return block
}

// markerLike matches comment text that sets out to be a marker: a brace
// before imagepolicy, or imagepolicy (with its $) right after the '#'.
var markerLike = regexp.MustCompile(`(?i)\{\s*["']?\$?imagepolicy|^#\s*["']?\$imagepolicy`)

// nearMiss says why the line comment of line, if it looks like a marker,
// is not one; "" when it is a marker, is reported as a Problem by Scan, or
// does not look like one.
func nearMiss(line []byte) string {
	c := commentStart(line)
	if c < 0 {
		return ""
	}
	text := string(bytes.TrimRight(line[c:], " \t"))
	if _, _, err := parseMarker(text); err != errNotMarker {
		return ""
	}
	if !markerLike.MatchString(text) {
		return ""
	}
	body := strings.Trim(text[1:], " \t")
	if !strings.HasPrefix(body, "{") {
		return "text before the JSON object"
	}
	dec := json.NewDecoder(strings.NewReader(body))
	var obj map[string]json.RawMessage
	switch err := dec.Decode(&obj); {
	case err != nil && !strings.Contains(body, "}"):
		return "the JSON object is not closed"
	case err != nil:
		return "not valid JSON"
	case strings.TrimSpace(body[dec.InputOffset():]) != "":
		return "text after the JSON object"
	}
	for k := range obj {
		if strings.Contains(strings.ToLower(k), "imagepolicy") {
			return fmt.Sprintf("the key is %q, not %q", k, markerKey)
		}
	}
	return fmt.Sprintf("no %q key", markerKey)
}

// commentStart returns the offset of the '#' that starts line's comment,
// or -1: a '#' at the start or after a blank, outside quoted scalars. A
// quote opens a scalar only where a value can start (after indentation,
// "- ", ": ", "? ", or a flow indicator), since a plain scalar may hold
// quotes.
func commentStart(line []byte) int {
	valueStart := true
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && (i == 0 || isBlank(line[i-1])):
			return i
		case (c == '"' || c == '\'') && valueStart:
			end, err := quotedEnd(line, i, c)
			if err != nil {
				return -1 // the rest of the line is inside the quotes
			}
			i = end - 1
			valueStart = false
			continue
		case isBlank(c):
			if i > 0 && strings.IndexByte("-:?", line[i-1]) >= 0 && (i == 1 || isBlank(line[i-2]) || line[i-1] == ':') {
				valueStart = true
			}
			continue
		}
		valueStart = strings.IndexByte("[{,", c) >= 0
	}
	return -1
}

// decodeUTF16 returns src decoded when it is UTF-16: it starts with a byte
// order mark, or (without one) NUL bytes take every other position, as
// they do in UTF-16 text that is mostly ASCII.
func decodeUTF16(src []byte) (string, bool) {
	bigEndian := false
	switch {
	case len(src) >= 2 && src[0] == 0xFF && src[1] == 0xFE:
		src = src[2:]
	case len(src) >= 2 && src[0] == 0xFE && src[1] == 0xFF:
		src, bigEndian = src[2:], true
	case bytes.IndexByte(src, 0) < 0:
		return "", false
	default:
		var even, odd int
		sample := src[:min(len(src), 4096)]
		for i, c := range sample {
			if c == 0 {
				if i%2 == 0 {
					even++
				} else {
					odd++
				}
			}
		}
		pairs := len(sample) / 2
		switch {
		case odd*4 >= pairs*3 && even*4 < pairs:
		case even*4 >= pairs*3 && odd*4 < pairs:
			bigEndian = true
		default:
			return "", false
		}
	}
	u := make([]uint16, len(src)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(src[2*i])<<8 | uint16(src[2*i+1])
		} else {
			u[i] = uint16(src[2*i+1])<<8 | uint16(src[2*i])
		}
	}
	return string(utf16.Decode(u)), true
}

// lineOf returns the 1-based line of offset i in text.
func lineOf(text string, i int) int {
	before := text[:i]
	return 1 + strings.Count(before, "\n") + strings.Count(before, "\r") - strings.Count(before, "\r\n")
}
