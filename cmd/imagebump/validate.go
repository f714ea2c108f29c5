package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/config"
)

type validateConfig struct {
	dir string
}

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check policy files offline; print file:line for each problem",
		Long: `validate reads every .imagebump.yaml under DIR (default: the current
directory) and reports each problem as file:line: message. It contacts no
registry. It exits 0 when everything is valid and 2 when anything is not.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), cmd.OutOrStdout(), validateConfig{dir: dirArg(args)})
		},
	}
}

func runValidate(_ context.Context, out io.Writer, cfg validateConfig) error {
	ps, err := config.LoadPolicies(cfg.dir)
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(out, p)
		}
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d problem(s) found", len(problems))}
	}
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	fmt.Fprintf(out, "ok: %d policies in %d policy files\n", len(ps.Policies), len(ps.Files))
	return nil
}
