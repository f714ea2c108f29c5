package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagebump/imagebump/bot"
)

// TestRunShard: the shard of run from its flags and the environment
// Kubernetes gives the pod; every inconsistency is a usage error.
func TestRunShard(t *testing.T) {
	tests := []struct {
		name       string
		shards     int // --shards; 0 when not given
		index      int // --shard-index; -1 when not given
		env        map[string]string
		want       bot.Shard
		usageError bool
	}{
		{name: "unsharded", index: -1, want: bot.Shard{Index: 0, Count: 1}},
		{name: "unsharded ignores the job index", index: -1, env: map[string]string{"JOB_COMPLETION_INDEX": "3"}, want: bot.Shard{Index: 0, Count: 1}},
		{name: "flags", shards: 4, index: 2, want: bot.Shard{Index: 2, Count: 4}},
		{name: "flags win over the environment", shards: 4, index: 2, env: map[string]string{"IMAGEBUMP_SHARDS": "8", "JOB_COMPLETION_INDEX": "7"}, want: bot.Shard{Index: 2, Count: 4}},
		{name: "indexed job", index: -1, env: map[string]string{"IMAGEBUMP_SHARDS": "3", "JOB_COMPLETION_INDEX": "2"}, want: bot.Shard{Index: 2, Count: 3}},
		{name: "statefulset pod-index label", index: -1, env: map[string]string{"IMAGEBUMP_SHARDS": "3", "POD_INDEX": "1"}, want: bot.Shard{Index: 1, Count: 3}},
		{name: "statefulset pod name", shards: 3, index: -1, env: map[string]string{"POD_NAME": "imagebump-2"}, want: bot.Shard{Index: 2, Count: 3}},
		{name: "no index for several shards", shards: 3, index: -1, usageError: true},
		{name: "index from the environment out of range", index: -1, env: map[string]string{"IMAGEBUMP_SHARDS": "3", "POD_NAME": "imagebump-3"}, usageError: true},
		{name: "index flag out of range", shards: 3, index: 3, usageError: true},
		{name: "index flag without shards", index: 1, usageError: true},
		{name: "negative shards", shards: -2, index: -1, usageError: true},
		{name: "bad IMAGEBUMP_SHARDS", index: -1, env: map[string]string{"IMAGEBUMP_SHARDS": "three"}, usageError: true},
		{name: "zero IMAGEBUMP_SHARDS", index: -1, env: map[string]string{"IMAGEBUMP_SHARDS": "0"}, usageError: true},
		{name: "bad pod name", shards: 2, index: -1, env: map[string]string{"POD_NAME": "imagebump-6d4cf-x7k2p"}, usageError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig{shards: tc.shards, shardIndex: tc.index, getenv: func(k string) string { return tc.env[k] }}
			got, err := cfg.shard()
			var ee *exitError
			if tc.usageError {
				if !errors.As(err, &ee) || ee.code != 2 {
					t.Fatalf("shard() = %v, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("shard() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestShardRegisterer: a sharded runner's metrics carry its shard as a
// label; an unsharded one's series are as before.
func TestShardRegisterer(t *testing.T) {
	tests := []struct {
		shard bot.Shard
		want  map[string]string
	}{
		{bot.Shard{}, map[string]string{}},
		{bot.Shard{Index: 0, Count: 1}, map[string]string{}},
		{bot.Shard{Index: 3, Count: 4}, map[string]string{"shard": "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.shard.String(), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "imagebump_test_total", Help: "test"})
			shardRegisterer(reg, tc.shard).MustRegister(c)
			c.Inc()
			mfs, err := reg.Gather()
			if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
				t.Fatalf("gathered %v, %v", mfs, err)
			}
			got := map[string]string{}
			for _, l := range mfs[0].GetMetric()[0].GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}
