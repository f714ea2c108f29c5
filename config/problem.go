package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is something wrong at one place in a file.
type Problem struct {
	File    string // relative to the directory loaded, with forward slashes
	Line    int    // 1-based; 0 when the problem is about the whole file
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is the error of a load that found invalid input. It lists every
// problem, not only the first.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted returns the problems ordered by file, then line, each once: the
// same problem reached twice (say, through a YAML alias) is reported once.
func (ps Problems) sorted() Problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	seen := map[Problem]bool{}
	return slices.DeleteFunc(out, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}

// yamlLine matches the "line N: message" entries that yaml.v3 puts in its
// errors.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// unknownField matches yaml.v3's strict-decoding complaint.
var unknownField = regexp.MustCompile(`^field (\S+) not found in type .+$`)

// decodeProblems turns a yaml.v3 decoding error into problems with lines.
func decodeProblems(file string, err error) Problems {
	var msgs []string
	text := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			msgs = append(msgs, l)
		}
	}
	var ps Problems
	for _, m := range msgs {
		p := Problem{File: file, Message: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			p.Line, _ = strconv.Atoi(sm[1])
			p.Message = sm[2]
		}
		if sm := unknownField.FindStringSubmatch(p.Message); sm != nil {
			p.Message = fmt.Sprintf("unknown field %q", sm[1])
		}
		p.Message = strings.ReplaceAll(p.Message, "!!", "")
		ps = append(ps, p)
	}
	return ps
}
