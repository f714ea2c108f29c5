package pullrequest

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Title is a group's pull request title: "Update IMAGE to VERSION" for one
// image, "Update N images" for more.
func Title(g Group) string {
	vs := versionsOf(g.Changes)
	type target struct{ image, to string }
	var ts []target
	for _, v := range vs {
		if t := (target{v.Image, v.To}); !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	switch len(ts) {
	case 0:
		return "Update images"
	case 1:
		return fmt.Sprintf("Update %s to %s", oneLine(ts[0].image), oneLine(ts[0].to))
	default:
		return fmt.Sprintf("Update %d images", len(ts))
	}
}

// Body is a group's pull request body: a table of the changes, their
// digests and sources, a link to the declined pull request it supersedes
// (linked, 0 for none) and the hidden marker.
func Body(g Group, linked int) string {
	changes := slices.Clone(g.Changes)
	slices.SortStableFunc(changes, func(a, b Change) int {
		return compareVersion(Version{a.Policy, a.Image, a.From, a.To}, Version{b.Policy, b.Image, b.From, b.To})
	})
	var b strings.Builder
	fmt.Fprintf(&b, "imagebump updates the images of group %s.\n\n", code(g.Name))
	b.WriteString("| Image | From | To | Files | Policy |\n|---|---|---|---|---|\n")
	for _, c := range changes {
		var files []string
		for _, f := range c.Files {
			files = append(files, code(f))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(c.Image), code(c.From), code(c.To), strings.Join(files, "<br>"), code(c.Policy))
	}

	var digests, sources []string
	for _, c := range changes {
		if c.Digest != "" {
			digests = append(digests, fmt.Sprintf("- %s: %s", code(c.Image+":"+c.To), code(c.Digest)))
		}
		if s := sourceLine(c); s != "" && !slices.Contains(sources, s) {
			sources = append(sources, s)
		}
	}
	if len(digests) > 0 {
		b.WriteString("\n**Digests**\n\n" + strings.Join(digests, "\n") + "\n")
	}
	if len(sources) > 0 {
		b.WriteString("\n**Sources**\n\n" + strings.Join(sources, "\n") + "\n")
	}
	if linked > 0 {
		fmt.Fprintf(&b, "\nThis supersedes #%d, which was closed without merging.\n", linked)
	}
	b.WriteString("\n" + Marker{Group: g.Name, Versions: versionsOf(g.Changes)}.String() + "\n")
	return b.String()
}

// message is the commit message of a group's branch.
func message(g Group) string {
	var b strings.Builder
	b.WriteString(Title(g) + "\n\n")
	for _, v := range versionsOf(g.Changes) {
		fmt.Fprintf(&b, "- %s: %s -> %s (policy %s)\n", oneLine(v.Image), oneLine(v.From), oneLine(v.To), oneLine(v.Policy))
	}
	return b.String()
}

// tagRe is the OCI tag grammar; only values that are tags are put into a
// compare link, never digests or tag@digest.
var tagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ghNameRe is what GitHub allows in owner and repository names.
var ghNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// sourceLine links an image's source repository and, on github.com, the
// comparison of the two tags. Sources are image labels, written by whoever
// built the image, so only http(s) URLs become links and every part is
// escaped.
func sourceLine(c Change) string {
	if c.Source == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(c.Source))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Sprintf("- %s: %s", code(c.Image), code(c.Source))
	}
	line := fmt.Sprintf("- %s: %s", code(c.Image), link(u.String(), u.String()))
	if strings.EqualFold(u.Host, "github.com") {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) >= 2 && ghNameRe.MatchString(parts[0]) && ghNameRe.MatchString(strings.TrimSuffix(parts[1], ".git")) &&
			tagRe.MatchString(c.From) && tagRe.MatchString(c.To) {
			repo := strings.TrimSuffix(parts[1], ".git")
			cmpURL := "https://github.com/" + url.PathEscape(parts[0]) + "/" + url.PathEscape(repo) +
				"/compare/" + url.PathEscape(c.From) + "..." + url.PathEscape(c.To)
			line += " (" + link("compare "+c.From+"..."+c.To, cmpURL) + ")"
		}
	}
	return line
}

// link renders a markdown link whose target cannot break out of the
// parentheses and whose text cannot open markup.
func link(text, target string) string {
	r := strings.NewReplacer("(", "%28", ")", "%29", "<", "%3C", ">", "%3E", " ", "%20", "\\", "%5C")
	return "[" + escapeText(text) + "](" + r.Replace(target) + ")"
}

var textEscaper = strings.NewReplacer(
	"\\", "\\\\", "[", "\\[", "]", "\\]", "(", "\\(", ")", "\\)", "*", "\\*", "_", "\\_",
	"`", "\\`", "<", "&lt;", ">", "&gt;", "|", "\\|", "#", "\\#", "!", "\\!",
)

func escapeText(s string) string { return textEscaper.Replace(oneLine(s)) }

// code renders s as an inline code span that stays inside a table cell: the
// fence is longer than any run of backticks in s and pipes are escaped, as
// GitHub requires even inside code spans in tables.
func code(s string) string {
	s = strings.ReplaceAll(oneLine(s), "|", "\\|")
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// oneLine keeps a value on one line: control characters, which can only
// come from bad input, become U+FFFD.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}
