package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
)

// TestPushMetricsGroupsByShard: within one Pushgateway group a push
// replaces every series of the metric names it carries, so the pods of a
// sharded CronJob must each push to a group of their own; an unsharded
// run keeps the job's group alone.
func TestPushMetricsGroupsByShard(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "imagebump_test_total", Help: "test"})
	reg.MustRegister(c)
	cfg := config.Pushgateway{URL: srv.URL, Job: "imagebump"}
	for _, s := range []bot.Shard{{Count: 1}, {Count: 3, Index: 0}, {Count: 3, Index: 2}} {
		if err := pushMetrics(t.Context(), cfg, reg, s); err != nil {
			t.Fatalf("pushMetrics(%v): %v", s, err)
		}
	}
	want := []string{
		"POST /metrics/job/imagebump",
		"POST /metrics/job/imagebump/shard/0",
		"POST /metrics/job/imagebump/shard/2",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("push requests (-want +got):\n%s", diff)
	}
}
