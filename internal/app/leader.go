package app

import (
	"context"
	"sync"
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
func leaderDuties(duties ...func(ctx context.Context)) func(ctx context.Context) {
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, d := range duties {
			wg.Go(func() { d(ctx) })
		}
		wg.Wait()
	}
}
