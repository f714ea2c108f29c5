package bot

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// every is a cron.Schedule that is due again d after each time asked.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// never is a cron.Schedule whose next pass is a year away.
type never struct{}

func (never) Next(t time.Time) time.Time { return t.AddDate(1, 0, 0) }

// rounds makes a Scheduler.Round that runs pass in every round.
func rounds(pass func(ctx context.Context, i int)) func() func(context.Context, int) {
	return func() func(context.Context, int) { return pass }
}

// within fails the test when ch yields nothing for a long time, so that a
// broken scheduler fails rather than hangs.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestSchedulerFirstPassAtStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	wg.Add(3)
	var roundsStarted atomic.Int32
	s := &Scheduler{
		Schedule:     never{},
		Repositories: []string{"a", "b", "c"},
		Round: func() func(context.Context, int) {
			roundsStarted.Add(1)
			return func(ctx context.Context, i int) {
				mu.Lock()
				got[i]++
				mu.Unlock()
				wg.Done()
			}
		},
	}
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := roundsStarted.Load(); n != 1 {
		t.Errorf("%d rounds started, want 1: the passes of a round share it", n)
	}
	for i := range 3 {
		if got[i] != 1 {
			t.Errorf("repository %d: %d passes at start, want 1", i, got[i])
		}
	}
}

func TestSchedulerSkipsLatePass(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	var inFlight, maxInFlight, passes, skipped atomic.Int32
	skips := make(chan struct{}, 100)
	s := &Scheduler{
		Schedule:     every(time.Millisecond),
		Repositories: []string{"slow"},
		Round: rounds(func(ctx context.Context, i int) {
			n := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			passes.Add(1)
			<-release
			inFlight.Add(-1)
		}),
		Skipped: func(int) {
			skipped.Add(1)
			select {
			case skips <- struct{}{}:
			default:
			}
		},
	}
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	for range 3 {
		select {
		case <-skips: // a pass came due while the first still ran
		case <-time.After(10 * time.Second):
			t.Fatal("no pass was skipped while the first one ran")
		}
	}
	close(release)
	cancel()
	<-done
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d passes of one repository ran at once, want 1", m)
	}
	if skipped.Load() < 3 {
		t.Errorf("skipped = %d, want >= 3", skipped.Load())
	}
	if passes.Load() < 1 {
		t.Errorf("no pass ran")
	}
}

func TestSchedulerBoundsConcurrency(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int32
	started := make(chan struct{}, 10)
	s := &Scheduler{
		Schedule:     never{},
		Repositories: []string{"a", "b", "c", "d", "e"},
		Concurrency:  2,
		Round: rounds(func(ctx context.Context, i int) {
			n := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			started <- struct{}{}
			<-release
			inFlight.Add(-1)
		}),
	}
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	within(t, started, "the first pass")
	within(t, started, "the second pass")
	// Give the other three every chance to start if the bound were
	// missing; this is not a timing assertion, only a grace period.
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range 3 {
		within(t, started, "the remaining passes")
	}
	cancel()
	<-done
	if m := maxInFlight.Load(); m != 2 {
		t.Errorf("max passes at once = %d, want 2", m)
	}
}

func TestSchedulerStopWaitsForPasses(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var finished atomic.Bool
	started := make(chan struct{})
	s := &Scheduler{
		Schedule:     never{},
		Repositories: []string{"a"},
		Round: rounds(func(ctx context.Context, i int) {
			close(started)
			<-ctx.Done()
			// The current step finishes after the signal.
			time.Sleep(20 * time.Millisecond)
			finished.Store(true)
		}),
	}
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	<-started
	cancel()
	<-done
	if !finished.Load() {
		t.Error("Run returned before the pass in progress finished")
	}
}

// noNext is a cron.Schedule with no time to come, as robfig/cron answers
// for 0 0 30 2 *: the zero time.
type noNext struct{}

func (noNext) Next(time.Time) time.Time { return time.Time{} }

// past is a cron.Schedule that answers a time already gone.
type past struct{}

func (past) Next(t time.Time) time.Time { return t.Add(-time.Hour) }

// signalHandler is a slog.Handler that sends every record's message to ch.
type signalHandler struct{ ch chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	h.ch <- r.Message
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestSchedulerNoNextTime checks that a schedule with no next activation
// runs the start-up pass only, and says so, rather than passes back to
// back (issue 16: 64 passes in 4 s).
func TestSchedulerNoNextTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule cron.Schedule
	}{{"zero time", noNext{}}, {"time gone", past{}}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			logs := make(chan string, 100)
			passes := make(chan struct{}, 100)
			s := &Scheduler{
				Schedule:     tc.schedule,
				Repositories: []string{"a"},
				Logger:       slog.New(signalHandler{logs}),
				Round:        rounds(func(context.Context, int) { passes <- struct{}{} }),
			}
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			within(t, passes, "the start-up pass")
			select {
			case msg := <-logs:
				if !strings.Contains(msg, "no time to come") {
					t.Errorf("logged %q, want it to say the schedule has no time to come", msg)
				}
			case <-passes:
				t.Error("a second pass ran right after the first")
			case <-time.After(10 * time.Second):
				t.Error("neither a log line nor a second pass")
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if n := len(passes); n != 0 {
				t.Errorf("%d more passes ran, want none", n)
			}
		})
	}
}
