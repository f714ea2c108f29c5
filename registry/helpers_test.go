package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sleeps records the waits of retries instead of sleeping them, so tests
// check the backoff and Retry-After policy without taking seconds.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) option() Option {
	return func(o *options) error {
		o.sleep = func(ctx context.Context, d time.Duration) error {
			s.mu.Lock()
			s.d = append(s.d, d)
			s.mu.Unlock()
			return ctx.Err()
		}
		return nil
	}
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newClient builds a client with a millisecond backoff and waits
// recorded in s (when not nil).
func newClient(t *testing.T, s *sleeps, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithRetryBackoff(time.Millisecond)}
	if s != nil {
		base = append(base, s.option())
	}
	c, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// count returns the number of requests of kind to host in counts.
func count(counts []Count, host string, kind Kind) int64 {
	var n int64
	for _, c := range counts {
		if c.Host == host && c.Kind == kind {
			n += c.N
		}
	}
	return n
}

// kinds sums counts by kind over all hosts.
func kinds(counts []Count) map[Kind]int64 {
	m := map[Kind]int64{}
	for _, c := range counts {
		m[c.Kind] += c.N
	}
	return m
}

func isTagsList(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/tags/list") }

// firstTags answers the first n tags/list requests with h and passes the
// rest through.
func firstTags(n int, h http.HandlerFunc) func(http.Handler) http.Handler {
	var mu sync.Mutex
	seen := 0
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isTagsList(r) {
				mu.Lock()
				seen++
				mine := seen <= n
				mu.Unlock()
				if mine {
					h(w, r)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// failTags answers the first n tags/list requests with status (and a
// Retry-After header when retryAfter is not empty), then passes through.
func failTags(n int, status int, retryAfter string) func(http.Handler) http.Handler {
	return firstTags(n, func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected %d"}]}`, status)
	})
}

// hangTags makes the first n tags/list requests wait until the client
// gives up on them.
func hangTags(n int) func(http.Handler) http.Handler {
	return firstTags(n, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
}

// rawTags answers every tags/list request with body.
func rawTags(status int, body string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isTagsList(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprint(w, body)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// paginate serves tags/list of any repository from tags, pageSize at a
// time (or n if smaller), with Link headers as the distribution spec
// describes; go-containerregistry's in-process registry sends none. A
// request for page failPage (1-based) gets a 500, every time.
func paginate(tags []string, pageSize, failPage int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isTagsList(r) {
				next.ServeHTTP(w, r)
				return
			}
			size := pageSize
			if n, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && n < size {
				size = n
			}
			start := 0
			if last := r.URL.Query().Get("last"); last != "" {
				for i, tg := range tags {
					if tg == last {
						start = i + 1
					}
				}
			}
			if start/pageSize+1 == failPage {
				http.Error(w, "injected failure", http.StatusInternalServerError)
				return
			}
			end := min(start+size, len(tags))
			if end < len(tags) {
				w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%s>; rel="next"`, r.URL.Path, size, tags[end-1]))
			}
			repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags[start:end]})
		})
	}
}

// tokenAuth puts a bearer-token handshake in front of a registry: /v2/
// and every repository answer 401 with a Bearer challenge unless the
// request carries the token for that repository's pull scope, which
// /token hands out (to user:password, or to anyone when user is empty).
// It counts tokens issued per scope.
type tokenAuth struct {
	user, password string
	// echo makes /token answer 401 with the credentials it was sent in
	// the body, like a careless token server would.
	echo bool

	mu     sync.Mutex
	issued map[string]int
}

func (a *tokenAuth) tokens() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]int{}
	for k, v := range a.issued {
		m[k] = v
	}
	return m
}

func (a *tokenAuth) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			u, p, _ := r.BasicAuth()
			if a.echo || (a.user != "" && (u != a.user || p != a.password)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				msg := "invalid credentials"
				if a.echo {
					msg = fmt.Sprintf("invalid credentials %s (password %s)", r.Header.Get("Authorization"), p)
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}}})
				return
			}
			scope := r.URL.Query().Get("scope")
			a.mu.Lock()
			if a.issued == nil {
				a.issued = map[string]int{}
			}
			a.issued[scope]++
			a.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "T " + scope})
			return
		}
		scope := ""
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v2/"); ok && rest != "" {
			for _, sep := range []string{"/tags/", "/manifests/", "/blobs/"} {
				if i := strings.Index(rest, sep); i >= 0 {
					scope = "repository:" + rest[:i] + ":pull"
					break
				}
			}
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !strings.HasPrefix(got, "T ") || (scope != "" && !strings.Contains(got, scope)) {
			ch := fmt.Sprintf(`Bearer realm="http://%s/token",service="registrytest"`, r.Host)
			if scope != "" {
				ch += fmt.Sprintf(`,scope=%q`, scope)
			}
			w.Header().Set("WWW-Authenticate", ch)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// linkTags answers every tags/list request with the tags (a JSON array)
// and the Link header link.
func linkTags(link, tags string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isTagsList(r) {
				w.Header().Set("Link", link)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"name":"app","tags":%s}`, tags)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ignoreN answers every tags/list request with all of tags, as
// docker-registry 2.8 does whatever n and last say.
func ignoreN(tags []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isTagsList(r) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"name": "app", "tags": tags})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// endlessTags answers tags/list with pages of perPage fresh tags, each
// with a Link to a page after it, for stopAfter pages; then it ends the
// list. stopAfter only keeps a client without bounds from running forever.
func endlessTags(perPage, stopAfter int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isTagsList(r) {
				next.ServeHTTP(w, r)
				return
			}
			page, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("last"), "p"))
			page++
			tags := make([]string, perPage)
			for i := range tags {
				tags[i] = fmt.Sprintf("p%d-%d", page, i)
			}
			if page < stopAfter {
				w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=p%d>; rel="next"`, r.URL.Path, perPage, page))
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "app", "tags": tags})
		})
	}
}

// slowTags answers the first page of tags/list with a Link, and every
// later page only when the client gives up on it.
func slowTags(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isTagsList(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Query().Get("last") != "" {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=1&last=a>; rel="next"`, r.URL.Path))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"app","tags":["a"]}`)
	})
}

// withMaxPageBytes lowers the size cap of one page of a tag list.
func withMaxPageBytes(n int64) Option {
	return func(o *options) error {
		o.maxPageBytes = n
		return nil
	}
}
