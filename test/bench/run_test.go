package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagebump/imagebump/test/gitserver"
	"github.com/imagebump/imagebump/test/registrytest"
)

const (
	runRepos    = 20
	runFiles    = 500 // per repository
	runPolicies = 5   // per repository, over shared images
	runToken    = "bench-token"
)

// BenchmarkRunOnce runs the built binary's `run --once` over 20
// repositories of 500 files, each with 5 marked policies over 5 images that
// all repositories share, against Debian's docker-registry and git
// http-backend on 127.0.0.1. Nothing is new, so a pass pushes nothing.
// "cold" starts from an empty workDir (20 shallow clones), "warm" from the
// working copies of the previous pass. Reported per pass: registry tag
// listings, git pack bytes received, pushes, and the process's peak RSS.
func BenchmarkRunOnce(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "imagebump")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/imagebump").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var tagLists atomic.Int64
	reg := registrytest.Start(b, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				tagLists.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	for i := range runPolicies {
		reg.Seed(b, fmt.Sprintf("acme/app%d", i), "1.0.0", "1.1.0", "1.2.0")
	}
	git := gitserver.Start(b, gitserver.WithToken(runToken))
	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(runToken), 0o600); err != nil {
		b.Fatal(err)
	}
	var repos strings.Builder
	for r := range runRepos {
		files := map[string]string{".imagebump.yaml": policies(reg)}
		for f := range runFiles {
			files[fmt.Sprintf("apps/app%d/manifest-%03d.yaml", f%runPolicies, f)] = manifest(reg, f)
		}
		url := git.NewRepo(b, fmt.Sprintf("fleet/repo%02d", r), files)
		fmt.Fprintf(&repos, "  - url: %s\n    mode: push\n    auth: {tokenFile: %s}\n", url, token)
	}
	workDir := filepath.Join(dir, "work")
	cfg := filepath.Join(dir, "imagebump.yaml")
	conf := fmt.Sprintf("schedule: \"@hourly\"\nworkDir: %s\nlog: {level: warn}\nrepositories:\n%s", workDir, repos.String())
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	once := func(b *testing.B) (maxRSSKiB int64) {
		cmd, peak := measured(b, bin, "run", "--config", cfg, "--once")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
		if err := cmd.Run(); err != nil {
			b.Fatalf("run --once: %v\n%s", err, stderr.String())
		}
		return peak()
	}
	report := func(b *testing.B, rss int64) {
		t := git.Traffic()
		b.ReportMetric(float64(tagLists.Load())/float64(b.N), "tag-lists/op")
		b.ReportMetric(float64(t.PackBytes)/float64(b.N), "git-pack-B/op")
		b.ReportMetric(float64(t.ReceivePackPosts)/float64(b.N), "pushes/op")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	}
	b.Run("cold", func(b *testing.B) {
		var rss int64
		tagLists.Store(0)
		git.ResetTraffic()
		for b.Loop() {
			b.StopTimer()
			if err := os.RemoveAll(workDir); err != nil {
				b.Fatal(err)
			}
			tagLists.Store(0)
			git.ResetTraffic()
			b.StartTimer()
			rss = max(rss, once(b))
		}
		b.StopTimer()
		report(b, rss)
	})
	b.Run("warm", func(b *testing.B) {
		once(b) // the working copies exist
		var rss int64
		tagLists.Store(0)
		git.ResetTraffic()
		for b.Loop() {
			rss = max(rss, once(b))
		}
		b.StopTimer()
		report(b, rss)
	})
}

func policies(reg *registrytest.Registry) string {
	var s strings.Builder
	s.WriteString("policies:\n")
	for i := range runPolicies {
		fmt.Fprintf(&s, "  - name: app%d\n    image: %s\n    semver: ^1\n", i, reg.Repo(fmt.Sprintf("acme/app%d", i)))
	}
	return s.String()
}

// manifest is file f of a repository: every other one carries a marker
// already at the newest tag.
func manifest(reg *registrytest.Registry, f int) string {
	p := f % runPolicies
	image := fmt.Sprintf("%s:1.2.0", reg.Repo(fmt.Sprintf("acme/app%d", p)))
	marker := ""
	if f%2 == 0 {
		marker = fmt.Sprintf(` # {"$imagepolicy": "app%d"}`, p)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%[1]d-%[2]d
  labels: {team: t%[1]d}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: %[3]s%[4]s
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
`, p, f, image, marker)
}
