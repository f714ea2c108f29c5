package main

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/registry"
)

// series gathers reg and returns "name{labels} value" for every series
// of the named families, sorted.
func series(t *testing.T, reg *prometheus.Registry, names ...string) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, fmt.Sprintf("%s{%s} %v", f.GetName(), strings.Join(labels, ","), v))
		}
	}
	sort.Strings(out)
	return out
}

func resolution(name string, err error) bot.Resolution {
	return bot.Resolution{Policy: &config.Policy{Policy: policy.MustNew(policy.Spec{Name: name, Image: "ghcr.io/acme/" + name, SemVer: ">=1"})}, Err: err}
}

func newTestMetrics(t *testing.T, repos, sources []string) (*metrics, *prometheus.Registry) {
	t.Helper()
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return newMetrics(reg, client, repos, sources), reg
}

func TestMetricsStartAtZero(t *testing.T) {
	_, reg := newTestMetrics(t, []string{"https://git/a.git", "https://git/b.git"}, []string{"gitlab"})
	want := []string{
		`imagebump_passes_total{repository="https://git/a.git",result="failed"} 0`,
		`imagebump_passes_total{repository="https://git/a.git",result="invalid"} 0`,
		`imagebump_passes_total{repository="https://git/a.git",result="success"} 0`,
		`imagebump_passes_total{repository="https://git/b.git",result="failed"} 0`,
		`imagebump_passes_total{repository="https://git/b.git",result="invalid"} 0`,
		`imagebump_passes_total{repository="https://git/b.git",result="success"} 0`,
		`imagebump_webhook_events_total{result="accepted",source="gitlab"} 0`,
		`imagebump_webhook_events_total{result="bad_request",source="gitlab"} 0`,
		`imagebump_webhook_events_total{result="failed",source="gitlab"} 0`,
		`imagebump_webhook_events_total{result="too_large",source="gitlab"} 0`,
		`imagebump_webhook_events_total{result="unauthorized",source="gitlab"} 0`,
	}
	if diff := cmp.Diff(want, series(t, reg, "imagebump_passes_total", "imagebump_webhook_events_total")); diff != "" {
		t.Errorf("series at start (-want +got):\n%s", diff)
	}
	if got := series(t, reg, "imagebump_last_successful_pass_timestamp_seconds"); got != nil {
		t.Errorf("last success before any pass = %v, want absent (the never-succeeded alert uses absent())", got)
	}
	for _, s := range []string{"imagebump_passes_skipped_total", "imagebump_changes_applied_total", "imagebump_passes_triggered_total"} {
		if got := series(t, reg, s); len(got) != 2 {
			t.Errorf("%s at start = %v, want one series per repository", s, got)
		}
	}
}

func TestMetricsBuildInfo(t *testing.T) {
	_, reg := newTestMetrics(t, nil, nil)
	got := series(t, reg, "imagebump_build_info")
	v, c := versionInfo()
	if len(got) != 1 || !strings.Contains(got[0], fmt.Sprintf(`commit=%q`, c)) || !strings.Contains(got[0], fmt.Sprintf(`version=%q`, v)) ||
		!strings.Contains(got[0], `goversion="go`) || !strings.HasSuffix(got[0], "} 1") {
		t.Errorf("imagebump_build_info = %v", got)
	}
}

func TestMetricsPolicySeriesFollowThePolicies(t *testing.T) {
	m, reg := newTestMetrics(t, []string{"r"}, nil)
	failing := func() []string { return series(t, reg, "imagebump_policy_failing") }
	pass := func(res bot.Result) {
		res.Repository = "r"
		m.observe(res)
	}
	plan := &patcher.Plan{}
	pass(bot.Result{Plan: plan, Policies: []bot.Resolution{resolution("web", nil), resolution("api", errors.New("no tag"))}})
	want := []string{`imagebump_policy_failing{policy="api",repository="r"} 1`, `imagebump_policy_failing{policy="web",repository="r"} 0`}
	if diff := cmp.Diff(want, failing()); diff != "" {
		t.Fatalf("after the first pass (-want +got):\n%s", diff)
	}
	// A pass that stopped before reading the policies says nothing of them.
	pass(bot.Result{Err: errors.New("syncing the working copy: timeout")})
	if diff := cmp.Diff(want, failing()); diff != "" {
		t.Errorf("after a failed sync (-want +got):\n%s", diff)
	}
	// The failing policy was deleted: its series goes, so its alert resolves.
	pass(bot.Result{Plan: plan, Policies: []bot.Resolution{resolution("web", nil)}})
	if diff := cmp.Diff([]string{`imagebump_policy_failing{policy="web",repository="r"} 0`}, failing()); diff != "" {
		t.Errorf("after the policy was removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		`imagebump_passes_total{repository="r",result="failed"} 2`,
		`imagebump_passes_total{repository="r",result="invalid"} 0`,
		`imagebump_passes_total{repository="r",result="success"} 1`,
	}, series(t, reg, "imagebump_passes_total")); diff != "" {
		t.Errorf("passes (-want +got):\n%s", diff)
	}
}
