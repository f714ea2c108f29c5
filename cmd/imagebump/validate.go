package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
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
parse as YAML, directories that cannot be read, manifests above the size
bound that mention imagepolicy, names with control characters. One run
shows every problem: an unknown field does not hide the rest of its file,
nor an invalid policy the markers that name undefined ones. It contacts
no registry.
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
	v, err := bot.Validate(ctx, dir)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	// Problems and warnings are printed together, in file and line order;
	// only problems change the exit status.
	type entry struct {
		file string
		line int
		text string
	}
	var entries []entry
	for _, p := range v.Problems {
		entries = append(entries, entry{p.File, p.Line, p.String()})
	}
	for _, w := range v.Warnings {
		entries = append(entries, entry{w.File, w.Line, w.String()})
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.line, b.line))
	})
	for _, e := range entries {
		fmt.Fprintln(out, e.text)
	}
	if st := v.Status(); st != bot.StatusOK {
		return &exitError{code: int(st), err: fmt.Errorf("%d problem(s) found", len(v.Problems))}
	}
	fmt.Fprintf(out, "ok: %d policies in %d policy files, %d markers", len(v.Policies.Policies), len(v.Policies.Files), len(v.Markers))
	if n := len(v.Warnings); n > 0 {
		fmt.Fprintf(out, ", %d warning(s)", n)
	}
	fmt.Fprintln(out)
	return nil
}
