package bot

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
)

// fleetURLs are n repository URLs of the shapes configs hold.
func fleetURLs(n int) []string {
	out := make([]string, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = fmt.Sprintf("https://github.com/acme/service-%d.git", i)
		case 1:
			out[i] = fmt.Sprintf("ssh://git@gitlab.example.com:2222/platform/team-%d/deploy.git", i)
		default:
			out[i] = fmt.Sprintf("git@github.com:acme/app%d.git", i)
		}
	}
	return out
}

// TestShardOfPinned pins a few assignments: processes of one fleet may run
// different versions during a rollout, and must agree. A change here
// reassigns every fleet's repositories; make it only on purpose. The
// wanted owners were computed by a separate Python implementation of the
// same definition (FNV-1a 64 of ShardKey, xor the SplitMix64 finaliser of
// index+0x9e3779b97f4a7c15, finalised again; highest score wins, the lower
// index on a tie), not by ShardOf.
func TestShardOfPinned(t *testing.T) {
	tests := []struct {
		url   string
		count int
		want  int
	}{
		{"https://github.com/acme/fleet.git", 1, 0},
		{"https://github.com/acme/fleet.git", 2, 0},
		{"https://github.com/acme/fleet.git", 4, 0},
		{"https://github.com/acme/fleet.git", 16, 0},
		{"git@github.com:acme/fleet.git", 4, 3},
		{"ssh://git@gitlab.example.com/platform/deploy.git", 3, 0},
		{"http://127.0.0.1:8080/acme/a.git", 5, 3},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.url, tc.count), func(t *testing.T) {
			if got := ShardOf(tc.url, tc.count); got != tc.want {
				t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.url, tc.count, got, tc.want)
			}
		})
	}
}

func TestShardKey(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"https without user info", "https://github.com/acme/fleet.git", "https://github.com/acme/fleet.git"},
		{"https token", "https://x-access-token:s3cr3t@github.com/acme/fleet.git", "https://github.com/acme/fleet.git"},
		{"https user", "https://bot@github.com/acme/fleet.git", "https://github.com/acme/fleet.git"},
		{"ssh URL", "ssh://git@gitlab.example.com:2222/platform/deploy.git", "ssh://gitlab.example.com:2222/platform/deploy.git"},
		{"scp-like", "git@github.com:acme/fleet.git", "github.com:acme/fleet.git"},
		{"scp-like without user", "github.com:acme/fleet.git", "github.com:acme/fleet.git"},
		{"local path", "/srv/git/fleet.git", "/srv/git/fleet.git"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ShardKey(tc.url); got != tc.want {
				t.Errorf("ShardKey(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

// TestShardOfIgnoresUserInfo: a credential or user name in the URL never
// decides the owner.
func TestShardOfIgnoresUserInfo(t *testing.T) {
	for _, count := range []int{2, 3, 7, 32} {
		for i := range 200 {
			plain := fmt.Sprintf("https://github.com/acme/r%d.git", i)
			withUser := fmt.Sprintf("https://user:pw%d@github.com/acme/r%d.git", i, i)
			if a, b := ShardOf(plain, count), ShardOf(withUser, count); a != b {
				t.Fatalf("count %d: %s → %d but %s → %d", count, plain, a, withUser, b)
			}
		}
	}
}

// TestShardPartition: over the same URLs, the shards of one count are a
// partition: each URL is owned by exactly one, and the owner is in range.
func TestShardPartition(t *testing.T) {
	urls := fleetURLs(500)
	for _, count := range []int{0, 1, 2, 3, 4, 7, 10, 64} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			n := max(count, 1)
			for _, u := range urls {
				owners := 0
				for i := range n {
					if (Shard{Index: i, Count: count}).Owns(u) {
						owners++
					}
				}
				if owners != 1 {
					t.Fatalf("%s has %d owners among %d shards, want 1", u, owners, n)
				}
				if s := ShardOf(u, count); s < 0 || s >= n {
					t.Fatalf("ShardOf(%s, %d) = %d, outside [0, %d)", u, count, s, n)
				}
			}
		})
	}
}

// TestShardResize is the rendezvous property, checked on random fleets:
// growing from n to n+1 shards moves repositories only to the new shard,
// and about 1/(n+1) of them; shrinking by removing the last shard moves
// only that shard's repositories. Balance: no shard holds far more than
// its share.
func TestShardResize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const repos = 6000
	urls := make([]string, repos)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://git.example.com/team-%d/repo-%x.git", rng.IntN(100), rng.Uint64())
	}
	for n := 1; n <= 12; n++ {
		moved := 0
		load := make([]int, n+1)
		for _, u := range urls {
			before, after := ShardOf(u, n), ShardOf(u, n+1)
			load[after]++
			if before == after {
				continue
			}
			moved++
			if after != n {
				t.Fatalf("%d → %d shards: %s moved from %d to %d, not to the new shard %d", n, n+1, u, before, after, n)
			}
		}
		// Expected moves: repos/(n+1); allow 20% either side (the
		// standard deviation is below 2% of repos here).
		want := float64(repos) / float64(n+1)
		if f := float64(moved); f < 0.8*want || f > 1.2*want {
			t.Errorf("%d → %d shards moved %d of %d repositories, want about %.0f", n, n+1, moved, repos, want)
		}
		for i, l := range load {
			if f := float64(l); f < 0.8*want || f > 1.2*want {
				t.Errorf("%d shards: shard %d owns %d of %d repositories, want about %.0f", n+1, i, l, repos, want)
			}
		}
	}
}

func TestShardFilter(t *testing.T) {
	var repos []config.Repository
	for _, u := range fleetURLs(60) {
		repos = append(repos, config.Repository{URL: u})
	}
	const count = 4
	seen := map[string]int{}
	for i := range count {
		got := Shard{Index: i, Count: count}.Filter(repos)
		last := -1
		for _, r := range got {
			seen[r.URL]++
			if ShardOf(r.URL, count) != i {
				t.Errorf("shard %d kept %s, owned by %d", i, r.URL, ShardOf(r.URL, count))
			}
			// Config order is kept.
			at := -1
			for j := range repos {
				if repos[j].URL == r.URL {
					at = j
				}
			}
			if at <= last {
				t.Errorf("shard %d: %s out of config order", i, r.URL)
			}
			last = at
		}
	}
	for _, r := range repos {
		if seen[r.URL] != 1 {
			t.Errorf("%s kept by %d shards, want 1", r.URL, seen[r.URL])
		}
	}
	if got := (Shard{}).Filter(repos); len(got) != len(repos) {
		t.Errorf("the zero Shard kept %d of %d repositories", len(got), len(repos))
	}
}

func TestShardValidate(t *testing.T) {
	tests := []struct {
		shard Shard
		ok    bool
	}{
		{Shard{}, true},
		{Shard{Index: 0, Count: 1}, true},
		{Shard{Index: 3, Count: 4}, true},
		{Shard{Index: 4, Count: 4}, false},
		{Shard{Index: -1, Count: 4}, false},
		{Shard{Index: 1, Count: 1}, false},
		{Shard{Index: 1, Count: 0}, false},
		{Shard{Index: 0, Count: -2}, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d of %d", tc.shard.Index, tc.shard.Count), func(t *testing.T) {
			if err := tc.shard.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestShardIndexFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    int
		from    string
		wantErr bool
	}{
		{name: "nothing set", env: nil, want: 0, from: ""},
		{name: "indexed job", env: map[string]string{"JOB_COMPLETION_INDEX": "3"}, want: 3, from: "JOB_COMPLETION_INDEX"},
		{name: "pod-index label", env: map[string]string{"POD_INDEX": "2"}, want: 2, from: "POD_INDEX"},
		{name: "statefulset pod name", env: map[string]string{"POD_NAME": "imagebump-shard-11"}, want: 11, from: "POD_NAME"},
		{name: "job index wins over pod name", env: map[string]string{"JOB_COMPLETION_INDEX": "1", "POD_NAME": "imagebump-5"}, want: 1, from: "JOB_COMPLETION_INDEX"},
		{name: "pod-index label wins over pod name", env: map[string]string{"POD_INDEX": "4", "POD_NAME": "imagebump-5"}, want: 4, from: "POD_INDEX"},
		{name: "bad job index", env: map[string]string{"JOB_COMPLETION_INDEX": "x"}, from: "JOB_COMPLETION_INDEX", wantErr: true},
		{name: "negative pod index", env: map[string]string{"POD_INDEX": "-1"}, from: "POD_INDEX", wantErr: true},
		{name: "deployment pod name", env: map[string]string{"POD_NAME": "imagebump-7f9c-abcde"}, from: "POD_NAME", wantErr: true},
		{name: "pod name without dash", env: map[string]string{"POD_NAME": "7"}, from: "POD_NAME", wantErr: true},
		{name: "pod name with sign", env: map[string]string{"POD_NAME": "imagebump-+1"}, from: "POD_NAME", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := ShardIndexFromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(struct {
				Index int
				From  string
			}{tc.want, tc.from}, struct {
				Index int
				From  string
			}{got, from}); diff != "" {
				t.Errorf("ShardIndexFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResultCarriesShard: every pass result says the runner's shard, even
// a pass that fails early, so that status and metrics can show it.
func TestResultCarriesShard(t *testing.T) {
	dir := t.TempDir() // no policy files: the pass plans nothing
	for _, shard := range []Shard{{}, {Index: 2, Count: 3}} {
		wc := &fakeCopy{dir: dir}
		r := runner(t, config.Push, wc, false)
		r.Shard = shard
		if res := r.pass(t.Context(), newFake(), r.Config.Repositories[0]); res.Shard != shard {
			t.Errorf("Result.Shard = %+v, want the runner's %+v", res.Shard, shard)
		}
		r.Open = func(config.Repository) (WorkingCopy, error) { return nil, errNoBranches }
		if res := r.pass(t.Context(), newFake(), r.Config.Repositories[0]); res.Err == nil || res.Shard != shard {
			t.Errorf("failed pass: Err %v, Shard %+v; want an error and the runner's %+v", res.Err, res.Shard, shard)
		}
	}
}
