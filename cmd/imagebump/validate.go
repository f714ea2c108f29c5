package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forges"
)

type validateConfig struct {
	dir string
	// allowEmpty accepts a tree without any policy file.
	allowEmpty bool
	// forge, when set, names the forge the repository is served by: its
	// pull request settings are checked against what that forge can do.
	forge string
	// noFlux skips Flux image objects.
	noFlux bool
	// maxFileSize is --max-file-size: manifests above it are not read.
	maxFileSize sizeFlag
}

func newValidateCommand() *cobra.Command {
	cfg := &validateConfig{}
	cmd := &cobra.Command{
		Use:   "validate [DIR] [--allow-empty] [--forge NAME]",
		Short: "Check policy files and markers offline; print file:line for each problem",
		Long: `validate reads every .imagebump.yaml under DIR (default: the current
directory) and every marked manifest, and reports each problem as
file:line: message: invalid policy files and Flux image objects
(ImageRepository, ImagePolicy, ImageUpdateAutomation; --no-flux skips
them), markers naming a policy no file defines, markers on a mapping or
sequence, files with markers that do not parse as YAML, directories that
cannot be read, manifests above the size bound that mention imagepolicy,
names with control characters. One run shows every problem: an unknown
field does not hide the rest of its file, nor an invalid policy the
markers that name undefined ones. It contacts no registry.
It also warns (file:line: warning: message) about comments that look like
markers but are not, UTF-16 files that mention imagepolicy, and temporary
files an interrupted apply left. With --forge it also refuses pull request
settings that forge cannot honour (teamReviewers on gitlab), as run does.

A tree without any policy file is most likely the wrong directory or a
misnamed file: validate then says where it looked, which file names it
accepts and any file whose name comes close, and exits 1. --allow-empty
accepts such a tree (CI of repositories that may have none).

Exit status: 0 everything is valid, with or without warnings; 1 no policy
file (without --allow-empty); 2 any problem.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.dir = dirArg(args)
			return runValidate(cmd.Context(), cmd.OutOrStdout(), *cfg)
		},
	}
	cmd.Flags().BoolVar(&cfg.allowEmpty, "allow-empty", false, "exit 0 when DIR holds no policy file")
	cmd.Flags().StringVar(&cfg.forge, "forge", "", "check pull request settings against this forge: "+strings.Join(forges.All().Names(), ", "))
	cmd.Flags().BoolVar(&cfg.noFlux, "no-flux", false, "do not read Flux ImageRepository, ImagePolicy and ImageUpdateAutomation objects")
	cmd.Flags().Var(&cfg.maxFileSize, "max-file-size", maxFileSizeUsage)
	return cmd
}

func runValidate(ctx context.Context, out io.Writer, cfg validateConfig) error {
	dir, err := resolveDir(cfg.dir)
	if err != nil {
		return err
	}
	var kind forge.Kind
	if cfg.forge != "" {
		k, ok := forges.All().Lookup(cfg.forge)
		if !ok {
			return usageError("--forge %q: not one of %s", cfg.forge, strings.Join(forges.All().Names(), ", "))
		}
		kind = k
	}
	var opts []config.LoadOption
	if cfg.noFlux {
		opts = append(opts, config.WithoutFlux())
	}
	v, err := bot.Validate(ctx, dir, int64(cfg.maxFileSize), opts...)
	if err != nil {
		return &exitError{code: exitInvalid, err: err}
	}
	v.Problems = append(v.Problems, config.CheckForge(kind, v.Policies)...)
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
	// Invalid policy files leave v.Policies nil: they were found all the same.
	// Flux objects count as policy files (a repository may hold only those).
	empty := v.Policies != nil && len(v.Policies.Files) == 0 && (v.Policies.Flux == nil || len(v.Policies.Flux.Files) == 0)
	if st := v.Status(); st != bot.StatusOK {
		err := fmt.Errorf("%d problem(s) found", len(v.Problems))
		if empty {
			err = fmt.Errorf("%w; %s", err, noPolicyFiles(dir))
		}
		return &exitError{code: int(st), err: err}
	}
	if empty && !cfg.allowEmpty {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s; --allow-empty accepts a tree without one", noPolicyFiles(dir))}
	}
	if empty {
		fmt.Fprint(out, "ok: no policy files (--allow-empty)")
	} else {
		fmt.Fprintf(out, "ok: %d policies in %d policy files", len(v.Policies.Policies), len(v.Policies.Files))
		if fx := v.Policies.Flux; fx != nil {
			fmt.Fprintf(out, " and %d Flux object files", len(fx.Files))
		}
	}
	fmt.Fprintf(out, ", %d markers", len(v.Markers))
	if n := len(v.Warnings); n > 0 {
		fmt.Fprintf(out, ", %d warning(s)", n)
	}
	fmt.Fprintln(out)
	return nil
}

// noPolicyFiles says that dir holds no policy file: where validate looked,
// the names it accepts, and the files whose names come close.
func noPolicyFiles(dir string) string {
	msg := fmt.Sprintf("no policy file under %s (looked in every directory but .git for a regular file named %s)",
		dir, strings.Join(config.PolicyFileNames, " or "))
	if near := nearPolicyFiles(dir); len(near) > 0 {
		msg += "; not read: " + strings.Join(near, ", ")
	}
	return msg
}

// maxNear bounds the near misses nearPolicyFiles lists.
const maxNear = 5

// nearPolicyFiles lists the files under dir that look meant as policy
// files but are not read as one: a name with "imagebump" in it that is not
// one of config.PolicyFileNames (the bot config's imagebump.yaml, a
// missing dot, .imagebump.json), or a policy file name on a symbolic link,
// which is never followed. Each comes with why, at most maxNear of them.
func nearPolicyFiles(dir string) []string {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil
	}
	defer r.Close()
	var near []string
	_ = fs.WalkDir(r.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if len(near) == maxNear {
			return fs.SkipAll
		}
		if err != nil {
			return nil // validate reports unreadable directories
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case slices.Contains(config.PolicyFileNames, name) && d.Type()&fs.ModeSymlink != 0:
			near = append(near, path+" (a symbolic link, never followed)")
		case !slices.Contains(config.PolicyFileNames, name) && strings.Contains(strings.ToLower(name), "imagebump"):
			near = append(near, path+" (not one of those names)")
		}
		return nil
	})
	return near
}
