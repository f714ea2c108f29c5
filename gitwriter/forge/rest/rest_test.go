package rest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const fallback = time.Minute
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second},
		{"Retry-After wins over the reset", http.Header{"Retry-After": {"5"}, "X-Ratelimit-Reset": {"1700000600"}, "X-Ratelimit-Remaining": {"0"}}, 5 * time.Second},
		{"GitHub reset when nothing is left", http.Header{"X-Ratelimit-Reset": {"1700000020"}, "X-Ratelimit-Remaining": {"0"}}, 21 * time.Second},
		// GitHub: a secondary limit with requests left is not waited
		// out until the primary reset, but at least a minute.
		{"GitHub reset with requests left", http.Header{"X-Ratelimit-Reset": {"1700003000"}, "X-Ratelimit-Remaining": {"4000"}}, fallback},
		{"GitLab reset without a count", http.Header{"Ratelimit-Reset": {"1700000020"}}, 21 * time.Second},
		{"reset in the past", http.Header{"Ratelimit-Reset": {"1699999000"}}, time.Second},
		{"garbage", http.Header{"Retry-After": {"soon"}}, fallback},
		{"nothing", http.Header{}, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfter(tc.header, now, fallback); got != tc.want {
				t.Errorf("RetryAfter = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestRetryAfterRefused checks the rule for GitLab's 429: the reset time
// counts even when the headers say requests are left.
func TestRetryAfterRefused(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const fallback = time.Minute
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"Retry-After wins over the reset", http.Header{"Retry-After": {"5"}, "Ratelimit-Reset": {"1700000030"}}, 5 * time.Second},
		{"reset with requests said left", http.Header{"Ratelimit-Reset": {"1700000030"}, "Ratelimit-Remaining": {"1500"}}, 31 * time.Second},
		{"reset with none left", http.Header{"Ratelimit-Reset": {"1700000030"}, "Ratelimit-Remaining": {"0"}}, 31 * time.Second},
		{"nothing", http.Header{}, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfterRefused(tc.header, now, fallback); got != tc.want {
				t.Errorf("RetryAfterRefused = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPages(t *testing.T) {
	var seen []int
	err := Pages(1, func(page int) (int, error) {
		seen = append(seen, page)
		if page == 3 {
			return 0, nil
		}
		return page + 1, nil
	})
	if err != nil || len(seen) != 3 {
		t.Errorf("Pages read %v, %v; want pages 1-3", seen, err)
	}

	calls := 0
	err = Pages(1, func(page int) (int, error) { calls++; return page + 1, nil })
	if err == nil || calls != MaxPages {
		t.Errorf("an endless listing: %d calls, %v; want %d and an error", calls, err, MaxPages)
	}

	boom := errors.New("boom")
	if err := Pages(0, func(int) (int, error) { return 2, boom }); !errors.Is(err, boom) {
		t.Errorf("a failing page: %v", err)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	if o := NewOptions(nil); o.HTTPClient == nil || o.HTTPClient.Timeout != DefaultTimeout || o.Now == nil || o.Sleep == nil {
		t.Errorf("default options %+v", o)
	}
	at := time.Unix(1_700_000_000, 0)
	if o := NewOptions([]Option{WithClock(func() time.Time { return at })}); !o.Now().Equal(at) {
		t.Error("WithClock not applied")
	}
	c := &http.Client{}
	if o := NewOptions([]Option{WithHTTPClient(c)}); o.HTTPClient != c {
		t.Error("WithHTTPClient not applied")
	}
}
