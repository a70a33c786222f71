package boltstore

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// Key lengths of the process buckets.
const (
	caseEventKeyLen = storekey.CaseEventKeyLen
	timerKeyLen     = storekey.TimerKeyLen
)

// ClearTextPending implements datastore.CaseReader.
func (t *tx) ClearTextPending() (bool, error) {
	return t.bucket(bucketMeta).Get(keyClearTextPending) != nil, nil
}

// ClearTextSealed implements datastore.CaseWriter.
func (t *tx) ClearTextSealed() error {
	return t.bucket(bucketMeta).Delete(keyClearTextPending)
}

// LastCaseID implements datastore.CaseReader: the cases' sequence, which
// CreateCase takes each id from, kept with the bucket rather than on the
// pages of its records.
func (t *tx) LastCaseID() (uint64, error) { return t.bucket(bucketCases).Sequence(), nil }

func (t *tx) CaseByID(id uint64) (model.Case, error) {
	raw := t.bucket(bucketCases).Get(u64(id))
	if raw == nil {
		return model.Case{}, fmt.Errorf("case id %d: %w", id, model.ErrNotFound)
	}
	c, err := decodeAs[model.Case](raw)
	if err != nil {
		return model.Case{}, fmt.Errorf("case id %d: %w", id, err)
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// Case timelines

func caseEventKey(caseID, seq uint64) []byte { return storekey.CaseEventKey(caseID, seq) }

// AppendCaseEvents numbers the events after the last one stored for the
// case in this transaction, so a rollback takes the seqs back with the
// events and the timeline has no gaps. The case must exist: a timeline
// without its case could never be read or removed with it.
func (t *tx) AppendCaseEvents(caseID uint64, events ...model.CaseEvent) ([]model.CaseEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if t.bucket(bucketCases).Get(u64(caseID)) == nil {
		return nil, fmt.Errorf("append events to case id %d: %w", caseID, model.ErrNotFound)
	}
	seq, err := t.lastCaseEventSeq(caseID)
	if err != nil {
		return nil, err
	}
	b := t.bucket(bucketCaseEvents)
	out := make([]model.CaseEvent, 0, len(events))
	for _, e := range events {
		seq++
		e.Seq = seq
		raw, err := encode(e)
		if err != nil {
			return nil, fmt.Errorf("case id %d event %d: %w", caseID, seq, err)
		}
		if err := b.Put(caseEventKey(caseID, seq), raw); err != nil {
			return nil, fmt.Errorf("put case id %d event %d: %w", caseID, seq, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// lastCaseEventSeq returns the seq of the case's last event, 0 if it has
// none.
func (t *tx) lastCaseEventSeq(caseID uint64) (uint64, error) {
	prefix := u64(caseID)
	c := t.bucket(bucketCaseEvents).Cursor()
	kv.SetFloor(c, prefix)
	kv.SetCeiling(c, prefixEnd(prefix))
	var k []byte
	if end := prefixEnd(prefix); end == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(end); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return 0, nil
	}
	if len(k) != caseEventKeyLen {
		return 0, fmt.Errorf("case events: malformed key %x", k)
	}
	return be.Uint64(k[8:]), nil
}

// CaseEvents takes each event's seq from its key.
func (t *tx) CaseEvents(caseID, after uint64, limit int) ([]model.CaseEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("case events: limit %d must be positive", limit)
	}
	if after == math.MaxUint64 {
		return nil, nil
	}
	prefix := u64(caseID)
	var out []model.CaseEvent
	c := t.bucket(bucketCaseEvents).Cursor()
	for k, v := c.Seek(caseEventKey(caseID, after+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
		e, err := decodeCaseEvent(caseID, k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// decodeCaseEvent decodes a timeline record, its seq taken from its key.
func decodeCaseEvent(caseID uint64, k, v []byte) (model.CaseEvent, error) {
	if len(k) != caseEventKeyLen {
		return model.CaseEvent{}, fmt.Errorf("case events: malformed key %x", k)
	}
	seq := be.Uint64(k[8:])
	e, err := decodeAs[model.CaseEvent](v)
	if err != nil {
		return model.CaseEvent{}, fmt.Errorf("case id %d event %d: %w", caseID, seq, err)
	}
	e.Seq = seq
	return e, nil
}

// CaseEventsNewestFirst walks the case's keys backwards from before.
func (t *tx) CaseEventsNewestFirst(caseID, before uint64, limit int) ([]model.CaseEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("case events: limit %d must be positive", limit)
	}
	if before == 0 {
		before = math.MaxUint64
	}
	prefix := u64(caseID)
	var out []model.CaseEvent
	c := t.bucket(bucketCaseEvents).Cursor()
	kv.SetFloor(c, prefix)
	kv.SetCeiling(c, prefixEnd(prefix))
	// Seek finds the first key at or after before's; the walk starts at
	// the one below it (the bucket's last when there is none).
	var k, v []byte
	if k, _ = c.Seek(caseEventKey(caseID, before)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
		e, err := decodeCaseEvent(caseID, k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Scheduler timers

func timerKey(tm model.Timer) ([]byte, error) { return storekey.TimerKey(tm) }

func parseTimerKey(k []byte) (model.Timer, error) { return storekey.ParseTimerKey(k) }

func (t *tx) PutTimer(tm model.Timer) error {
	k, err := timerKey(tm)
	if err != nil {
		return err
	}
	if err := t.keys(bucketTimers).Put(k, nil); err != nil {
		return fmt.Errorf("put timer: %w", err)
	}
	return nil
}

// DeleteTimer of a timer the layout cannot hold (a zero At, say) is nil
// like that of any other absent timer: no such timer can be stored.
func (t *tx) DeleteTimer(tm model.Timer) error {
	k, err := timerKey(tm)
	if err != nil {
		return nil
	}
	if err := t.keys(bucketTimers).Delete(k); err != nil {
		return fmt.Errorf("delete timer: %w", err)
	}
	return nil
}

// DueTimers walks the timers from the earliest; timers at the same
// instant come in order of case id, then deadline id.
func (t *tx) DueTimers(until time.Time, limit int) ([]model.Timer, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due timers: limit %d must be positive", limit)
	}
	end, ok := storekey.DueUntil(until)
	if !ok {
		return nil, nil // no timer is stored before 1970
	}
	var out []model.Timer
	c := t.keys(bucketTimers).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		tm, err := parseTimerKey(k)
		if err != nil {
			return nil, err
		}
		if be.Uint64(k[:8]) > end {
			break
		}
		out = append(out, tm)
	}
	return out, nil
}

func (t *tx) NextTimer() (model.Timer, bool, error) {
	k, _ := t.keys(bucketTimers).Cursor().First()
	if k == nil {
		return model.Timer{}, false, nil
	}
	tm, err := parseTimerKey(k)
	if err != nil {
		return model.Timer{}, false, err
	}
	return tm, true, nil
}

// ---------------------------------------------------------------------------
// Outbox and delivery cursors

// AppendNotifications numbers entries with the bucket's sequence, which
// bolt keeps in the transaction: a rollback takes it back, so readers see
// no gaps, and it keeps counting if old entries are ever removed, so a
// delivery cursor never meets a reused seq.
func (t *tx) AppendNotifications(ns ...model.Notification) ([]model.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	b := t.bucket(bucketOutbox)
	out := make([]model.Notification, 0, len(ns))
	for _, n := range ns {
		seq, err := b.NextSequence()
		if err != nil {
			return nil, fmt.Errorf("outbox seq: %w", err)
		}
		key := u64(seq)
		if b.Get(key) != nil {
			return nil, fmt.Errorf("outbox seq %d is already stored: the bucket's sequence is behind its entries", seq)
		}
		n.Seq = seq
		raw, err := encode(n)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", seq, err)
		}
		if err := b.Put(key, raw); err != nil {
			return nil, fmt.Errorf("put outbox entry %d: %w", seq, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Notifications takes each entry's seq from its key.
func (t *tx) Notifications(after uint64, limit int) ([]model.Notification, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("notifications: limit %d must be positive", limit)
	}
	if after == math.MaxUint64 {
		return nil, nil
	}
	var out []model.Notification
	c := t.bucket(bucketOutbox).Cursor()
	for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		if len(k) != seqKeyLen {
			return nil, fmt.Errorf("outbox: malformed key %x", k)
		}
		seq := be.Uint64(k)
		n, err := decodeAs[model.Notification](v)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", seq, err)
		}
		n.Seq = seq
		out = append(out, n)
	}
	return out, nil
}

func (t *tx) OutboxHead() (uint64, error) {
	k, _ := t.bucket(bucketOutbox).Cursor().Last()
	if k == nil {
		return 0, nil
	}
	if len(k) != seqKeyLen {
		return 0, fmt.Errorf("outbox: malformed key %x", k)
	}
	return be.Uint64(k), nil
}

func (t *tx) OutboxTail() (uint64, error) {
	k, _ := t.bucket(bucketOutbox).Cursor().First()
	if k == nil {
		return 0, nil
	}
	if len(k) != seqKeyLen {
		return 0, fmt.Errorf("outbox: malformed key %x", k)
	}
	return be.Uint64(k), nil
}

// PruneNotifications collects the keys first and deletes them after the
// cursor is done (no deletes while a cursor walks). The last entry stays:
// OutboxHead reads it, and check compares it with the bucket's sequence.
func (t *tx) PruneNotifications(through uint64, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("prune notifications: limit %d must be positive", limit)
	}
	b := t.bucket(bucketOutbox)
	last, _ := b.Cursor().Last()
	if last == nil {
		return 0, nil
	}
	if len(last) != seqKeyLen {
		return 0, fmt.Errorf("outbox: malformed key %x", last)
	}
	through = min(through, be.Uint64(last)-1)
	var doomed [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(doomed) < limit; k, _ = c.Next() {
		if len(k) != seqKeyLen {
			return 0, fmt.Errorf("outbox: malformed key %x", k)
		}
		if be.Uint64(k) > through {
			break
		}
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return 0, fmt.Errorf("prune outbox entry %d: %w", be.Uint64(k), err)
		}
	}
	return len(doomed), nil
}

func (t *tx) Cursor(name string) (uint64, error) {
	raw := t.bucket(bucketCursors).Get([]byte(name))
	if raw == nil {
		return 0, nil
	}
	if len(raw) != 8 {
		return 0, fmt.Errorf("cursor %q: the record is damaged (%d bytes, want 8)", name, len(raw))
	}
	return be.Uint64(raw), nil
}

// PutCursor refuses an empty name and one with a NUL byte, as every id
// (see checkID).
func (t *tx) PutCursor(name string, seq uint64) error {
	if err := checkID("cursor", name, false); err != nil {
		return err
	}
	if err := t.bucket(bucketCursors).Put([]byte(name), u64(seq)); err != nil {
		return fmt.Errorf("put cursor %q: %w", name, err)
	}
	return nil
}
