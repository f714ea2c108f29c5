package patcher

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var bom = []byte("\xEF\xBB\xBF")

// lineIndex holds the byte offset at which each line starts, counting line
// breaks exactly as the YAML parser does (CRLF, CR, LF, NEL, LS, PS) and
// starting line 1 after a byte order mark, which the parser skips without
// counting a column.
type lineIndex []int

func newLineIndex(src []byte) lineIndex {
	start := 0
	if len(src) >= 3 && string(src[:3]) == string(bom) {
		start = 3
	}
	idx := lineIndex{start}
	for i := start; i < len(src); {
		if c := src[i]; c != '\n' && c != '\r' && c != 0xC2 && c != 0xE2 {
			i++
			continue
		}
		if n := breakLen(src, i); n > 0 {
			i += n
			idx = append(idx, i)
			continue
		}
		i++
	}
	return idx
}

// breakLen is the length of the line break at src[i], or 0.
func breakLen(src []byte, i int) int {
	switch c := src[i]; c {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(src) && src[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2: // NEL
		if i+1 < len(src) && src[i+1] == 0x85 {
			return 2
		}
	case 0xE2: // LS, PS
		if i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// offset converts the parser's 1-based line and column (the column counts
// characters, not bytes) into a byte offset into src.
func (idx lineIndex) offset(src []byte, line, col int) (int, bool) {
	if line < 1 || line > len(idx) || col < 1 {
		return 0, false
	}
	p := idx[line-1]
	for range col - 1 {
		if p >= len(src) || breakLen(src, p) > 0 {
			return 0, false
		}
		if src[p] < utf8.RuneSelf {
			p++
			continue
		}
		_, w := utf8.DecodeRune(src[p:])
		p += w
	}
	return p, true
}

// position converts a byte offset back into a 1-based line and character column.
func (idx lineIndex) position(src []byte, off int) (line, col int) {
	line = sort.Search(len(idx), func(i int) bool { return idx[i] > off })
	return line, utf8.RuneCount(src[idx[line-1]:off]) + 1
}

// locateScalar finds the source bytes of the scalar node n, whose parser
// position (which points at its anchor or tag when it has them) is at byte
// off. It returns the byte range of the scalar text itself, quotes included,
// and verifies that the text there decodes to n.Value, so that a mistake in
// locating can never corrupt a file.
func locateScalar(src []byte, off int, n *yaml.Node, inFlow bool) (start, end int, err error) {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return 0, 0, errors.New("block scalars (| or >) are not rewritten; write the value on the marker's line")
	}
	p, err := skipProperties(src, off)
	if err != nil {
		return 0, 0, err
	}
	var text string
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end, err = quotedEnd(src, p, '"')
		if err == nil {
			text, err = unquoteDouble(src[p+1 : end-1])
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		end, err = quotedEnd(src, p, '\'')
		if err == nil {
			text = strings.ReplaceAll(string(src[p+1:end-1]), "''", "'")
		}
	default:
		end = plainEnd(src, p, inFlow)
		text = string(src[p:end])
	}
	if err != nil {
		return 0, 0, err
	}
	if text != n.Value {
		return 0, 0, errors.New("values that span several lines are not rewritten")
	}
	return p, end, nil
}

// skipProperties steps over an anchor (&a) and a tag (!t, !!str, !<...>) and
// the blanks after them.
func skipProperties(src []byte, p int) (int, error) {
	for p < len(src) && (src[p] == '&' || src[p] == '!') {
		if p+1 < len(src) && src[p] == '!' && src[p+1] == '<' {
			for p < len(src) && src[p] != '>' {
				p++
			}
		}
		for p < len(src) && !isBlank(src[p]) && breakLen(src, p) == 0 {
			p++
		}
		for p < len(src) {
			if isBlank(src[p]) {
				p++
			} else if n := breakLen(src, p); n > 0 {
				p += n
			} else {
				break
			}
		}
	}
	if p >= len(src) || src[p] == '#' {
		return 0, errors.New("cannot find the value after its anchor or tag")
	}
	return p, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// quotedEnd returns the offset just past the closing quote of the quoted
// scalar starting at src[p]. Quoted scalars spanning lines are refused: their
// value is folded and cannot be checked byte for byte.
func quotedEnd(src []byte, p int, q byte) (int, error) {
	if p >= len(src) || src[p] != q {
		return 0, errors.New("cannot find the opening quote of the value")
	}
	for i := p + 1; i < len(src); i++ {
		switch c := src[i]; {
		case breakLen(src, i) > 0:
			return 0, errors.New("values that span several lines are not rewritten")
		case q == '"' && c == '\\':
			i++
		case c == q && q == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i++
		case c == q:
			return i + 1, nil
		}
	}
	return 0, errors.New("cannot find the closing quote of the value")
}

// plainEnd returns the end of the single-line plain scalar starting at
// src[p]: before a line break, a comment, or (in a flow collection) a flow
// indicator, without trailing blanks.
func plainEnd(src []byte, p int, inFlow bool) int {
	i := p
	for i < len(src) && breakLen(src, i) == 0 {
		c := src[i]
		if c == '#' && i > p && isBlank(src[i-1]) {
			break
		}
		if c == ':' && (i+1 == len(src) || isBlank(src[i+1]) || breakLen(src, i+1) > 0 ||
			inFlow && strings.IndexByte(",[]{}", src[i+1]) >= 0) {
			break
		}
		if inFlow && strings.IndexByte(",[]{}", c) >= 0 {
			break
		}
		i++
	}
	for i > p && isBlank(src[i-1]) {
		i--
	}
	return i
}

// unquoteDouble decodes the body of a single-line double-quoted scalar.
func unquoteDouble(b []byte) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(b) {
			return "", errors.New("bad escape in double-quoted value")
		}
		width := 0
		switch b[i] {
		case '0':
			sb.WriteByte(0)
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 't', '\t':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'v':
			sb.WriteByte('\v')
		case 'f':
			sb.WriteByte('\f')
		case 'r':
			sb.WriteByte('\r')
		case 'e':
			sb.WriteByte(0x1b)
		case ' ', '"', '/', '\\':
			sb.WriteByte(b[i])
		case 'N':
			sb.WriteString("\u0085")
		case '_':
			sb.WriteString("\u00a0")
		case 'L':
			sb.WriteString("\u2028")
		case 'P':
			sb.WriteString("\u2029")
		case 'x':
			width = 2
		case 'u':
			width = 4
		case 'U':
			width = 8
		default:
			return "", errors.New("bad escape in double-quoted value")
		}
		if width > 0 {
			if i+1+width > len(b) {
				return "", errors.New("bad escape in double-quoted value")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+1+width]), 16, 32)
			if err != nil {
				return "", errors.New("bad escape in double-quoted value")
			}
			sb.WriteRune(rune(v))
			i += width
		}
	}
	return sb.String(), nil
}

// render writes v as a scalar in the style of the node it replaces. A plain
// value that would read back as something else than this string (1.10, true,
// null, a date, or text with YAML syntax in it) gets double quotes.
func render(v string, n *yaml.Node, inFlow bool) string {
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return quoteDouble(v)
	case n.Style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case plainSafe(v, inFlow, n.Style&yaml.TaggedStyle != 0 && n.Tag == "!!str"):
		return v
	default:
		return quoteDouble(v)
	}
}

func quoteDouble(v string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff:
			sb.WriteString(`\u`)
			s := strconv.FormatUint(uint64(r), 16)
			sb.WriteString(strings.Repeat("0", 4-len(s)) + s)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// plainSafe reports whether v can be written as a plain scalar and read back
// as the same string by both YAML 1.2 (yaml.v3) and YAML 1.1 (yaml.v2, which
// Kubernetes and Helm use) readers. strTagged means an explicit !!str tag
// precedes the value, so only the syntax matters, not the resolved type.
func plainSafe(v string, inFlow, strTagged bool) bool {
	if v == "" || isBlank(v[0]) || isBlank(v[len(v)-1]) {
		return false
	}
	if strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", v[0]) >= 0 {
		return false
	}
	if strings.Contains(v, ": ") || strings.Contains(v, " #") || strings.Contains(v, ":\t") ||
		strings.Contains(v, "\t#") || strings.HasSuffix(v, ":") {
		return false
	}
	if inFlow && strings.ContainsAny(v, ",[]{}") {
		return false
	}
	for i, r := range v {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == utf8.RuneError && !validAt(v, i) {
			return false
		}
	}
	if strTagged || strings.IndexByte(v, '/') >= 0 {
		// Nothing containing '/' resolves to a bool, number, null or date.
		return true
	}
	if yaml.IsValueNonString(v) {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	s := doc.Content[0]
	return s.Kind == yaml.ScalarNode && s.Tag == "!!str" && s.Value == v && s.Style == 0
}

// validAt reports whether the rune at v[i] decodes validly.
func validAt(v string, i int) bool {
	r, w := utf8.DecodeRuneInString(v[i:])
	return r != utf8.RuneError || w > 1
}
