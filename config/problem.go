package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// Problem is something wrong at one place in a file.
type Problem struct {
	File    string // relative to the directory loaded, with forward slashes
	Line    int    // 1-based; 0 when the problem is about the whole file
	Column  int    // 1-based; 0 when not known
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 && p.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
	}
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
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	seen := map[Problem]bool{}
	return slices.DeleteFunc(out, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}

// unknownField matches the YAML decoder's strict-decoding complaint.
var unknownField = regexp.MustCompile(`^field (\S+) not found in type .+$`)

// decodeProblems turns a YAML decoding error into problems at the place of
// the error: the line (and, for syntax errors, the column) where the
// parser found it, which is not always where the construct it was reading
// began.
func decodeProblems(file string, err error) Problems {
	var many *yaml.LoadErrors
	if errors.As(err, &many) {
		ps := make(Problems, 0, len(many.Errors))
		for _, e := range many.Errors {
			ps = append(ps, loadProblem(file, e))
		}
		return ps.sorted()
	}
	var one *yaml.LoadError
	if errors.As(err, &one) {
		return Problems{loadProblem(file, one)}
	}
	return Problems{{File: file, Message: err.Error()}}
}

func loadProblem(file string, e *yaml.LoadError) Problem {
	p := Problem{File: file, Line: e.Mark.Line, Message: e.Message}
	if e.Stage != yaml.ConstructorStage {
		// A syntax error: the column helps, and so does where the
		// construct the parser was in began.
		p.Column = e.Mark.Column
		if e.ContextMsg != "" && e.ContextMark.Line > 0 && e.ContextMark.Line != e.Mark.Line {
			p.Message += fmt.Sprintf(" (%s that starts at line %d)", e.ContextMsg, e.ContextMark.Line)
		}
	}
	if sm := unknownField.FindStringSubmatch(p.Message); sm != nil {
		p.Message = fmt.Sprintf("unknown field %q", sm[1])
	}
	p.Message = strings.ReplaceAll(p.Message, "!!", "")
	return p
}

// aliasProblems reports every YAML alias (*name) in n, once per line and
// name. Aliases are refused in what imagebump reads: nothing there needs
// them, and a document of aliases to aliases grows exponentially when
// decoded, with every problem inside repeated as often (issue 12).
func aliasProblems(file, what string, n *yaml.Node) Problems {
	var ps Problems
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			ps = append(ps, Problem{File: file, Line: n.Line,
				Message: fmt.Sprintf("YAML alias *%s: aliases are not allowed in %s; write the value out", n.Value, what)})
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return ps.sorted()
}
