package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imagebump/imagebump/test/gitserver"
	"github.com/imagebump/imagebump/test/registrytest"
)

// envInt is the integer in the environment variable name, or def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// BenchmarkFleet is issue 20's fleet benchmark: FLEET_REPOS repositories
// (default 100; the figure is 1,000) of 20 files, each file marked
// with one of 50 images every repository shares, in push mode, against
// Debian's docker-registry and git http-backend on 127.0.0.1. Nothing is
// new, so a tick pushes nothing. After one cold tick it measures warm
// ticks: one process over every repository ("1-process"), then four
// processes at once, each owning one shard ("4-shards"). Reported per
// tick: CPU time of all processes (user+sys, steadier than wall on a
// loaded machine), CPU per repository, the largest peak RSS of a process,
// registry requests (and tag listings among them) and git requests.
// Then the daemon's ticks, in one process per shard (cmd/fleettick): CPU
// per repository of a tick without memory of the last pass and of one
// with it (bot.Memo: every repository unchanged, none planned);
// FLEET_CPUPROFILE=DIR writes a CPU profile of each process's ticks with
// memory there, FLEET_MEMPROFILE=DIR a heap profile of what each keeps
// after them.
//
//	FLEET_REPOS=1000 go test -run '^$' -bench '^BenchmarkFleet$' -benchtime 3x -timeout 60m ./test/bench/
func BenchmarkFleet(b *testing.B) {
	repos := envInt(b, "FLEET_REPOS", 100)
	const files, images = 20, 50
	bin := filepath.Join(b.TempDir(), "imagebump")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/imagebump").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var regRequests, tagLists atomic.Int64
	reg := registrytest.Start(b, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			regRequests.Add(1)
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				tagLists.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	var pols strings.Builder
	pols.WriteString("policies:\n")
	for i := range images {
		reg.Seed(b, fmt.Sprintf("acme/img%02d", i), "1.0.0", "1.1.0")
		fmt.Fprintf(&pols, "  - name: img%02d\n    image: %s\n    semver: ^1\n", i, reg.Repo(fmt.Sprintf("acme/img%02d", i)))
	}
	git := gitserver.Start(b, gitserver.WithToken(runToken))
	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(runToken), 0o600); err != nil {
		b.Fatal(err)
	}
	var conf strings.Builder
	for r := range repos {
		fs := map[string]string{".imagebump.yaml": pols.String()}
		for f := range files {
			img := (r*files + f) % images
			fs[fmt.Sprintf("apps/app%02d.yaml", f)] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%02d\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: %s:1.1.0 # {\"$imagepolicy\": \"img%02d\"}\n", f, reg.Repo(fmt.Sprintf("acme/img%02d", img)), img)
		}
		url := git.NewRepo(b, fmt.Sprintf("fleet/repo%04d", r), fs)
		fmt.Fprintf(&conf, "  - url: %s\n    mode: push\n    auth: {tokenFile: %s}\n", url, token)
	}
	cfg := filepath.Join(dir, "imagebump.yaml")
	body := fmt.Sprintf("schedule: \"@hourly\"\nworkDir: %s\nlog: {level: warn}\nrepositories:\n%s", filepath.Join(dir, "work"), conf.String())
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	// tick runs shards processes at once (1: unsharded) and returns their
	// CPU time in all and the largest peak RSS.
	tick := func(b *testing.B, shards int) (cpu time.Duration, maxRSSKiB int64) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range shards {
			wg.Go(func() {
				args := []string{"run", "--config", cfg, "--once"}
				if shards > 1 {
					args = append(args, "--shards", strconv.Itoa(shards), "--shard-index", strconv.Itoa(i))
				}
				cmd, peak := measured(b, bin, args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
				if err := cmd.Run(); err != nil {
					b.Errorf("run --once %v: %v\n%s", args, err, stderr.String())
					return
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				mu.Lock()
				defer mu.Unlock()
				cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
				maxRSSKiB = max(maxRSSKiB, peak())
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		return cpu, maxRSSKiB
	}
	tick(b, 1) // cold: the working copies
	for _, shards := range []int{1, 4} {
		name := "1-process"
		if shards > 1 {
			name = fmt.Sprintf("%d-shards", shards)
		}
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			var rss int64
			regRequests.Store(0)
			tagLists.Store(0)
			git.ResetTraffic()
			for b.Loop() {
				c, r := tick(b, shards)
				cpu += c
				rss = max(rss, r)
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(repos), "repos")
			b.ReportMetric(cpu.Seconds()/n, "cpu-s/tick")
			b.ReportMetric(cpu.Seconds()*1000/n/float64(repos), "cpu-ms/repo")
			b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(regRequests.Load())/n, "registry-req/tick")
			b.ReportMetric(float64(tagLists.Load())/n, "tag-lists/tick")
			b.ReportMetric(float64(git.Traffic().Requests)/n, "git-req/tick")
		})
	}
	// The daemon's ticks: fleettick runs two ticks per process, the first
	// without memory of a pass (run --once's work, without process
	// start-up), the second with bot.Memo, where every repository is
	// unchanged and is not planned.
	tickBin := filepath.Join(b.TempDir(), "fleettick")
	if out, err := exec.Command("go", "build", "-o", tickBin, "./cmd/fleettick").CombinedOutput(); err != nil {
		b.Fatalf("go build fleettick: %v\n%s", err, out)
	}
	for _, shards := range []int{1, 4} {
		name := "daemon-1-process"
		if shards > 1 {
			name = fmt.Sprintf("daemon-%d-shards", shards)
		}
		b.Run(name, func(b *testing.B) {
			var cold, warm time.Duration
			var rss int64
			for b.Loop() {
				var mu sync.Mutex
				var wg sync.WaitGroup
				unchanged := 0
				for i := range shards {
					wg.Go(func() {
						args := []string{"-config", cfg, "-ticks", "2", "-shards", strconv.Itoa(shards), "-shard-index", strconv.Itoa(i)}
						if d := os.Getenv("FLEET_CPUPROFILE"); d != "" {
							args = append(args, "-cpuprofile", filepath.Join(d, fmt.Sprintf("%s-%d.pprof", name, i)))
						}
						if d := os.Getenv("FLEET_MEMPROFILE"); d != "" {
							args = append(args, "-memprofile", filepath.Join(d, fmt.Sprintf("%s-%d.heap", name, i)))
						}
						cmd, peak := measured(b, tickBin, args...)
						var stdout, stderr bytes.Buffer
						cmd.Stdout, cmd.Stderr = &stdout, &stderr
						cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
						if err := cmd.Run(); err != nil {
							b.Errorf("fleettick: %v\n%s", err, stderr.String())
							return
						}
						mu.Lock()
						defer mu.Unlock()
						for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
							var t, n, u, f int
							var ns int64
							if _, err := fmt.Sscanf(line, "tick=%d repos=%d unchanged=%d failed=%d cpu_ns=%d", &t, &n, &u, &f, &ns); err != nil {
								b.Errorf("fleettick printed %q: %v", line, err)
								return
							}
							if f > 0 {
								b.Errorf("fleettick shard %d tick %d: %d passes failed\n%s", i, t, f, stderr.String())
							}
							if t == 0 {
								cold += time.Duration(ns)
							} else {
								warm += time.Duration(ns)
								unchanged += u
							}
						}
						rss = max(rss, peak())
					})
				}
				wg.Wait()
				if unchanged != repos {
					b.Errorf("%d of %d repositories unchanged on the second tick, want all", unchanged, repos)
				}
				if b.Failed() {
					b.FailNow()
				}
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(repos), "repos")
			b.ReportMetric(cold.Seconds()*1000/n/float64(repos), "cpu-ms/repo-no-memo")
			b.ReportMetric(warm.Seconds()*1000/n/float64(repos), "cpu-ms/repo-unchanged")
			b.ReportMetric(warm.Seconds()/n, "cpu-s/unchanged-tick")
			b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
		})
	}
}
