package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storekey"
)

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

var auditT0 = time.Date(2026, time.March, 14, 2, 26, 53, 123456789, time.UTC)

// writeAuditLog stores n events (actor "user-i", case "cases/HN-2026-0000i")
// in a new database at path, one transaction each, and returns them as
// sealed. The store is closed when it returns.
func writeAuditLog(t *testing.T, path string, n int) []audit.Event {
	t.Helper()
	s := open(t, path)
	var sealed []audit.Event
	for i := 1; i <= n; i++ {
		err := s.Update(context.Background(), func(tx datastore.Tx) error {
			es, err := tx.AppendAudit(audit.Event{
				Time:     auditT0.Add(time.Duration(i) * time.Minute),
				Actor:    fmt.Sprintf("user-%d", i),
				Role:     "COMMUNE_WORKER",
				Action:   "case.read",
				Resource: fmt.Sprintf("cases/HN-2026-0000%d", i),
				Case:     fmt.Sprintf("cases/HN-2026-0000%d", i),
				Outcome:  audit.OutcomeOK,
			})
			sealed = append(sealed, es...)
			return err
		})
		if err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return sealed
}

// verification is what verifyStored found.
type verification struct {
	checked     uint64
	problem     *audit.Problem // of audit.Verify
	readErr     error          // of audit.Verify
	headProblem *audit.Problem // of audit.VerifyHead with the stored head
}

// verifyStored opens the store, runs audit.Verify and audit.VerifyHead
// (with the stored head) over AuditEvents(1), and closes it again.
func verifyStored(t *testing.T, path string) verification {
	t.Helper()
	s := open(t, path)
	var v verification
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		v.checked, v.problem, v.readErr = audit.Verify(tx.AuditEvents(1))
		seq, hash, err := tx.AuditHead()
		if err != nil {
			return err
		}
		_, v.headProblem, _ = audit.VerifyHead(tx.AuditEvents(1), seq, hash)
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAuditTamperingIsReported edits the raw bbolt file the way someone
// with write access to it could, and checks that verification over what
// the store yields names the seq where the chain breaks.
func TestAuditTamperingIsReported(t *testing.T) {
	for _, tt := range []struct {
		name        string
		tamper      func(t *testing.T, b *bolt.Bucket)
		wantChecked uint64
		wantSeq     uint64 // 0: Verify passes
		wantReason  string
		wantHeadSeq uint64 // problem of VerifyHead with the stored head
	}{
		{
			name: "one byte of an event changed",
			tamper: func(t *testing.T, b *bolt.Bucket) {
				v := bytes.Clone(b.Get(seqKey(3)))
				i := bytes.Index(v, []byte("user-3"))
				if i < 0 {
					t.Fatalf("event 3 does not hold its actor as expected: %q", v)
				}
				v[i+len("user-")] = '9'
				if err := b.Put(seqKey(3), v); err != nil {
					t.Fatal(err)
				}
			},
			wantChecked: 2, wantSeq: 3, wantReason: "hash does not match", wantHeadSeq: 3,
		},
		{
			name: "an event deleted",
			tamper: func(t *testing.T, b *bolt.Bucket) {
				if err := b.Delete(seqKey(3)); err != nil {
					t.Fatal(err)
				}
			},
			wantChecked: 2, wantSeq: 4, wantReason: "sequence gap: expected 3, found 4", wantHeadSeq: 4,
		},
		{
			name: "two events' values swapped",
			tamper: func(t *testing.T, b *bolt.Bucket) {
				two, three := bytes.Clone(b.Get(seqKey(2))), bytes.Clone(b.Get(seqKey(3)))
				if err := b.Put(seqKey(2), three); err != nil {
					t.Fatal(err)
				}
				if err := b.Put(seqKey(3), two); err != nil {
					t.Fatal(err)
				}
			},
			wantChecked: 1, wantSeq: 3, wantReason: "sequence gap: expected 2, found 3", wantHeadSeq: 3,
		},
		{
			name: "the last event deleted",
			tamper: func(t *testing.T, b *bolt.Bucket) {
				if err := b.Delete(seqKey(5)); err != nil {
					t.Fatal(err)
				}
			},
			// The chain alone cannot see a truncation; the stored head can.
			wantChecked: 4, wantSeq: 0, wantHeadSeq: 5,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			writeAuditLog(t, path, 5)
			if v := verifyStored(t, path); v.checked != 5 || v.problem != nil || v.readErr != nil || v.headProblem != nil {
				t.Fatalf("before tampering: Verify = %d, %v, %v; VerifyHead problem %v", v.checked, v.problem, v.readErr, v.headProblem)
			}
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				tt.tamper(t, tx.Bucket([]byte("audit")))
				return nil
			})

			v := verifyStored(t, path)
			if v.readErr != nil {
				t.Fatalf("Verify read error: %v", v.readErr)
			}
			if v.checked != tt.wantChecked {
				t.Errorf("Verify checked %d events, want %d", v.checked, tt.wantChecked)
			}
			problem := v.problem
			switch {
			case tt.wantSeq == 0 && problem != nil:
				t.Errorf("Verify problem = %v, want none", problem)
			case tt.wantSeq != 0 && problem == nil:
				t.Errorf("Verify found no problem, want one at seq %d", tt.wantSeq)
			case tt.wantSeq != 0 && (problem.Seq != tt.wantSeq || !strings.Contains(problem.Reason, tt.wantReason)):
				t.Errorf("Verify problem = %v, want seq %d: %s", problem, tt.wantSeq, tt.wantReason)
			}
			if v.headProblem == nil || v.headProblem.Seq != tt.wantHeadSeq {
				t.Errorf("VerifyHead problem = %v, want one at seq %d", v.headProblem, tt.wantHeadSeq)
			}
		})
	}
}

// TestAuditUndecodableEventEndsTheSequence pins that AuditEvents yields a
// record it cannot decode as an error and stops, so Verify reports a read
// error after the good events.
func TestAuditUndecodableEventEndsTheSequence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	writeAuditLog(t, path, 5)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).Put(seqKey(4), []byte("\x01{not json"))
	})
	s := open(t, path)
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		var got []uint64
		var errs []error
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, e.Seq)
		}
		if len(got) != 3 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "4") {
			t.Errorf("AuditEvents(1) yielded seqs %v and errors %v; want [1 2 3] then one error naming seq 4", got, errs)
		}
		checked, problem, verr := audit.Verify(tx.AuditEvents(1))
		if verr == nil || problem != nil || checked != 3 {
			t.Errorf("Verify = %d, %v, %v; want 3, nil, a read error", checked, problem, verr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditAppendRefusesToOverwrite rolls the stored head back behind the
// log: the next append must fail rather than write over event 4.
func TestAuditAppendRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	sealed := writeAuditLog(t, path, 5)
	var before []byte
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		before = bytes.Clone(tx.Bucket([]byte("audit")).Get(seqKey(4)))
		return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), append(seqKey(3), sealed[2].Hash...))
	})
	s := open(t, path)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		_, err := tx.AppendAudit(audit.Event{Time: auditT0, Actor: "intruder", Action: "case.read", Outcome: audit.OutcomeOK})
		return err
	})
	if err == nil {
		t.Fatal("AppendAudit over a head behind the log succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawView(t, path, func(tx *bolt.Tx) error {
		if after := tx.Bucket([]byte("audit")).Get(seqKey(4)); !bytes.Equal(after, before) {
			t.Errorf("event 4 changed: %s, was %s", after, before)
		}
		return nil
	})
}

// TestLayoutOfIdentityAndAuditRecords pins the on-disk form of the records
// and index entries added for identities, data keys and the audit log, as
// documented at the top of boltstore.go.
func TestLayoutOfIdentityAndAuditRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	rid := uuid.MustParse("0190c4a2-7d3e-7c4b-8a5e-0123456789ab")
	var sealed []audit.Event
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if err := tx.CreateUser(model.User{ID: "lan.nguyen", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}); err != nil {
			return err
		}
		if err := tx.CreateToken(model.Token{ID: "tok1", UserID: "lan.nguyen", SecretHash: []byte{1, 2}}); err != nil {
			return err
		}
		if err := tx.CreatePoliceUnit(model.PoliceUnit{ID: "ca-ha-noi", DisplayName: "Công an Hà Nội"}); err != nil {
			return err
		}
		if err := tx.PutDataKey("k1", keys.WrappedKey{MasterID: "m1", Sealed: []byte{9, 0, 9}}); err != nil {
			return err
		}
		if err := tx.CreateReport(model.StoredReport{ID: rid.String(), CallType: model.CallIntervention, TakenBy: "lan.nguyen"}); err != nil {
			return err
		}
		var err error
		sealed, err = tx.AppendAudit(
			audit.Event{Time: auditT0, Actor: "lan.nguyen", Action: "case.read", Resource: "cases/HN-2026-00001", Case: "cases/HN-2026-00001", Outcome: audit.OutcomeOK},
			audit.Event{Time: auditT0.Add(time.Second), Action: "auth.fail", Outcome: audit.OutcomeDenied},
		)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rawView(t, path, func(tx *bolt.Tx) error {
		record := func(bucket, key string, v any) {
			t.Helper()
			raw := tx.Bucket([]byte(bucket)).Get([]byte(key))
			if len(raw) == 0 || raw[0] != boltstore.ProtoRecord {
				t.Errorf("%s[%q] = %q, want a stored message", bucket, key, raw)
				return
			}
			if err := boltstore.DecodeRecord(raw, v); err != nil {
				t.Errorf("%s[%q]: %v", bucket, key, err)
			}
		}
		var u model.User
		record("users", "lan.nguyen", &u)
		var tok model.Token
		record("tokens", "tok1", &tok)
		var p model.PoliceUnit
		record("police_units", "ca-ha-noi", &p)
		var w keys.WrappedKey
		record("data_keys", "k1", &w)
		if u.Role != model.RoleHotlineOperator || tok.UserID != "lan.nguyen" || p.DisplayName != "Công an Hà Nội" ||
			w.MasterID != "m1" || !bytes.Equal(w.Sealed, []byte{9, 0, 9}) {
			t.Errorf("records = %+v, %+v, %+v, %+v", u, tok, p, w)
		}

		// The indexes live in the bucket index from schema version 6,
		// each behind its tag; the tags are stored, so they are pinned
		// here.
		tags := map[string]byte{"tokens_by_user": 9, "reports_by_taker": 2, "audit_by_case": 10, "audit_by_actor": 11}
		keysOf := func(bucket string) []string {
			var out []string
			b, tag := tx.Bucket([]byte(bucket)), []byte(nil)
			if n, ok := tags[bucket]; ok {
				b, tag = tx.Bucket([]byte("index")), []byte{n}
			}
			_ = b.ForEach(func(k, v []byte) error {
				if !bytes.HasPrefix(k, tag) {
					return nil
				}
				if len(v) != 0 && bucket != "audit" && bucket != "meta" {
					t.Errorf("%s[%q] = %x, want an empty index value", bucket, k, v)
				}
				out = append(out, string(k[len(tag):]))
				return nil
			})
			return out
		}
		for bucket, want := range map[string][]string{
			"tokens_by_user":   {"lan.nguyen\x00tok1"},
			"reports_by_taker": {"lan.nguyen\x00" + string(rid[:])},
			"audit":            {string(seqKey(1)), string(seqKey(2))},
			"audit_by_case":    {"cases/HN-2026-00001\x00" + string(seqKey(1))},
			"audit_by_actor":   {"lan.nguyen\x00" + string(seqKey(1))}, // the anonymous event has no entry
		} {
			if got := keysOf(bucket); !slices.Equal(got, want) {
				t.Errorf("keys of %s = %q, want %q", bucket, got, want)
			}
		}
		for i, e := range sealed {
			want, err := audit.Encode(e)
			if err != nil {
				return err
			}
			if got := tx.Bucket([]byte("audit")).Get(seqKey(e.Seq)); !bytes.Equal(got, want) {
				t.Errorf("audit[%d] = %q, want audit.Encode of the sealed event %q", i+1, got, want)
			}
		}
		wantHead := append(seqKey(2), sealed[1].Hash...)
		if got := tx.Bucket([]byte("meta")).Get([]byte("audit_head")); !bytes.Equal(got, wantHead) {
			t.Errorf("meta audit_head = %x, want %x", got, wantHead)
		}
		return nil
	})
}

// TestAuditEventsAfterTheTransaction pins that a sequence used after its
// transaction ended yields an error instead of reading a closed cursor.
func TestAuditEventsAfterTheTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	writeAuditLog(t, path, 2)
	auditEventsAfterTheTransaction(t, open(t, path))
}

// TestEngineAuditEventsAfterTheTransaction: the same on a store over an
// engine whose transactions cannot tell that they have ended.
func TestEngineAuditEventsAfterTheTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	writeAuditLog(t, path, 2)
	auditEventsAfterTheTransaction(t, openEngineStore(t, &tooLargeEngine{Engine: openBoltEngine(t, path), max: 1000}))
}

func auditEventsAfterTheTransaction(t *testing.T, s datastore.Store) {
	t.Helper()
	var events iter.Seq2[audit.Event, error]
	if err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		events = tx.AuditEvents(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range events {
		n++
		if err == nil {
			t.Error("AuditEvents used after its transaction yielded an event")
		}
	}
	if n != 1 {
		t.Errorf("AuditEvents used after its transaction yielded %d values, want one error", n)
	}
}

// TestIDsWithNULAreRefused pins the rule that keeps the 0x00 separator of
// the index keys unambiguous.
func TestIDsWithNULAreRefused(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if err := tx.CreateUser(model.User{ID: "lan"}); err != nil {
			return err
		}
		for name, call := range map[string]func() error{
			"CreateUser":     func() error { return tx.CreateUser(model.User{ID: "lan\x00x"}) },
			"CreateUser('')": func() error { return tx.CreateUser(model.User{}) },
			"CreateToken":    func() error { return tx.CreateToken(model.Token{ID: "t\x00", UserID: "lan"}) },
			"CreateReport": func() error {
				return tx.CreateReport(model.StoredReport{ID: uuid.NewString(), TakenBy: "lan\x00x"})
			},
			"PutDataKey('')": func() error { return tx.PutDataKey("", keys.WrappedKey{}) },
		} {
			if err := call(); err == nil {
				t.Errorf("%s with an id the layout cannot hold succeeded", name)
			}
		}
		if n, err := tx.CountUsers(); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v; want 1", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditIndexByTimeOfAnOlderLog pins what a store written before the
// audit log's index by time goes through: the open leaves it as it is
// (no walk of the log at start), a listing by time walks the log (by seq)
// until IndexAuditByTime, a batch at a time, has given every event its
// entry, events appended meanwhile get theirs as they are written, and
// check finds the store clean at every step; then the listing is by time.
func TestAuditIndexByTimeOfAnOlderLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	at := func(m int) time.Time { return auditT0.Add(time.Duration(m) * time.Minute) }
	appendAt := func(s datastore.Store, m int) audit.Event {
		t.Helper()
		var sealed []audit.Event
		err := s.Update(t.Context(), func(tx datastore.Tx) error {
			var err error
			sealed, err = tx.AppendAudit(audit.Event{Time: at(m), Actor: "lan.nguyen", Action: "case.list", Resource: "cases", Outcome: audit.OutcomeOK})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sealed[0]
	}
	s := open(t, path)
	var older []audit.Event
	for _, m := range []int{30, 10, 20, 50, 40} { // seqs 1..5
		older = append(older, appendAt(s, m))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// As written before the index: no entries, no record of it.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, e := range older {
			if err := boltstore.RawKeys(tx, "audit_by_time").Delete(storekey.AuditTimeKey(e.Time, e.Seq)); err != nil {
				return err
			}
		}
		return boltstore.RawKeys(tx, "audit_by_time").Delete([]byte{}) // the record that it is complete
	})
	checkClean := func(when string) {
		t.Helper()
		if res := mustCheck(t, path); !res.OK() {
			t.Errorf("Check %s:\n%s", when, problemList(res))
		}
	}
	checkClean("before the index")

	s = open(t, path)
	byTime := func() []uint64 {
		t.Helper()
		var es []audit.Event
		err := s.View(t.Context(), func(tx datastore.ReadTx) error {
			var err error
			es, _, err = tx.ListAuditEvents(datastore.AuditQuery{From: at(0), Limit: 100})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, len(es))
		for i, e := range es {
			out[i] = e.Seq
		}
		return out
	}
	index := func() bool {
		t.Helper()
		var done bool
		err := s.Update(t.Context(), func(tx datastore.Tx) error {
			var err error
			_, done, err = tx.IndexAuditByTime(2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return done
	}
	if got, want := byTime(), []uint64{5, 4, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("listing by time before the index = %v, want the log's walk %v", got, want)
	}
	if index() {
		t.Fatal("IndexAuditByTime(2) of 5 older events is done after the first batch")
	}
	appendAt(s, 0) // seq 6, the earliest: written with its entry
	if index() {
		t.Fatal("IndexAuditByTime(2) is done after the second batch")
	}
	if got, want := byTime(), []uint64{6, 5, 4, 3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("listing by time while indexing = %v, want the log's walk %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkClean("while indexing")
	s = open(t, path)
	if !index() {
		t.Fatal("IndexAuditByTime(2) is not done after the third batch (events 5 and 6, the end)")
	}
	if !index() {
		t.Fatal("IndexAuditByTime is not done once complete")
	}
	if got, want := byTime(), []uint64{4, 5, 1, 3, 2, 6}; !slices.Equal(got, want) {
		t.Errorf("listing by time once indexed = %v, want by time %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkClean("once indexed")
	rawView(t, path, func(tx *bolt.Tx) error {
		complete := boltstore.RawKeys(tx, "audit_by_time").Get([]byte{})
		if from := tx.Bucket([]byte("meta")).Get([]byte("audit_by_time_from")); complete == nil || from != nil {
			t.Errorf("once indexed: the record that the index is complete %q, meta's audit_by_time_from %q; want the record and no position", complete, from)
		}
		return nil
	})
}
