package forge

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CapBody cuts a pull request body longer than limit characters to fit,
// keeping its end from the hidden marker on (which the bot reads back)
// and saying that it was cut, naming forge ("GitHub") and its limit. The
// table loses whole rows: the cut falls at a line's end.
func CapBody(body string, limit int, forge string) string {
	if utf8.RuneCountInString(body) <= limit {
		return body
	}
	note := fmt.Sprintf("\n\n… (imagebump cut this description: %s takes at most %s characters; the branch holds every change)\n\n", forge, thousands(limit))
	tail := ""
	if i := strings.LastIndex(body, "<!--"); i >= 0 && utf8.RuneCountInString(body[i:]) < limit/2 {
		tail = body[i:]
	}
	keep := limit - utf8.RuneCountInString(note) - utf8.RuneCountInString(tail)
	head := []rune(body[:len(body)-len(tail)])
	head = head[:max(min(len(head), keep), 0)]
	if i := strings.LastIndex(string(head), "\n"); i > 0 {
		return string(head)[:i] + note + tail
	}
	return string(head) + note + tail
}

// thousands writes n with commas between groups of three digits, as the
// forges' documentation writes their limits (65,536).
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
