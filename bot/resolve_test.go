package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/registry"
	"github.com/imagebump/imagebump/test/registrytest"
)

func mustPolicy(t *testing.T, s policy.Spec) *config.Policy {
	t.Helper()
	p, err := policy.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return atRoot(p)
}

// atRoot places p on line 2 of a root policy file.
func atRoot(p *policy.Policy) *config.Policy {
	return &config.Policy{Policy: p, File: ".imagebump.yaml", Line: 2}
}

// newClient returns a registry client that sees no credentials of the
// machine it runs on and retries without waiting long.
func newClient(t *testing.T) *registry.Client {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c, err := registry.New(registry.WithRetryBackoff(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func count(cs []registry.Count, kind registry.Kind) int64 {
	var n int64
	for _, c := range cs {
		if c.Kind == kind {
			n += c.N
		}
	}
	return n
}

func TestResolve(t *testing.T) {
	reg := registrytest.StartInProcess(t)
	webDigest := reg.Seed(t, "acme/web", "1.0.0", "1.4.2", "2.0.0", "latest")
	reg.Seed(t, "acme/api", "main-abc-100", "main-def-99", "pr-1-500")
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	reg.Push(t, "acme/multi:1.1.0", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: t0},
		registrytest.ImageSpec{Platform: "linux/arm64/v8", Created: t0}))
	reg.Push(t, "acme/multi:1.2.0", registrytest.NewImage(t, registrytest.ImageSpec{Platform: "linux/amd64", Created: t0.Add(24 * time.Hour)}))
	reg.Push(t, "acme/multi:1.3.0", registrytest.NewIndex(t,
		registrytest.ImageSpec{Platform: "linux/amd64", Created: t0.Add(9 * 24 * time.Hour)},
		registrytest.ImageSpec{Platform: "linux/arm64", Created: t0.Add(9 * 24 * time.Hour)}))

	web := mustPolicy(t, policy.Spec{Name: "web", Image: reg.Repo("acme/web"), SemVer: "^1"})
	pinned := mustPolicy(t, policy.Spec{Name: "pinned", Image: reg.Repo("acme/web"), SemVer: "<2"})
	pinned.PinDigest = true
	api := mustPolicy(t, policy.Spec{Name: "api", Image: reg.Repo("acme/api"), Numerical: policy.Asc,
		Filter: &policy.Filter{Pattern: `^main-[a-f0-9]+-(?P<n>\d+)$`, Extract: "$n"}})
	track := mustPolicy(t, policy.Spec{Name: "track", Image: reg.Repo("acme/web"), Track: "latest"})
	plat := mustPolicy(t, policy.Spec{Name: "plat", Image: reg.Repo("acme/multi"), SemVer: "*",
		Platforms: []string{"linux/amd64", "linux/arm64"}, MinAge: 72 * time.Hour})
	missing := mustPolicy(t, policy.Spec{Name: "missing", Image: reg.Repo("acme/nope"), SemVer: "*"})
	nomatch := mustPolicy(t, policy.Spec{Name: "nomatch", Image: reg.Repo("acme/web"), SemVer: ">=3"})
	noplat := mustPolicy(t, policy.Spec{Name: "noplat", Image: reg.Repo("acme/multi"), SemVer: "*", Platforms: []string{"windows/amd64"}})

	r := &Resolver{Now: func() time.Time { return t0.Add(10 * 24 * time.Hour) }}
	got := r.Resolve(context.Background(), newClient(t).Pass(), []Request{
		{Policy: web}, {Policy: web, Digest: true}, {Policy: pinned}, {Policy: api}, {Policy: track},
		{Policy: plat}, {Policy: missing}, {Policy: nomatch}, {Policy: noplat},
	})
	type result struct {
		Tag, Digest string
		Rejected    []Rejection
		Err         string
	}
	var gotR []result
	for _, res := range got {
		r := result{Tag: res.Tag, Digest: res.Digest, Rejected: res.Rejected}
		if res.Err != nil {
			r.Err = res.Err.Error()
		}
		gotR = append(gotR, r)
	}
	want := []result{
		{Tag: "1.4.2"},
		{Tag: "1.4.2", Digest: webDigest},
		{Tag: "1.4.2", Digest: webDigest},
		{Tag: "main-abc-100"},
		{Tag: "latest", Digest: webDigest},
		{Tag: "1.1.0", Rejected: []Rejection{
			{Tag: "1.3.0", Reason: "created 24h0m0s ago, younger than minAge 72h0m0s"},
			{Tag: "1.2.0", Reason: "lacks platform linux/arm64"},
		}},
		{Err: fmt.Sprintf(`policy "missing" (.imagebump.yaml:2): listing tags of %s: `, reg.Repo("acme/nope"))},
		{Err: `policy "nomatch" (.imagebump.yaml:2): no tag matches: 4 seen, dropped: 1 not semver, 3 outside range`},
		{Rejected: []Rejection{
			{Tag: "1.3.0", Reason: "lacks platform windows/amd64"},
			{Tag: "1.2.0", Reason: "lacks platform windows/amd64"},
			{Tag: "1.1.0", Reason: "lacks platform windows/amd64"},
		}, Err: `policy "noplat" (.imagebump.yaml:2): no candidate passes the platforms and minAge checks: 3 candidates (1.3.0: lacks platform windows/amd64; 1.2.0: lacks platform windows/amd64; 1.1.0: lacks platform windows/amd64)`},
	}
	// The registry's own words for a missing repository are its business;
	// compare only the part imagebump writes, and that it is said once.
	if e := gotR[6].Err; strings.Count(e, "listing tags of") != 1 {
		t.Errorf("the error says what it was doing more than once: %s", e)
	}
	if e := gotR[6].Err; len(e) > len(want[6].Err) {
		gotR[6].Err = e[:len(want[6].Err)]
	}
	if diff := cmp.Diff(want, gotR); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}
	if !errors.Is(got[7].Err, policy.ErrNoMatch) || !errors.Is(got[8].Err, ErrNoCandidate) {
		t.Errorf("errors do not wrap their sentinels: %v, %v", got[7].Err, got[8].Err)
	}
}

// TestResolveRequestCounts checks the request budget of a pass against the
// real registry: 20 semver policies over 10 repositories on one host list
// each repository once, fetch no manifest, ping the host once; pinning adds
// one HEAD per selected tag.
func TestResolveRequestCounts(t *testing.T) {
	reg := registrytest.Start(t)
	var reqs []Request
	for i := range 10 {
		repo := fmt.Sprintf("acme/app%d", i)
		reg.Seed(t, repo, "1.0.0", "1.1.0", "2.0.0", "latest")
		reqs = append(reqs,
			Request{Policy: mustPolicy(t, policy.Spec{Name: fmt.Sprintf("a%d", i), Image: reg.Repo(repo), SemVer: "^1"})},
			Request{Policy: mustPolicy(t, policy.Spec{Name: fmt.Sprintf("b%d", i), Image: reg.Repo(repo), SemVer: "*"})})
	}
	client := newClient(t)
	pass := client.Pass()
	for _, res := range (&Resolver{}).Resolve(context.Background(), pass, reqs) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	counts := pass.Counts()
	if n := count(counts, registry.KindTags); n != 10 {
		t.Errorf("%d tag list requests, want 10: %v", n, counts)
	}
	if n := count(counts, registry.KindManifestGet) + count(counts, registry.KindManifestHead); n != 0 {
		t.Errorf("%d manifest requests, want 0: %v", n, counts)
	}
	if n := count(counts, registry.KindPing); n > 1 {
		t.Errorf("%d pings, want at most 1: %v", n, counts)
	}

	// Pinning: one HEAD per selected tag (1.1.0 and 2.0.0 in each repository).
	for i := range reqs {
		pinned := *reqs[i].Policy
		pinned.PinDigest = true
		reqs[i].Policy = &pinned
	}
	pass = client.Pass()
	for _, res := range (&Resolver{}).Resolve(context.Background(), pass, reqs) {
		if res.Err != nil || res.Digest == "" {
			t.Fatalf("%s: digest %q, error %v", res.Policy.Name(), res.Digest, res.Err)
		}
	}
	counts = pass.Counts()
	if n := count(counts, registry.KindManifestHead); n != 20 {
		t.Errorf("%d manifest HEADs, want 20 (one per selected tag): %v", n, counts)
	}
	if n := count(counts, registry.KindManifestGet); n != 0 {
		t.Errorf("%d manifest GETs, want 0: %v", n, counts)
	}
}

// TestResolveLazyRequests checks that the platforms and minAge checks cost
// requests per candidate examined, not per tag: the best two candidates
// fail the platform check and the third passes, whether the repository
// holds 50 or 400 more tags below them.
func TestResolveLazyRequests(t *testing.T) {
	requests := func(filler int) []registry.Count {
		reg := registrytest.StartInProcess(t)
		var tags []string
		for i := range filler {
			tags = append(tags, fmt.Sprintf("1.0.%d", i))
		}
		old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		reg.SeedImage(t, "acme/app", registrytest.ImageSpec{Platform: "linux/amd64", Created: old}, tags...)
		reg.Push(t, "acme/app:2.0.2", registrytest.NewImage(t, registrytest.ImageSpec{Platform: "linux/amd64", Created: old}))
		reg.Push(t, "acme/app:2.0.1", registrytest.NewImage(t, registrytest.ImageSpec{Platform: "linux/amd64", Created: old}))
		reg.Push(t, "acme/app:2.0.0", registrytest.NewIndex(t,
			registrytest.ImageSpec{Platform: "linux/amd64", Created: old},
			registrytest.ImageSpec{Platform: "linux/arm64", Created: old}))
		p := mustPolicy(t, policy.Spec{Name: "app", Image: reg.Repo("acme/app"), SemVer: "*",
			Platforms: []string{"linux/arm64"}, MinAge: time.Hour})
		pass := newClient(t).Pass()
		res := (&Resolver{}).Resolve(context.Background(), pass, []Request{{Policy: p}})[0]
		if res.Err != nil || res.Tag != "2.0.0" || len(res.Rejected) != 2 {
			t.Fatalf("resolved %q, rejected %v, error %v; want 2.0.0 after 2 rejections", res.Tag, res.Rejected, res.Err)
		}
		counts := pass.Counts()
		for i := range counts {
			counts[i].Host = "" // each run has its own port
		}
		return counts
	}
	few, many := requests(50), requests(400)
	if diff := cmp.Diff(few, many); diff != "" {
		t.Errorf("requests grow with the number of tags (-50 tags +400 tags):\n%s", diff)
	}
	// Per candidate a HEAD for its digest and a GET of its manifest; the
	// single images a config blob for their platform; the passing index a
	// GET and a config blob per platform image for its age: 3+3+2+2+2.
	if n := count(few, registry.KindManifestGet) + count(few, registry.KindManifestHead) + count(few, registry.KindBlob); n > 12 {
		t.Errorf("%d manifest and blob requests for 3 candidates examined: %v", n, few)
	}
	t.Logf("requests: %v", few)
}
