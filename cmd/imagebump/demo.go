package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aymanbagabas/go-udiff"
	"github.com/spf13/cobra"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
)

type demoConfig struct {
	// keep, when set, is where the repositories are made and left;
	// otherwise a temporary directory that is removed.
	keep string
	mode string // "push" or "pullRequest"
}

func newDemoCommand() *cobra.Command {
	cfg := &demoConfig{}
	cmd := &cobra.Command{
		Use:   "demo [--mode push|pullRequest] [--keep DIR]",
		Short: "Run one real update pass against a registry and a git remote the demo starts itself",
		Long: `demo needs nothing external: no network, no git binary, no registry. It
starts an in-memory registry on 127.0.0.1 with a few images (versions, a
prerelease, an -alpine variant, a cosign signature tag, a two-platform
index), creates a sample fleet repository (a Deployment, a kustomization
images: entry, Helm values, a Flux HelmRelease, policy files in two
folders) with a bare remote served on 127.0.0.1, and runs one pass of
'imagebump run --once' over it with the code run uses.

It prints the registry's tags, the plan and its diff, and the commit the
pass pushed, read back from the remote. With --mode pullRequest the pass is
a pull request mode dry run instead, and demo prints the branch, title and
body of each pull request it would open; no forge is contacted.

--keep DIR makes everything in DIR (new or empty) and leaves it there: the
bare remote, the sample checkout, the bot's working copy and bot config.

Exit status: 0 done; 1 the pass failed; 2 bad usage.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), *cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.mode, "mode", string(config.Push), "push, or pullRequest for a pull request mode dry run")
	f.StringVar(&cfg.keep, "keep", "", "make the repositories in `DIR` (new or empty) and leave them there")
	return cmd
}

// demoResult is what runDemo made, for tests.
type demoResult struct {
	dir      string // where the repositories are
	bare     string // the bare remote
	registry string // the registry's host:port
	url      string // the git server's URL of the fleet
	result   bot.Result
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, cfg demoConfig) error {
	_, err := demo(ctx, stdout, stderr, cfg)
	return err
}

// demo is runDemo returning what it made; with cfg.keep empty, everything
// is gone by the time it returns.
func demo(ctx context.Context, stdout, stderr io.Writer, cfg demoConfig) (demoResult, error) {
	mode := config.Mode(cfg.mode)
	if mode != config.Push && mode != config.PullRequest {
		return demoResult{}, usageError("--mode %q: want push or pullRequest", cfg.mode)
	}
	var d demoResult
	if cfg.keep != "" {
		if err := checkKeepDir(cfg.keep); err != nil {
			return d, usageError("%v", err)
		}
		abs, err := filepath.Abs(cfg.keep)
		if err != nil {
			return d, err
		}
		d.dir = abs
	} else {
		tmp, err := os.MkdirTemp("", "imagebump-demo-")
		if err != nil {
			return d, err
		}
		defer os.RemoveAll(tmp)
		d.dir = tmp
	}
	d.bare = filepath.Join(d.dir, "fleet.git")
	checkout := filepath.Join(d.dir, "fleet")

	host, tags, stopRegistry, err := startDemoRegistry(ctx)
	if err != nil {
		return d, err
	}
	defer stopRegistry()
	d.registry = host
	url, stopGit, err := startGitServer(d.bare)
	if err != nil {
		return d, err
	}
	defer stopGit()
	d.url = url
	if err := createFleet(ctx, checkout, d.bare, url, host); err != nil {
		return d, err
	}
	botConfig, err := writeDemoConfig(d.dir, url, mode)
	if err != nil {
		return d, err
	}

	pass := "push mode"
	if mode == config.PullRequest {
		pass = "pull request mode, dry run"
	}
	fmt.Fprintf(stdout, "imagebump demo: one 'run --once' pass (%s), with a registry and a git remote of its own.\n", pass)

	// The pass: the bot config run would load, the runner run would build.
	b, err := loadBot(botConfig)
	if err != nil {
		return d, err
	}
	runner, err := newRunner(b, runConfig{dryRun: mode == config.PullRequest}, botLogger(stderr, b.Log))
	if err != nil {
		return d, err
	}
	if mode == config.PullRequest {
		runner.Forge = func(config.Repository) (pullrequest.Forge, error) { return demoForge{}, nil }
	}
	results := runner.Once(ctx)
	d.result = results[0]
	res := d.result

	// What the pass started from, with what it made of it: the policies
	// and, for each tag, what the policy using it made of it.
	printDemoPolicies(stdout, res.Policies)
	printDemoSetup(stdout, host, tags, res.Policies, url, botConfig)
	if res.Err != nil {
		return d, fmt.Errorf("the demo pass failed: %w", res.Err)
	}

	fmt.Fprintln(stdout, "\nThe plan:")
	fmt.Fprintln(stdout)
	// The policy files of the pass, for the plan's summary: the sample
	// checkout holds what the remote held.
	pols, err := bot.Load(checkout)
	if err != nil {
		return d, err
	}
	outcome := &bot.Outcome{PolicyFiles: pols, Patch: res.Plan, Policies: res.Policies}
	if mode == config.Push {
		// As apply reports it ("changed"), with plan's diff.
		printPlan(stdout, outcome, nil, false)
		for _, f := range res.Plan.Files {
			fmt.Fprintln(stdout)
			fmt.Fprint(stdout, udiff.Unified("a/"+f.Path, "b/"+f.Path, string(f.Old), string(f.New)))
		}
		if err := printPushed(stdout, d.bare, res); err != nil {
			return d, err
		}
	} else {
		printPlan(stdout, outcome, nil, true)
		fmt.Fprintln(stdout, "\nThe pull requests (no forge here: the demo pretends none of the bot's pull requests exist yet):")
		fmt.Fprintln(stdout)
		printDryRun(stdout, res)
	}

	if cfg.keep != "" {
		printKept(stdout, d.dir, mode)
	} else {
		fmt.Fprintln(stdout, "\nThe repositories were in a temporary directory, now removed; --keep DIR leaves them there.")
	}
	printNextSteps(stdout)
	return d, runExit(results)
}

// nextSteps are the commands the demo ends with: what to run next on a
// checkout of one's own repository.
var nextSteps = []struct{ command, does string }{
	{"imagebump validate DIR", "check its policy files and markers, offline"},
	{"imagebump tags --policy NAME DIR", "the tag a policy selects, and why each other tag is refused"},
	{"imagebump plan DIR", "the changes the bot would make, and their diff; writes nothing"},
}

func printNextSteps(out io.Writer) {
	fmt.Fprintln(out, "\nNext, on a checkout (DIR) of your own repository, with a policy file and markers (README \"Quick start\"):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, s := range nextSteps {
		fmt.Fprintf(tw, "  %s\t%s\n", s.command, s.does)
	}
	tw.Flush()
}

// printDemoPolicies lists the policies the pass resolved, one line each:
// name, image, where it is defined, and its rule.
func printDemoPolicies(out io.Writer, resolved []bot.Resolution) {
	if len(resolved) == 0 {
		return
	}
	fmt.Fprintln(out, "\nThe policies the sample fleet's markers use, from its policy files:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range resolved {
		p := r.Policy
		fmt.Fprintf(tw, "  %s\t%s\t%s:%d\t%s\n", p.Name(), p.Spec().Image, p.File, p.Line, ruleText(p.Spec()))
	}
	tw.Flush()
}

// tagVerdicts says, for every tag of every image the pass resolved a
// policy for, what that policy made of it ("web: refused, prerelease"),
// as tags --policy explains it. The key is image:tag.
func tagVerdicts(tags map[string][]string, resolved []bot.Resolution) map[string][]string {
	out := map[string][]string{}
	for _, r := range resolved {
		image := r.Policy.Spec().Image
		report := buildTagsReport(r.Policy.Policy, tags[image], r)
		for _, v := range report.Tags {
			var verdict string
			switch v.Reason {
			case "selected":
				verdict = "selected"
			case "candidate":
				verdict = "candidate"
				if report.Selected != "" {
					verdict += ", below " + report.Selected
				}
			case "rejected":
				verdict = "refused, " + v.Detail
			default:
				verdict = "refused, " + v.Reason
			}
			out[image+":"+v.Tag] = append(out[image+":"+v.Tag], r.Policy.Name()+": "+verdict)
		}
	}
	return out
}

// writeDemoConfig writes the bot config of the demo pass into dir and
// returns its path. Registry credentials of the machine are not wanted: the
// docker config is an empty one.
func writeDemoConfig(dir, url string, mode config.Mode) (string, error) {
	docker := filepath.Join(dir, "docker-config.json")
	if err := os.WriteFile(docker, []byte("{}\n"), 0o644); err != nil {
		return "", err
	}
	text := `# The bot config of imagebump demo: one repository, served by the demo.
schedule: "@every 10m" # unused: the demo runs one pass, as run --once does
workDir: ` + strconv.Quote(filepath.Join(dir, "work")) + `
log:
  format: text
  level: warn
repositories:
  - url: ` + strconv.Quote(url) + `
    branch: main
    mode: ` + string(mode) + `
` + demoForgeLine(mode) + `commit:
  author:
    name: imagebump
    email: imagebump@users.noreply.github.com
registries:
  dockerConfig: ` + strconv.Quote(docker) + `
`
	path := filepath.Join(dir, "imagebump.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// demoForgeLine is the forge section of the demo's repository in pull
// request mode: the config must name the forge of a host other than
// github.com or gitlab.com, though the demo's stand-in answers for it.
func demoForgeLine(mode config.Mode) string {
	if mode != config.PullRequest {
		return ""
	}
	return "    # Never contacted: the demo's stand-in answers for the forge.\n    github: {apiURL: \"https://github.example.com/api/v3/\"}\n"
}

// printDemoSetup lists the registry's tags, each with what the policies
// using its image made of it, then the repository and the bot config.
func printDemoSetup(out io.Writer, host string, tags []string, resolved []bot.Resolution, url, botConfig string) {
	repos, byRepo := tagsByRepo(tags)
	byImage := map[string][]string{}
	for _, r := range repos {
		byImage[host+"/"+r] = byRepo[r]
	}
	verdicts := tagVerdicts(byImage, resolved)
	fmt.Fprintf(out, "\nRegistry %s (in memory), and what the policy of each image made of its tags:\n", host)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range repos {
		for i, tag := range byRepo[r] {
			name := r
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, shortTag(tag), strings.Join(verdicts[host+"/"+r+":"+tag], "; "))
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "\nRepository %s, branch main: the sample fleet\n", url)
	fmt.Fprintf(out, "Bot config %s\n", botConfig)
}

// shortTag shortens a tag too long for the listing's column, such as a
// cosign signature's sha256-<64 hex digits>.sig, with an ellipsis.
func shortTag(tag string) string {
	const max = 24
	if len(tag) <= max {
		return tag
	}
	return tag[:max-5] + "…" + tag[len(tag)-4:]
}

// printPushed prints the commit the pass pushed, as the bare remote has it.
func printPushed(out io.Writer, bare string, res bot.Result) error {
	if res.Pushed == nil || res.Pushed.Commit == "" {
		return errors.New("the demo pass pushed nothing")
	}
	c, err := pushedCommit(bare, res.Pushed.Branch)
	if err != nil {
		return err
	}
	if c.Hash.String() != res.Pushed.Commit {
		return fmt.Errorf("the pass pushed %s, but the remote's %s is at %s", res.Pushed.Commit, res.Pushed.Branch, c.Hash)
	}
	fmt.Fprintf(out, "\nThe commit pushed to %s, read back from the remote:\n\n", res.Pushed.Branch)
	fmt.Fprintf(out, "commit %s\n", c.Hash)
	fmt.Fprintf(out, "Author: %s <%s>\n", c.Author.Name, c.Author.Email)
	fmt.Fprintf(out, "Date:   %s\n\n", c.Author.When.Format("Mon Jan 2 15:04:05 2006 -0700"))
	for _, l := range strings.Split(strings.TrimRight(c.Message, "\n"), "\n") {
		if l == "" {
			fmt.Fprintln(out)
			continue
		}
		fmt.Fprintf(out, "    %s\n", l)
	}
	return nil
}

func printKept(out io.Writer, dir string, mode config.Mode) {
	fmt.Fprintf(out, "\nKept in %s:\n", dir)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  fleet.git/\tthe bare remote the pass ran against\n")
	if mode == config.Push {
		fmt.Fprintf(tw, "  fleet/\tthe sample checkout; its origin is fleet.git: 'git pull' there brings the bot's commit\n")
	} else {
		fmt.Fprintf(tw, "  fleet/\tthe sample checkout; its origin is fleet.git\n")
	}
	fmt.Fprintf(tw, "  work/\tthe bot's working copy (its origin was the demo's git server, gone now)\n")
	fmt.Fprintf(tw, "  imagebump.yaml\tthe bot config of the pass\n")
	fmt.Fprintf(tw, "  docker-config.json\tits (empty) registry credentials\n")
	tw.Flush()
}

// errNoForge is what demoForge's writes return.
var errNoForge = errors.New("the demo has no forge: a dry run never writes to one")

// demoForge stands in for GitHub in the pull request demo. The demo has no
// forge: it pretends none of the bot's pull requests exist yet, so the
// lifecycle decides to open one per group. The pass is a dry run, which
// only reads; the writes fail should one ever be called.
type demoForge struct{}

func (demoForge) PullRequests(context.Context, string) ([]pullrequest.PullRequest, error) {
	return nil, nil
}

func (demoForge) OpenPullRequests(context.Context) ([]pullrequest.PullRequest, error) {
	return nil, nil
}

func (demoForge) Comments(context.Context, int) ([]string, error) { return nil, nil }

func (demoForge) Create(context.Context, pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	return pullrequest.PullRequest{}, errNoForge
}

func (demoForge) Label(context.Context, int, []string) error { return errNoForge }

func (demoForge) RequestReviews(context.Context, int, []string, []string) error { return errNoForge }

func (demoForge) Edit(context.Context, int, string, string) error { return errNoForge }

func (demoForge) Close(context.Context, int, string) error { return errNoForge }

func (demoForge) Comment(context.Context, int, string) error { return errNoForge }
