package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/registrytest"
)

// TestTagsFaults injects failures in front of go-containerregistry's
// in-process registry and checks what the user sees: the tags or the
// error text, the waits between attempts, and how many tags/list requests
// went out.
func TestTagsFaults(t *testing.T) {
	ms := time.Millisecond
	seeded := []string{"1.0.0", "1.1.0", "2.0.0"}
	paged := []string{"a", "b", "c", "d", "e", "f"}
	for _, tc := range []struct {
		name    string
		mw      func(http.Handler) http.Handler
		opts    []Option
		want    []string
		wantErr string // %[1]s is the registry host
		waits   []time.Duration
		// tagsRequests is the number of tags/list requests sent.
		tagsRequests int64
	}{{
		name:         "429 without Retry-After, then success",
		mw:           failTags(1, http.StatusTooManyRequests, ""),
		want:         seeded,
		waits:        []time.Duration{1 * ms},
		tagsRequests: 2,
	}, {
		name:         "429 with Retry-After in seconds is honoured",
		mw:           failTags(2, http.StatusTooManyRequests, "7"),
		want:         seeded,
		waits:        []time.Duration{7 * time.Second, 7 * time.Second},
		tagsRequests: 3,
	}, {
		name:         "429 with Retry-After of 30s is still honoured",
		mw:           failTags(1, http.StatusTooManyRequests, "30"),
		want:         seeded,
		waits:        []time.Duration{30 * time.Second},
		tagsRequests: 2,
	}, {
		name:         "429 with Retry-After over 30s fails at once",
		mw:           failTags(1, http.StatusTooManyRequests, "120"),
		wantErr:      `listing tags of %[1]s/app: Get "http://%[1]s/v2/app/tags/list?n=1000": 429 Too Many Requests: registry asks to retry after 2m0s, longer than the 30s imagebump waits`,
		tagsRequests: 1,
	}, {
		name:         "500 then success",
		mw:           failTags(1, http.StatusInternalServerError, ""),
		want:         seeded,
		waits:        []time.Duration{1 * ms},
		tagsRequests: 2,
	}, {
		name:         "503 three times, then success on the fourth and last attempt",
		mw:           failTags(3, http.StatusServiceUnavailable, ""),
		want:         seeded,
		waits:        []time.Duration{1 * ms, 2 * ms, 4 * ms},
		tagsRequests: 4,
	}, {
		name:         "503 on every attempt gives up after four",
		mw:           failTags(100, http.StatusServiceUnavailable, ""),
		wantErr:      `listing tags of %[1]s/app: GET http://%[1]s/v2/app/tags/list?n=1000: UNAVAILABLE: injected 503`,
		waits:        []time.Duration{1 * ms, 2 * ms, 4 * ms},
		tagsRequests: 4,
	}, {
		name:         "404 is not retried",
		mw:           failTags(1, http.StatusNotFound, ""),
		wantErr:      `listing tags of %[1]s/app: GET http://%[1]s/v2/app/tags/list?n=1000: UNAVAILABLE: injected 404`,
		tagsRequests: 1,
	}, {
		name:         "a timeout is retried",
		mw:           hangTags(1),
		opts:         []Option{WithTimeout(100 * ms)},
		want:         seeded,
		waits:        []time.Duration{1 * ms},
		tagsRequests: 2,
	}, {
		name:         "timeouts on every attempt",
		mw:           hangTags(100),
		opts:         []Option{WithTimeout(50 * ms)},
		wantErr:      `listing tags of %[1]s/app: Get "http://%[1]s/v2/app/tags/list?n=1000": no response within 50ms (4 attempts)`,
		waits:        []time.Duration{1 * ms, 2 * ms, 4 * ms},
		tagsRequests: 4,
	}, {
		name:         "three pages",
		mw:           paginate(paged, 2, 0),
		want:         paged,
		tagsRequests: 3,
	}, {
		name:         "500 on page 2 of 3 is an error, not a partial list",
		mw:           paginate(paged, 2, 2),
		wantErr:      `listing tags of %[1]s/app: GET http://%[1]s/v2/app/tags/list?last=b&n=2: unexpected status code 500 Internal Server Error: injected failure`,
		waits:        []time.Duration{1 * ms, 2 * ms, 4 * ms},
		tagsRequests: 1 + 4,
	}, {
		name:         "malformed JSON",
		mw:           rawTags(http.StatusOK, `{"name":"app","tags":["1.0.0",`),
		wantErr:      `listing tags of %[1]s/app: malformed registry response: unexpected EOF`,
		tagsRequests: 1,
	}, {
		name:         "JSON of the wrong shape",
		mw:           rawTags(http.StatusOK, `{"name":"app","tags":"1.0.0"}`),
		wantErr:      `listing tags of %[1]s/app: malformed registry response: json: cannot unmarshal string into Go struct field .tags of type []string`,
		tagsRequests: 1,
	}, {
		name:         "not JSON at all",
		mw:           rawTags(http.StatusOK, `<html>proxy error</html>`),
		wantErr:      `listing tags of %[1]s/app: malformed registry response: invalid character '<' looking for beginning of value`,
		tagsRequests: 1,
	}, {
		name:         "a Link to another host is refused",
		mw:           linkTags(`<http://elsewhere.example/v2/app/tags/list?n=1000&last=a>; rel="next"`, `["a"]`),
		wantErr:      `listing tags of %[1]s/app: registry %[1]s links the next page of app to another host, elsewhere.example`,
		tagsRequests: 1,
	}, {
		name:         "a Link back to the same page is refused",
		mw:           linkTags(`</v2/app/tags/list?n=1000>; rel="next"`, `["a"]`),
		wantErr:      `listing tags of %[1]s/app: registry pagination loops back to http://%[1]s/v2/app/tags/list?n=1000`,
		tagsRequests: 1,
	}, {
		name:         "a page repeating tags is refused",
		mw:           linkTags(`</v2/app/tags/list?n=1000&last=b>; rel="next"`, `["a","b"]`),
		wantErr:      `listing tags of %[1]s/app: registry listed tags of page 2 again while paginating; refusing a possibly partial list`,
		tagsRequests: 2,
	}, {
		name:         "a malformed Link",
		mw:           linkTags(`http://x/>; rel="next"`, `["a"]`),
		wantErr:      `listing tags of %[1]s/app: malformed Link header "http://x/>; rel=\"next\""`,
		tagsRequests: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := registrytest.StartInProcess(t, registrytest.WithMiddleware(tc.mw))
			r.Seed(t, "app", seeded...)
			var s sleeps
			c := newClient(t, &s, tc.opts...)

			got, err := c.Tags(t.Context(), r.Repo("app"))
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			wantErr := ""
			if tc.wantErr != "" {
				wantErr = fmt.Sprintf(tc.wantErr, r.Host)
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.waits, s.get()); diff != "" {
				t.Errorf("waits between attempts (-want +got):\n%s", diff)
			}
			if got := count(c.Counts(), r.Host, KindTags); got != tc.tagsRequests {
				t.Errorf("%d tags/list requests, want %d", got, tc.tagsRequests)
			}
		})
	}
}

func TestTagsErrorsAreTyped(t *testing.T) {
	r := registrytest.StartInProcess(t, registrytest.WithMiddleware(failTags(1, http.StatusTooManyRequests, "3600")))
	c := newClient(t, nil)
	_, err := c.Tags(t.Context(), r.Repo("app"))
	var rae *RetryAfterError
	if !errors.As(err, &rae) {
		t.Fatalf("error %v is not a *RetryAfterError", err)
	}
	if rae.Wait != time.Hour {
		t.Errorf("RetryAfterError.Wait = %s, want 1h", rae.Wait)
	}
}

func TestTagsMissingRepository(t *testing.T) {
	r := registrytest.StartInProcess(t)
	r.Seed(t, "app", "1.0.0")
	c := newClient(t, nil)
	_, err := c.Tags(t.Context(), r.Repo("nope"))
	want := fmt.Sprintf("listing tags of %[1]s/nope: repository nope not found on %[1]s", r.Host)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("error %v is not a *NotFoundError", err)
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"12", 12 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := retryAfter(tc.in, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryAfter(%q) = %s, %t; want %s, %t", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestTagsFullPagesWithoutLink covers registries that cut a listing at n
// without a Link header, go-containerregistry's in-process one among them,
// and registries that ignore n and last altogether.
func TestTagsFullPagesWithoutLink(t *testing.T) {
	many := make([]string, 2*pageSize+pageSize/2)
	for i := range many {
		many[i] = fmt.Sprintf("t%05d", i)
	}
	exact := many[:pageSize]
	for _, tc := range []struct {
		name         string
		mw           func(http.Handler) http.Handler
		want         []string
		tagsRequests int64
	}{
		{"cut at n, honours last", nil, many, 3},
		{"ignores n and last, exactly n tags", ignoreN(exact), exact, 2},
		{"ignores n and last, more than n tags", ignoreN(many), many, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []registrytest.Option
			if tc.mw != nil {
				opts = append(opts, registrytest.WithMiddleware(tc.mw))
			}
			r := registrytest.StartInProcess(t, opts...)
			r.Seed(t, "app", tc.want...)
			c := newClient(t, nil)
			got, err := c.Tags(t.Context(), r.Repo("app"))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if n := count(c.Counts(), r.Host, KindTags); n != tc.tagsRequests {
				t.Errorf("%d tags/list requests, want %d", n, tc.tagsRequests)
			}
		})
	}
}

// TestCountsByStatus checks that every attempt is counted with the status
// code it got, and an attempt that got no answer with code 0.
func TestCountsByStatus(t *testing.T) {
	r := registrytest.StartInProcess(t, registrytest.WithMiddleware(failTags(2, http.StatusServiceUnavailable, "")))
	r.Seed(t, "app", "1.0.0")
	c := newClient(t, nil)
	if _, err := c.Tags(t.Context(), r.Repo("app")); err != nil {
		t.Fatal(err)
	}
	var got []Count
	for _, n := range c.Counts() {
		if n.Kind == KindTags {
			got = append(got, n)
		}
	}
	want := []Count{{Host: r.Host, Kind: KindTags, Code: 200, N: 1}, {Host: r.Host, Kind: KindTags, Code: 503, N: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags counts (-want +got):\n%s", diff)
	}

	down := newClient(t, nil, WithAttempts(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := down.Tags(t.Context(), addr+"/app"); err == nil {
		t.Fatal("listing from a closed port succeeded")
	}
	for _, n := range down.Counts() {
		if n.Code != 0 {
			t.Errorf("a request to a closed port counted with code %d: %+v", n.Code, n)
		}
	}
	if len(down.Counts()) == 0 {
		t.Error("a request to a closed port was not counted")
	}
}
