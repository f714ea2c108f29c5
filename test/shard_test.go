package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/bot"
)

// TestShardedRun runs `imagebump run --once` as N real processes over one
// bot config of many repositories in push mode, against the real registry
// and git server, tick after tick: every repository is processed by
// exactly one process per tick (one pass in the logs, one bot commit on
// its main branch), the partition is the same when the processes are
// restarted, and growing from 3 to 4 shards moves repositories only to the
// new shard.
func TestShardedRun(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	const repos = 12
	var urls []string
	names := map[string]string{} // URL → repository name on the server
	for i := range repos {
		name := fmt.Sprintf("acme/fleet-%02d", i)
		u := w.git.NewRepo(t, name, map[string]string{
			".imagebump.yaml":          "policies:\n  - name: web\n    image: " + w.reg.Repo("acme/web") + "\n    semver: ^1\n",
			"apps/web/deployment.yaml": deployment(w.reg.Repo("acme/web") + ":1.4.2"),
		})
		urls = append(urls, u)
		names[u] = name
	}
	cfg := w.config("push", "", urls...)

	// tick runs count processes at once, the index of odd ones from the
	// flag and of even ones from JOB_COMPLETION_INDEX as in an Indexed Job,
	// and returns which process passed over each repository.
	tick := func(count int) map[string][]int {
		t.Helper()
		owners := map[string][]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range count {
			wg.Go(func() {
				args := []string{"run", "--config", cfg, "--once", "--shards", strconv.Itoa(count)}
				env := append(os.Environ(), "DOCKER_CONFIG="+w.dir)
				if i%2 == 1 {
					args = append(args, "--shard-index", strconv.Itoa(i))
				} else {
					env = append(env, "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
				}
				cmd := exec.Command(binary(t), args...)
				cmd.Env = env
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					t.Errorf("shard %d of %d: %v\n%s", i, count, err, stderr.String())
					return
				}
				passed := passesLogged(t, stderr.Bytes(), fmt.Sprintf("%d/%d", i, count))
				mu.Lock()
				defer mu.Unlock()
				for _, r := range passed {
					owners[r] = append(owners[r], i)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for _, u := range urls {
			if len(owners[u]) != 1 {
				t.Errorf("%d shards: %s passed over by shards %v, want exactly one", count, u, owners[u])
			}
		}
		if len(owners) != len(urls) {
			t.Errorf("%d shards: passes over %d repositories, want the config's %d", count, len(owners), len(urls))
		}
		return owners
	}
	// commits checks that each repository holds want bot commits and its
	// deployment the tag.
	commits := func(want int, tag string) {
		t.Helper()
		for _, u := range urls {
			var n int
			for _, c := range w.git.Log(t, names[u], "main") {
				if c.Author.Email == botAuthor {
					n++
				}
			}
			if n != want {
				t.Errorf("%s: %d bot commits on main, want %d", names[u], n, want)
			}
			if got := w.git.ReadFile(t, names[u], "main", "apps/web/deployment.yaml"); !strings.Contains(got, ":"+tag+" #") {
				t.Errorf("%s: deployment.yaml is not at %s:\n%s", names[u], tag, got)
			}
		}
	}

	first := tick(3)
	commits(1, "1.5.0")
	if len(distinctOwners(first)) < 2 {
		t.Errorf("3 shards over %d repositories: only shards %v own any; the hash does not spread", repos, distinctOwners(first))
	}

	// Restarted processes, same count: the same partition.
	w.reg.Seed(t, "acme/web", "1.6.0")
	again := tick(3)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("the partition changed across restarts (-first +again):\n%s", diff)
	}
	commits(2, "1.6.0")

	// One more shard: only repositories that move to the new shard move.
	w.reg.Seed(t, "acme/web", "1.7.0")
	grown := tick(4)
	moved := 0
	for _, u := range urls {
		before, after := first[u][0], grown[u][0]
		if before == after {
			continue
		}
		moved++
		if after != 3 {
			t.Errorf("3 → 4 shards: %s moved from shard %d to %d, not to the new shard 3", names[u], before, after)
		}
	}
	t.Logf("3 → 4 shards moved %d of %d repositories", moved, repos)
	commits(3, "1.7.0")
}

// passesLogged returns the repositories of the "pass …" lines in a JSON
// log, checking that each line carries the shard.
func passesLogged(t *testing.T, log []byte, shard string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg        string `json:"msg"`
			Repository string `json:"repository"`
			Shard      string `json:"shard"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || !strings.HasPrefix(line.Msg, "pass ") || line.Msg == "pass started" {
			continue
		}
		if line.Shard != shard {
			t.Errorf("log line of shard %s says shard %q: %s", shard, line.Shard, sc.Text())
		}
		out = append(out, line.Repository)
	}
	return out
}

func distinctOwners(owners map[string][]int) []int {
	seen := map[int]bool{}
	for _, o := range owners {
		for _, i := range o {
			seen[i] = true
		}
	}
	var out []int
	for i := range seen {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// TestShardedDaemons runs `imagebump run` as two StatefulSet-like pods
// (the index from POD_NAME) over a config of one repository: the owner
// passes over it and labels its metrics with its shard; the other owns
// nothing, passes over nothing, and is ready all the same.
func TestShardedDaemons(t *testing.T) {
	w := newRunWorld(t)
	w.reg.Seed(t, "acme/web", "1.4.2", "1.5.0")
	w.fleet(nil)
	cfg := w.config("push", "")
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	owner := bot.ShardOf(w.url, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	// Registered first, so it runs after the processes' cleanups have
	// stopped them with SIGTERM.
	t.Cleanup(cancel)
	addrs := make([]string, 2)
	for i := range 2 {
		addrs[i] = closedPort(t)
		c := filepath.Join(w.dir, fmt.Sprintf("shard-%d.yaml", i))
		if err := os.WriteFile(c, bytes.Replace(src, []byte("listen: 127.0.0.1:0"), []byte("listen: "+addrs[i]), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, binary(t), "run", "--config", c)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+w.dir, "IMAGEBUMP_SHARDS=2", fmt.Sprintf("POD_NAME=imagebump-%d", i))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("shard %d after SIGTERM: %v\n%s", i, err, stderr.String())
			}
		})
	}
	get := httpGet
	for i, addr := range addrs {
		for ctx.Err() == nil {
			if code, _ := get(addr, "/readyz"); code == 200 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatalf("shard %d never became ready", i)
		}
		_, metrics := get(addr, "/metrics")
		passes := `imagebump_passes_total{repository="` + w.url + `",result="success",shard="` + strconv.Itoa(i) + `"} 1`
		if got := strings.Contains(metrics, passes); got != (i == owner) {
			t.Errorf("shard %d (owner %d): /metrics holds %s: %v\n%s", i, owner, passes, got, metrics)
		}
	}
	if n := len(w.botCommits("main")); n != 1 {
		t.Errorf("%d bot commits on main, want 1", n)
	}
}
