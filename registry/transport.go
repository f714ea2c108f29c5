package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Retries are ours, not go-containerregistry's: its retry transport drops
// the response it retries on, so it cannot honour Retry-After, and it
// cannot fail at once on a Retry-After longer than we are willing to wait.
// A Pass hands go-containerregistry a *transport.Wrapper per repository,
// which turns its own retries off, and puts retryTransport under the auth
// handshake, so every attempt of every request, token exchanges included,
// goes through the same policy, limits and accounting:
//
//	go-containerregistry auth (bearer/basic; one per repository, Pass.conn)
//	  passTransport   (per Pass: ping cache, per-pass counts)
//	    retryTransport (attempts, backoff, Retry-After, per-attempt timeout)
//	      send: scheme policy → host semaphore → rate limit → count → network

// retryable are the status codes that are tried again.
var retryable = map[int]bool{
	http.StatusRequestTimeout:      true,
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusGatewayTimeout:      true,
}

type retryTransport struct {
	c *Client
}

// RetryAfterError is returned for a request the registry asked to retry
// after longer than MaxRetryAfter: the request fails at once instead.
type RetryAfterError struct {
	// Status is the response status, e.g. "429 Too Many Requests".
	Status string
	// Wait is what the registry asked for.
	Wait time.Duration
}

// Error says what the registry asked for and why the client did not wait.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%s: registry asks to retry after %s, longer than the %s imagebump waits", e.Status, e.Wait, MaxRetryAfter)
}

// TimeoutError is returned when no attempt of a request finished within
// the client's timeout.
type TimeoutError struct {
	// Limit is the timeout of one attempt.
	Limit time.Duration
	// Attempts is how many attempts were made.
	Attempts int
}

// Error says how long each attempt was given and how many were made.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no response within %s (%d attempts)", e.Limit, e.Attempts)
}

// Timeout reports true, so net.Error-style checks see a timeout.
func (e *TimeoutError) Timeout() bool { return true }

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		areq, cancel, err := t.attemptRequest(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(areq)
		last := attempt >= c.attempts

		var wait time.Duration
		switch {
		case err != nil:
			timedOut := errors.Is(areq.Context().Err(), context.DeadlineExceeded)
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !timedOut && !transient(err) {
				return nil, err
			}
			if timedOut {
				err = &TimeoutError{Limit: c.timeout, Attempts: attempt}
			}
			if last || !rewindable(req) {
				return nil, err
			}
			wait = c.backoffFor(attempt)
			c.log.Warn("registry request failed, retrying",
				"method", req.Method, "url", req.URL.Redacted(), "error", err.Error(), "attempt", attempt, "wait", wait)

		case retryable[resp.StatusCode]:
			ra, hasRA := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if hasRA && ra > MaxRetryAfter {
				drain(resp.Body)
				cancel()
				return nil, &RetryAfterError{Status: resp.Status, Wait: ra}
			}
			if last || !rewindable(req) {
				resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
				return resp, nil
			}
			drain(resp.Body)
			cancel()
			wait = c.backoffFor(attempt)
			if hasRA {
				wait = ra
			}
			c.log.Warn("registry request failed, retrying",
				"method", req.Method, "url", req.URL.Redacted(), "status", resp.StatusCode, "attempt", attempt, "wait", wait)

		default:
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attemptRequest clones req for one attempt, with its own timeout and a
// fresh body.
func (t *retryTransport) attemptRequest(req *http.Request, attempt int) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(req.Context())
	if t.c.timeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), t.c.timeout)
	}
	areq := req.Clone(ctx)
	if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, nil, err
		}
		areq.Body = body
	}
	return areq, cancel, nil
}

// rewindable reports whether a request can be sent again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func (c *Client) backoffFor(attempt int) time.Duration {
	return c.backoff << (attempt - 1)
}

// transient reports network errors worth another attempt: timeouts and
// connections the other side dropped. A refused connection is not: the
// registry is down and waiting seconds will rarely change that.
func transient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

// retryAfter parses a Retry-After value, seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// SchemeError is returned for a request whose scheme the host does not
// allow: HTTPS to a loopback host, or plain HTTP to a host that is neither
// loopback nor marked insecure. Such requests never reach the network.
type SchemeError struct {
	// Host is the host[:port] of the request.
	Host string
	// Scheme is the refused scheme.
	Scheme string
}

// Error says which scheme the host allows.
func (e *SchemeError) Error() string {
	if e.Scheme == "https" {
		return fmt.Sprintf("%s is a loopback host, spoken to over plain HTTP only", e.Host)
	}
	return fmt.Sprintf("refusing plain HTTP to %s: mark the host insecure to allow it", e.Host)
}

// send makes one attempt: scheme policy, host limits, accounting, network.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	hs := c.host(req.URL.Host)
	switch {
	case hs.insecure:
	case hs.loopback && req.URL.Scheme != "http":
		return nil, &SchemeError{Host: req.URL.Host, Scheme: req.URL.Scheme}
	case !hs.loopback && req.URL.Scheme != "https":
		return nil, &SchemeError{Host: req.URL.Host, Scheme: req.URL.Scheme}
	}
	ctx := req.Context()
	select {
	case hs.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-hs.sem }
	if hs.limiter != nil {
		if err := hs.limiter.Wait(ctx); err != nil {
			release()
			return nil, fmt.Errorf("waiting for the rate limit of %s (%g requests per second): %w", hs.name, float64(hs.limiter.Limit()), err)
		}
	}
	resp, err := hs.rt.RoundTrip(req)
	if err != nil {
		c.counts.add(ctx, req, 0)
		release()
		return nil, err
	}
	c.counts.add(ctx, req, resp.StatusCode)
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releaseBody frees a host slot when its body is closed or read to the
// end (or to an error), whichever comes first, so a caller that reads
// everything but forgets Close does not starve the host.
type releaseBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.release)
	}
	return n, err
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
