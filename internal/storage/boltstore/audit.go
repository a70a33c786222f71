package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"iter"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// auditHeadLen is the length of the stored head: seq(8) then hash.
const auditHeadLen = 8 + audit.HashSize

func (t *tx) AuditHead() (uint64, []byte, error) {
	raw := t.bucket(bucketMeta).Get(keyAuditHead)
	if raw == nil {
		return 0, nil, nil
	}
	if len(raw) != auditHeadLen {
		return 0, nil, fmt.Errorf("audit head: the record is damaged (%d bytes, want %d)", len(raw), auditHeadLen)
	}
	return be.Uint64(raw[:8]), bytes.Clone(raw[8:]), nil
}

// AppendAudit seals the events with a chain built from the head stored in
// this transaction, so concurrent writers (serialised by bolt) and events
// appended earlier in the same transaction are linked in order, and a
// rollback leaves neither events nor head behind.
func (t *tx) AppendAudit(events ...audit.Event) ([]audit.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	seq, hash, err := t.AuditHead()
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	// putAuditEvent looks for each event's key: on etcd, one round trip
	// for all. The log ends at its head, so the range reaches to its end
	// at no more cost, and the answer (none) also covers the keys of the
	// writes that share a group commit after this one, which a run ahead
	// of the group (kv.Speculate) made at the snapshot's head.
	kv.Prefetch(t.kt, kv.Range{Bucket: bucketAudit, From: u64(seq + 1), Limit: len(events)})
	out, seq, hash, err := storekey.AppendAudit(seq, hash, events, t.putAuditEvent)
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	if err := t.bucket(bucketMeta).Put(keyAuditHead, append(u64(seq), hash...)); err != nil {
		return nil, fmt.Errorf("append audit: put head: %w", err)
	}
	return out, nil
}

// putAuditEvent stores a sealed event and its index entries. It refuses to
// overwrite an event: a head behind the log means the log was tampered
// with, and writing over the evidence would hide it.
func (t *tx) putAuditEvent(e audit.Event) error {
	raw, err := audit.Encode(e)
	if err != nil {
		return err
	}
	key := u64(e.Seq)
	// Events are only ever appended, with rising keys: full pages
	// (appendFill), rather than bbolt's half-full split for random inserts,
	// halve the room the log takes, which is what a full database's
	// reserve is spent on.
	b := t.bucket(bucketAudit)
	if b.Get(key) != nil {
		return fmt.Errorf("event seq %d is already stored: the recorded head is behind the log", e.Seq)
	}
	if err := b.Put(key, raw); err != nil {
		return fmt.Errorf("put event %d: %w", e.Seq, err)
	}
	if t.deferAuditEntries {
		t.deferred = append(t.deferred, entriesOf(e))
		return nil
	}
	return t.putAuditEntries(e)
}

// putAuditEntries puts the index entries of a stored event: by case, by
// actor and by time.
func (t *tx) putAuditEntries(e audit.Event) error {
	key := u64(e.Seq)
	if e.Case != "" {
		if err := t.keys(bucketAuditByCase).Put(append(stringPrefix(e.Case), key...), nil); err != nil {
			return fmt.Errorf("put event %d case index: %w", e.Seq, err)
		}
	}
	if e.Actor != "" {
		if err := t.keys(bucketAuditByActor).Put(append(stringPrefix(e.Actor), key...), nil); err != nil {
			return fmt.Errorf("put event %d actor index: %w", e.Seq, err)
		}
	}
	// Written whether or not the index is complete yet, so that
	// IndexAuditByTime only has the events from before it to do.
	if err := t.keys(bucketAuditByTime).Put(storekey.AuditTimeKey(e.Time, e.Seq), nil); err != nil {
		return fmt.Errorf("put event %d time index: %w", e.Seq, err)
	}
	return nil
}

// IndexAuditByTime walks the log from the key stored in meta (seq 1 at
// first) and puts the entry of each of up to limit events, which may
// already be there (an event appended since the index existed): the put
// is the same. Reaching the log's end in the same transaction as the
// appends it is serialised with, it records the index complete. An event
// that does not decode, or sits under a malformed key, gets no entry: the
// start's verification warns of it and check names it, and it must not
// stop the index of the others.
func (t *tx) IndexAuditByTime(limit int) (int, bool, error) {
	if limit <= 0 {
		return 0, false, fmt.Errorf("index audit by time: limit %d: must be positive", limit)
	}
	if t.auditTimeIndexed() {
		return 0, true, nil
	}
	meta := t.bucket(bucketMeta)
	from := u64(1)
	if raw := meta.Get(keyAuditByTimeFrom); raw != nil {
		from = raw // the key of the log to go on from
	}
	ix := t.keys(bucketAuditByTime)
	if ix == nil {
		return 0, false, fmt.Errorf("index audit by time: bucket %s is missing", bucketIndex)
	}
	c := t.bucket(bucketAudit).Cursor()
	k, v := c.Seek(from)
	n := 0
	for ; k != nil && n < limit; k, v = c.Next() {
		n++
		if len(k) != seqKeyLen {
			continue
		}
		e, err := audit.Decode(v)
		if err != nil {
			continue
		}
		if err := ix.Put(storekey.AuditTimeKey(e.Time, be.Uint64(k)), nil); err != nil {
			return 0, false, fmt.Errorf("index audit by time: event %d: %w", be.Uint64(k), err)
		}
	}
	if k != nil {
		return n, false, meta.Put(keyAuditByTimeFrom, bytes.Clone(k))
	}
	if err := meta.Delete(keyAuditByTimeFrom); err != nil {
		return n, false, err
	}
	return n, true, ix.Put(auditByTimeComplete, []byte{})
}

// AuditIndexedByTime reports whether every event has its entry in
// audit_by_time.
func (t *tx) AuditIndexedByTime() (bool, error) { return t.auditTimeIndexed(), nil }

// AuditIndexGap looks up the entries putAuditEvent wrote for each event
// (on etcd, all of them in one round trip) and returns the first event
// that lacks one.
func (t *tx) AuditIndexGap(events []audit.Event) (int, string, error) {
	byTime := t.auditTimeIndexed()
	byCase, byActor, byTimeIx := t.keys(bucketAuditByCase), t.keys(bucketAuditByActor), t.keys(bucketAuditByTime)
	if _, ok := t.kt.(kv.Prefetcher); ok {
		t.prefetchAuditEntries(events, byTime)
	}
	var key []byte // reused: a verification looks up every event's entries
	// The log's last events may wait for their entries (audittail.go).
	tail := t.unindexedFrom()
	for i, e := range events {
		if tail != 0 && e.Seq >= tail {
			continue
		}
		seq := u64(e.Seq)
		if e.Case != "" {
			key = append(append(append(key[:0], e.Case...), 0), seq...)
			if byCase == nil || byCase.Get(key) == nil {
				return i, "the index by case", nil
			}
		}
		if e.Actor != "" {
			key = append(append(append(key[:0], e.Actor...), 0), seq...)
			if byActor == nil || byActor.Get(key) == nil {
				return i, "the index by actor", nil
			}
		}
		if byTime && byTimeIx.Get(storekey.AuditTimeKey(e.Time, e.Seq)) == nil {
			return i, "the index by time", nil
		}
	}
	return -1, "", nil
}

// prefetchAuditEntries fetches the index entries of events in one round
// trip, for AuditIndexGap on an engine whose reads are round trips.
func (t *tx) prefetchAuditEntries(events []audit.Event, byTime bool) {
	var points []kv.Range
	add := func(index, key []byte) {
		if tag, ok := indexTag(index); ok {
			points = append(points, kv.Point(bucketIndex, append([]byte{tag}, key...)))
		}
	}
	for _, e := range events {
		seq := u64(e.Seq)
		if e.Case != "" {
			add(bucketAuditByCase, append(stringPrefix(e.Case), seq...))
		}
		if e.Actor != "" {
			add(bucketAuditByActor, append(stringPrefix(e.Actor), seq...))
		}
		if byTime {
			add(bucketAuditByTime, storekey.AuditTimeKey(e.Time, e.Seq))
		}
	}
	kv.Prefetch(t.kt, points...)
}

// auditTimeIndexed reports whether every event has its entry in
// audit_by_time.
func (t *tx) auditTimeIndexed() bool {
	ix := t.keys(bucketAuditByTime)
	return ix != nil && ix.Get(auditByTimeComplete) != nil
}

var errTxClosed = errors.New("audit events: the transaction has ended; consume the sequence inside View or Update")

// AuditEvents yields events in key order and as decoded, without checking
// that a key matches the seq inside its value: a moved or edited event must
// reach audit.Verify, which names the seq where the chain breaks. The
// sequence reads the transaction, so it must be consumed before the
// transaction ends.
func (t *tx) AuditEvents(from uint64) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		if t.ended() {
			yield(audit.Event{}, errTxClosed)
			return
		}
		c := t.bucket(bucketAudit).Cursor()
		for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
			if len(k) != seqKeyLen {
				yield(audit.Event{}, fmt.Errorf("audit events: malformed key %x after seq %d", k, from))
				return
			}
			e, err := audit.Decode(v)
			if err != nil {
				yield(audit.Event{}, fmt.Errorf("audit event at key seq %d: %w", be.Uint64(k), err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// ListAuditEvents reads the case index when q names a case, else the actor
// index when it names an actor, else the index by time when q has a time
// range (newest time first, then seq) and that index is complete, else
// the whole log, and checks every other condition on the decoded event.
func (t *tx) ListAuditEvents(q datastore.AuditQuery) ([]audit.Event, string, error) {
	var out []audit.Event
	log := t.bucket(bucketAudit)
	load := func(key []byte, take bool) error {
		raw := log.Get(key)
		if raw == nil {
			return fmt.Errorf("audit index points at missing event seq %d", be.Uint64(key))
		}
		e, err := audit.Decode(raw)
		if err != nil {
			return fmt.Errorf("audit event at key seq %d: %w", be.Uint64(key), err)
		}
		if !auditMatches(q, e) {
			return errSkip
		}
		if take {
			out = append(out, e)
		}
		return nil
	}
	b, prefix := &keyspace{b: log}, []byte(nil)
	switch {
	case q.Case != "":
		b, prefix = t.keys(bucketAuditByCase), stringPrefix(q.Case)
	case q.Actor != "":
		b, prefix = t.keys(bucketAuditByActor), stringPrefix(q.Actor)
	case (!q.From.IsZero() || !q.To.IsZero()) && t.auditTimeIndexed():
		next, err := storekey.ScanAuditTime(t.keys(bucketAuditByTime).Cursor(), q, func(k []byte, take bool) error {
			return load(k[8:], take)
		})
		return out, next, err
	}
	next, err := scanDesc(b, prefix, seqKeyLen, q.After, q.Limit, func(k []byte, take bool) error {
		return load(k[len(prefix):], take)
	})
	return out, next, err
}

func auditMatches(q datastore.AuditQuery, e audit.Event) bool { return storekey.AuditMatches(q, e) }
