package main

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagebump/imagebump/bot"
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
}

func newMetrics(reg prometheus.Registerer, client *registry.Client) *metrics {
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
	}
	reg.MustRegister(m.passes, m.duration, m.skipped, m.changes, m.prActions, m.policyFailing, m.lastSuccess, requestCollector{client})
	return m
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
	for _, p := range res.Policies {
		v := 0.0
		if p.Err != nil {
			v = 1
		}
		m.policyFailing.WithLabelValues(res.Repository, p.Policy.Name()).Set(v)
	}
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
