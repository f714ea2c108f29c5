package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aymanbagabas/go-udiff"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/registry"
)

type runConfig struct {
	config string
	once   bool
	dryRun bool
	// forgeOptions are passed to the pull request lifecycle; tests use
	// them to wait out rate limits without sleeping.
	forgeOptions []pullrequest.Option
	// shards and shardIndex are --shards and --shard-index: 0 and -1 when
	// not given, then taken from the environment (shard).
	shards     int
	shardIndex int
	// peerURL and forwardSecretFile are --peer-url and
	// --forward-secret-file (defaults from the environment): where a
	// replica of a sharded daemon forwards the webhook events of other
	// shards' repositories, and the secret that signs them.
	peerURL           string
	forwardSecretFile string
	// getenv reads the environment; nil means os.Getenv.
	getenv func(string) string
}

func newRunCommand() *cobra.Command {
	cfg := &runConfig{}
	cmd := &cobra.Command{
		Use:   "run --config FILE [--once] [--dry-run]",
		Short: "Run the bot: update passes on the config's schedule, or one pass with --once",
		Long: `run keeps the repositories of the bot config up to date: it syncs a
working copy of each, resolves the policies its markers use, rewrites the
marked fields, and commits and pushes the change (mode: push) or opens and
maintains one pull request per group on GitHub, GitLab or Gitea (mode:
pullRequest).

Without --once it runs a pass at start-up and then on the config's schedule,
and serves /metrics, /healthz, /readyz and the webhooks of the config's
sources (POST /webhooks/SOURCE), whose events start a pass of the
repositories they concern, on the config's listen address. With --once it
runs one pass over every repository and exits; no HTTP server is started,
and the metrics are pushed to the config's pushgateway, if any. --dry-run syncs and plans for real but writes nothing to
git or the forge, and prints what it would do.

Exit status (--once): 0 done; 1 a repository, registry, policy, push or
pull request action failed (the others were still done); 2 bad usage, an
invalid bot config, or a repository whose policy files are invalid.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBot(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), *cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.config, "config", "", "bot config `FILE` (required)")
	f.BoolVar(&cfg.once, "once", false, "run one pass over every repository and exit")
	f.BoolVar(&cfg.dryRun, "dry-run", false, "sync and plan, but write nothing to git or the forge")
	f.IntVar(&cfg.shards, "shards", 0, "split the repositories into `N` shards by a hash of their URL and run only one (default $"+envShards+", else 1)")
	f.StringVar(&cfg.peerURL, "peer-url", "", "sharded daemon: the `URL` of shard {index}'s replica, where webhook events for its repositories are forwarded, or a comma-separated list of one URL per shard (default $"+envPeerURL+", else "+defaultPeerURL+", {port} the listen port)")
	f.StringVar(&cfg.forwardSecretFile, "forward-secret-file", "", "sharded daemon: the `FILE` holding the secret that signs events forwarded between replicas; forwarding is off without it (default $"+envForwardSecretFile+")")
	f.IntVar(&cfg.shardIndex, "shard-index", -1, "the shard to run, 0 to N-1 (default $"+bot.EnvJobCompletionIndex+", else $"+bot.EnvPodIndex+", else the ordinal ending $"+bot.EnvPodName+")")
	return cmd
}

func runBot(ctx context.Context, stdout, stderr io.Writer, cfg runConfig) error {
	if cfg.config == "" {
		return usageError("run needs --config FILE")
	}
	b, err := loadBot(cfg.config)
	if err != nil {
		return err
	}
	log := botLogger(stderr, b.Log)
	shard, err := cfg.shard()
	if err != nil {
		return err
	}
	fwd := cfg.forwarding(b, shard)
	if fwd != nil {
		if _, err := fwd.peer(0); err != nil {
			return usageError("%v", err)
		}
	}
	if fwd == nil && shard.Sharded() && !cfg.once && len(b.Webhooks.SecretFiles) > 0 {
		log.Warn("webhook events for other shards' repositories are not forwarded: no --forward-secret-file or $" + envForwardSecretFile)
	}
	if shard.Sharded() {
		all := len(b.Repositories)
		b.Repositories = shard.Filter(b.Repositories)
		log = log.With("shard", shard.String())
		log.Info("shard", "index", shard.Index, "count", shard.Count, "repositories", len(b.Repositories), "of", all)
	}
	runner, err := newRunner(b, cfg, log)
	if err != nil {
		return err
	}
	runner.Shard = shard
	if isTerminal(stderr) {
		runner.Progress = func(repo config.Repository) io.Writer {
			return &progressLines{w: stderr, prefix: config.RedactURL(repo.URL)}
		}
	}
	if !cfg.dryRun {
		// Copies left by repositories taken out of the config (or moved
		// to another shard); a dry run changes nothing.
		bot.PruneWorkDir(b, time.Now(), log)
	}
	if cfg.once {
		return once(ctx, stdout, b, runner, cfg.dryRun, log)
	}
	// The status page shows the values the markers hold.
	runner.Status = true
	return serve(ctx, b, runner, fwd, log)
}

// once runs one pass over every repository and, when the config names a
// Pushgateway and this is not a dry run, pushes the pass's metrics there.
// A failed push is logged and makes the exit status 1.
func once(ctx context.Context, stdout io.Writer, b *config.Bot, runner *bot.Runner, dryRun bool, log *slog.Logger) error {
	var m *metrics
	reg := prometheus.NewRegistry()
	if b.Pushgateway.URL != "" {
		m = newMetrics(reg, runner.Registry, repositoryNames(b), nil)
	}
	results := runner.Once(ctx)
	for _, res := range results {
		logResult(log, res)
		if m != nil {
			m.observe(res)
		}
		if dryRun {
			printDryRun(stdout, res)
		}
	}
	err := runExit(results)
	switch {
	case m == nil:
	case dryRun:
		log.Info("dry run: metrics not pushed", "pushgateway", b.Pushgateway.URL)
	default:
		if perr := pushMetrics(ctx, b.Pushgateway, reg, runner.Shard); perr != nil {
			log.Error("pushing metrics failed", "err", perr)
			if err == nil {
				err = &exitError{code: int(bot.StatusFailed)}
			}
		} else {
			log.Info("metrics pushed", "pushgateway", b.Pushgateway.URL, "job", b.Pushgateway.Job)
		}
	}
	return err
}

func repositoryNames(b *config.Bot) []string {
	names := make([]string, len(b.Repositories))
	for i, r := range b.Repositories {
		names[i] = config.RedactURL(r.URL)
	}
	return names
}

// envShards holds the shard count when --shards is not given; the
// sharded overlays set it from their replica or completion count.
const envShards = "IMAGEBUMP_SHARDS"

// shard is the shard run serves: --shards, else $IMAGEBUMP_SHARDS, else
// 1; --shard-index, else when there is more than one shard the index
// Kubernetes gives the pod (bot.ShardIndexFromEnv).
func (cfg runConfig) shard() (bot.Shard, error) {
	getenv := cfg.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	s := bot.Shard{Count: cfg.shards, Index: cfg.shardIndex}
	if s.Count == 0 {
		s.Count = 1
		if v := getenv(envShards); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return bot.Shard{}, usageError("%s=%q: the shard count must be a positive integer", envShards, v)
			}
			s.Count = n
		}
	} else if s.Count < 0 {
		return bot.Shard{}, usageError("--shards %d: the shard count must be a positive integer", s.Count)
	}
	if s.Index < 0 {
		s.Index = 0
		if s.Count > 1 {
			i, from, err := bot.ShardIndexFromEnv(getenv)
			if err != nil {
				return bot.Shard{}, usageError("shard index: %v", err)
			}
			if from == "" {
				return bot.Shard{}, usageError("%d shards and no shard index: give --shard-index, or run in an Indexed Job (%s) or a StatefulSet (%s or %s from the downward API)", s.Count, bot.EnvJobCompletionIndex, bot.EnvPodIndex, bot.EnvPodName)
			}
			s.Index = i
			if s.Index >= s.Count {
				return bot.Shard{}, usageError("shard index %d from %s: there are only %d shards (--shards or %s)", i, from, s.Count, envShards)
			}
		}
	}
	if err := s.Validate(); err != nil {
		return bot.Shard{}, usageError("--shard-index: %v", err)
	}
	return s, nil
}

// loadBot reads a bot config; an invalid one is a usage error that lists
// every problem with its line.
func loadBot(path string) (*config.Bot, error) {
	b, err := config.LoadBot(path, forges.All())
	var problems problem.List
	if errors.As(err, &problems) {
		return nil, usageError("invalid bot config %s:\n%v", path, err)
	}
	if err != nil {
		return nil, usageError("%v", err)
	}
	return b, nil
}

// newRunner is the runner of run for the bot config b. The demo runs its
// pass with it too.
func newRunner(b *config.Bot, cfg runConfig, log *slog.Logger) (*bot.Runner, error) {
	client, err := registry.New(append([]registry.Option{registry.WithLogger(log)}, bot.RegistryOptions(b.Registries)...)...)
	if err != nil {
		return nil, usageError("registry settings: %v", err)
	}
	return &bot.Runner{
		Config:       b,
		Registry:     client,
		ForgeOptions: cfg.forgeOptions,
		DryRun:       cfg.dryRun,
		Logger:       log,
	}, nil
}

// runExit is the exit status of one pass over every repository: 2 when
// some repository's policy files are invalid, 1 when some pass failed.
func runExit(results []bot.Result) error {
	if st := bot.Statuses(results); st != bot.StatusOK {
		return &exitError{code: int(st)}
	}
	return nil
}

// serve runs passes on the schedule, and those webhook events ask for,
// until ctx is cancelled, with the metrics, health and webhook endpoints
// on b.Listen.
func serve(ctx context.Context, b *config.Bot, runner *bot.Runner, fwd *forwarding, log *slog.Logger) error {
	names := repositoryNames(b)
	reg := prometheus.NewRegistry()
	m := newMetrics(shardRegisterer(reg, runner.Shard), runner.Registry, names, slices.Sorted(maps.Keys(b.Webhooks.SecretFiles)))
	registerRuntime(reg)
	interest := bot.NewInterest(b.Repositories)
	// The daemon remembers each repository's last pass: an unchanged one
	// is not planned again (bot.Memo).
	if runner.Memo == nil {
		runner.Memo = &bot.Memo{}
	}
	var ready atomic.Bool
	board := bot.NewBoard(names)
	var firstRound atomic.Int32
	firstRound.Store(int32(len(names)))
	// A shard that owns no repository has no first round to wait for.
	ready.Store(len(names) == 0)
	s := &bot.Scheduler{
		Schedule:     b.Cron,
		Repositories: names,
		Debounce:     b.Webhooks.Debounce,
		Logger:       log,
		Skipped:      func(i int) { m.skipped.WithLabelValues(names[i]).Inc() },
		Round: func() func(context.Context, int) {
			pass := runner.Round()
			return func(ctx context.Context, i int) {
				res := pass(ctx, i)
				logResult(log, res)
				m.observe(res)
				board.Record(res, b.Cron.Next(time.Now()))
				interest.Observe(i, res)
				// Ready once every repository has had its first pass,
				// whatever its result.
				if firstRound.Load() > 0 && firstRound.Add(-1) == 0 {
					ready.Store(true)
				}
			}
		},
	}
	mux := http.NewServeMux()
	hooks := webhookHandler(b.Webhooks, s, interest, runner.Memo, m, board, log)
	local := hooks.Deliver
	if fwd != nil {
		// An event from a sender may concern other shards' repositories:
		// it is forwarded to them once; a forwarded one is only handled here.
		hooks.Deliver = func(ev webhook.Event) {
			local(ev)
			fwd.forward(ctx, ev, log)
		}
		forwarded := &webhook.ForwardHandler{
			Secret:  fwd.secret,
			MaxBody: b.Webhooks.MaxBodyBytes,
			Deliver: func(ev webhook.Event, from string) {
				log.Info("forwarded webhook event", "from", "shard "+from, "source", string(ev.Source), "event", ev.Kind)
				local(ev)
			},
			Count: func(result string) { m.webhooks.WithLabelValues("forwarded", result).Inc() },
		}
		forwarded.Register(mux)
	}

	// The endpoints of listen, one line each.
	mux.Handle("GET /metrics", metricsHandler(reg))
	mux.HandleFunc("GET /healthz", healthz(s))
	mux.HandleFunc("GET /readyz", readyz(&ready))
	hooks.Register(mux) // POST /webhooks/{source}[/{secret}]
	mux.Handle("GET /{$}", board.Page())
	mux.Handle("GET /api/v1/status", board.API())

	ln, err := net.Listen("tcp", b.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", b.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("imagebump running", "listen", ln.Addr().String(), "schedule", b.Schedule, "repositories", len(b.Repositories),
		"webhooks", strings.Join(slices.Sorted(maps.Keys(b.Webhooks.SecretFiles)), ","))

	err = s.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	log.Info("imagebump stopped")
	return err
}

// webhookHandler serves the webhook sources of w: an accepted event asks
// s for a pass of each repository it concerns; every request is counted.
// The status page lists the event with what it did. A git event makes the
// repositories it names forget their last pass (memo), so that their
// next pass observes what changed on the forge even if the tip did not
// move.
func webhookHandler(w config.Webhooks, s *bot.Scheduler, interest *bot.Interest, memo *bot.Memo, m *metrics, board *bot.Board, log *slog.Logger) *webhook.Handler {
	return &webhook.Handler{
		MaxBody: w.MaxBodyBytes,
		Secret: func(src webhook.Source) ([]byte, bool, error) {
			file, ok := w.SecretFiles[string(src)]
			if !ok {
				return nil, false, nil
			}
			b, err := os.ReadFile(file)
			if err != nil {
				log.Error("reading a webhook secret", "source", string(src), "err", err)
				return nil, true, err
			}
			return bytes.TrimSpace(b), true, nil
		},
		Deliver: func(ev webhook.Event) {
			for _, u := range ev.Repositories {
				memo.Forget(u)
			}
			targets := interest.Match(ev)
			var triggered []string
			for _, i := range targets {
				if s.Trigger(i) {
					m.triggered.WithLabelValues(s.Repositories[i]).Inc()
					triggered = append(triggered, s.Repositories[i])
				}
			}
			log.Info("webhook event", "source", string(ev.Source), "event", ev.Kind, "images", strings.Join(ev.Images, " "), "passes", strings.Join(triggered, " "))
			result := "concerns no repository"
			if len(triggered) > 0 {
				result = "pass scheduled: " + strings.Join(triggered, ", ")
			} else if len(targets) > 0 {
				result = "no pass scheduled: the scheduler is not running yet"
			}
			board.RecordEvent(string(ev.Source)+" "+ev.Kind, strings.Join(ev.Repositories, " "), strings.Join(ev.Images, " "), result, time.Now())
		},
		Count: func(src webhook.Source, result string) {
			m.webhooks.WithLabelValues(string(src), result).Inc()
		},
	}
}

// healthz fails (503) when the scheduler has not started a due pass of
// some repository for several intervals: a hung scheduler or a pass that
// never returns.
func healthz(s *bot.Scheduler) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if stalled := s.Stalled(time.Now()); len(stalled) > 0 {
			http.Error(w, "no pass started for several scheduled intervals: "+strings.Join(stalled, ", "), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// shardRegisterer is reg, whose metrics carry a shard label when the
// runner owns one shard of several, so that the replicas' series stay
// apart however they are scraped.
func shardRegisterer(reg prometheus.Registerer, s bot.Shard) prometheus.Registerer {
	if !s.Sharded() {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"shard": strconv.Itoa(s.Index)}, reg)
}

// readyz succeeds once the first pass over every repository has finished.
func readyz(ready *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "the first pass has not finished", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// botLogger is the logger of run: the config's log.format, or when it
// names none JSON unless stderr is a terminal; level from the config.
func botLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" || (c.Format != "json" && isTerminal(w)) {
		return slog.New(redacting{slog.NewTextHandler(w, opts)})
	}
	return slog.New(redacting{slog.NewJSONHandler(w, opts)})
}

// redacting is a slog.Handler that removes the user information of every
// URL in a message or a string or error value, whichever package logs
// it: the config refuses such URLs, and this makes sure none is shown.
type redacting struct{ slog.Handler }

func (h redacting) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, config.RedactURLs(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, nr)
}

func (h redacting) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = redactAttr(a)
	}
	return redacting{h.Handler.WithAttrs(out)}
}

func (h redacting) WithGroup(name string) slog.Handler {
	return redacting{h.Handler.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, config.RedactURLs(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i, g := range as {
			out[i] = redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, config.RedactURLs(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logResult logs one line per pass.
func logResult(log *slog.Logger, res bot.Result) {
	attrs := []any{"repository", res.Repository, "mode", string(res.Mode), "duration", res.Duration.Round(time.Millisecond).String()}
	if res.Unchanged {
		attrs = append(attrs, "unchanged", true)
	}
	if res.Plan != nil {
		attrs = append(attrs, "changes", len(res.Plan.Changes), "problems", len(res.Plan.Problems))
	}
	var selected []string
	for _, p := range res.Policies {
		if p.Err != nil {
			log.Warn("policy failed", "repository", res.Repository, "policy", p.Policy.Name(), "err", bot.OneLine(p.Err))
			continue
		}
		selected = append(selected, p.Policy.Name()+"="+p.Tag)
	}
	if len(selected) > 0 {
		attrs = append(attrs, "selected", strings.Join(selected, " "))
	}
	if res.Plan != nil {
		for _, p := range res.Plan.Problems {
			log.Warn("problem", "repository", res.Repository, "file", p.File, "line", p.Line, "message", p.Message)
		}
	}
	if res.Pushed != nil && res.Pushed.Commit != "" {
		attrs = append(attrs, "commit", res.Pushed.Commit, "branch", res.Pushed.Branch, "attempts", res.Pushed.Attempts)
	}
	logSkips(log, res)
	for _, pr := range res.PullRequests {
		if pr.Err != nil {
			log.Error("pull request action failed", "repository", res.Repository, "group", pr.Group, "branch", pr.Branch, "action", string(pr.Action), "err", bot.OneLine(pr.Err))
		}
	}
	switch {
	case res.Err != nil:
		log.Error("pass failed", append(attrs, "err", bot.OneLine(res.Err))...)
	case res.Failed():
		log.Warn("pass finished with failures", attrs...)
	default:
		log.Info("pass finished", attrs...)
	}
}

// printDryRun prints what a dry-run pass would have done.
func printDryRun(out io.Writer, res bot.Result) {
	fmt.Fprintf(out, "%s (%s, dry run)\n", res.Repository, res.Mode)
	if res.Err != nil {
		fmt.Fprintf(out, "  failed: %s\n", bot.OneLine(res.Err))
		return
	}
	printFieldSkips(out, res)
	if res.Mode == config.Push {
		if res.Commit == nil {
			fmt.Fprintln(out, "  nothing to change")
			return
		}
		fmt.Fprintf(out, "  would commit %d file(s) and push:\n", len(res.Commit.Files))
		for _, c := range res.Commit.Changes {
			fmt.Fprintf(out, "    %s: %s %s → %s (%s)\n", c.File, c.Image, c.OldVersion(), c.NewVersion(), c.Field)
		}
		printDryRunCommit(out, res)
		return
	}
	if len(res.PullRequests) == 0 {
		fmt.Fprintln(out, "  no pull request groups")
	}
	for _, pr := range res.PullRequests {
		d := pr.Decision
		fmt.Fprintf(out, "  %s %s%s: %s", d.Action, d.Branch, skipLabel(string(d.Skip)), d.Reason)
		if d.Number > 0 {
			fmt.Fprintf(out, " (#%d)", d.Number)
		}
		fmt.Fprintln(out)
		if d.Action == pullrequest.ActionCreate || d.Action == pullrequest.ActionUpdate || d.Action == pullrequest.ActionUpdateText {
			fmt.Fprintf(out, "    title: %s\n", d.Title)
			for _, l := range strings.Split(strings.TrimRight(d.Body, "\n"), "\n") {
				fmt.Fprintf(out, "    | %s\n", l)
			}
		}
		if pr.Err != nil {
			fmt.Fprintf(out, "    failed: %s\n", bot.OneLine(pr.Err))
		}
	}
}

// printDryRunCommit prints the commit a push mode dry run would push: its
// author and message, as git log shows them, and the unified diff of every
// file it changes, indented under the repository.
func printDryRunCommit(out io.Writer, res bot.Result) {
	if res.CommitMessage != "" {
		fmt.Fprintf(out, "\n  Author: %s\n\n", escape(res.CommitAuthor))
		for _, l := range strings.Split(strings.TrimRight(res.CommitMessage, "\n"), "\n") {
			if l == "" {
				fmt.Fprintln(out)
				continue
			}
			fmt.Fprintf(out, "      %s\n", l)
		}
	}
	if res.Plan == nil {
		return
	}
	for _, f := range res.Plan.Files {
		fmt.Fprintln(out)
		d := udiff.Unified("a/"+f.Path, "b/"+f.Path, string(f.Old), string(f.New))
		for _, l := range strings.SplitAfter(d, "\n") {
			if l != "" {
				fmt.Fprint(out, "  "+l)
			}
		}
	}
}

// progressLines writes the complete lines of a clone's or fetch's progress
// ("Counting objects: 100% (5005/5005), done.") to w, each after prefix:
// one line per phase and repository, without the in-place updates git
// separates with carriage returns, which concurrent repositories would
// garble.
type progressLines struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *progressLines) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexAny(p.buf, "\r\n")
		if i < 0 {
			return len(b), nil
		}
		line, sep := p.buf[:i], p.buf[i]
		p.buf = p.buf[i+1:]
		if sep == '\n' && len(bytes.TrimSpace(line)) > 0 {
			fmt.Fprintf(p.w, "%s: %s\n", p.prefix, escape(string(bytes.TrimSpace(line))))
		}
	}
}
