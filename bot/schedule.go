package bot

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs update passes over a fixed set of repositories: one pass
// of every repository at start-up, then one at each time the cron schedule
// names. A repository whose previous pass is still running (or still
// waiting for a free slot) when its next one is due skips that one rather
// than queueing it, so a slow repository never piles up work; the skip is
// reported through Skipped. At most Concurrency repositories are in a pass
// at once.
//
// The zero value is not usable: Schedule and Round must be set.
type Scheduler struct {
	// Schedule says when passes are due after the first.
	Schedule cron.Schedule
	// Repositories names the repositories, for logs; passes are called
	// with an index into it.
	Repositories []string
	// Round is called at start-up and each time passes are due. The
	// function it returns runs one pass over repository i, and is called
	// concurrently for every repository that is not still busy, so that
	// the passes of a round can share what they learn (one tag listing per
	// image across all repositories). Its context is cancelled when Run's
	// is; it should then stop starting new steps and return.
	Round func() (pass func(ctx context.Context, i int))
	// Concurrency bounds the repositories in a pass at once; 0 means 4.
	Concurrency int
	// Skipped, when set, is called for each pass of repository i that was
	// due while its previous one had not finished.
	Skipped func(i int)
	// Logger receives a line per skipped pass; nil discards.
	Logger *slog.Logger
}

// Run runs passes until ctx is cancelled, then waits for the passes in
// progress to return and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	n := s.Concurrency
	if n <= 0 {
		n = 4
	}
	slots := make(chan struct{}, n)
	busy := make([]bool, len(s.Repositories))
	var mu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()

	tick := func() {
		pass := s.Round()
		for i, name := range s.Repositories {
			mu.Lock()
			late := busy[i]
			busy[i] = true
			mu.Unlock()
			if late {
				if s.Logger != nil {
					s.Logger.Warn("pass skipped: the previous pass of this repository has not finished", "repository", name)
				}
				if s.Skipped != nil {
					s.Skipped(i)
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					busy[i] = false
					mu.Unlock()
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
				pass(ctx, i)
			}()
		}
	}

	tick()
	for {
		now := time.Now()
		next := s.Schedule.Next(now)
		if !next.After(now) {
			// A schedule with no time to come (0 0 30 2 *) answers the
			// zero time; waiting until then would run passes back to
			// back. The config refuses such specs; this is the guard.
			if s.Logger != nil {
				s.Logger.Error("the schedule names no time to come: no further passes until restarted")
			}
			<-ctx.Done()
			return nil
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
			tick()
		}
	}
}
