// Package idempotency makes creating and state-changing requests safe to
// retry. A request that carries a request_id is remembered, in the
// transaction of the change it makes, under its user, method and
// request_id with a fingerprint of the request: a retry gets the first
// answer back, and the same request_id with a different request is
// refused (model.ErrIdempotencyMismatch, ALREADY_EXISTS on the wire).
// Records are kept for a retention (DefaultRetention, never less than
// MinRetention) and then swept in small transactions. It must not know
// about protobuf, gRPC or bbolt.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Retention of idempotency records: a retry within it returns the first
// answer; after it, the request_id is forgotten and the request would be
// carried out again.
const (
	// MinRetention is the least a record is kept, whatever is configured.
	MinRetention = 7 * 24 * time.Hour
	// DefaultRetention is how long a record is kept unless configured.
	DefaultRetention = 30 * 24 * time.Hour
	// SweepInterval is how often the scheduler sweeps expired records.
	SweepInterval = time.Hour
	// sweepBatch bounds the records one sweep transaction deletes, so a
	// sweep never holds the write lock for long.
	sweepBatch = 256
)

// Request is what makes a request idempotent: the client's request_id
// (none: the request is not remembered) and a fingerprint of the request
// without its request_id.
type Request struct {
	ID          string
	Fingerprint []byte
}

// Key is the storage key of p's request_id for method. Request ids are
// scoped to the user, so one user's id can neither collide with nor
// reveal another's.
func Key(p access.Principal, method, requestID string) string {
	return p.UserID + ":" + method + ":" + requestID
}

// Retried is the audit event of a retry's answer: the first answer shows
// the record again (to a caller who may have lost the case since), so it
// is a read of it, action ("case.read", "report.read") on resource, like
// any other read; its reason names the method retried. Nothing changed,
// so the method's own action is not written again.
func Retried(p access.Principal, now time.Time, action, resource, caseName, method string) audit.Event {
	e := p.Event(now, action, resource, caseName, audit.OutcomeOK)
	e.Reason = "the first answer to a retry of " + method
	return e
}

// Replay looks up an earlier request of p with the same request_id: found
// is true if there was one, and the error is ErrIdempotencyMismatch if it
// was a different request. Without a request_id it finds nothing. earlier
// are fingerprints an earlier version took of the same request (nil ones
// are ignored), which a record it wrote holds: they match too.
func Replay(tx datastore.IdempotencyReader, p access.Principal, method, requestID string, fingerprint []byte, earlier ...[]byte) (rec model.IdempotencyRecord, found bool, err error) {
	if requestID == "" {
		return model.IdempotencyRecord{}, false, nil
	}
	rec, err = tx.Idempotency(Key(p, method, requestID))
	switch {
	case errors.Is(err, model.ErrNotFound):
		return model.IdempotencyRecord{}, false, nil
	case err != nil:
		return model.IdempotencyRecord{}, false, err
	case !bytes.Equal(rec.Fingerprint, fingerprint) && !slices.ContainsFunc(earlier, func(f []byte) bool { return f != nil && bytes.Equal(rec.Fingerprint, f) }):
		return model.IdempotencyRecord{}, false, fmt.Errorf("request_id %q was first used for a different request: %w", requestID, model.ErrIdempotencyMismatch)
	}
	return rec, true, nil
}

// Remember records, in the transaction of the change, that p's request
// with this request_id produced resource, and the result to answer a retry
// with. Without a request_id it does nothing.
func Remember(tx datastore.IdempotencyTx, p access.Principal, method, requestID string, fingerprint []byte, resource string, result []byte, now time.Time) error {
	if requestID == "" {
		return nil
	}
	return tx.PutIdempotency(model.IdempotencyRecord{
		Key: Key(p, method, requestID), Fingerprint: fingerprint, Resource: resource, Result: result, CreateTime: now,
	})
}

// EffectiveRetention is the retention used for a configured one: the
// default for zero, and never less than MinRetention.
func EffectiveRetention(configured time.Duration) time.Duration {
	if configured == 0 {
		return DefaultRetention
	}
	return max(configured, MinRetention)
}

// Sweep deletes the records created more than retention (see
// EffectiveRetention) before now, oldest first, in transactions of a few
// hundred records each (fewer where the store commits less at once:
// datastore.FitBatch), and returns how many it deleted. Writers wait at
// most for one small transaction.
func Sweep(ctx context.Context, store datastore.Store, now time.Time, retention time.Duration) (int, error) {
	before := now.Add(-EffectiveRetention(retention))
	total, limit := 0, sweepBatch
	for {
		var n int
		var err error
		limit, err = datastore.FitBatch(limit, func(limit int) error {
			return store.Update(ctx, func(tx datastore.Tx) error {
				var err error
				n, err = tx.DeleteIdempotencyBefore(before, limit)
				return err
			})
		})
		if err != nil {
			return total, fmt.Errorf("sweep idempotency records: %w", err)
		}
		total += n
		if n < limit {
			return total, nil
		}
	}
}
