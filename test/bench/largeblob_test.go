package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
	"github.com/imagebump/imagebump/test/registrytest"
)

// BenchmarkLargeBlob is the memory a hostile commit can cost: a
// repository whose tip holds, beside one marked manifest, a file of
// LARGEBLOB_MB MiB (default 200) of random bytes, named like a manifest
// (the size bound keeps the patcher from reading it; the clone still
// carries it). One `run --once` pass in push mode against Debian's
// docker-registry and git http-backend on 127.0.0.1 clones it ("first");
// the next finds the working copy ("warm"). Reported: the pass's peak RSS.
//
//	go test -run '^$' -bench '^BenchmarkLargeBlob$' -benchtime 1x ./test/bench/
func BenchmarkLargeBlob(b *testing.B) {
	mib := envInt(b, "LARGEBLOB_MB", 200)
	bin := filepath.Join(b.TempDir(), "imagebump")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/imagebump").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	reg := registrytest.Start(b)
	reg.Seed(b, "acme/web", "1.0.0")
	git := gitserver.Start(b, gitserver.WithToken(runToken))
	url := git.NewRepo(b, "acme/big", map[string]string{
		".imagebump.yaml": fmt.Sprintf("policies:\n  - name: web\n    image: %s\n    semver: ^1\n", reg.Repo("acme/web")),
		"app.yaml":        fmt.Sprintf("image: %s:1.0.0 # {\"$imagepolicy\": \"web\"}\n", reg.Repo("acme/web")),
	})
	blob := make([]byte, mib<<20)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(blob)
	git.Commit(b, "acme/big", "main", "a large file", map[string]string{"data/big.yaml": string(blob)})
	blob = nil

	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(runToken), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "imagebump.yaml")
	body := fmt.Sprintf("schedule: \"@hourly\"\nworkDir: %s\nlog: {level: warn}\nrepositories:\n  - url: %s\n    mode: push\n    auth: {tokenFile: %s}\n",
		filepath.Join(dir, "work"), url, token)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	pass := func(b *testing.B) (rssKiB int64) {
		cmd, peak := measured(b, bin, "run", "--config", cfg, "--once")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
		if err := cmd.Run(); err != nil {
			b.Fatalf("run --once: %v\n%s", err, stderr.String())
		}
		if strings.Contains(stderr.String(), "level=ERROR") {
			b.Fatalf("run --once logged an error:\n%s", stderr.String())
		}
		return peak()
	}
	b.Run("first", func(b *testing.B) {
		var rss int64
		for b.Loop() {
			b.StopTimer()
			if err := os.RemoveAll(filepath.Join(dir, "work")); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			rss = max(rss, pass(b))
		}
		b.ReportMetric(float64(mib), "blob-MiB")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	})
	b.Run("warm", func(b *testing.B) {
		var rss int64
		for b.Loop() {
			rss = max(rss, pass(b))
		}
		b.ReportMetric(float64(mib), "blob-MiB")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	})
}
