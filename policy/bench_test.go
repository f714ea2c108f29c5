package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchTags returns n distinct tags shaped like a busy repository's, in
// random order: 70% releases over five majors (so a range like
// ">=1.0.0 <3.0.0" drops 40% of them as outside), 10% prereleases, 10%
// branch builds and 10% signatures.
func benchTags(n int) []string {
	r := rand.New(rand.NewPCG(7, 7))
	tags := make([]string, n)
	for i := range tags {
		major, minor, patch := i%5, (i/5)%200, i/1000
		switch i % 10 {
		case 7:
			tags[i] = fmt.Sprintf("%d.%d.%d-rc.%d", major, minor, patch, i%3)
		case 8:
			tags[i] = fmt.Sprintf("main-%07x-%d", r.Uint32()&0xfffffff, 1700000000+i)
		case 9:
			tags[i] = fmt.Sprintf("sha256-%064x.sig", i)
		default:
			tags[i] = fmt.Sprintf("v%d.%d.%d", major, minor, patch)
		}
	}
	r.Shuffle(n, func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	return tags
}

func BenchmarkSelectSemVer(b *testing.B) {
	tags := benchTags(100_000)
	p := MustNew(Spec{Name: "web", Image: "r/web", SemVer: ">=1.0.0 <3.0.0"})
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Select(tags); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tags)), "ns/tag")
}

func BenchmarkExplainSemVer(b *testing.B) {
	tags := benchTags(100_000)
	p := MustNew(Spec{Name: "web", Image: "r/web", SemVer: ">=1.0.0 <3.0.0"})
	for b.Loop() {
		p.Explain(tags)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tags)), "ns/tag")
}
