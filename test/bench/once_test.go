package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/registry"
	"github.com/imagebump/imagebump/test/gitserver"
	"github.com/imagebump/imagebump/test/registrytest"
)

// BenchmarkOnceWarm times bot.Runner.Once in-process over one warm working
// copy of a repository like BenchmarkRunOnce's (500 files, 5 marked
// policies, nothing new): the per-repository cost of a warm `run --once`
// without the 20-repository setup, for profiling (-cpuprofile). A warm
// pass here is sync (fetch, status check), load, scan, resolve and plan.
func BenchmarkOnceWarm(b *testing.B) {
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg := registrytest.Start(b)
	for i := range runPolicies {
		reg.Seed(b, fmt.Sprintf("acme/app%d", i), "1.0.0", "1.1.0", "1.2.0")
	}
	git := gitserver.Start(b, gitserver.WithToken(runToken))
	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(runToken), 0o600); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{".imagebump.yaml": policies(reg)}
	for f := range runFiles {
		files[fmt.Sprintf("apps/app%d/manifest-%03d.yaml", f%runPolicies, f)] = manifest(reg, f)
	}
	url := git.NewRepo(b, "fleet/repo", files)
	cfgPath := filepath.Join(dir, "imagebump.yaml")
	conf := fmt.Sprintf("schedule: \"@hourly\"\nworkDir: %s\nrepositories:\n  - url: %s\n    mode: push\n    auth: {tokenFile: %s}\n", filepath.Join(dir, "work"), url, token)
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadBot(cfgPath, forges.All())
	if err != nil {
		b.Fatal(err)
	}
	client, err := registry.New(bot.RegistryOptions(cfg.Registries)...)
	if err != nil {
		b.Fatal(err)
	}
	r := &bot.Runner{Config: cfg, Registry: client}
	once := func() {
		for _, res := range r.Once(context.Background()) {
			if res.Failed() || res.Commit != nil {
				b.Fatalf("pass over %s: failed %v, err %v, commit %v", res.Repository, res.Failed(), res.Err, res.Commit)
			}
		}
	}
	once() // the working copy exists
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		once()
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	// CPU time depends far less than wall time on the load of a shared
	// machine. It includes the test's git server handler, which is light
	// (git http-backend itself runs in child processes).
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
