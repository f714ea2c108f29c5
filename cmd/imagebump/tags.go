package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/policy"
)

type tagsConfig struct {
	spec     policy.Spec
	policy   string // --policy NAME: the policy comes from DIR's policy files
	output   string
	registry registryFlags
	log      *slog.Logger
}

func newTagsCommand() *cobra.Command {
	var (
		cfg             tagsConfig
		filter, extract string
		minAge          time.Duration
		alpha, num      string
		fluxPolicy      string
	)
	cmd := &cobra.Command{
		Use:   "tags {IMAGE | --policy NAME [DIR] | --flux-policy FILE:NAME}",
		Short: "List an image's tags and show which one a policy picks and why each other was dropped",
		Long: `tags lists the tags of IMAGE (a repository, without tag) and applies a
policy given by flags (or, with --flux-policy FILE:NAME, a Flux ImagePolicy
and its ImageRepository, with no IMAGE): the tag it selects, the candidates ranked below it,
and for every dropped tag the reason. Without a kind flag the policy is
--semver '*'. With --platform or --min-age the candidates are checked best
first, as the bot does, until one passes.

With --policy NAME the policy, image included, is the one of that name in
the policy files under DIR (default: the current directory), read and
resolved as plan and the bot do; tags says which file and line it comes
from. Registry settings come from --config and the other registry flags,
as plan's do.

Exit status: 0 when a tag is selected, 1 when none is or the registry fails,
2 for bad flags (with --policy: also invalid policy files or an unknown NAME).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cfg.policy != "" {
				return checkPolicyArgs(cmd, args)
			}
			if fluxPolicy != "" && len(args) == 0 {
				return nil // the ImagePolicy names the image
			}
			if len(args) != 1 {
				return usageError("tags takes one IMAGE argument (or --policy NAME [DIR]), got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.policy != "" {
				cfg.log = newLogger(cmd.ErrOrStderr())
				return runTagsPolicy(cmd.Context(), cmd.OutOrStdout(), cfg, cfg.policy, dirArg(args))
			}
			if fluxPolicy != "" {
				if set := policyFlagsSet(cmd.Flags()); len(set) > 0 || len(args) > 0 {
					return usageError("--flux-policy takes the image and policy from the ImagePolicy: give no IMAGE or policy flags (%s) with it", strings.Join(append(args, set...), " "))
				}
				spec, err := fluxPolicySpec(fluxPolicy)
				if err != nil {
					return err
				}
				cfg.spec = spec
				cfg.log = newLogger(cmd.ErrOrStderr())
				return runTags(cmd.Context(), cmd.OutOrStdout(), cfg)
			}
			s := &cfg.spec
			s.Name, s.Image = "tags", args[0]
			s.Alphabetical, s.Numerical = policy.Order(alpha), policy.Order(num)
			if s.Kind() == "" {
				s.SemVer = "*"
			}
			if filter != "" || extract != "" {
				s.Filter = &policy.Filter{Pattern: filter, Extract: extract}
			}
			s.MinAge = minAge
			cfg.log = newLogger(cmd.ErrOrStderr())
			return runTags(cmd.Context(), cmd.OutOrStdout(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.spec.SemVer, "semver", "", "semver `RANGE` (default '*')")
	f.StringVar(&alpha, "alphabetical", "", "order tags alphabetically: asc or desc")
	f.StringVar(&num, "numerical", "", "order tags as numbers: asc or desc")
	f.StringVar(&cfg.spec.Track, "track", "", "follow the digest of this mutable `TAG`")
	f.StringVar(&filter, "filter", "", "keep only tags matching this `REGEX` (filterTags.pattern)")
	f.StringVar(&extract, "extract", "", "order by this expansion of the filter's groups, e.g. '$ts' (filterTags.extract)")
	f.StringArrayVar(&cfg.spec.Exclude, "exclude", nil, "drop tags matching this `REGEX`; repeatable")
	f.BoolVar(&cfg.spec.Prereleases, "prereleases", false, "semver: consider prereleases")
	f.StringArrayVar(&cfg.spec.Platforms, "platform", nil, "the selected image must run on this `OS/ARCH[/VARIANT]`; repeatable")
	f.Var((*durationValue)(&minAge), "min-age", "skip images younger than this `DURATION` (72h, 90m or whole days: 3d)")
	f.StringVarP(&cfg.output, "output", "o", "text", "output format: text or json")
	addPolicyFlag(f, &cfg.policy)
	f.StringVar(&fluxPolicy, "flux-policy", "", "explain the Flux ImagePolicy `FILE:NAME` (NAME is namespace:name or name) instead of policy flags")
	cfg.registry.add(f)
	return cmd
}

// durationValue is a flag that takes the durations policy files take.
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string {
	if *d == 0 {
		return "" // pflag then shows no default
	}
	return time.Duration(*d).String()
}

func (d *durationValue) Type() string { return "duration" }

// tagsReport is the JSON output of tags.
type tagsReport struct {
	Image    string       `json:"image"`
	Selected string       `json:"selected"`
	Digest   string       `json:"digest,omitempty"`
	Error    string       `json:"error,omitempty"`
	Tags     []tagVerdict `json:"tags"`
	// Policy says where tags --policy found the policy.
	Policy *tagsSource `json:"policy,omitempty"`
}

type tagVerdict struct {
	Tag    string `json:"tag"`
	Value  string `json:"value,omitempty"` // when filterTags.extract made it differ from the tag
	Kept   bool   `json:"kept"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

func runTags(ctx context.Context, out io.Writer, cfg tagsConfig) error {
	if cfg.output != "text" && cfg.output != "json" {
		return usageError("--output %q: want text or json", cfg.output)
	}
	if err := config.CheckImage(cfg.spec.Image); err != nil {
		return usageError("IMAGE: %v", err)
	}
	p, err := policy.New(cfg.spec)
	if err != nil {
		return usageError("invalid policy flags: %v", err)
	}
	client, err := cfg.registry.client(cfg.log)
	if err != nil {
		return err
	}
	pass := client.Pass()
	tags, err := pass.Tags(ctx, cfg.spec.Image)
	if err != nil {
		// The registry package already says "listing tags of IMAGE".
		return err
	}
	res := (&bot.Resolver{}).Resolve(ctx, pass, []bot.Request{{Policy: &config.Policy{Policy: p, File: "flags"}, Digest: true}})[0]
	report := buildTagsReport(p, tags, res)
	if cfg.output == "json" {
		if err := writeASCIIJSON(out, report); err != nil {
			return err
		}
	} else {
		printTags(out, report)
	}
	if res.Err != nil {
		return &exitError{code: exitFailed, err: res.Err}
	}
	return nil
}

// buildTagsReport merges the policy's verdicts with what the resolver's
// lazy checks rejected and selected.
func buildTagsReport(p *policy.Policy, tags []string, res bot.Resolution) tagsReport {
	r := tagsReport{Image: p.Spec().Image, Selected: res.Tag, Digest: res.Digest, Tags: []tagVerdict{}}
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	rejected := map[string]string{}
	for _, rj := range res.Rejected {
		rejected[rj.Tag] = rj.Reason
	}
	for _, v := range p.Explain(tags).Verdicts {
		tv := tagVerdict{Tag: v.Tag, Kept: v.Reason == policy.Kept, Reason: v.Reason.String(), Detail: v.Detail}
		if v.Value != v.Tag {
			tv.Value = v.Value
		}
		switch {
		case v.Tag == res.Tag:
			tv.Reason = "selected"
		case rejected[v.Tag] != "":
			tv.Kept, tv.Reason, tv.Detail = false, "rejected", rejected[v.Tag]
		}
		r.Tags = append(r.Tags, tv)
	}
	return r
}

func printTags(out io.Writer, r tagsReport) {
	switch {
	case r.Selected != "" && r.Digest != "":
		fmt.Fprintf(out, "%s: selected %s (%s)\n", escape(r.Image), quoteTag(r.Selected), escape(r.Digest))
	case r.Selected != "":
		fmt.Fprintf(out, "%s: selected %s\n", escape(r.Image), quoteTag(r.Selected))
	default:
		fmt.Fprintf(out, "%s: no tag selected\n", escape(r.Image))
	}
	if len(r.Tags) == 0 {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tVERDICT\tDETAIL")
	for _, t := range r.Tags {
		detail := t.Detail
		if t.Value != "" && detail == "" {
			detail = "orders as " + t.Value
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", quoteTag(t.Tag), t.Reason, escape(detail))
	}
	tw.Flush()
}

// quoteTag prints a tag as is when it is one by the OCI grammar, and
// otherwise Go-quoted with every byte outside printable ASCII escaped: a
// registry may list anything, and a terminal must see none of it raw.
func quoteTag(tag string) string {
	if policy.ValidTag(tag) {
		return tag
	}
	return strconv.QuoteToASCII(tag)
}

// escape quotes s like quoteTag when it holds anything but printable ASCII.
func escape(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// writeASCIIJSON is writeJSON with every non-ASCII character escaped as
// \uXXXX. encoding/json escapes control characters but passes zero-width
// and bidirectional-override characters a registry's tags may carry.
func writeASCIIJSON(out io.Writer, v any) error {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range buf.String() {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// newLogger is the logger of the one-shot commands: warnings and errors as
// text on stderr.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
