package bot

import (
	"context"
	"fmt"
	"testing"

	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/registry"
	"github.com/imagebump/imagebump/test/registrytest"
)

// BenchmarkResolve20 resolves 20 semver policies over 10 repositories of
// the real registry on loopback, a fresh pass each time, half of them
// pinning digests. It reports the requests one pass sends.
func BenchmarkResolve20(b *testing.B) {
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg := registrytest.Start(b)
	var reqs []Request
	for i := range 10 {
		repo := fmt.Sprintf("acme/app%d", i)
		tags := make([]string, 50)
		for j := range tags {
			tags[j] = fmt.Sprintf("1.%d.%d", j/10, j%10)
		}
		reg.Seed(b, repo, tags...)
		for k, rng := range []string{"^1", "~1.2"} {
			p, err := policy.New(policy.Spec{Name: fmt.Sprintf("p%d-%d", i, k), Image: reg.Repo(repo), SemVer: rng})
			if err != nil {
				b.Fatal(err)
			}
			cp := atRoot(p)
			cp.PinDigest = k == 1
			reqs = append(reqs, Request{Policy: cp})
		}
	}
	client, err := registry.New()
	if err != nil {
		b.Fatal(err)
	}
	var last *registry.Pass
	for b.Loop() {
		last = client.Pass()
		for _, res := range (&Resolver{}).Resolve(context.Background(), last, reqs) {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	for _, c := range last.Counts() {
		b.ReportMetric(float64(c.N), string(c.Kind)+"-requests/op")
	}
}
