package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/panics"
)

// Leadership decides which instance runs the duties that must run on one
// instance at a time, on a store several instances share: the deadline
// scheduler (timers, warnings, escalations, the unit reforms, the
// idempotency sweep), webhook delivery and the search index's catch-up.
// What concerns only an instance's own requests stays with every instance:
// console sessions, sign-in throttles and their audit, and the indexer of
// the instance's own writes. On etcd, a Leadership is etcdstore.Lead with
// the client, the key prefix and the instance's id filled in.
type Leadership interface {
	// Lead runs run each time this instance becomes the leader, with a
	// context cancelled when it stops being the leader, and waits for run
	// to return before it campaigns again. It returns when ctx ends (after
	// run has returned and leadership was handed over), or with an error
	// it cannot recover from.
	Lead(ctx context.Context, run func(ctx context.Context)) error
}

// AlwaysLeader is the leadership of an instance alone on its store: a
// bbolt file is opened by one process at a time, so that process leads
// from its start to its stop.
type AlwaysLeader struct{}

// Lead runs run until ctx ends.
func (AlwaysLeader) Lead(ctx context.Context, run func(ctx context.Context)) error {
	run(ctx)
	return nil
}

// leaderDuties runs every duty at once and returns when all have returned
// (each returns when ctx ends, or earlier when it has nothing more to do).
//
// A duty that panics is logged at ERROR, without the panic's value
// (panics.Attrs), and runs again after restartAfter, twice as long
// after each panic in a row (restartWait). A panic left to end the
// process would take the API down with it, for a hotline that takes calls
// day and night, and a restart would meet the same record in the same
// pass and panic again: a crash loop, in which no request is served and
// no other deadline fires. The pass is cut where it panicked: a store
// rolls back a transaction whose body panics, and every pass starts over
// from what is stored.
func leaderDuties(log *slog.Logger, restartAfter time.Duration, duties ...func(ctx context.Context)) func(ctx context.Context) {
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, d := range duties {
			wg.Go(func() {
				inARow := 0
				for {
					began := time.Now()
					wait := restartWait(restartAfter, inARow)
					if runRecovered(ctx, log, d, wait) {
						return
					}
					inARow++
					if time.Since(began) >= maxRestartAfter {
						inARow = 0 // it ran a good while: a new fault, not the same one again
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
			})
		}
		wg.Wait()
	}
}

// maxRestartAfter bounds the wait before a duty that panicked runs again.
const maxRestartAfter = 5 * time.Minute

// restartWait is the wait before a duty that panicked runs again, after
// inARow panics before it with no good while between them: base, doubled
// for each, up to maxRestartAfter. A duty that meets a record it cannot
// handle panics at once at every run: run again each second, it logged an
// ERROR line and its stack each second for as long as the server ran, and
// the first line already says what is wrong.
func restartWait(base time.Duration, inARow int) time.Duration {
	w := base
	for range inARow {
		if w >= maxRestartAfter {
			break
		}
		w *= 2
	}
	return min(w, maxRestartAfter)
}

// runRecovered runs duty, and reports whether it returned rather than
// panicked; a panic is logged as running again after wait.
func runRecovered(ctx context.Context, log *slog.Logger, duty func(context.Context), wait time.Duration) (returned bool) {
	defer func() {
		if p := recover(); p != nil {
			attrs := append([]any{"runs_again_in", wait.String()}, panics.Attrs(p)...)
			log.ErrorContext(ctx, "a background duty (the deadline scheduler, webhook delivery, a catch-up of the search or audit index, the sealing of clear text) panicked and runs again shortly; the stack says where: report it",
				attrs...)
		}
	}()
	duty(ctx)
	return true
}
