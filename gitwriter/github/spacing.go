package github

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// WriteGap is the least time between two content-creating requests (POST,
// PATCH, PUT, DELETE) of one client: GitHub's REST best practices ask
// integrators to "wait at least one second between each request" of these
// and to make them serially, which keeps a pass that opens many pull
// requests (three writes each) clear of the secondary limit on content
// creation.
const WriteGap = time.Second

// spacing is the transport that sends a client's writes one at a time,
// each at least WriteGap after the previous one ended. Reads are not
// delayed.
type spacing struct {
	next  http.RoundTripper
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu   sync.Mutex // held through a write, so writes are serial
	last time.Time  // when the last write ended; zero before the first
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() {
		if wait := s.last.Add(WriteGap).Sub(s.now()); wait > 0 {
			if err := s.sleep(req.Context(), wait); err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, err
			}
		}
	}
	resp, err := next.RoundTrip(req)
	s.last = s.now()
	return resp, err
}
