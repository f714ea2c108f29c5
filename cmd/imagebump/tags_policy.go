package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
)

// tags --policy NAME [DIR]: the policy comes from the policy files of the
// checkout at DIR, read as plan and the bot read them, and is resolved by
// the same resolver; only the registry settings come from the flags, as
// plan's do.

// addPolicyFlag adds --policy to the tags command.
func addPolicyFlag(f *pflag.FlagSet, name *string) {
	f.StringVar(name, "policy", "", "take the policy `NAME` from the policy files under DIR (default: the current directory), as plan does")
}

// policyFlags are the tags flags that state a policy, which --policy
// takes from the policy file instead.
var policyFlags = []string{"semver", "alphabetical", "numerical", "track", "filter", "extract", "exclude", "prereleases", "platform", "min-age"}

// checkPolicyArgs checks the arguments of tags --policy NAME [DIR].
func checkPolicyArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageError("tags --policy takes at most one DIR argument, got %d: %s", len(args), strings.Join(args, " "))
	}
	for _, name := range policyFlags {
		if cmd.Flags().Changed(name) {
			return usageError("--%s cannot be combined with --policy, which reads the whole policy from its policy file", name)
		}
	}
	return nil
}

// tagsSource is where tags --policy found its policy.
type tagsSource struct {
	Name string `json:"name"`
	File string `json:"file"` // relative to DIR, with forward slashes
	Line int    `json:"line"`
	Rule string `json:"rule"`
}

// runTagsPolicy is runTags for the policy name of the checkout at dir.
func runTagsPolicy(ctx context.Context, out io.Writer, cfg tagsConfig, name, dir string) error {
	if cfg.output != "text" && cfg.output != "json" {
		return usageError("--output %q: want text or json", cfg.output)
	}
	root, err := resolveDir(dir)
	if err != nil {
		return err
	}
	p, err := lookupPolicy(root, name)
	if err != nil {
		return err
	}
	client, err := cfg.registry.client(cfg.log)
	if err != nil {
		return err
	}
	pass := client.Pass()
	spec := p.Spec()
	tags, err := pass.Tags(ctx, spec.Image)
	if err != nil {
		return fmt.Errorf("policy %q (%s:%d): %w", p.Name(), p.File, p.Line, err)
	}
	// The request plan makes, and the digest it asks for at most.
	res := (&bot.Resolver{}).Resolve(ctx, pass, []bot.Request{{Policy: p, Digest: true}})[0]
	report := buildTagsReport(p.Policy, tags, res)
	report.Policy = &tagsSource{Name: p.Name(), File: p.File, Line: p.Line, Rule: ruleText(spec)}
	if cfg.output == "json" {
		if err := writeASCIIJSON(out, report); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "policy %s (%s:%d): %s\n", escape(p.Name()), escape(p.File), p.Line, escape(report.Policy.Rule))
		printTags(out, report)
	}
	if res.Err != nil {
		return &exitError{code: exitFailed, err: res.Err}
	}
	return nil
}

// lookupPolicy loads the policy files under root as the bot does and
// returns the policy called name. Invalid policy files and an unknown name
// are usage errors.
func lookupPolicy(root, name string) (*config.Policy, error) {
	pols, err := bot.Load(root)
	var problems problem.List
	if errors.As(err, &problems) {
		return nil, usageError("%d problem(s) in the policy files under %s:\n%v", len(problems), root, problems)
	}
	if err != nil {
		return nil, usageError("%v", err)
	}
	if p := pols.Lookup(name); p != nil {
		return p, nil
	}
	if len(pols.Files) == 0 {
		return nil, usageError("no policy %q: no policy file under %s (%s)", name, root, strings.Join(config.PolicyFileNames, " or "))
	}
	names := make([]string, len(pols.Policies))
	for i, p := range pols.Policies {
		names[i] = p.Name()
	}
	return nil, usageError("no policy %q in the policy files under %s (%s); they define: %s", name, root, strings.Join(pols.Files, ", "), strings.Join(names, ", "))
}

// ruleText is how a policy chooses, in one line, in the words of its
// policy file: `semver ">=1.0.0 <2.0.0"; exclude '-rc'`.
func ruleText(s policy.Spec) string {
	var parts []string
	switch s.Kind() {
	case policy.KindSemVer:
		parts = append(parts, "semver "+strconv.Quote(s.SemVer))
	case policy.KindAlphabetical:
		parts = append(parts, "alphabetical "+string(s.Alphabetical))
	case policy.KindNumerical:
		parts = append(parts, "numerical "+string(s.Numerical))
	case policy.KindTrack:
		parts = append(parts, "track "+s.Track)
	}
	if s.Filter != nil {
		f := "filterTags '" + s.Filter.Pattern + "'"
		if s.Filter.Extract != "" {
			f += " extract '" + s.Filter.Extract + "'"
		}
		parts = append(parts, f)
	}
	if len(s.Exclude) > 0 {
		parts = append(parts, "exclude '"+strings.Join(s.Exclude, "', '")+"'")
	}
	if s.Prereleases {
		parts = append(parts, "prereleases")
	}
	if len(s.Platforms) > 0 {
		parts = append(parts, "platforms "+strings.Join(s.Platforms, ", "))
	}
	if s.MinAge > 0 {
		parts = append(parts, "minAge "+shortDuration(s.MinAge))
	}
	return strings.Join(parts, "; ")
}

// shortDuration is d without the zero minutes and seconds String gives
// whole hours: 72h, not 72h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
