// Package outbox is the domain service that hands the transactional outbox
// to its deliverers (the webhooks): it reads notifications in order of seq
// and keeps each deliverer's cursor, so that transport never touches the
// store; and it prunes what is older than the retention and delivered. It
// must not send anything itself, nor decide what a notification says (the
// process engine appends them).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Service reads the outbox and stores delivery cursors.
type Service struct {
	store datastore.Store

	mu sync.Mutex
	// from is, for each deliverer whose registration was tried and not
	// yet done (a full database refuses it), the end of the outbox at
	// its first try: a later try registers it there, so that it misses
	// nothing written in between.
	from map[string]uint64
}

// New returns a Service over s.
func New(s datastore.Store) *Service { return &Service{store: s, from: map[string]uint64{}} }

// CursorName is the name under which a deliverer's cursor is stored: the
// seq of the last notification its receiver acknowledged.
func CursorName(deliverer string) string { return "webhook/" + deliverer }

// registeredName marks a deliverer the store has seen, so that one
// registered while the outbox was empty (cursor 0) is not taken for a new
// one after a restart, which would skip what it had not yet delivered.
func registeredName(deliverer string) string { return "webhook/" + deliverer + "/registered" }

// Start returns the deliverer's cursor. A deliverer the store has never
// seen is registered at the current end of the outbox, so that adding one
// does not replay history; one seen before resumes from its cursor. A
// registration that fails (on a full database) and is tried again, by
// this Service, is made at the end of the outbox as it was at the first
// try.
func (s *Service) Start(ctx context.Context, deliverer string) (uint64, error) {
	var cur, reg, head uint64
	// A registered deliverer (every start but its first) only reads: a
	// write transaction, even one that changes nothing, is refused on a
	// full database, which must still start and answer reads.
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		if cur, err = tx.Cursor(CursorName(deliverer)); err != nil {
			return err
		}
		if reg, err = tx.Cursor(registeredName(deliverer)); err != nil || reg != 0 {
			return err
		}
		head, err = tx.OutboxHead()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start outbox deliverer %q: %w", deliverer, err)
	}
	if reg != 0 {
		return cur, nil
	}
	s.mu.Lock()
	from, tried := s.from[deliverer]
	if !tried {
		from = head
		s.from[deliverer] = head
	}
	s.mu.Unlock()
	// The body sets cur afresh and only reads and writes through tx, so it
	// is safe to re-run (datastore.Store).
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		var err error
		if cur, err = tx.Cursor(CursorName(deliverer)); err != nil {
			return err
		}
		reg, err := tx.Cursor(registeredName(deliverer))
		if err != nil {
			return err
		}
		if reg == 0 {
			if cur == 0 {
				cur = from
				if err := tx.PutCursor(CursorName(deliverer), cur); err != nil {
					return err
				}
			}
			return tx.PutCursor(registeredName(deliverer), 1)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("start outbox deliverer %q: %w", deliverer, err)
	}
	s.mu.Lock()
	delete(s.from, deliverer)
	s.mu.Unlock()
	return cur, nil
}

// Read returns up to limit notifications with a seq greater than after,
// oldest first.
func (s *Service) Read(ctx context.Context, after uint64, limit int) ([]model.Notification, error) {
	var batch []model.Notification
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		batch, err = tx.Notifications(after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the outbox after seq %d: %w", after, err)
	}
	return batch, nil
}

// Sending puts the delivery of n to a deliverer on its case's audit
// trail ("notification.deliver" by the system, the webhook named in the
// reason), before n is first sent: a notification names a case and what
// happened to it, and, as with every read, it leaves the service only
// once that is on disk. A receiver that answers with an error has been
// sent it all the same, so the event stands for every attempt of this
// delivery; a delivery begun again after a restart (its cursor was not
// stored) is recorded again. It is a read's event, written as reads'
// are (datastore.Store.Batch): a full database still records it, and
// the delivery goes on as its reads do.
func (s *Service) Sending(ctx context.Context, deliverer string, n model.Notification, at time.Time) error {
	e := access.System("webhook delivery").Event(at, "notification.deliver", access.NotificationResource(n.Seq), n.Case, audit.OutcomeOK)
	e.Reason = "to webhook " + deliverer
	err := s.store.Batch(ctx, func(tx datastore.Tx) error {
		_, err := tx.AppendAudit(e)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit the delivery of notification %d to outbox deliverer %q: %w", n.Seq, deliverer, err)
	}
	return nil
}

// Acknowledge stores n's seq as the deliverer's cursor: its receiver has
// every notification up to n. The delivery is on the audit trail already
// (Sending). A cursor already past n stays: on a shared store an instance
// that lost the leadership without knowing yet may acknowledge what the
// new leader has delivered and acknowledged past, and moving the cursor
// back would have the next leader send all that again. The body only
// reads and writes through tx, so it is safe to re-run.
func (s *Service) Acknowledge(ctx context.Context, deliverer string, n model.Notification) error {
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		cur, err := tx.Cursor(CursorName(deliverer))
		if err != nil || cur >= n.Seq {
			return err
		}
		return tx.PutCursor(CursorName(deliverer), n.Seq)
	})
	if err != nil {
		return fmt.Errorf("store the cursor of outbox deliverer %q at seq %d: %w", deliverer, n.Seq, err)
	}
	return nil
}

// Position returns the seq of the newest notification and the deliverer's
// cursor, read in one snapshot, so that their difference is the
// deliverer's lag (for the metrics). A deliverer never started has
// cursor 0, and so has "" (no deliverer: the head alone).
func (s *Service) Position(ctx context.Context, deliverer string) (head, cursor uint64, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		if head, err = tx.OutboxHead(); err != nil {
			return err
		}
		if deliverer == "" {
			return nil
		}
		cursor, err = tx.Cursor(CursorName(deliverer))
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read the outbox position of deliverer %q: %w", deliverer, err)
	}
	return head, cursor, nil
}

// DefaultRetention is how long a notification is kept in the outbox when
// the deployment says nothing (--outbox-retention): the outbox is a feed
// for watches and webhooks, not the record (the audit log and each case's
// timeline are), and a watcher resumes at most process.MaxWatchReplay
// back anyway. Ninety days leaves a webhook whose receiver was down for a
// quarter time to catch up, and a month's statistics time to be checked
// against the feed.
const DefaultRetention = 90 * 24 * time.Hour

// MinRetention is the shortest retention a deployment may set. The leader
// prunes every hour, so a retention of seconds removed a notification
// before a watch that lost its connection for a minute could resume after
// it, or before the console's live queue reconnected. A day covers a
// night's outage of a watcher, and is short enough for any test of
// pruning; longer is the deployment's choice.
const MinRetention = 24 * time.Hour

// PruneBatch is how many notifications one transaction of Prune removes
// at most: a commit of a few hundred small deletes, far below what etcd
// takes in one by default (etcdstore.DefaultMaxTxnOps), and short enough
// not to hold the writers back. A store set to commit less at once (an
// --etcd-max-txn-ops as low as 24) gets smaller batches (Prune).
const PruneBatch = 500

// Prune removes the notifications made more than retention before now,
// oldest first, PruneBatch a transaction (fewer where the store commits
// less at once: datastore.FitBatch), until none is left to remove or ctx
// ends. It never removes one that a deliverer named in deliverers (the
// webhooks of the policy in effect) has not acknowledged, nor the newest
// (datastore.OutboxWriter). It stops at the first notification that is
// not old enough, so one whose time is out of order keeps those after it.
// It returns how many it removed.
//
// Nothing the audit trail needs is lost: the audit log is the record of
// who was sent what, and its events name a notification by its seq and
// case, never by pointing into the outbox.
func (s *Service) Prune(ctx context.Context, now time.Time, retention time.Duration, deliverers []string) (int, error) {
	if retention <= 0 {
		return 0, fmt.Errorf("prune the outbox: retention %v must be positive", retention)
	}
	cutoff := now.Add(-retention)
	total := 0
	// limit is PruneBatch, or less where the store commits less at once
	// (an etcd cluster's --max-txn-ops, which may be below it): found
	// once, by halving, and kept for the batches after.
	limit := PruneBatch
	for ctx.Err() == nil {
		var removed int
		var err error
		limit, err = datastore.FitBatch(limit, func(limit int) error {
			// The body sets removed afresh and only reads and writes
			// through tx, so it is safe to re-run (datastore.Store).
			return s.store.Update(ctx, func(tx datastore.Tx) error {
				removed = 0
				floor := uint64(1<<64 - 1)
				for _, d := range deliverers {
					cur, err := tx.Cursor(CursorName(d))
					if err != nil {
						return err
					}
					floor = min(floor, cur)
				}
				batch, err := tx.Notifications(0, limit)
				if err != nil {
					return err
				}
				var through uint64
				for _, n := range batch {
					if n.Seq > floor || !n.Time.Before(cutoff) {
						break
					}
					through = n.Seq
				}
				if through == 0 {
					return nil
				}
				removed, err = tx.PruneNotifications(through, limit)
				return err
			})
		})
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return total, nil
			}
			return total, fmt.Errorf("prune the outbox of what is older than %v: %w", retention, err)
		}
		total += removed
		if removed < limit {
			break
		}
	}
	return total, nil
}

// Tail returns the seq of the oldest notification kept, 0 when the outbox
// is empty (for the metrics: with the head, how many are kept).
func (s *Service) Tail(ctx context.Context) (uint64, error) {
	var tail uint64
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		tail, err = tx.OutboxTail()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read the oldest notification kept: %w", err)
	}
	return tail, nil
}
