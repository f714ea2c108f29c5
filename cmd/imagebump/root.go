package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
)

// Exit codes, as DESIGN.md defines them; bot.Status holds the rules that
// lead to each.
const (
	exitOK      = int(bot.StatusOK)
	exitFailed  = int(bot.StatusFailed)  // some work failed or needs attention; the rest was done
	exitInvalid = int(bot.StatusInvalid) // bad usage, or an invalid config or policy file
	exitChanges = int(bot.StatusChanges) // plan --exit-code found changes and nothing failed
)

// exitError makes a command end with a given exit code. A nil err means
// the command already said everything and only the code is left.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError reports bad usage: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitInvalid, err: fmt.Errorf(format, args...)}
}

// exitCode prints err, if it has something to say, and returns the code the
// process exits with.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.err == nil {
			return code
		}
	case strings.HasPrefix(err.Error(), "unknown command"):
		// cobra's own words for an argument it cannot place.
		code = exitInvalid
	}
	fmt.Fprintf(stderr, "imagebump: %v\n", err)
	return code
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "imagebump",
		Short: "Keep container image tags in GitOps manifests up to date",
		Long: `imagebump lists tags in container registries, picks the newest tag each
policy allows, and rewrites exactly the image fields marked with
# {"$imagepolicy": "NAME"} in a repository's YAML manifests.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitInvalid, err: err}
	})
	root.SetHelpCommand(newHelpCommand())
	root.AddCommand(
		newVersionCommand(),
		newValidateCommand(),
		newTagsCommand(),
		newPlanCommand(),
		newApplyCommand(),
		newRunCommand(),
		newDemoCommand(),
	)
	return root
}

// newHelpCommand is cobra's help command, except that an unknown topic is
// bad usage (exit 2) rather than a usage text and exit 0.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || (cmd == root && len(rest) > 0) {
				return usageError("unknown help topic %q; run '%s help' for the list of commands", strings.Join(args, " "), root.Name())
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// maxArgs is cobra.MaximumNArgs with exit code 2.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError("%s takes at most %d argument(s), got %d: %s", cmd.CommandPath(), n, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// dirArg returns the directory argument of plan, apply and validate.
func dirArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

// resolveDir checks the DIR argument of plan, apply and validate and
// returns it with symbolic links resolved. A DIR that is a link (git-sync,
// volume mounts) is resolved once, here, so that policy files and
// manifests are read from, and written to, the same tree even when the link
// is switched meanwhile; links inside the tree are never followed. A DIR
// that is not a directory is a usage error.
func resolveDir(dir string) (string, error) {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", usageError("%v", err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", usageError("%v", err)
	}
	if !fi.IsDir() {
		return "", usageError("%s is not a directory", dir)
	}
	return resolved, nil
}
