package githubfake

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Clock is a test's own time: Sleep advances it at once instead of
// waiting. Give Now and Sleep to the client under test and Now to the
// fake (UseClock), and the fake's write times show how the client spaced
// its writes without the test waiting for real.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that starts at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Sleep advances the clock by d, or returns ctx's error when it is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(max(d, 0))
	return nil
}

// Advance moves the clock on by d, as time passing between calls.
func (c *Clock) Advance(d time.Duration) { _ = c.Sleep(context.Background(), d) }

// TimedWrite is one content-creating request (POST, PATCH, PUT, DELETE)
// the fake received, rate-limited ones included, and when by the fake's
// clock.
type TimedWrite struct {
	Method, Path string
	At           time.Time
}

// UseClock makes the fake time the writes it receives by now (default:
// time.Now).
func (s *Server) UseClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// WriteTimes returns the writes received so far, in order, with their
// times: GitHub asks for at least a second between them ("Best practices
// for using the REST API": "wait at least one second between each
// request" that creates content, and make such requests serially).
func (s *Server) WriteTimes() []TimedWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writeTimes)
}

// timeWrites records every write request as it arrives.
func (s *Server) timeWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			s.mu.Lock()
			now := s.now
			if now == nil {
				now = time.Now
			}
			s.writeTimes = append(s.writeTimes, TimedWrite{Method: r.Method, Path: r.URL.EscapedPath(), At: now()})
			s.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}
