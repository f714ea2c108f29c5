package rest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// DefaultTimeout bounds each API request, so a hanging server cannot hold
// a pass forever.
const DefaultTimeout = 30 * time.Second

// MaxPages bounds a listing: a forge that keeps answering with a next page
// fails the listing rather than holding the pass (DESIGN.md: work is
// bounded whatever a server holds). With 100 per page that is 5,000 pull
// requests or comments.
const MaxPages = 50

// Option configures a forge client.
type Option func(*Options)

// Options are the settings every forge client takes.
type Options struct {
	// HTTPClient is what requests go through; the client adds the token
	// on top of it.
	HTTPClient *http.Client
	// Logger receives what a client decides on its own (a draft the
	// forge refused, a reviewer dropped).
	Logger *slog.Logger
	// Sleep waits between a client's own short retries, and where a
	// client spaces its requests.
	Sleep func(context.Context, time.Duration) error
	// Now is the time a client spaces its requests by.
	Now func() time.Time
}

// WithHTTPClient sets the HTTP client requests go through (default: Go's
// default transport with DefaultTimeout per request).
func WithHTTPClient(c *http.Client) Option { return func(o *Options) { o.HTTPClient = c } }

// WithLogger sets where a client logs what it decided on its own
// (default: nowhere; nil means the default).
func WithLogger(l *slog.Logger) Option {
	return func(o *Options) {
		if l != nil {
			o.Logger = l
		}
	}
}

// WithSleep replaces how a client waits between its own short retries
// (default: Sleep), so tests need not sleep.
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(o *Options) { o.Sleep = sleep }
}

// WithClock replaces what a client reads the time from where it spaces its
// requests (default: time.Now); with WithSleep, tests run on a clock of
// their own.
func WithClock(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

// NewOptions applies opts over the defaults.
func NewOptions(opts []Option) Options {
	o := Options{HTTPClient: &http.Client{Timeout: DefaultTimeout}, Logger: slog.New(slog.DiscardHandler), Sleep: Sleep, Now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// RetryAfter reads how long a rate-limited answer asks to wait, by the
// rule GitHub documents and GitLab follows: Retry-After (seconds or an
// HTTP date) when present; else the reset time (X-RateLimit-Reset or
// RateLimit-Reset, a Unix time, plus a second as it is given in whole
// seconds) when no request is left or the count is not given; else
// fallback, the forge's documented default.
func RetryAfter(h http.Header, now time.Time, fallback time.Duration) time.Duration {
	remaining := header(h, "X-RateLimit-Remaining", "RateLimit-Remaining")
	return retryAfter(h, now, fallback, remaining == "" || remaining == "0")
}

// RetryAfterRefused reads how long an answer that refused the request for
// its rate limit (GitLab's 429) asks to wait: Retry-After when present;
// else the reset time whatever count of requests is said to be left (the
// refusal itself says the window is spent: GitLab's counts may describe
// another of its limits than the one that refused); else fallback.
func RetryAfterRefused(h http.Header, now time.Time, fallback time.Duration) time.Duration {
	return retryAfter(h, now, fallback, true)
}

// retryAfter is RetryAfter, taking the reset time only when useReset.
func retryAfter(h http.Header, now time.Time, fallback time.Duration, useReset bool) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	reset := header(h, "X-RateLimit-Reset", "RateLimit-Reset")
	if s, err := strconv.ParseInt(reset, 10, 64); err == nil && useReset {
		return max(time.Unix(s, 0).Sub(now), 0) + time.Second
	}
	return fallback
}

// header is the first of names h has.
func header(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// Pages reads a paginated listing: fetch reads page and returns the next
// one, 0 when it was the last. Starting at first, at most MaxPages pages
// are read; a listing with more fails.
func Pages(first int, fetch func(page int) (next int, err error)) error {
	page := first
	for range MaxPages {
		next, err := fetch(page)
		if err != nil || next == 0 {
			return err
		}
		page = next
	}
	return fmt.Errorf("more than %d pages: refusing an unbounded listing", MaxPages)
}

// Sleep waits for d, or until ctx is done, whose error it then returns.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
