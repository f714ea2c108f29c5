package github

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// WriteGap is the least time between two content-creating requests (POST,
// PATCH, PUT, DELETE) on one token: GitHub's REST best practices ask
// integrators to "wait at least one second between each request" of these
// for a single user and to make them serially, which keeps passes that
// open many pull requests (three writes each) clear of the secondary limit
// on content creation (80 a minute). GitHub counts per user, not per
// repository: the clients of every repository on one token, at one API
// root, in one process, share the spacing (see gateFor).
const WriteGap = time.Second

// spacing is the transport that sends a client's writes one at a time,
// each at least WriteGap after the previous write on its token ended.
// Reads are not delayed.
type spacing struct {
	next  http.RoundTripper
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	gate  *gate
}

// gate is what the clients of one token share: a write holds mu, and last
// is when the latest write ended (zero before the first).
type gate struct {
	mu   sync.Mutex
	last time.Time
	// taken is when a client was last made with the gate, by the
	// wall clock, for gateFor's pruning.
	taken time.Time
}

// gates are the gates in use, by API root and token (hashed: the map
// holds no token).
var gates = struct {
	sync.Mutex
	m map[[sha256.Size]byte]*gate
}{m: map[[sha256.Size]byte]*gate{}}

// gateIdle is how long after a client was last made with it that a gate
// is dropped: tokens rotate (a GitHub App's every hour), and a gate is
// worth keeping only while passes that may still write use it.
const gateIdle = 24 * time.Hour

// gateFor returns the gate of token at apiURL, and drops the gates idle
// for gateIdle.
func gateFor(apiURL, token string) *gate {
	key := sha256.Sum256([]byte(apiURL + "\x00" + token))
	now := time.Now()
	gates.Lock()
	defer gates.Unlock()
	for k, g := range gates.m {
		if k != key && now.Sub(g.taken) > gateIdle && g.mu.TryLock() {
			delete(gates.m, k)
			g.mu.Unlock()
		}
	}
	g := gates.m[key]
	if g == nil {
		g = &gate{}
		gates.m[key] = g
	}
	g.taken = now
	return g
}

func (s *spacing) RoundTrip(req *http.Request) (*http.Response, error) {
	next := s.next
	if next == nil {
		next = http.DefaultTransport
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return next.RoundTrip(req)
	}
	g := s.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.last.IsZero() {
		if wait := g.last.Add(WriteGap).Sub(s.now()); wait > 0 {
			if err := s.sleep(req.Context(), wait); err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, err
			}
		}
	}
	resp, err := next.RoundTrip(req)
	g.last = s.now()
	return resp, err
}
