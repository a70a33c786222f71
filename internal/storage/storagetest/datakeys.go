package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
)

var dataKeyTests = []namedTest{
	{"RoundTrip", testDataKeyRoundTrip},
	{"Replace", testDataKeyReplace},
	{"NotFound", testDataKeyNotFound},
	{"ListPaging", testDataKeyListPaging},
	{"ListBadCursor", testDataKeyListBadCursor},
	{"PerMaster", testDataKeyPerMaster},
}

// sampleWrapped returns a wrapped key whose bytes depend on n and include
// a NUL and bytes that are not UTF-8.
func sampleWrapped(master string, n byte) keys.WrappedKey {
	return keys.WrappedKey{MasterID: master, Sealed: []byte{0x01, n, 0x00, 0xff, 0xfe, n ^ 0x5a, 0x80}}
}

func sameWrapped(got, want keys.WrappedKey) bool {
	return got.MasterID == want.MasterID && bytes.Equal(got.Sealed, want.Sealed)
}

func putDataKeys(t *testing.T, s datastore.Store, ks ...datastore.DataKey) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, k := range ks {
			if err := tx.PutDataKey(k.ID, k.Wrapped); err != nil {
				return fmt.Errorf("PutDataKey(%s): %w", k.ID, err)
			}
		}
		return nil
	})
}

func getDataKey(t *testing.T, s datastore.Store, id string) (keys.WrappedKey, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (keys.WrappedKey, error) { return tx.DataKey(id) })
}

func dataKeyIDs(ks []datastore.DataKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

func testDataKeyRoundTrip(t *testing.T, s datastore.Store) {
	want := sampleWrapped("master-2026", 7)
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.PutDataKey("cases/HN-2026-00001", want); err != nil {
			return err
		}
		got, err := tx.DataKey("cases/HN-2026-00001")
		if err != nil {
			t.Errorf("DataKey in the writing transaction: %v", err)
		} else if !sameWrapped(got, want) {
			t.Errorf("DataKey in the writing transaction = %+v, want %+v", got, want)
		}
		return nil
	})
	got, err := getDataKey(t, s, "cases/HN-2026-00001")
	if err != nil {
		t.Fatalf("DataKey: %v", err)
	}
	if !sameWrapped(got, want) {
		t.Errorf("DataKey = %+v, want %+v", got, want)
	}
	want.Sealed[1] = 0xee
	if again, _ := getDataKey(t, s, "cases/HN-2026-00001"); again.Sealed[1] != 7 {
		t.Errorf("stored data key changed with the caller's value: %x", again.Sealed)
	}
}

func testDataKeyReplace(t *testing.T, s datastore.Store) {
	putDataKeys(t, s,
		datastore.DataKey{ID: "k1", Wrapped: sampleWrapped("master-old", 1)},
		datastore.DataKey{ID: "k2", Wrapped: sampleWrapped("master-old", 2)},
	)
	// A rotation re-wraps k1 in place.
	rewrapped := sampleWrapped("master-new", 11)
	putDataKeys(t, s, datastore.DataKey{ID: "k1", Wrapped: rewrapped})
	for id, want := range map[string]keys.WrappedKey{"k1": rewrapped, "k2": sampleWrapped("master-old", 2)} {
		got, err := getDataKey(t, s, id)
		if err != nil {
			t.Fatalf("DataKey(%s): %v", id, err)
		}
		if !sameWrapped(got, want) {
			t.Errorf("DataKey(%s) = %+v, want %+v", id, got, want)
		}
	}
	view(t, s, func(tx datastore.ReadTx) error {
		ks, next, err := tx.ListDataKeys("", 10)
		if err != nil {
			return err
		}
		if !slices.Equal(dataKeyIDs(ks), []string{"k1", "k2"}) || next != "" {
			t.Errorf("ListDataKeys after a replace = %v, %q; want [k1 k2], \"\"", dataKeyIDs(ks), next)
		}
		return nil
	})
}

func testDataKeyNotFound(t *testing.T, s datastore.Store) {
	putDataKeys(t, s, datastore.DataKey{ID: "reports/abc", Wrapped: sampleWrapped("m", 1)})
	for _, id := range []string{"reports/ab", "reports/abcd", "REPORTS/abc", ""} {
		_, err := getDataKey(t, s, id)
		wantErr(t, fmt.Sprintf("DataKey(%q)", id), err, model.ErrNotFound)
	}
}

func testDataKeyListPaging(t *testing.T, s datastore.Store) {
	view(t, s, func(tx datastore.ReadTx) error {
		ks, next, err := tx.ListDataKeys("", 10)
		if err != nil || len(ks) != 0 || next != "" {
			t.Errorf("ListDataKeys on an empty store = %v, %q, %v; want none, \"\", nil", ks, next, err)
		}
		return nil
	})
	ids := []string{"reports/b", "cases/HN-2026-00002", "reports/a", "cases/HN-2026-00001", "reporters/x", "cases/HN-2026-000010", "r", "cases/HN-2026-0001"}
	var ks []datastore.DataKey
	for i, id := range ids {
		ks = append(ks, datastore.DataKey{ID: id, Wrapped: sampleWrapped("master-2026", byte(i))})
	}
	putDataKeys(t, s, ks[:3]...)
	for _, k := range ks[3:] {
		putDataKeys(t, s, k)
	}
	want := slices.Sorted(slices.Values(ids))
	for _, limit := range pageSizes {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
				page, next, err := tx.ListDataKeys(after, limit)
				for _, k := range page {
					i := slices.Index(ids, k.ID)
					if i >= 0 && !sameWrapped(k.Wrapped, ks[i].Wrapped) {
						t.Errorf("listed data key %s = %+v, want %+v", k.ID, k.Wrapped, ks[i].Wrapped)
					}
				}
				return dataKeyIDs(page), next, err
			})
			checkWalk(t, got, want)
		})
	}
}

func testDataKeyListBadCursor(t *testing.T, s datastore.Store) {
	putDataKeys(t, s, datastore.DataKey{ID: "a", Wrapped: sampleWrapped("m", 1)}, datastore.DataKey{ID: "b", Wrapped: sampleWrapped("m", 2)})
	for _, cur := range []string{"zz", "not a cursor", "0", "a"} {
		view(t, s, func(tx datastore.ReadTx) error {
			ks, next, err := tx.ListDataKeys(cur, 5)
			if !errors.Is(err, model.ErrBadCursor) {
				t.Errorf("ListDataKeys(after %q) = %v, %q, %v; want ErrBadCursor", cur, dataKeyIDs(ks), next, err)
			}
			return nil
		})
	}
	view(t, s, func(tx datastore.ReadTx) error {
		if _, _, err := tx.ListDataKeys("", 0); err == nil {
			t.Error("ListDataKeys(limit 0) succeeded")
		}
		// Its own cursor works, as a control.
		_, next, err := tx.ListDataKeys("", 1)
		if err != nil || next == "" {
			return fmt.Errorf("ListDataKeys(limit 1) = %q, %v; want a cursor", next, err)
		}
		ks, next2, err := tx.ListDataKeys(next, 1)
		if err != nil || !slices.Equal(dataKeyIDs(ks), []string{"b"}) || next2 != "" {
			t.Errorf("ListDataKeys(after its own cursor) = %v, %q, %v; want [b], \"\"", dataKeyIDs(ks), next2, err)
		}
		return nil
	})
}

// testDataKeyPerMaster: one key per master in use, the first by id, and a
// re-wrap moves a key to its new master (a master whose last key moved
// away is no longer in use).
func testDataKeyPerMaster(t *testing.T, s datastore.Store) {
	perMaster := func() []string {
		t.Helper()
		ks, err := readOne(t, s, func(tx datastore.ReadTx) ([]datastore.DataKey, error) { return tx.DataKeyPerMaster() })
		if err != nil {
			t.Fatalf("DataKeyPerMaster: %v", err)
		}
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = k.Wrapped.MasterID + ":" + k.ID
			if got, err := getDataKey(t, s, k.ID); err != nil || !sameWrapped(got, k.Wrapped) {
				t.Errorf("DataKeyPerMaster gave %s as %+v, but DataKey(%s) = %+v, %v", k.ID, k.Wrapped, k.ID, got, err)
			}
		}
		return out
	}
	if got := perMaster(); len(got) != 0 {
		t.Errorf("DataKeyPerMaster on an empty store = %v, want none", got)
	}
	// Masters whose ids are prefixes of one another must not be taken
	// for one.
	putDataKeys(t, s,
		datastore.DataKey{ID: "k3", Wrapped: sampleWrapped("aa", 1)},
		datastore.DataKey{ID: "k1", Wrapped: sampleWrapped("aa", 2)},
		datastore.DataKey{ID: "k2", Wrapped: sampleWrapped("aab", 3)},
		datastore.DataKey{ID: "k0", Wrapped: sampleWrapped("b", 4)},
		datastore.DataKey{ID: "k4", Wrapped: sampleWrapped("b", 5)},
	)
	if got, want := perMaster(), []string{"aa:k1", "aab:k2", "b:k0"}; !slices.Equal(got, want) {
		t.Errorf("DataKeyPerMaster = %v, want %v", got, want)
	}
	// Rotation re-wraps in place: k1 and k3 leave aa, k2 leaves aab.
	putDataKeys(t, s,
		datastore.DataKey{ID: "k1", Wrapped: sampleWrapped("c", 6)},
		datastore.DataKey{ID: "k3", Wrapped: sampleWrapped("b", 7)},
		datastore.DataKey{ID: "k2", Wrapped: sampleWrapped("c", 8)},
	)
	if got, want := perMaster(), []string{"b:k0", "c:k1"}; !slices.Equal(got, want) {
		t.Errorf("DataKeyPerMaster after re-wrapping = %v, want %v", got, want)
	}
}
