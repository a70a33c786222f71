package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

var procT0 = time.Date(2026, time.March, 14, 2, 26, 53, 123456789, time.UTC)

// createProcessCase stores a case and returns its id.
func createProcessCase(t *testing.T, s datastore.Store, number string) uint64 {
	t.Helper()
	c := model.Case{Number: number, Revision: 1}
	if err := s.Update(context.Background(), func(tx datastore.Tx) error { return tx.CreateCase(&c) }); err != nil {
		t.Fatalf("CreateCase: %v", err)
	}
	return c.ID
}

// TestProcessLayout checks the keys and values of the process buckets
// against the layout documented at the top of boltstore.go.
func TestProcessLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	id := createProcessCase(t, s, "HN-2026-00001")
	tm := model.Timer{At: procT0, CaseID: id, DeadlineID: 0x01020304}
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if _, err := tx.AppendCaseEvents(id, model.CaseEvent{Kind: "A"}, model.CaseEvent{Kind: "B"}); err != nil {
			return err
		}
		if err := tx.PutTimer(tm); err != nil {
			return err
		}
		if _, err := tx.AppendNotifications(model.Notification{Kind: "N1"}, model.Notification{Kind: "N2"}); err != nil {
			return err
		}
		return tx.PutCursor("webhook/a", 0x0102)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	be := binary.BigEndian
	rawView(t, path, func(tx *bolt.Tx) error {
		var keys [][]byte
		_ = tx.Bucket([]byte("case_events")).ForEach(func(k, v []byte) error {
			keys = append(keys, bytes.Clone(k))
			if len(v) == 0 || v[0] != boltstore.ProtoRecord {
				t.Errorf("case event %x: value %q is not a stored message", k, v)
			}
			return nil
		})
		want := [][]byte{be.AppendUint64(seqKey(id), 1), be.AppendUint64(seqKey(id), 2)}
		if len(keys) != 2 || !bytes.Equal(keys[0], want[0]) || !bytes.Equal(keys[1], want[1]) {
			t.Errorf("case_events keys = %x, want %x", keys, want)
		}

		wantTimer := be.AppendUint32(be.AppendUint64(seqKey(uint64(procT0.UnixNano())), id), 0x01020304)
		// In the bucket index behind the timers' tag, 8 (schema version 6).
		wantTimer = append([]byte{8}, wantTimer...)
		k, v := tx.Bucket([]byte("index")).Cursor().Seek([]byte{8})
		if !bytes.Equal(k, wantTimer) || len(v) != 0 {
			t.Errorf("timers entry = %x -> %x, want %x -> empty", k, v, wantTimer)
		}

		outbox := tx.Bucket([]byte("outbox"))
		keys = nil
		_ = outbox.ForEach(func(k, v []byte) error {
			keys = append(keys, bytes.Clone(k))
			if len(v) == 0 || v[0] != boltstore.ProtoRecord {
				t.Errorf("outbox entry %x: value %q is not a stored message", k, v)
			}
			return nil
		})
		if len(keys) != 2 || !bytes.Equal(keys[0], seqKey(1)) || !bytes.Equal(keys[1], seqKey(2)) {
			t.Errorf("outbox keys = %x, want 1 and 2", keys)
		}
		if seq := outbox.Sequence(); seq != 2 {
			t.Errorf("outbox bucket sequence = %d, want 2", seq)
		}

		if v := tx.Bucket([]byte("cursors")).Get([]byte("webhook/a")); !bytes.Equal(v, seqKey(0x0102)) {
			t.Errorf("cursor value = %x, want %x", v, seqKey(0x0102))
		}
		return nil
	})
}

// TestOutboxSequenceRollback shows what bolt does with NextSequence in a
// transaction that is rolled back: the bucket's sequence is rolled back
// with it, so the outbox gets no gap.
func TestOutboxSequenceRollback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx datastore.Tx) error {
		_, err := tx.AppendNotifications(model.Notification{Kind: "kept"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	if err := s.Update(ctx, func(tx datastore.Tx) error {
		if _, err := tx.AppendNotifications(model.Notification{}, model.Notification{}, model.Notification{}); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawView(t, path, func(tx *bolt.Tx) error {
		if seq := tx.Bucket([]byte("outbox")).Sequence(); seq != 1 {
			t.Errorf("outbox bucket sequence after a rolled-back append = %d, want 1", seq)
		}
		return nil
	})
}

// TestOutboxSeqNeverReused: the outbox counts with the bucket's sequence,
// so if entries are removed (say, pruned once delivered) a new entry does
// not take a seq a delivery cursor may already have passed. The sequence
// also survives a reopen.
func TestOutboxSeqNeverReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	ctx := context.Background()
	appendOne := func(s datastore.Store) uint64 {
		t.Helper()
		var seq uint64
		if err := s.Update(ctx, func(tx datastore.Tx) error {
			ns, err := tx.AppendNotifications(model.Notification{Kind: "X"})
			if err == nil {
				seq = ns[0].Seq
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return seq
	}
	for range 3 {
		appendOne(s)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("outbox"))
		for i := uint64(1); i <= 3; i++ {
			if err := b.Delete(seqKey(i)); err != nil {
				return err
			}
		}
		return nil
	})
	s = open(t, path)
	if seq := appendOne(s); seq != 4 {
		t.Errorf("after the outbox was emptied and reopened, the next seq = %d, want 4", seq)
	}
}

// TestTimerLimits refuses the timers a Unix-nanosecond key cannot hold
// beyond what the conformance suite asks: after 2262 and deadline ids
// above MaxInt32. The last representable instant is accepted.
func TestTimerLimits(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	last := time.Unix(0, math.MaxInt64)
	for _, tm := range []model.Timer{
		{At: last.Add(time.Nanosecond), CaseID: 1},
		{At: time.Date(3000, time.January, 1, 0, 0, 0, 0, time.UTC), CaseID: 1},
		{At: procT0, CaseID: 1, DeadlineID: math.MaxInt32 + 1},
	} {
		err := s.Update(context.Background(), func(tx datastore.Tx) error { return tx.PutTimer(tm) })
		if err == nil {
			t.Errorf("PutTimer(%+v) succeeded, want an error", tm)
		}
	}
	var got []model.Timer
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if err := tx.PutTimer(model.Timer{At: last, CaseID: 1, DeadlineID: math.MaxInt32}); err != nil {
			return err
		}
		var err error
		got, err = tx.DueTimers(last, 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].At.Equal(last) || got[0].DeadlineID != math.MaxInt32 {
		t.Errorf("DueTimers = %+v, want the timer at %v", got, last)
	}
}

// TestDamagedProcessKeys: a key of the wrong shape in a process bucket is
// reported as an error by the reads, not misread or skipped in silence.
func TestDamagedProcessKeys(t *testing.T) {
	for _, tt := range []struct {
		name   string
		bucket string
		key    []byte
		read   func(tx datastore.ReadTx, caseID uint64) error
	}{
		{"short timer key", "timers", []byte{0, 1, 2}, func(tx datastore.ReadTx, _ uint64) error {
			_, err := tx.DueTimers(time.Unix(0, math.MaxInt64), 10)
			return err
		}},
		{"short timer key, next", "timers", []byte{0, 1, 2}, func(tx datastore.ReadTx, _ uint64) error {
			_, _, err := tx.NextTimer()
			return err
		}},
		{"timer before 1970", "timers", append(seqKey(1<<63), make([]byte, 12)...), func(tx datastore.ReadTx, _ uint64) error {
			_, _, err := tx.NextTimer()
			return err
		}},
		{"long case event key", "case_events", nil, func(tx datastore.ReadTx, caseID uint64) error {
			_, err := tx.CaseEvents(caseID, 0, 10)
			return err
		}},
		{"long case event key, append", "case_events", nil, func(tx datastore.ReadTx, caseID uint64) error {
			_, err := tx.(datastore.Tx).AppendCaseEvents(caseID, model.CaseEvent{})
			return err
		}},
		{"long outbox key", "outbox", append(seqKey(1), 0), func(tx datastore.ReadTx, _ uint64) error {
			_, err := tx.Notifications(0, 10)
			return err
		}},
		{"long outbox key, head", "outbox", append(seqKey(1), 0), func(tx datastore.ReadTx, _ uint64) error {
			_, err := tx.OutboxHead()
			return err
		}},
		{"short cursor value", "cursors", []byte("webhook/a"), func(tx datastore.ReadTx, _ uint64) error {
			_, err := tx.Cursor("webhook/a")
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			s := open(t, path)
			id := createProcessCase(t, s, "HN-2026-00001")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			key, value := tt.key, []byte{1, '{', '}'}
			if key == nil {
				key = append(seqKey(id), 0, 0, 0, 0, 0, 0, 0, 1, 0)
			}
			if tt.bucket == "cursors" {
				value = []byte{1, 2, 3}
			}
			rawUpdate(t, path, func(tx *bolt.Tx) error { return boltstore.RawKeys(tx, tt.bucket).Put(key, value) })
			s = open(t, path)
			err := s.Update(context.Background(), func(tx datastore.Tx) error { return tt.read(tx, id) })
			if err == nil {
				t.Errorf("the read succeeded over a damaged %s entry %x", tt.bucket, key)
			}
		})
	}
}
