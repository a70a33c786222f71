package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Retention of idempotency records: DeleteIdempotencyBefore.

// putIdempotencyAt stores records with the given keys, each created at the
// time at the same index.
func putIdempotencyAt(t *testing.T, s datastore.Store, keys []string, times []time.Time) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for i, k := range keys {
			r := sampleIdempotency(k)
			r.CreateTime = times[i]
			if err := tx.PutIdempotency(r); err != nil {
				return fmt.Errorf("PutIdempotency(%q): %w", k, err)
			}
		}
		return nil
	})
}

// deleteIdempotencyBefore runs one DeleteIdempotencyBefore in its own
// committed transaction.
func deleteIdempotencyBefore(t *testing.T, s datastore.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx datastore.Tx) error {
		var err error
		n, err = tx.DeleteIdempotencyBefore(before, limit)
		return err
	})
	return n
}

// presentIdempotency returns which of keys have a record.
func presentIdempotency(t *testing.T, s datastore.Store, keys ...string) []string {
	t.Helper()
	var out []string
	view(t, s, func(tx datastore.ReadTx) error {
		for _, k := range keys {
			_, err := tx.Idempotency(k)
			switch {
			case err == nil:
				out = append(out, k)
			case !isNotFound(err):
				return fmt.Errorf("Idempotency(%q): %w", k, err)
			}
		}
		return nil
	})
	return out
}

func isNotFound(err error) bool { return errors.Is(err, model.ErrNotFound) }

func testIdempotencyDeleteBefore(t *testing.T, s datastore.Store) {
	// Stored out of time order, so a store that deletes in key or insertion
	// order is caught.
	keys := []string{"u:m:c", "u:m:a", "u:m:e", "u:m:b", "u:m:d"}
	times := []time.Time{
		baseTime.Add(-time.Hour), baseTime.Add(-3 * time.Hour), baseTime.Add(time.Hour),
		baseTime.Add(-2 * time.Hour), baseTime,
	}
	putIdempotencyAt(t, s, keys, times)

	if n := deleteIdempotencyBefore(t, s, baseTime.Add(-4*time.Hour), 10); n != 0 {
		t.Errorf("DeleteIdempotencyBefore(before every record) = %d, want 0", n)
	}
	// Strictly before: the record created at baseTime itself stays.
	if n := deleteIdempotencyBefore(t, s, baseTime, 10); n != 3 {
		t.Errorf("DeleteIdempotencyBefore(baseTime) = %d, want 3", n)
	}
	if got, want := presentIdempotency(t, s, keys...), []string{"u:m:e", "u:m:d"}; !slices.Equal(got, want) {
		t.Errorf("after deleting before baseTime, records %v remain, want %v", got, want)
	}
	if n := deleteIdempotencyBefore(t, s, baseTime, 10); n != 0 {
		t.Errorf("repeating DeleteIdempotencyBefore(baseTime) = %d, want 0", n)
	}
	if n := deleteIdempotencyBefore(t, s, baseTime.Add(time.Nanosecond), 10); n != 1 {
		t.Errorf("DeleteIdempotencyBefore(baseTime+1ns) = %d, want 1", n)
	}
	if got, want := presentIdempotency(t, s, keys...), []string{"u:m:e"}; !slices.Equal(got, want) {
		t.Errorf("records %v remain, want %v", got, want)
	}
}

func testIdempotencyDeleteBeforeLimit(t *testing.T, s datastore.Store) {
	keys := []string{"k4", "k2", "k5", "k1", "k3"}
	times := []time.Time{
		baseTime.Add(4 * time.Minute), baseTime.Add(2 * time.Minute), baseTime.Add(5 * time.Minute),
		baseTime.Add(1 * time.Minute), baseTime.Add(3 * time.Minute),
	}
	putIdempotencyAt(t, s, keys, times)
	for _, limit := range []int{0, -1} {
		err := s.Update(context.Background(), func(tx datastore.Tx) error {
			_, err := tx.DeleteIdempotencyBefore(baseTime.Add(time.Hour), limit)
			return err
		})
		if err == nil {
			t.Errorf("DeleteIdempotencyBefore with limit %d succeeded, want an error", limit)
		}
	}
	end := baseTime.Add(time.Hour)
	// Oldest first, at most limit at a time.
	rounds := []struct {
		n    int
		left []string
	}{
		{2, []string{"k4", "k5", "k3"}},
		{2, []string{"k5"}},
		{1, nil},
		{0, nil},
	}
	for i, r := range rounds {
		n := deleteIdempotencyBefore(t, s, end, 2)
		if n != r.n {
			t.Errorf("round %d: DeleteIdempotencyBefore = %d, want %d", i, n, r.n)
		}
		if got := presentIdempotency(t, s, keys...); !slices.Equal(got, r.left) {
			t.Errorf("round %d: records %v remain, want %v (the oldest go first)", i, got, r.left)
		}
	}
}

func testIdempotencyDeleteBeforeSameInstant(t *testing.T, s datastore.Store) {
	// Keys that are prefixes of each other, all at one instant: each is its
	// own record and each goes.
	keys := []string{"u:m:a", "u:m:ab", "u:m:a:", "u:m:"}
	times := []time.Time{baseTime, baseTime, baseTime, baseTime}
	putIdempotencyAt(t, s, keys, times)
	putIdempotencyAt(t, s, []string{"u:m:later"}, []time.Time{baseTime.Add(time.Nanosecond)})
	if n := deleteIdempotencyBefore(t, s, baseTime.Add(time.Nanosecond), 100); n != len(keys) {
		t.Errorf("DeleteIdempotencyBefore = %d, want %d", n, len(keys))
	}
	if got := presentIdempotency(t, s, append(keys, "u:m:later")...); !slices.Equal(got, []string{"u:m:later"}) {
		t.Errorf("records %v remain, want only u:m:later", got)
	}
}

func testIdempotencyDeleteBeforeRollback(t *testing.T, s datastore.Store) {
	putIdempotencyAt(t, s, []string{"old"}, []time.Time{baseTime.Add(-30 * 24 * time.Hour)})
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		n, err := tx.DeleteIdempotencyBefore(baseTime, 10)
		if err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("DeleteIdempotencyBefore = %d, want 1", n)
		}
		if _, err := tx.Idempotency("old"); !isNotFound(err) {
			t.Errorf("Idempotency in the deleting transaction: error = %v, want ErrNotFound", err)
		}
		return errBoom
	})
	wantErr(t, "the rolled back Update", err, errBoom)
	if got := presentIdempotency(t, s, "old"); len(got) != 1 {
		t.Errorf("a rolled back delete removed the record")
	}
	// The index entry survived the rollback too: a later delete finds it.
	if n := deleteIdempotencyBefore(t, s, baseTime, 10); n != 1 {
		t.Errorf("DeleteIdempotencyBefore after the rollback = %d, want 1", n)
	}
}

func testIdempotencyDeleteBeforeThenReuse(t *testing.T, s datastore.Store) {
	old := baseTime.Add(-8 * 24 * time.Hour)
	putIdempotencyAt(t, s, []string{"u:m:r"}, []time.Time{old})
	if n := deleteIdempotencyBefore(t, s, baseTime.Add(-7*24*time.Hour), 10); n != 1 {
		t.Fatalf("DeleteIdempotencyBefore = %d, want 1", n)
	}
	// The key is free again; the new record has a new time and is not
	// removed by a delete of what is older than the first one's.
	putIdempotencyAt(t, s, []string{"u:m:r"}, []time.Time{baseTime})
	if n := deleteIdempotencyBefore(t, s, baseTime.Add(-7*24*time.Hour), 10); n != 0 {
		t.Errorf("DeleteIdempotencyBefore after reuse = %d, want 0 (a stale index entry?)", n)
	}
	got, err := getIdempotency(t, s, "u:m:r")
	if err != nil {
		t.Fatalf("Idempotency: %v", err)
	}
	if !got.CreateTime.Equal(baseTime) {
		t.Errorf("the reused key's record was created %v, want %v", got.CreateTime, baseTime)
	}
	if n := deleteIdempotencyBefore(t, s, baseTime.Add(time.Second), 10); n != 1 {
		t.Errorf("DeleteIdempotencyBefore past the new record = %d, want 1", n)
	}
}

func testIdempotencyDeleteBeforeOutOfRange(t *testing.T, s datastore.Store) {
	// A zero CreateTime counts as 1970: any delete after 1970 takes it, and
	// one "before" the zero time takes nothing.
	putIdempotencyAt(t, s, []string{"zero", "1969"}, []time.Time{{}, time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)})
	if n := deleteIdempotencyBefore(t, s, time.Time{}, 10); n != 0 {
		t.Errorf("DeleteIdempotencyBefore(zero time) = %d, want 0", n)
	}
	if n := deleteIdempotencyBefore(t, s, time.Unix(0, 0), 10); n != 0 {
		t.Errorf("DeleteIdempotencyBefore(1970) = %d, want 0: before 1970 counts as 1970", n)
	}
	if n := deleteIdempotencyBefore(t, s, baseTime, 10); n != 2 {
		t.Errorf("DeleteIdempotencyBefore(baseTime) = %d, want 2", n)
	}
	if got := presentIdempotency(t, s, "zero", "1969"); len(got) != 0 {
		t.Errorf("records %v remain", got)
	}
}
