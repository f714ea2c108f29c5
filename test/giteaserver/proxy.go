package giteaserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"

	"github.com/imagebump/imagebump/test/forgefake"
)

// Proxy is a reverse proxy on 127.0.0.1 in front of the server, for what a
// real Gitea cannot be asked to do: it logs the API writes that pass it
// (the zero-churn assertions), fails a request once, and answers 429 as a
// rate-limiting proxy in front of Gitea would. The client under test is
// given the proxy's URL; humans (the helpers of Server) go to the server
// directly, so their writes are not logged.
type Proxy struct {
	// URL is the proxy's root, what the SDK is given.
	URL string

	mu      sync.Mutex
	writes  []forgefake.Write
	failing map[string]int // "METHOD PATH" → status to answer once
	limited int
	retry   int
}

// Proxy starts a proxy in front of the server; it stops when the test ends.
func (s *Server) Proxy() *Proxy {
	s.t.Helper()
	target, err := url.Parse(s.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	p := &Proxy{failing: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, answered := p.intercept(w, r)
		if !answered {
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			rp.ServeHTTP(rec, r)
			status = rec.status
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			p.mu.Lock()
			p.writes = append(p.writes, forgefake.Write{Method: r.Method, Path: r.URL.Path, Status: status})
			p.mu.Unlock()
		}
	}))
	s.t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// intercept answers a request the proxy was told to fail.
func (p *Proxy) intercept(w http.ResponseWriter, r *http.Request) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limited > 0 {
		p.limited--
		w.Header().Set("Retry-After", strconv.Itoa(p.retry))
		http.Error(w, `{"message":"too many requests"}`, http.StatusTooManyRequests)
		return http.StatusTooManyRequests, true
	}
	key := r.Method + " " + r.URL.Path
	if status, ok := p.failing[key]; ok {
		delete(p.failing, key)
		http.Error(w, fmt.Sprintf(`{"message":"injected %d"}`, status), status)
		return status, true
	}
	return 0, false
}

// Writes returns the non-GET requests that reached the proxy, in order.
func (p *Proxy) Writes() []forgefake.Write {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]forgefake.Write(nil), p.writes...)
}

// FailOnce answers the next request with method and path (under the
// server's root, e.g. /api/v1/repos/…) with status, without passing it on.
func (p *Proxy) FailOnce(method, path string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing[method+" "+path] = status
}

// RateLimit answers the next n requests with 429 and Retry-After:
// retryAfter seconds.
func (p *Proxy) RateLimit(n, retryAfter int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limited, p.retry = n, retryAfter
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
