package boltstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// TestAuditVerifyFindsAnEventHiddenFromTheListings holds the auditor's
// verification (VerifyAuditLog, `childcase audit verify`, the check at
// every start) to what the auditor reads: the listings by case, by actor
// and by time go through indexes, so an event whose entry someone
// deleted from one of them is left out of that listing ("who saw case
// HN-2026-00003" no longer shows the read) while its chain still holds.
// Verification must name that event and the index, as `check` does.
func TestAuditVerifyFindsAnEventHiddenFromTheListings(t *testing.T) {
	for _, tt := range []struct {
		index string
		entry func(seq uint64) []byte
		words string
	}{
		{"audit_by_case", func(seq uint64) []byte {
			return append(storekey.StringPrefix("cases/HN-2026-00003"), seqKey(seq)...)
		}, "by case"},
		{"audit_by_actor", func(seq uint64) []byte { return append(storekey.StringPrefix("user-3"), seqKey(seq)...) }, "by actor"},
		{"audit_by_time", func(seq uint64) []byte { return nil }, "by time"},
	} {
		t.Run(tt.index, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			sealed := writeAuditLog(t, path, 5)
			entry := tt.entry(3)
			if entry == nil {
				entry = storekey.AuditTimeKey(sealed[2].Time, 3)
			}
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				keys := boltstore.RawKeys(tx, tt.index)
				if keys.Get(entry) == nil {
					t.Fatalf("%s has no entry %x for event 3 to delete", tt.index, entry)
				}
				return keys.Delete(entry)
			})

			s := open(t, path)
			res, err := auditlog.New(s).Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Problem == nil || res.Problem.Seq != 3 || !strings.Contains(res.Problem.Reason, tt.words) {
				t.Fatalf("Verify = %+v, problem %v; want one at seq 3 naming the index %s", res, res.Problem, tt.words)
			}
			if res.Checked != 2 {
				t.Errorf("Verify checked %d events, want the 2 before seq 3", res.Checked)
			}
			tail, err := auditlog.New(s).VerifyTail(context.Background(), 3)
			if err != nil || tail.Problem == nil || tail.Problem.Seq != 3 {
				t.Errorf("VerifyTail(3) = %+v, %v; want the problem at seq 3", tail, err)
			}
		})
	}
}
