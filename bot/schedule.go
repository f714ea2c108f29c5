package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs update passes over a fixed set of repositories: one pass
// of every repository at start-up, then one at each time the cron schedule
// names, and one soon after Trigger names a repository. A repository whose
// previous pass is still running (or still waiting for a free slot) when
// its next one is due skips that one rather than queueing it, so a slow
// repository never piles up work; the skip is reported through Skipped. At
// most Concurrency repositories are in a pass at once.
//
// Triggered passes coalesce: the triggers of Debounce are served together
// by one round, a repository has at most one triggered pass pending, and a
// repository triggered while its pass runs gets one follow-up pass after
// it, however many triggers came. Triggers never move the scheduled passes.
//
// The zero value is not usable: Schedule and Round must be set.
type Scheduler struct {
	// Schedule says when passes are due after the first.
	Schedule cron.Schedule
	// Repositories names the repositories, for logs; passes are called
	// with an index into it.
	Repositories []string
	// Round is called at start-up, each time passes are due, and for each
	// batch of triggered passes. The function it returns runs one pass
	// over repository i, and is called concurrently for every repository
	// of the round that is not still busy, so that the passes of a round
	// can share what they learn (one tag listing per image across all
	// repositories). Its context is cancelled when Run's is; it should
	// then stop starting new steps and return.
	Round func() (pass func(ctx context.Context, i int))
	// Concurrency bounds the repositories in a pass at once; 0 means 4.
	Concurrency int
	// Debounce is how long a trigger waits for others to join its round;
	// 0 means 2s.
	Debounce time.Duration
	// StallAfter is how many due passes of a repository may go unstarted
	// before Stalled names it; 0 means 3.
	StallAfter int
	// StallFloor is the least time since a repository's last pass started
	// before Stalled names it, whatever the schedule, so that a frequent
	// schedule does not make a long first clone look hung; 0 means 1h,
	// negative means none.
	StallFloor time.Duration
	// Skipped, when set, is called for each pass of repository i that was
	// due while its previous one had not finished.
	Skipped func(i int)
	// Logger receives a line per skipped pass; nil discards.
	Logger *slog.Logger

	mu       sync.Mutex
	running  bool
	busy     []bool      // in a pass or waiting for a slot
	pending  []bool      // triggered, waiting for the debounce
	followUp []bool      // triggered while busy
	started  []time.Time // when the last pass started (Run's start before the first)
	armed    bool        // a debounce timer is running
	wake     chan struct{}
}

// Trigger asks for a pass of repository i soon, as an event hinted that
// something it uses changed. It never blocks; before Run has started or
// after it returned, and for an i out of range, it does nothing and
// returns false.
func (s *Scheduler) Trigger(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running || i < 0 || i >= len(s.busy) {
		return false
	}
	if s.busy[i] {
		s.followUp[i] = true
		return true
	}
	s.pending[i] = true
	s.arm()
	return true
}

// arm starts the debounce timer unless it runs; s.mu is held.
func (s *Scheduler) arm() {
	if s.armed {
		return
	}
	s.armed = true
	d := s.Debounce
	if d <= 0 {
		d = 2 * time.Second
	}
	time.AfterFunc(d, func() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	})
}

// Stalled names the repositories that have not started a pass for
// StallAfter due times of the schedule, counted from their last pass's
// start, nor for StallFloor, as of now. It is empty before Run starts.
func (s *Scheduler) Stalled(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.StallAfter
	if n <= 0 {
		n = 3
	}
	floor := s.StallFloor
	if floor == 0 {
		floor = time.Hour
	}
	var out []string
	for i, t := range s.started {
		due := t
		for range n {
			due = s.Schedule.Next(due)
		}
		if now.After(due) && now.Sub(t) > floor {
			out = append(out, fmt.Sprintf("%s (last pass started %s)", s.Repositories[i], t.UTC().Format(time.RFC3339)))
		}
	}
	return out
}

// Run runs passes until ctx is cancelled, then waits for the passes in
// progress to return and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	n := s.Concurrency
	if n <= 0 {
		n = 4
	}
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()

	k := len(s.Repositories)
	now := time.Now()
	s.mu.Lock()
	s.busy, s.pending, s.followUp = make([]bool, k), make([]bool, k), make([]bool, k)
	s.started = make([]time.Time, k)
	for i := range s.started {
		s.started[i] = now
	}
	s.wake = make(chan struct{}, 1)
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	start := func(pass func(context.Context, int), i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				s.mu.Lock()
				s.busy[i] = false
				if s.followUp[i] {
					s.followUp[i] = false
					s.pending[i] = true
					s.arm()
				}
				s.mu.Unlock()
			}()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			s.started[i] = time.Now()
			s.mu.Unlock()
			pass(ctx, i)
		}()
	}

	tick := func() {
		pass := s.Round()
		for i, name := range s.Repositories {
			s.mu.Lock()
			late := s.busy[i]
			s.busy[i] = true
			// This pass lists tags after whatever a pending trigger
			// hinted at.
			s.pending[i] = s.pending[i] && late
			s.mu.Unlock()
			if late {
				if s.Logger != nil {
					s.Logger.Warn("pass skipped: the previous pass of this repository has not finished", "repository", name)
				}
				if s.Skipped != nil {
					s.Skipped(i)
				}
				continue
			}
			start(pass, i)
		}
	}

	triggered := func() {
		var due []int
		s.mu.Lock()
		s.armed = false
		for i, p := range s.pending {
			if !p {
				continue
			}
			s.pending[i] = false
			if s.busy[i] {
				s.followUp[i] = true
				continue
			}
			s.busy[i] = true
			due = append(due, i)
		}
		s.mu.Unlock()
		if len(due) == 0 {
			return
		}
		pass := s.Round()
		for _, i := range due {
			start(pass, i)
		}
	}

	tick()
	// The timer is set again only when it fires, so that triggered
	// rounds never postpone a scheduled one (an @every schedule counts
	// from the time it is asked).
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var due <-chan time.Time
	arm := func() {
		now := time.Now()
		next := s.Schedule.Next(now)
		if !next.After(now) {
			// A schedule with no time to come (0 0 30 2 *) answers the
			// zero time; waiting until then would run passes back to
			// back. The config refuses such specs; this is the guard:
			// no more scheduled passes, triggered ones still run.
			due = nil
			if s.Logger != nil {
				s.Logger.Error("the schedule names no time to come: no further scheduled passes until restarted")
			}
			return
		}
		t.Reset(next.Sub(now))
		due = t.C
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-due:
			tick()
			arm()
		case <-s.wake:
			triggered()
		}
	}
}
