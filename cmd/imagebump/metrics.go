package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/bot/webhook"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/registry"
)

// metrics are what run exports on /metrics. They are derived from pass
// results only, so that bot stays free of Prometheus.
type metrics struct {
	passes        *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	skipped       *prometheus.CounterVec
	changes       *prometheus.CounterVec
	prActions     *prometheus.CounterVec
	policyFailing *prometheus.GaugeVec
	lastSuccess   *prometheus.GaugeVec
	triggered     *prometheus.CounterVec
	webhooks      *prometheus.CounterVec

	mu       sync.Mutex
	policies map[string]map[string]bool // by repository: the policies with a policy_failing series
}

// passResults are the values of imagebump_passes_total's result label.
var passResults = []string{"success", "failed", "invalid"}

// newMetrics registers the metrics of run on reg. Every series an alert
// counts on is there from the start at 0, for each of repos (the
// configured repository URLs) and each webhook source in sources, so that
// increase() sees the first failure; imagebump_last_successful_pass_timestamp_seconds
// is the exception, absent until a repository's first success (the
// "never succeeded" alert uses absent()).
func newMetrics(reg prometheus.Registerer, client *registry.Client, repos, sources []string) *metrics {
	m := &metrics{
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_passes_total",
			Help: "Update passes by repository and result (success, failed, invalid).",
		}, []string{"repository", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "imagebump_pass_duration_seconds",
			Help:    "Duration of update passes by repository.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"repository"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_passes_skipped_total",
			Help: "Passes skipped because the repository's previous pass had not finished.",
		}, []string{"repository"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_changes_applied_total",
			Help: "Marked values changed by pushed commits, by repository.",
		}, []string{"repository"}),
		prActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_pull_request_actions_total",
			Help: "Pull request actions carried out, by repository, action (create, update, close, ...) and result (ok, failed).",
		}, []string{"repository", "action", "result"}),
		policyFailing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imagebump_policy_failing",
			Help: "1 when the policy failed to resolve in the repository's last pass.",
		}, []string{"repository", "policy"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imagebump_last_successful_pass_timestamp_seconds",
			Help: "Unix time at which the repository's last pass without failures finished.",
		}, []string{"repository"}),
		triggered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_passes_triggered_total",
			Help: "Passes asked for by webhook events, by repository; events that coalesce into one pending pass count each.",
		}, []string{"repository"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagebump_webhook_events_total",
			Help: "Webhook requests by source and result (accepted, unauthorized, bad_request, too_large, failed).",
		}, []string{"source", "result"}),
		policies: map[string]map[string]bool{},
	}
	v, c := versionInfo()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "imagebump_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": v, "commit": c, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(m.passes, m.duration, m.skipped, m.changes, m.prActions, m.policyFailing, m.lastSuccess,
		m.triggered, m.webhooks, buildInfo, requestCollector{client})
	for _, r := range repos {
		for _, res := range passResults {
			m.passes.WithLabelValues(r, res)
		}
		m.skipped.WithLabelValues(r)
		m.changes.WithLabelValues(r)
		m.triggered.WithLabelValues(r)
	}
	for _, s := range sources {
		for _, res := range webhookResults {
			m.webhooks.WithLabelValues(s, res)
		}
	}
	return m
}

// registerRuntime adds the Go runtime and process collectors, which only
// a long-running bot exports (a pushed --once run would leave a dead
// process's figures in the Pushgateway).
func registerRuntime(reg prometheus.Registerer) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// observe records one pass. It is called from concurrent passes.
func (m *metrics) observe(res bot.Result) {
	result := "success"
	switch {
	case res.Invalid:
		result = "invalid"
	case res.Failed():
		result = "failed"
	}
	m.passes.WithLabelValues(res.Repository, result).Inc()
	m.duration.WithLabelValues(res.Repository).Observe(res.Duration.Seconds())
	m.policyStates(res)
	if res.Pushed != nil && res.Pushed.Commit != "" && res.Plan != nil {
		m.changes.WithLabelValues(res.Repository).Add(float64(len(res.Plan.Changes)))
	}
	if !res.DryRun {
		for _, pr := range res.PullRequests {
			if !pr.Writes() {
				continue
			}
			outcome := "ok"
			if pr.Err != nil {
				outcome = "failed"
			}
			m.prActions.WithLabelValues(res.Repository, string(pr.Action), outcome).Inc()
		}
	}
	if result == "success" {
		m.lastSuccess.WithLabelValues(res.Repository).Set(float64(res.Started.Add(res.Duration).Unix()))
	}
}

// policyStates sets imagebump_policy_failing for the policies res
// resolved and, when the pass read the repository's policies, deletes
// the series of the policies it no longer uses (removed, renamed, or no
// marker left), so that their alerts resolve.
func (m *metrics) policyStates(res bot.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if res.Plan == nil {
		// The pass stopped before it read the policies (and resolved
		// none): keep what the last one said.
		return
	}
	now := map[string]bool{}
	for _, p := range res.Policies {
		v := 0.0
		if p.Err != nil {
			v = 1
		}
		m.policyFailing.WithLabelValues(res.Repository, p.Policy.Name()).Set(v)
		now[p.Policy.Name()] = true
	}
	for name := range m.policies[res.Repository] {
		if !now[name] {
			m.policyFailing.DeleteLabelValues(res.Repository, name)
		}
	}
	m.policies[res.Repository] = now
}

// webhookResults are the values of imagebump_webhook_events_total's
// result label (webhook.Handler's results).
var webhookResults = []string{webhook.Accepted, webhook.Unauthorized, webhook.BadRequest, webhook.TooLarge, webhook.Failed}

// pushMetrics pushes what g gathered to the Pushgateway of cfg, replacing
// the families of the same names in the job's group (POST): a family this
// run exports, such as imagebump_policy_failing, loses the series of
// removed repositories and policies, while one it does not export, such as
// imagebump_last_successful_pass_timestamp_seconds after a run that
// failed everywhere, keeps the last pushed value.
func pushMetrics(ctx context.Context, cfg config.Pushgateway, g prometheus.Gatherer, shard bot.Shard) error {
	p := push.New(cfg.URL, cfg.Job).Gatherer(g)
	if shard.Sharded() {
		// Each shard's pod pushes its own group: within one group a push
		// replaces the series of every metric name it carries, so shards
		// sharing a group would erase each other's.
		p = p.Grouping("shard", strconv.Itoa(shard.Index))
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("pushing metrics to %s: %w", cfg.URL, err)
	}
	return nil
}

// requestCollector exports the registry client's own request counts, which
// cover every pass since start-up.
type requestCollector struct{ client *registry.Client }

var requestsDesc = prometheus.NewDesc("imagebump_registry_requests_total",
	"Requests sent to registries and their token servers, by host, kind and HTTP status code (0: no answer); every retry counts.",
	[]string{"host", "kind", "code"}, nil)

func (requestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- requestsDesc }

func (c requestCollector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range c.client.Counts() {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n.N), n.Host, string(n.Kind), strconv.Itoa(n.Code))
	}
}
