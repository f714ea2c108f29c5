package bot

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// quiet reports whether s has no triggered pass pending or to follow.
func (s *Scheduler) quiet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pending {
		if s.pending[i] || s.followUp[i] || s.busy[i] {
			return false
		}
	}
	return !s.armed
}

func TestSchedulerTriggerCoalesces(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	passes := map[int]int{}
	var roundsStarted atomic.Int32
	done := make(chan struct{}, 10)
	s := &Scheduler{
		Schedule:     never{},
		Repositories: []string{"a", "b", "c"},
		// Long enough that all the triggers below come within it.
		Debounce: time.Second,
		Round: func() func(context.Context, int) {
			roundsStarted.Add(1)
			return func(ctx context.Context, i int) {
				mu.Lock()
				passes[i]++
				mu.Unlock()
				done <- struct{}{}
			}
		},
	}
	if s.Trigger(0) {
		t.Error("Trigger before Run reported true")
	}
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	for range 3 {
		within(t, done, "the start-up passes")
	}
	for !s.quiet() {
		time.Sleep(time.Millisecond)
	}
	for range 50 {
		for _, i := range []int{0, 2} {
			if !s.Trigger(i) {
				t.Fatal("Trigger refused while Run runs")
			}
		}
	}
	if s.Trigger(3) || s.Trigger(-1) {
		t.Error("Trigger of a repository out of range reported true")
	}
	within(t, done, "the first triggered pass")
	within(t, done, "the second triggered pass")
	for !s.quiet() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-stopped
	if diff := cmp.Diff(map[int]int{0: 2, 1: 1, 2: 2}, passes); diff != "" {
		t.Errorf("passes per repository (-want +got):\n%s", diff)
	}
	if n := roundsStarted.Load(); n != 2 {
		t.Errorf("%d rounds, want 2: start-up and one for the coalesced triggers", n)
	}
	if s.Trigger(0) {
		t.Error("Trigger after Run returned reported true")
	}
}

func TestSchedulerTriggerWhileRunningFollowsUpOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var passes atomic.Int32
	s := &Scheduler{
		Schedule:     never{},
		Repositories: []string{"a"},
		Debounce:     time.Millisecond,
		Round: rounds(func(ctx context.Context, i int) {
			passes.Add(1)
			started <- struct{}{}
			<-release
		}),
	}
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	within(t, started, "the start-up pass")
	for range 100 {
		s.Trigger(0)
	}
	release <- struct{}{}
	within(t, started, "the follow-up pass")
	s.mu.Lock()
	left := s.pending[0] || s.followUp[0]
	s.mu.Unlock()
	if left {
		t.Error("another pass is pending after the follow-up started: 100 triggers during a pass must make one follow-up")
	}
	close(release)
	for !s.quiet() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-stopped
	if n := passes.Load(); n != 2 {
		t.Errorf("%d passes, want the start-up pass and one follow-up", n)
	}
}

func TestSchedulerStalled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	before := time.Now()
	s := &Scheduler{
		Schedule:     every(time.Hour),
		Repositories: []string{"https://git.example/fleet.git"},
		Round: rounds(func(ctx context.Context, i int) {
			started <- struct{}{}
			<-release
		}),
	}
	if got := s.Stalled(before.Add(24 * time.Hour)); got != nil {
		t.Errorf("Stalled before Run = %v, want nothing", got)
	}
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	within(t, started, "the start-up pass")
	if got := s.Stalled(before.Add(3*time.Hour - time.Second)); got != nil {
		t.Errorf("Stalled within three intervals of the last start = %v, want nothing", got)
	}
	got := s.Stalled(time.Now().Add(3*time.Hour + time.Second))
	if len(got) != 1 || !strings.HasPrefix(got[0], "https://git.example/fleet.git (last pass started ") {
		t.Errorf("Stalled after three missed intervals = %q, want the repository", got)
	}
	s.StallAfter = 5
	if got := s.Stalled(time.Now().Add(3*time.Hour + time.Second)); got != nil {
		t.Errorf("Stalled with StallAfter 5 = %v, want nothing", got)
	}
	s.StallAfter, s.StallFloor = 0, 4*time.Hour
	if got := s.Stalled(time.Now().Add(3*time.Hour + time.Second)); got != nil {
		t.Errorf("Stalled within a floor of 4h = %v, want nothing", got)
	}
	if got := s.Stalled(time.Now().Add(4*time.Hour + time.Second)); len(got) != 1 {
		t.Errorf("Stalled past the floor of 4h = %v, want the repository", got)
	}
	close(release)
	cancel()
	<-stopped
}

func TestSchedulerStalledWhilePassHangs(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	release := make(chan struct{})
	s := &Scheduler{
		Schedule:     every(time.Millisecond),
		StallFloor:   -1,
		Repositories: []string{"hung", "fine"},
		Round: rounds(func(ctx context.Context, i int) {
			if i == 0 {
				<-release
			}
		}),
	}
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for {
		got := s.Stalled(time.Now())
		if len(got) == 1 && strings.HasPrefix(got[0], "hung ") {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("Stalled = %q, want only the hung repository", got)
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	cancel()
	<-stopped
}

// TestSchedulerTriggersKeepTheSchedule triggers one repository more often
// than the schedule's interval: the other repository, which only the
// schedule runs, still gets its scheduled passes.
func TestSchedulerTriggersKeepTheSchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	scheduled := make(chan struct{}, 100)
	s := &Scheduler{
		// Long against the triggers' 5ms, so that only a stall of a
		// second in triggering could let a broken scheduler tick.
		Schedule:     every(time.Second),
		Repositories: []string{"triggered", "scheduled"},
		Debounce:     time.Millisecond,
		Round: rounds(func(ctx context.Context, i int) {
			if i == 1 {
				scheduled <- struct{}{}
			}
		}),
	}
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	within(t, scheduled, "the start-up pass")
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				s.Trigger(0)
			}
		}
	}()
	within(t, scheduled, "a scheduled pass while triggers keep coming")
	close(stop)
	cancel()
	<-stopped
}
