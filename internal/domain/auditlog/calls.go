package auditlog

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
)

// Every call of a signed-in user leaves an event on the trail. Most
// write their own, as the domain does the work (a read, a step, a
// refusal of a record in or out of scope); the transport writes one for
// the calls that wrote none (a request refused for its input before any
// record was read, a page that answered nothing, a stream over its
// cap). To know which, the store the domain writes through is Tracked:
// it notes in the call (Track) each commit that held an event of the
// call's caller. A commit that failed wrote nothing, and is not noted.

type callKey struct{}

// Call notes whether an event of a call's caller was committed while it
// was served.
type Call struct {
	actor    string
	recorded atomic.Bool
}

// Track returns ctx carrying a call by actor (a user id), whose events
// committed through a Tracked store, on ctx or one made from it, the
// call then reports (Recorded).
func Track(ctx context.Context, actor string) (context.Context, *Call) {
	c := &Call{actor: actor}
	return context.WithValue(ctx, callKey{}, c), c
}

// Untracked returns ctx without its call: for events written while
// serving a call that are not its own (the refusals of a window that
// ended, written by whichever call comes next).
func Untracked(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, (*Call)(nil))
}

// Recorded reports whether an event of the call's caller was committed.
func (c *Call) Recorded() bool { return c.recorded.Load() }

// Tracked returns store noting, in the call of the context each write is
// made on (Track), that the write committed an event of the call's
// caller. Reads and writes are otherwise store's own.
func Tracked(store datastore.Store) datastore.Store { return trackingStore{store} }

type trackingStore struct{ datastore.Store }

func (s trackingStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return track(ctx, s.Store.Update, fn)
}

func (s trackingStore) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	return track(ctx, s.Store.Batch, fn)
}

// track runs fn through write, noting in ctx's call whether the run that
// committed appended an event of its caller. A body may run more than
// once (see datastore.Store), each run afresh: only the last one counts.
func track(ctx context.Context, write func(context.Context, func(datastore.Tx) error) error, fn func(datastore.Tx) error) error {
	call, _ := ctx.Value(callKey{}).(*Call)
	if call == nil {
		return write(ctx, fn)
	}
	var mu sync.Mutex
	var last *trackingTx
	err := write(ctx, func(tx datastore.Tx) error {
		run := &trackingTx{Tx: tx, actor: call.actor}
		mu.Lock()
		last = run
		mu.Unlock()
		return fn(run)
	})
	mu.Lock()
	defer mu.Unlock()
	if err == nil && last != nil && last.own.Load() {
		call.recorded.Store(true)
	}
	return err
}

// trackingTx is a transaction that notes whether it appended an event of
// actor.
type trackingTx struct {
	datastore.Tx
	actor string
	own   atomic.Bool
}

func (t *trackingTx) AppendAudit(events ...audit.Event) ([]audit.Event, error) {
	sealed, err := t.Tx.AppendAudit(events...)
	if err != nil {
		return sealed, err
	}
	for _, e := range events {
		if e.Actor == t.actor {
			t.own.Store(true)
			break
		}
	}
	return sealed, nil
}
