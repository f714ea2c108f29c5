package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v4"

	"github.com/imagebump/imagebump/problem"
)

// unknownField matches the YAML decoder's strict-decoding complaint.
var unknownField = regexp.MustCompile(`^field (\S+) not found in type .+$`)

// decodeProblems turns a YAML decoding error into problems at the place of
// the error: the line (and, for syntax errors, the column) where the
// parser found it, which is not always where the construct it was reading
// began.
func decodeProblems(file string, err error) problem.List {
	var many *yaml.LoadErrors
	if errors.As(err, &many) {
		ps := make(problem.List, 0, len(many.Errors))
		for _, e := range many.Errors {
			ps = append(ps, loadProblem(file, e))
		}
		return ps.Sorted()
	}
	var one *yaml.LoadError
	if errors.As(err, &one) {
		return problem.List{loadProblem(file, one)}
	}
	return problem.List{{File: file, Message: err.Error()}}
}

func loadProblem(file string, e *yaml.LoadError) problem.Problem {
	p := problem.Problem{File: file, Line: e.Mark.Line, Message: e.Message}
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
func aliasProblems(file, what string, n *yaml.Node) problem.List {
	var ps problem.List
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			ps = append(ps, problem.Problem{File: file, Line: n.Line,
				Message: fmt.Sprintf("YAML alias *%s: aliases are not allowed in %s; write the value out", n.Value, what)})
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return ps.Sorted()
}

// strictProblems sorts out the error of a strict decoding: unknown fields
// are problems after which the other checks still run, so that one run
// reports them all; any other error (a value of the wrong type) leaves
// nothing to check: fatal is then true.
func strictProblems(file string, err error) (ps problem.List, fatal bool) {
	if err == nil {
		return nil, false
	}
	ps = decodeProblems(file, err)
	return ps, !onlyUnknownFields(ps)
}

// onlyUnknownFields reports whether every problem is an unknown field.
func onlyUnknownFields(ps problem.List) bool {
	for _, p := range ps {
		if !strings.HasPrefix(p.Message, "unknown field ") {
			return false
		}
	}
	return true
}
