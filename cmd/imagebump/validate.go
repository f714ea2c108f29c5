package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
)

type validateConfig struct {
	dir string
}

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check policy files and markers offline; print file:line for each problem",
		Long: `validate reads every .imagebump.yaml under DIR (default: the current
directory) and every marked manifest, and reports each problem as
file:line: message: invalid policy files, markers naming a policy no file
defines, markers on a mapping or sequence, files with markers that do not
parse as YAML, directories that cannot be read. It contacts no registry.
It also warns (file:line: warning: message) about comments that look like
markers but are not, UTF-16 files that mention imagepolicy, and temporary
files an interrupted apply left. It exits 0 when everything is valid, with
or without warnings, and 2 when anything is not.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), cmd.OutOrStdout(), validateConfig{dir: dirArg(args)})
		},
	}
}

func runValidate(ctx context.Context, out io.Writer, cfg validateConfig) error {
	dir, err := resolveDir(cfg.dir)
	if err != nil {
		return err
	}
	cfg.dir = dir
	ps, err := config.LoadPolicies(cfg.dir)
	var problems problem.List
	if err != nil && !errors.As(err, &problems) {
		return &exitError{code: exitInvalid, err: err}
	}
	scan, err := patcher.ScanDir(ctx, cfg.dir, nil)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	markers := scan.Markers
	for _, p := range scan.Problems {
		problems = append(problems, problem.Problem{File: p.File, Line: p.Line, Message: p.Message})
	}
	// Unknown policies can only be told when the policy files are valid.
	if ps != nil {
		for _, m := range markers {
			if ps.Lookup(m.Policy) == nil {
				problems = append(problems, problem.Problem{File: m.File, Line: m.Line,
					Message: fmt.Sprintf("marker names policy %q, which no policy file defines", m.Policy)})
			}
		}
	}
	// Problems and warnings are printed together, in file and line order;
	// only problems change the exit status.
	type entry struct {
		file    string
		line    int
		text    string
		problem bool
	}
	var entries []entry
	for _, p := range problems {
		entries = append(entries, entry{p.File, p.Line, p.String(), true})
	}
	for _, w := range scan.Warnings {
		entries = append(entries, entry{w.File, w.Line, w.String(), false})
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return a.line - b.line
	})
	// The policy files and the manifests are read by two walks, which
	// report an unreadable directory alike: once is enough.
	entries = slices.Compact(entries)
	n := 0
	for _, e := range entries {
		fmt.Fprintln(out, e.text)
		if e.problem {
			n++
		}
	}
	if n > 0 {
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d problem(s) found", n)}
	}
	fmt.Fprintf(out, "ok: %d policies in %d policy files, %d markers", len(ps.Policies), len(ps.Files), len(markers))
	if n := len(scan.Warnings); n > 0 {
		fmt.Fprintf(out, ", %d warning(s)", n)
	}
	fmt.Fprintln(out)
	return nil
}
