package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
)

type planConfig struct {
	dir      string
	output   string
	exitCode bool
	noFlux   bool // do not read Flux image automation objects
	// maxFileSize is --max-file-size: manifests above it are not read.
	maxFileSize sizeFlag
	write       bool // apply: write the files
	registry    registryFlags
	log         *slog.Logger
}

func newPlanCommand() *cobra.Command {
	cfg := &planConfig{}
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Resolve the policies of a checkout and print the changes and a diff; writes nothing",
		Long: `plan reads the policy files and marked manifests under DIR (default: the
current directory), asks the registries for tags, and prints what apply would
change: a table of changes and a unified diff, or with -o json one object
with changes, policies, problems, skipped fields and warnings. Warnings
(comments that look like markers but are not, UTF-16 files, temporary
files of an interrupted apply) never change the exit status.

Exit status: 0 done; 1 a policy, registry or marker failed (everything else
is still reported); 2 bad usage or an invalid policy file; 3 with
--exit-code when there are changes and nothing failed.`,
		Args: maxArgs(1),
		RunE: cfg.runE,
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&cfg.exitCode, "exit-code", false, "exit 3 when there are changes and nothing failed")
	f.BoolVar(&cfg.noFlux, "no-flux", false, "do not read Flux ImageRepository, ImagePolicy and ImageUpdateAutomation objects")
	f.Var(&cfg.maxFileSize, "max-file-size", maxFileSizeUsage)
	cfg.registry.add(f)
	return cmd
}

func newApplyCommand() *cobra.Command {
	cfg := &planConfig{write: true}
	cmd := &cobra.Command{
		Use:   "apply [DIR]",
		Short: "Resolve the policies of a checkout and write the changes to the files; no git",
		Long: `apply does what plan does and then writes the changed files, each
replaced atomically. It does not touch git. A policy that fails leaves only
the fields that use it unchanged; an invalid policy file writes nothing.
A file that cannot be written does not stop the others; on SIGINT or
SIGTERM apply finishes the files in progress and starts no other. Either
way it reports which files were written and which were not, and why (with
-o json under "files").

Exit status as for plan, without 3; 1 when any file was not written.`,
		Args: maxArgs(1),
		RunE: cfg.runE,
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&cfg.noFlux, "no-flux", false, "do not read Flux ImageRepository, ImagePolicy and ImageUpdateAutomation objects")
	f.Var(&cfg.maxFileSize, "max-file-size", maxFileSizeUsage)
	cfg.registry.add(f)
	return cmd
}

// runE is the RunE of plan and apply.
func (cfg *planConfig) runE(cmd *cobra.Command, args []string) error {
	cfg.dir = dirArg(args)
	cfg.log = newLogger(cmd.ErrOrStderr())
	return runPlan(cmd.Context(), cmd.OutOrStdout(), *cfg)
}

func runPlan(ctx context.Context, out io.Writer, cfg planConfig) error {
	if cfg.output != "text" && cfg.output != "json" {
		return usageError("--output %q: want text or json", cfg.output)
	}
	dir, err := resolveDir(cfg.dir)
	if err != nil {
		return err
	}
	cfg.dir = dir
	client, err := cfg.registry.client(cfg.log)
	if err != nil {
		return err
	}
	rv := &bot.Resolver{MaxFileSize: int64(cfg.maxFileSize)}
	if cfg.noFlux {
		rv.Load = []config.LoadOption{config.WithoutFlux()}
	}
	outcome, err := rv.Plan(ctx, client.Pass(), cfg.dir, nil)
	var problems problem.List
	if errors.As(err, &problems) {
		if cfg.output == "json" {
			// The same shape as a planned run, so that tools reading it
			// need no second parser.
			r := newPlanReport(&bot.Outcome{Patch: &patcher.Plan{}})
			r.Problems = append(r.Problems, problems...)
			if err := writeJSON(out, r); err != nil {
				return err
			}
		} else {
			for _, p := range problems {
				fmt.Fprintln(out, p)
			}
		}
		return &exitError{code: int(bot.ErrStatus(err)), err: fmt.Errorf("%d problem(s) in policy files; nothing was changed", len(problems))}
	}
	if err != nil {
		if cfg.write {
			return fmt.Errorf("%w; nothing was written", err)
		}
		return err
	}
	// Whatever happens while writing (a file that cannot be written, a
	// signal), the report says which files were written and which not.
	if cfg.write {
		outcome.Write(ctx)
	}
	if cfg.output == "json" {
		r := newPlanReport(outcome)
		if cfg.write {
			r.Files = newFileReports(outcome.Written)
		}
		if err := writeJSON(out, r); err != nil {
			return err
		}
	} else {
		printPlan(out, outcome, outcome.Written, !cfg.write)
	}
	st := outcome.Status(cfg.exitCode)
	if n := outcome.NotWritten(); n > 0 {
		return &exitError{code: int(st), err: fmt.Errorf("%d of %d file(s) not written", n, len(outcome.Written))}
	}
	if st != bot.StatusOK {
		return &exitError{code: int(st)}
	}
	return nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// planReport is the JSON shape of DESIGN.md's plan -o json, with the
// warnings, and for apply what became of each file.
type planReport struct {
	Changes  []planChange      `json:"changes"`
	Policies []planPolicy      `json:"policies"`
	Problems []problem.Problem `json:"problems"`
	Skipped  []planSkipped     `json:"skipped"`
	Warnings []patcher.Warning `json:"warnings"`
	Files    []planFile        `json:"files,omitzero"` // apply only
	Summary  planSummary       `json:"summary"`
}

// planFile is what apply did with one file that had changes to write.
type planFile struct {
	File    string `json:"file"`
	Written bool   `json:"written"`
	Error   string `json:"error,omitempty"`
}

func newFileReports(written []patcher.WriteResult) []planFile {
	files := []planFile{}
	for _, w := range written {
		f := planFile{File: w.Path, Written: w.Err == nil}
		if w.Err != nil {
			f.Error = w.Err.Error()
		}
		files = append(files, f)
	}
	return files
}

type planChange struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Policy string `json:"policy"`
	Field  string `json:"field"`
	Old    string `json:"old"`
	New    string `json:"new"`
}

type planPolicy struct {
	Name   string `json:"name"`
	Image  string `json:"image"`
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
	Error  string `json:"error"`
}

type planSkipped struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Policy   string `json:"policy"`
	Current  string `json:"current"`
	Selected string `json:"selected"`
	Reason   string `json:"reason"`
}

func newPlanReport(o *bot.Outcome) planReport {
	r := planReport{Changes: []planChange{}, Policies: []planPolicy{}, Problems: []problem.Problem{}, Skipped: []planSkipped{}, Warnings: []patcher.Warning{}}
	for _, c := range o.Patch.Changes {
		r.Changes = append(r.Changes, planChange{File: c.File, Line: c.Line, Policy: c.Policy, Field: string(c.Field), Old: c.Old, New: c.New})
	}
	for _, p := range o.Policies {
		pp := planPolicy{Name: p.Policy.Name(), Image: p.Policy.Spec().Image, Tag: p.Tag, Digest: p.Digest}
		if p.Err != nil {
			pp.Error = p.Err.Error()
		}
		r.Policies = append(r.Policies, pp)
	}
	r.Problems = append(r.Problems, o.Patch.Problems...)
	for _, s := range o.Patch.Skipped {
		r.Skipped = append(r.Skipped, planSkipped{File: s.File, Line: s.Line, Policy: s.Policy, Current: s.Current, Selected: s.Selected, Reason: s.Reason})
	}
	r.Warnings = append(r.Warnings, o.Patch.Warnings...)
	r.Summary = newPlanSummary(o)
	return r
}

// printPlan writes the human report: changes, then what needs attention,
// then (for plan) the diff. For apply, written has the result of each
// planned file: the table lists what was written, and files that were not
// are listed with the reason.
func printPlan(out io.Writer, o *bot.Outcome, written []patcher.WriteResult, diff bool) {
	p := o.Patch
	failed := map[string]error{}
	for _, w := range written {
		if w.Err != nil {
			failed[w.Path] = w.Err
		}
	}
	var changes []patcher.Change
	for _, c := range p.Changes {
		if failed[c.File] == nil {
			changes = append(changes, c)
		}
	}
	switch {
	case len(changes) > 0:
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tPOLICY\tFIELD\tOLD\tNEW")
		for _, c := range changes {
			fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t%s\n", c.File, c.Line, c.Policy, c.Field, c.Old, c.New)
		}
		tw.Flush()
		if diff {
			fmt.Fprintf(out, "\n%d value(s) in %d file(s) would change.\n", len(changes), len(p.Files))
		} else {
			fmt.Fprintf(out, "\n%d value(s) in %d file(s) changed.\n", len(changes), len(p.Files)-len(failed))
		}
	case len(failed) > 0:
		fmt.Fprintln(out, "Nothing was written.")
	default:
		fmt.Fprintln(out, "No changes.")
	}
	var lines []string
	for _, f := range p.Files {
		if err := failed[f.Path]; err != nil {
			lines = append(lines, fmt.Sprintf("%s: %d value(s): %v", f.Path, len(f.Changes), err))
		}
	}
	section(out, "Not written", lines)
	lines = nil
	for _, r := range o.Policies {
		if r.Err != nil {
			lines = append(lines, r.Err.Error())
		}
	}
	section(out, "Policies that failed", lines)
	lines = nil
	for _, pr := range p.Problems {
		lines = append(lines, pr.String())
	}
	section(out, "Problems", lines)
	lines = nil
	for _, s := range p.Skipped {
		lines = append(lines, fmt.Sprintf("%s:%d: %s: kept %s, policy selected %s: %s", s.File, s.Line, s.Policy, s.Current, s.Selected, s.Reason))
	}
	section(out, "Skipped", lines)
	lines = nil
	for _, w := range p.Warnings {
		lines = append(lines, w.String())
	}
	section(out, "Warnings", lines)
	if diff {
		for _, f := range p.Files {
			fmt.Fprintln(out)
			fmt.Fprint(out, udiff.Unified("a/"+f.Path, "b/"+f.Path, string(f.Old), string(f.New)))
		}
	}
	printSummary(out, newPlanSummary(o))
}

func section(out io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(out, "\n%s:\n  %s\n", title, strings.Join(lines, "\n  "))
}
