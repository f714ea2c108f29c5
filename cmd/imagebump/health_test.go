package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagebump/imagebump/bot"
)

// every is a cron.Schedule due again d after each time asked.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// TestHealthzFailsWhenPassesStall runs a scheduler whose pass of one
// repository hangs: /healthz turns 503 and names it, once three due
// passes went unstarted; a scheduler whose passes return stays healthy.
func TestHealthzFailsWhenPassesStall(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule every
		hang     bool
		want     int
	}{
		{"hung pass", every(time.Millisecond), true, http.StatusServiceUnavailable},
		{"passes return, hourly", every(time.Hour), false, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			s := &bot.Scheduler{
				Schedule:     tc.schedule,
				StallFloor:   -1, // the default hour would outlast the test
				Repositories: []string{"https://git.example/fleet.git"},
				Round: func() func(context.Context, int) {
					return func(ctx context.Context, i int) {
						select {
						case started <- struct{}{}:
						default:
						}
						if tc.hang {
							<-release
						}
					}
				},
			}
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			defer func() { close(release); cancel(); <-done }()
			<-started
			h := healthz(s)
			deadline := time.After(10 * time.Second)
			for {
				rec := httptest.NewRecorder()
				h(rec, httptest.NewRequest("GET", "/healthz", nil))
				if rec.Code == tc.want {
					if tc.want != http.StatusOK && !strings.Contains(rec.Body.String(), "https://git.example/fleet.git") {
						t.Errorf("/healthz body %q does not name the repository", rec.Body)
					}
					return
				}
				select {
				case <-deadline:
					t.Fatalf("/healthz = %d %q, want %d", rec.Code, rec.Body, tc.want)
				case <-time.After(time.Millisecond):
				}
			}
		})
	}
}
