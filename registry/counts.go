package registry

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Kind classifies a request sent to a registry or its token server.
type Kind string

// The kinds of requests the client counts.
const (
	KindPing         Kind = "ping"          // GET /v2/
	KindToken        Kind = "token"         // token exchange with the auth realm
	KindTags         Kind = "tags"          // one page of /v2/<repo>/tags/list
	KindManifestHead Kind = "manifest-head" // HEAD /v2/<repo>/manifests/<ref>
	KindManifestGet  Kind = "manifest-get"  // GET /v2/<repo>/manifests/<ref>
	KindBlob         Kind = "blob"          // /v2/<repo>/blobs/<digest>, redirects included
	KindOther        Kind = "other"         // anything else
)

// Count is the number of requests of one kind sent to one host. Every
// attempt counts: a request retried twice counts three times. Requests
// that never reach the network (a cached ping, a refused scheme) do not.
type Count struct {
	// Host is the host[:port] the requests went to: a registry, its
	// token server, or blob storage it redirected to.
	Host string
	// Kind is what the requests were for.
	Kind Kind
	// Code is the HTTP status code of the answers; 0 for requests that got
	// none (a refused connection, a timeout).
	Code int
	// N is how many were sent.
	N int64
}

type countKey struct {
	host string
	kind Kind
	code int
}

// counter accumulates counts; the zero value is ready.
type counter struct {
	mu sync.Mutex
	m  map[countKey]int64
}

type passCounterKey struct{}

// add counts req, answered with code (0: no answer), on c and on the
// per-pass counter its context carries.
func (c *counter) add(ctx context.Context, req *http.Request, code int) {
	k := countKey{host: req.URL.Host, kind: classify(req), code: code}
	c.inc(k)
	if pc, ok := ctx.Value(passCounterKey{}).(*counter); ok {
		pc.inc(k)
	}
}

func (c *counter) inc(k countKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[countKey]int64{}
	}
	c.m[k]++
}

func (c *counter) snapshot() []Count {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Count, 0, len(c.m))
	for k, n := range c.m {
		out = append(out, Count{Host: k.host, Kind: k.kind, Code: k.code, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Code, b.Code))
	})
	return out
}

// classify tells the kind of a request from its method and URL path.
func classify(req *http.Request) Kind {
	p := req.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return KindPing
	case strings.HasPrefix(p, "/v2/"):
		switch {
		case strings.HasSuffix(p, "/tags/list"):
			return KindTags
		case strings.Contains(p, "/manifests/"):
			if req.Method == http.MethodHead {
				return KindManifestHead
			}
			return KindManifestGet
		case strings.Contains(p, "/blobs/"):
			return KindBlob
		}
		return KindOther
	}
	// A redirect followed from a blob request goes to storage elsewhere.
	if req.Response != nil && req.Response.Request != nil && strings.Contains(req.Response.Request.URL.Path, "/blobs/") {
		return KindBlob
	}
	// Token realms live anywhere; what marks them is the token request.
	q := req.URL.Query()
	if strings.HasSuffix(p, "/token") || q.Has("scope") || q.Has("service") ||
		(req.Method == http.MethodPost && strings.Contains(req.Header.Get("Content-Type"), "x-www-form-urlencoded")) {
		return KindToken
	}
	return KindOther
}

// Counts returns the requests sent since the client was built, by host,
// kind and status code, sorted in that order.
func (c *Client) Counts() []Count { return c.counts.snapshot() }
