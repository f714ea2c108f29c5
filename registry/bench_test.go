package registry

import (
	"fmt"
	"testing"

	"github.com/imagebump/imagebump/test/registrytest"
)

// BenchmarkTags lists one repository of 5,000 tags, each op in a fresh
// Pass (so it pings too, as the bot's first listing of a pass does).
// Run it with test/bench/registry.sh. It reports the requests per op by
// kind; docker-registry 2.8 ignores n= and answers in one page, the
// paginated in-process registry in five.
func BenchmarkTags(b *testing.B) {
	const n = 5000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.%d.%d", i/100, i%100)
	}
	for _, bc := range []struct {
		name  string
		start func(testing.TB) *registrytest.Registry
	}{
		{"real", func(tb testing.TB) *registrytest.Registry { return registrytest.Start(tb) }},
		{"in-process", func(tb testing.TB) *registrytest.Registry { return registrytest.StartInProcess(tb) }},
		{"in-process-paginated", func(tb testing.TB) *registrytest.Registry {
			return registrytest.StartInProcess(tb, registrytest.WithMiddleware(paginate(tags, pageSize, 0)))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bc.start(b)
			r.Seed(b, "app", tags...)
			c, err := New()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				got, err := c.Pass().Tags(b.Context(), r.Repo("app"))
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != n {
					b.Fatalf("%d tags, want %d", len(got), n)
				}
			}
			k := kinds(c.Counts())
			for _, kind := range []Kind{KindTags, KindPing} {
				b.ReportMetric(float64(k[kind])/float64(b.N), string(kind)+"-req/op")
			}
		})
	}
}
