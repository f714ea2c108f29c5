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
	fmt.Fprintf(stdout, "imagebump demo: one 'run --once' pass (%s), with a registry and a git remote of its own.\n\n", pass)
	printDemoSetup(stdout, host, tags, url, botConfig)

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
	if res.Err != nil {
		return d, fmt.Errorf("the demo pass failed: %w", res.Err)
	}

	fmt.Fprintln(stdout, "\nThe plan:")
	fmt.Fprintln(stdout)
	outcome := &bot.Outcome{Patch: res.Plan, Policies: res.Policies}
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
	return d, runExit(results)
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

func printDemoSetup(out io.Writer, host string, tags []string, url, botConfig string) {
	fmt.Fprintf(out, "Registry %s (in memory):\n", host)
	repos, byRepo := tagsByRepo(tags)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range repos {
		fmt.Fprintf(tw, "  %s\t%s\n", r, strings.Join(byRepo[r], " "))
	}
	tw.Flush()
	fmt.Fprintf(out, "Repository %s, branch main: the sample fleet\n", url)
	fmt.Fprintf(out, "Bot config %s\n", botConfig)
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

func (demoForge) Comments(context.Context, int) ([]string, error) { return nil, nil }

func (demoForge) Create(context.Context, pullrequest.NewPullRequest) (pullrequest.PullRequest, error) {
	return pullrequest.PullRequest{}, errNoForge
}

func (demoForge) Label(context.Context, int, []string) error { return errNoForge }

func (demoForge) RequestReviews(context.Context, int, []string, []string) error { return errNoForge }

func (demoForge) Edit(context.Context, int, string, string) error { return errNoForge }

func (demoForge) Close(context.Context, int, string) error { return errNoForge }

func (demoForge) Comment(context.Context, int, string) error { return errNoForge }
