package boltstore

import (
	"fmt"
	"slices"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// The audit events of a file store's reads (Store.Batch) are committed
// without their index entries (by case, by actor, by time): those land
// on three leaves far apart in the index bucket, with the branch pages
// above each, and were more than half of the pages a lone read's commit
// wrote. The log is their source, so the entries are written later, by
// the first of: an ordinary write's commit (Update), the read whose
// commit brings the events left without entries to auditTailMax, a
// listing (Store.IndexAuditEvents, which the audit log's List calls
// first), Close, and the next Open (after a crash). An event is durable,
// and on the chain, when its read is answered, as before; only its
// entries wait.
//
// Each of those writes the entries of every event left without them, in
// one transaction, so the events without entries are always the last ones
// of the log: a tail, which a start, check and a verification find by
// walking back from the head (unindexedAuditTail), at most auditTailWalk
// events, without any record of its own. The stored layout is unchanged:
// a file closed by Close is exactly what it was before.

// auditTailMax is one more than the most events a file store's reads
// leave without their index entries: the read whose commit would bring
// the tail to it writes the entries of all of them. It bounds what a
// start, a listing's catch-up, a verification and check look at.
const auditTailMax = 256

// auditTailWalk bounds the walk back that finds the waiting events, and
// so the events that may wait: more than auditTailMax, since on a full
// disk a read whose catch-up does not fit is committed without it and the
// events waiting grow past it, until a commit has room for their entries
// (or, with auditTailWalk of them waiting, the read is refused as full).
const auditTailWalk = 16 * auditTailMax

// entriesOf keeps what an event's index entries are made of.
func entriesOf(e audit.Event) audit.Event {
	return audit.Event{Seq: e.Seq, Time: e.Time, Case: e.Case, Actor: e.Actor}
}

// indexAuditTail puts the index entries of events.
func (t *tx) indexAuditTail(events []audit.Event) error {
	for _, e := range events {
		if err := t.putAuditEntries(e); err != nil {
			return fmt.Errorf("index the audit events of reads: %w", err)
		}
	}
	return nil
}

// unindexedAuditTail returns the events at the end of the log that lack
// their index entries, in seq order: it walks back from the head until an
// event that has all of its own (the entries of an event are written
// together, and those of the tail all at once), at most auditTailWalk
// events. An event
// that gets no entries at all (no case, no actor, and the index by time
// not yet complete) cannot tell and is passed over. A key or an event
// that does not read ends the walk: check names it.
func (t *tx) unindexedAuditTail() []audit.Event {
	log := t.bucket(bucketAudit)
	if log == nil {
		return nil
	}
	byTime := t.auditTimeIndexed()
	byCase, byActor, byTimeIx := t.keys(bucketAuditByCase), t.keys(bucketAuditByActor), t.keys(bucketAuditByTime)
	var tail []audit.Event
	c := log.Cursor()
	for k, v := c.Last(); k != nil && len(tail) < auditTailWalk; k, v = c.Prev() {
		if len(k) != seqKeyLen {
			break
		}
		e, err := audit.Decode(v)
		if err != nil || e.Seq != be.Uint64(k) {
			break
		}
		// An event with every entry it should have ends the tail. One
		// with some only is not taken for indexed: an entry may be left
		// from an event cut from the log whose seq a new one took.
		tells, indexed := false, true
		if e.Case != "" {
			tells = true
			indexed = indexed && byCase != nil && byCase.Get(append(stringPrefix(e.Case), k...)) != nil
		}
		if e.Actor != "" {
			tells = true
			indexed = indexed && byActor != nil && byActor.Get(append(stringPrefix(e.Actor), k...)) != nil
		}
		if byTime {
			tells = true
			indexed = indexed && byTimeIx.Get(storekey.AuditTimeKey(e.Time, e.Seq)) != nil
		}
		if tells && indexed {
			break
		}
		tail = append(tail, entriesOf(e))
	}
	slices.Reverse(tail)
	return tail
}

// unindexedFrom returns the seq of the first event of the log's
// unindexed tail, 0 when there is none, once per transaction. An open
// engine store has none (tx.noAuditTail).
func (t *tx) unindexedFrom() uint64 {
	if t.noAuditTail {
		return 0
	}
	if t.tailFrom == nil {
		var from uint64
		if tail := t.unindexedAuditTail(); len(tail) > 0 {
			from = tail[0].Seq
		}
		t.tailFrom = &from
	}
	return *t.tailFrom
}

// catchUpAuditTail writes the entries of the log's unindexed tail, as a
// store opens: a crash may have come before the commit that would have.
func (t *tx) catchUpAuditTail() error {
	return t.indexAuditTail(t.unindexedAuditTail())
}
