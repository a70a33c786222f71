package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// ckFixture names what writeHealthy stored.
type ckFixture struct {
	report    uuid.UUID // intervention report taken by ckUser, in case ckCase
	loose     uuid.UUID // counselling report with no case and no taker
	caseID    uint64
	timerAt   time.Time
	tokenID   string
	auditSeqs int
}

// ckToken is a search token of the stored width starting with n.
func ckToken(n byte) []byte {
	tok := make([]byte, datastore.SearchTokenSize)
	tok[0] = n
	return tok
}

const (
	ckUser = "lan.nguyen"
	ckCase = "HN-2026-00001"
)

var ckT0 = time.Date(2026, time.March, 14, 2, 26, 53, 0, time.UTC)

// writeHealthy fills a new database at path with a little of everything
// the layout holds, through the store's own methods, and closes it.
func writeHealthy(t *testing.T, path string) ckFixture {
	t.Helper()
	s := open(t, path)
	f := ckFixture{report: uuid.Must(uuid.NewV7()), loose: uuid.Must(uuid.NewV7()), tokenID: "tok1", timerAt: ckT0.Add(24 * time.Hour)}
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	wrapped := keys.WrappedKey{MasterID: "mk1", Sealed: []byte{1, 2, 3}}
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		for _, id := range []string{"cases/" + ckCase, "reports/" + f.report.String() + "/reporter", "reports/" + f.loose.String()} {
			if err := tx.PutDataKey(id, wrapped); err != nil {
				return err
			}
		}
		if err := tx.CreateUser(model.User{ID: ckUser, Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}); err != nil {
			return err
		}
		if err := tx.CreateToken(model.Token{ID: f.tokenID, UserID: ckUser, SecretHash: []byte{9}}); err != nil {
			return err
		}
		if err := tx.CreatePoliceUnit(model.PoliceUnit{ID: "ca-ba-dinh", Covers: []units.Key{unit}}); err != nil {
			return err
		}
		if err := tx.CreateReport(model.StoredReport{
			ID: f.report.String(), CallType: model.CallIntervention, IncidentUnit: unit, TakenBy: ckUser, CaseNumber: ckCase,
			Private:  model.Sealed{KeyID: "cases/" + ckCase, Data: []byte{1}},
			Reporter: model.Sealed{KeyID: "reports/" + f.report.String() + "/reporter", Data: []byte{2}},
		}); err != nil {
			return err
		}
		if err := tx.CreateReport(model.StoredReport{
			ID: f.loose.String(), CallType: 2, Private: model.Sealed{KeyID: "reports/" + f.loose.String(), Data: []byte{3}},
		}); err != nil {
			return err
		}
		if _, err := tx.NextCaseSequence(2026); err != nil {
			return err
		}
		c := model.Case{
			Number: ckCase, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, IncidentUnit: unit,
			ReportIDs: []string{f.report.String()}, Revision: 1,
			Deadlines: []model.Deadline{
				{ID: 1, State: model.DeadlineOpen, Start: ckT0, Due: f.timerAt, NextFire: f.timerAt},
				{ID: 2, State: model.DeadlineMet, Start: ckT0, Due: f.timerAt},
			},
		}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		f.caseID = c.ID
		if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: c.ID, KeyID: "m1", Tokens: [][]byte{ckToken(1), ckToken(2)}}); err != nil {
			return err
		}
		// A case marked after its entry, as a write marks it before the
		// indexer rewrites the entry: nothing a check may complain of.
		if err := tx.MarkSearchPending(c.ID); err != nil {
			return err
		}
		if err := tx.SetSearchIndexedUnder("m1"); err != nil {
			return err
		}
		if err := tx.PutTimer(model.Timer{At: f.timerAt, CaseID: c.ID, DeadlineID: 1}); err != nil {
			return err
		}
		if _, err := tx.AppendCaseEvents(c.ID,
			model.CaseEvent{Time: ckT0, Actor: "system", Kind: "FORWARDED"},
			model.CaseEvent{Time: ckT0, Actor: "system", Kind: "DEADLINE_STARTED", DeadlineID: 1},
			model.CaseEvent{Time: ckT0, Actor: ckUser, Kind: "NOTE"},
		); err != nil {
			return err
		}
		if _, err := tx.AppendNotifications(model.Notification{Time: ckT0, Kind: "FORWARDED", Case: "cases/" + ckCase}); err != nil {
			return err
		}
		if err := tx.PutCursor("hook", 1); err != nil {
			return err
		}
		if err := tx.PutIdempotency(model.IdempotencyRecord{Key: "CreateReport/r1", Resource: f.report.String(), CreateTime: ckT0}); err != nil {
			return err
		}
		var events []audit.Event
		for i, action := range []string{"report.create", "case.create", "case.read"} {
			events = append(events, audit.Event{Time: ckT0.Add(time.Duration(i) * time.Second), Actor: ckUser, Role: "HOTLINE_OPERATOR",
				Action: action, Resource: "cases/" + ckCase, Case: "cases/" + ckCase, Outcome: audit.OutcomeOK})
		}
		sealed, err := tx.AppendAudit(events...)
		f.auditSeqs = len(sealed)
		return err
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

func mustCheck(t *testing.T, path string) boltstore.CheckResult {
	t.Helper()
	res, err := boltstore.Check(context.Background(), path)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func TestCheckHealthy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	f := writeHealthy(t, path)
	res := mustCheck(t, path)
	if !res.OK() {
		t.Fatalf("a healthy database has problems:\n%s", problemList(res))
	}
	want := boltstore.CheckSummary{
		SchemaVersion: boltstore.SchemaVersion, Bytes: res.Bytes,
		Reports: 2, Cases: 1, Users: 1, Tokens: 1, PoliceUnits: 1, DataKeys: 3, Idempotency: 1,
		AuditEvents: f.auditSeqs, AuditHeadSeq: uint64(f.auditSeqs), CaseEvents: 3, Timers: 1, Notifications: 1,
	}
	if res.CheckSummary != want {
		t.Errorf("summary %+v, want %+v", res.CheckSummary, want)
	}
	if res.Bytes <= 0 {
		t.Errorf("Bytes %d", res.Bytes)
	}
	// A new, empty database is healthy too.
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := open(t, empty).Close(); err != nil {
		t.Fatal(err)
	}
	if res := mustCheck(t, empty); !res.OK() {
		t.Errorf("an empty database has problems:\n%s", problemList(res))
	}
}

func problemList(res boltstore.CheckResult) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func u64(v uint64) []byte { return seqKey(v) }

// TestCheckFindsDamage damages a healthy database in one way each and
// expects a problem naming the bucket and the key.
func TestCheckFindsDamage(t *testing.T) {
	type damage struct {
		name           string
		change         func(f ckFixture, tx *bolt.Tx) error
		bucket, key    string // the problem must name this bucket, and its key contain this ({report}: the report's id)
		what           string // and say this
		alsoAllowOther bool   // other problems may follow from the same damage
	}
	del := func(bucket string, key []byte) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return boltstore.RawKeys(tx, bucket).Delete(key) }
	}
	put := func(bucket string, key, value []byte) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return boltstore.RawKeys(tx, bucket).Put(key, value) }
	}
	ghost := uuid.Must(uuid.NewV7())
	cases := []damage{
		{
			name: "index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("reports_by_call_type", append(u32(1), f.report[:]...))(tx)
			},
			bucket: "reports_by_call_type", key: "call type 1, report {report}", what: "missing",
		},
		{
			name: "taker index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("reports_by_taker", append([]byte(ckUser+"\x00"), f.report[:]...))(tx)
			},
			bucket: "reports_by_taker", key: `taker "lan.nguyen", report {report}`, what: "missing",
		},
		{
			name: "dangling taker index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("reports_by_taker", append([]byte("ghost\x00"), ghost[:]...), nil)(tx)
			},
			bucket: "reports_by_taker", key: ghost.String(), what: "dangling",
		},
		{
			name: "index entry disagrees with its record",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("reports_by_call_type", append(u32(3), f.report[:]...), nil)(tx)
			},
			bucket: "reports_by_call_type", key: "call type 3, report {report}", what: "has call type 1",
		},
		{
			name:   "record corrupted",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("reports", f.report[:], []byte{1, '{', 'x'})(tx) },
			bucket: "reports", key: "{report}", what: "does not decode", alsoAllowOther: true,
		},
		{
			name:   "case number entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error { return del("case_numbers", []byte(ckCase))(tx) },
			bucket: "case_numbers", key: ckCase, what: "missing", alsoAllowOther: true,
		},
		{
			name: "case unit index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("cases_by_unit", append([]byte("00004@2025-07-01\x00"), u64(f.caseID)...))(tx)
			},
			bucket: "cases_by_unit", key: "00004@2025-07-01", what: "missing",
		},
		{
			name: "dangling status index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("cases_by_status", append(u32(1), u64(99)...), nil)(tx)
			},
			bucket: "cases_by_status", key: "id 99", what: "dangling",
		},
		{
			name: "token index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("tokens_by_user", []byte(ckUser+"\x00"+f.tokenID))(tx)
			},
			bucket: "tokens_by_user", key: `user "lan.nguyen", token "tok1"`, what: "missing",
		},
		{
			name: "user unit index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("users_by_unit", []byte(model.OrgHotline111+"\x00\x01"+ckUser))(tx)
			},
			bucket: "users_by_unit", key: `unit "orgs/hotline-111", role 1, user "lan.nguyen"`, what: "missing: active user",
		},
		{
			name: "dangling user unit index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("users_by_unit", []byte(model.OrgHotline111+"\x00\x01ghost.user"), nil)(tx)
			},
			bucket: "users_by_unit", key: `user "ghost.user"`, what: "dangling: user \"ghost.user\" does not exist",
		},
		{
			name: "user unit index entry of another role",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("users_by_unit", []byte(model.OrgHotline111+"\x00\x02"+ckUser), nil)(tx)
			},
			bucket: "users_by_unit", key: `role 2, user "lan.nguyen"`, what: `is of unit "orgs/hotline-111", role 1`,
		},
		{
			name: "audit actor index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("audit_by_actor", append([]byte(ckUser+"\x00"), u64(2)...))(tx)
			},
			bucket: "audit_by_actor", key: "seq 2", what: "missing",
		},
		{
			name: "audit time index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("audit_by_time", auditTimeKey(tx, 2))(tx)
			},
			bucket: "audit_by_time", key: "seq 2", what: "missing",
		},
		{
			name: "stray audit time index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("audit_by_time", storekey.AuditTimeKey(time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), 77), nil)(tx)
			},
			bucket: "audit_by_time", key: "time 2026-03-14T00:00:00Z, seq 77", what: "dangling",
		},
		{
			name: "audit time index entry at another time",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := auditTimeKey(tx, 2)
				if err := del("audit_by_time", k)(tx); err != nil {
					return err
				}
				return put("audit_by_time", storekey.AuditTimeKey(time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), 2), nil)(tx)
			},
			bucket: "audit_by_time", key: "time 2026-03-14T00:00:00Z, seq 2", what: "has time",
			// The event's own entry is gone too.
			alsoAllowOther: true,
		},
		{
			name: "dangling audit case index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("audit_by_case", append([]byte("cases/"+ckCase+"\x00"), u64(77)...), nil)(tx)
			},
			bucket: "audit_by_case", key: "seq 77", what: "dangling",
		},
		{
			name: "audit event tampered with",
			change: func(f ckFixture, tx *bolt.Tx) error {
				b := tx.Bucket([]byte("audit"))
				v := bytes.Replace(b.Get(u64(2)), []byte("case.create"), []byte("case.crea7e"), 1)
				return b.Put(u64(2), v)
			},
			bucket: "audit", key: "seq 2", what: "hash chain is broken",
		},
		{
			// In JSON, as releases before schema version 11 stored
			// events, and not in the form they wrote (a space), so read
			// by encoding/json rather than audit's own reader: found
			// alike.
			name: "audit event tampered with and written out of Encode's form",
			change: func(f ckFixture, tx *bolt.Tx) error {
				b := tx.Bucket([]byte("audit"))
				e, err := audit.Decode(b.Get(u64(2)))
				if err != nil {
					return err
				}
				body, err := json.Marshal(map[string]any{
					"seq": e.Seq, "time": e.Time.UTC(), "actor": e.Actor, "role": e.Role, "unit": e.Unit,
					"action": e.Action + "!", "resource": e.Resource, "case": e.Case, "request_id": e.RequestID,
					"reason": e.Reason, "outcome": e.Outcome, "prev_hash": e.PrevHash, "hash": e.Hash,
				})
				if err != nil {
					return err
				}
				return b.Put(u64(2), append([]byte("\x01 "), body...))
			},
			bucket: "audit", key: "seq 2", what: "hash chain is broken",
		},
		{
			name: "audit event cut short",
			change: func(f ckFixture, tx *bolt.Tx) error {
				b := tx.Bucket([]byte("audit"))
				v := b.Get(u64(2))
				return b.Put(u64(2), bytes.Clone(v[:len(v)-1]))
			},
			bucket: "audit", key: "seq 2", what: "does not decode", alsoAllowOther: true,
		},
		{
			name: "audit log truncated",
			change: func(f ckFixture, tx *bolt.Tx) error {
				if err := del("audit_by_case", append([]byte("cases/"+ckCase+"\x00"), u64(3)...))(tx); err != nil {
					return err
				}
				if err := del("audit_by_actor", append([]byte(ckUser+"\x00"), u64(3)...))(tx); err != nil {
					return err
				}
				if err := del("audit_by_time", auditTimeKey(tx, 3))(tx); err != nil {
					return err
				}
				return del("audit", u64(3))(tx)
			},
			bucket: "audit", key: "seq 3", what: "recorded head",
		},
		{
			name:   "timer deleted",
			change: func(f ckFixture, tx *bolt.Tx) error { return del("timers", timerKey(f.timerAt, f.caseID, 1))(tx) },
			bucket: "timers", key: fmt.Sprintf("case id %d, deadline 1", 1), what: "never fire",
		},
		{
			name:   "timer of a case that does not exist",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("timers", timerKey(f.timerAt, 42, 1), nil)(tx) },
			bucket: "timers", key: "case id 42", what: "dangling",
		},
		{
			name:   "timer of a closed deadline",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("timers", timerKey(f.timerAt, f.caseID, 2), nil)(tx) },
			bucket: "timers", key: "deadline 2", what: "no longer open",
		},
		{
			name:   "case event deleted",
			change: func(f ckFixture, tx *bolt.Tx) error { return del("case_events", append(u64(f.caseID), u64(2)...))(tx) },
			bucket: "case_events", key: "seq 3", what: "missing",
		},
		{
			name:   "data key deleted",
			change: func(f ckFixture, tx *bolt.Tx) error { return del("data_keys", []byte("cases/"+ckCase))(tx) },
			bucket: "reports", key: "{report}", what: "cannot be opened",
			// and its entry in data_keys_by_master dangles
			alsoAllowOther: true,
		},
		{
			name: "data key's master index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("data_keys_by_master", []byte("mk1\x00cases/"+ckCase))(tx)
			},
			bucket: "data_keys_by_master", key: `master "mk1", data key "cases/` + ckCase + `"`, what: "missing",
		},
		{
			name: "dangling data key master index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("data_keys_by_master", []byte("mk1\x00cases/HN-2026-00099"), nil)(tx)
			},
			bucket: "data_keys_by_master", key: `data key "cases/HN-2026-00099"`, what: "dangling",
		},
		{
			name: "data key master index entry names another master",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("data_keys_by_master", []byte("mk0\x00cases/"+ckCase), nil)(tx)
			},
			bucket: "data_keys_by_master", key: `master "mk0"`, what: "wrapped by master \"mk1\"",
		},
		{
			name: "case's free text sealed under a missing data key",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return editCase(tx, f.caseID, func(c *model.Case) {
					c.Texts = model.Sealed{KeyID: "cases/HN-2026-00099", Data: []byte{4}}
				})
			},
			bucket: "cases", key: ckCase, what: "its free text is sealed under data key",
		},
		{
			name: "nested bucket in an index",
			change: func(f ckFixture, tx *bolt.Tx) error {
				_, err := tx.Bucket([]byte("index")).CreateBucket(boltstore.IndexKey("cases_by_unit", []byte("nested")))
				return err
			},
			bucket: "cases_by_unit", key: `"nested"`, what: "a nested bucket the layout does not have",
		},
		{
			name: "case no longer lists its report",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return editCase(tx, f.caseID, func(c *model.Case) { c.ReportIDs = nil })
			},
			bucket: "reports", key: "{report}", what: "names case " + ckCase + ", which does not list it",
			// The case lost its first report, whose call type its
			// statistics cells carry: they no longer agree either.
			alsoAllowOther: true,
		},
		{
			name: "case lists a report that names no case",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return editCase(tx, f.caseID, func(c *model.Case) { c.ReportIDs = []string{f.report.String(), f.loose.String()} })
			},
			bucket: "cases", key: ckCase, what: "which names case \"\"",
		},
		{
			name:   "case sequence behind",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("case_sequences", []byte{0x07, 0xea}, u64(0))(tx) },
			bucket: "case_sequences", key: "year 2026", what: "behind",
		},
		{
			name: "idempotency index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("idempotency_by_time", append(u64(uint64(ckT0.UnixNano())), "CreateReport/r1"...))(tx)
			},
			bucket: "idempotency_by_time", key: `"CreateReport/r1"`, what: "never expire",
		},
		{
			name: "dangling idempotency index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("idempotency_by_time", append(u64(uint64(ckT0.UnixNano())), "CreateReport/ghost"...), nil)(tx)
			},
			bucket: "idempotency_by_time", key: `request "CreateReport/ghost"`, what: "dangling",
		},
		{
			name: "idempotency index entry at another time",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("idempotency_by_time", append(u64(uint64(ckT0.Add(time.Hour).UnixNano())), "CreateReport/r1"...), nil)(tx)
			},
			bucket: "idempotency_by_time", key: `request "CreateReport/r1"`, what: "another time",
		},
		{
			name: "case scope entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("case_scope", append([]byte("incident:units/00004@2025-07-01\x00"), u64(f.caseID)...))(tx)
			},
			bucket: "case_scope", key: `"incident:units/00004@2025-07-01", case id`, what: "missing",
		},
		{
			name: "search posting deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("search_tokens", append(ckToken(1), u64(f.caseID)...))(tx)
			},
			bucket: "search_tokens", key: "token 01", what: "missing",
		},
		{
			name: "search posting of a token the case's entry lacks",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("search_tokens", append(ckToken(3), u64(f.caseID)...), nil)(tx)
			},
			bucket: "search_tokens", key: "token 03", what: "stale: the case's entry does not list the token",
		},
		{
			// As many postings as the entries list, and one of them
			// wrong: the counts agree, the pairs do not.
			name: "search posting moved to a token the case's entry lacks",
			change: func(f ckFixture, tx *bolt.Tx) error {
				if err := del("search_tokens", append(ckToken(1), u64(f.caseID)...))(tx); err != nil {
					return err
				}
				return put("search_tokens", append(ckToken(3), u64(f.caseID)...), nil)(tx)
			},
			bucket: "search_tokens", key: "token 03", what: "stale: the case's entry does not list the token", alsoAllowOther: true,
		},
		{
			name: "search posting of a case without an entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("search_tokens", append(ckToken(1), u64(99)...), nil)(tx)
			},
			bucket: "search_tokens", key: "id 99", what: "stale: the case has no search entry",
		},
		{
			name: "search pending mark of a case that does not exist",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("search_pending", u64(99), nil)(tx)
			},
			bucket: "search_pending", key: "id 99", what: "a mark of a case that does not exist",
		},
		{
			name: "case with neither a search entry nor a mark",
			change: func(f ckFixture, tx *bolt.Tx) error {
				if err := del("search_pending", u64(f.caseID))(tx); err != nil {
					return err
				}
				return del("search_by_case", u64(f.caseID))(tx)
			},
			bucket: "search_by_case", key: "id ", what: "missing: the index is recorded complete",
			// and its postings are stale
			alsoAllowOther: true,
		},
		{
			name: "search index recorded complete under no key",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("meta", []byte("search_indexed_under"), []byte{})(tx)
			},
			bucket: "meta", key: "search_indexed_under", what: "damaged: no master key id",
		},
		{
			name: "dangling case scope entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("case_scope", append([]byte("handler:units/00070@2025-07-01\x00"), u64(99)...), nil)(tx)
			},
			bucket: "case_scope", key: "case id 99", what: "dangling",
		},
		{
			name: "case scope entry the case does not have",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("case_scope", append([]byte("handler:units/00070@2025-07-01\x00"), u64(f.caseID)...), nil)(tx)
			},
			bucket: "case_scope", key: `"handler:units/00070@2025-07-01"`, what: "stale",
		},
		{
			name: "report scope entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("report_scope", append([]byte("incident:units/00004@2025-07-01\x00"), f.report[:]...))(tx)
			},
			bucket: "report_scope", key: `"incident:units/00004@2025-07-01", report {report}`, what: "missing",
		},
		{
			name: "report scope entry of another taker",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("report_scope", append([]byte("taker:minh.tran\x00"), f.report[:]...), nil)(tx)
			},
			bucket: "report_scope", key: `"taker:minh.tran", report {report}`, what: "stale",
		},
		{
			name: "dangling report scope entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("report_scope", append([]byte("taker:ghost\x00"), ghost[:]...), nil)(tx)
			},
			bucket: "report_scope", key: ghost.String(), what: "dangling",
		},
		{
			name: "case queue entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := append([]byte("units/00004@2025-07-01\x00\x01"), u64(^uint64(0))...)
				return del("case_queue", append(k, u64(^f.caseID)...))(tx)
			},
			bucket: "case_queue", key: `"units/00004@2025-07-01 queue 1"`, what: "missing",
		},
		{
			name: "case queue entry at another due time",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := append([]byte("units/00004@2025-07-01\x00\x01"), u64(uint64(ckT0.UnixNano()))...)
				return put("case_queue", append(k, u64(^f.caseID)...), nil)(tx)
			},
			bucket: "case_queue", key: `"units/00004@2025-07-01 queue 1"`, what: "stale",
		},
		{
			// The entry under the key of the unit that holds the case
			// (schema version 14), which its list by due time reads.
			name: "holder queue entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := append([]byte("holder:units/00004@2025-07-01\x00\x00"), u64(uint64(f.timerAt.UnixNano()))...)
				return del("case_queue", append(k, u64(^f.caseID)...))(tx)
			},
			bucket: "case_queue", key: `"holder:units/00004@2025-07-01 queue 0"`, what: "missing",
		},
		{
			name: "holder queue entry under a unit that does not hold the case",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := append([]byte("holder:units/00070@2025-07-01\x00\x00"), u64(uint64(f.timerAt.UnixNano()))...)
				return put("case_queue", append(k, u64(^f.caseID)...), nil)(tx)
			},
			bucket: "case_queue", key: `"holder:units/00070@2025-07-01 queue 0"`, what: "stale",
		},
		{
			name: "malformed case queue entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("case_queue", []byte("units/00004@2025-07-01"), nil)(tx)
			},
			bucket: "case_queue", key: "units/00004@2025-07-01", what: "malformed",
		},
		// Each index the other way from its cases above (issue 10:
		// "check verifies every index both ways").
		{
			name: "dangling call type index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("reports_by_call_type", append(u32(1), ghost[:]...), nil)(tx)
			},
			bucket: "reports_by_call_type", key: ghost.String(), what: "dangling",
		},
		{
			name:   "dangling case number entry",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("case_numbers", []byte("HN-2026-00099"), u64(99))(tx) },
			bucket: "case_numbers", key: "HN-2026-00099", what: "dangling",
		},
		{
			name: "dangling case unit index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("cases_by_unit", append([]byte("00004@2025-07-01\x00"), u64(99)...), nil)(tx)
			},
			bucket: "cases_by_unit", key: "id 99", what: "dangling",
		},
		{
			name: "status index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("cases_by_status", append(u32(uint32(model.StatusAwaitingAcknowledgement)), u64(f.caseID)...))(tx)
			},
			bucket: "cases_by_status", key: "status 1, case id", what: "missing: case " + ckCase,
		},
		{
			name: "dangling token index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("tokens_by_user", []byte(ckUser+"\x00ghost-token"), nil)(tx)
			},
			bucket: "tokens_by_user", key: `token "ghost-token"`, what: "dangling",
		},
		{
			name: "dangling audit actor index entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return put("audit_by_actor", append([]byte(ckUser+"\x00"), u64(77)...), nil)(tx)
			},
			bucket: "audit_by_actor", key: "seq 77", what: "dangling",
		},
		{
			name: "audit case index entry deleted",
			change: func(f ckFixture, tx *bolt.Tx) error {
				return del("audit_by_case", append([]byte("cases/"+ckCase+"\x00"), u64(2)...))(tx)
			},
			bucket: "audit_by_case", key: "seq 2", what: "missing",
		},
		{
			name: "dangling case queue entry",
			change: func(f ckFixture, tx *bolt.Tx) error {
				k := append([]byte("units/00004@2025-07-01\x00\x01"), u64(uint64(ckT0.UnixNano()))...)
				return put("case_queue", append(k, u64(^uint64(99))...), nil)(tx)
			},
			bucket: "case_queue", key: "case id 99", what: "dangling",
		},
		{
			name:   "newer schema version",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("meta", []byte("schema_version"), u32(99))(tx) },
			bucket: "meta", key: "schema_version", what: "newer",
		},
		{
			name:   "index entry under no index's tag",
			change: func(f ckFixture, tx *bolt.Tx) error { return put("index", []byte{200, 'x'}, nil)(tx) },
			bucket: "index", key: "x", what: "an entry of no index",
		},
		{
			name:   "bucket missing",
			change: func(f ckFixture, tx *bolt.Tx) error { return tx.DeleteBucket([]byte("index")) },
			bucket: "index", what: "missing",
		},
	}
	// The README's Reliability table gives the number of ways.
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if says := fmt.Sprintf("damages a store %d ways, each index both ways (`TestCheckFindsDamage`)", len(cases)); !strings.Contains(string(readme), says) {
		t.Errorf("the README's Reliability table does not say %q", says)
	}
	for _, d := range cases {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			f := writeHealthy(t, path)
			key := strings.ReplaceAll(d.key, "{report}", f.report.String())
			rawUpdate(t, path, func(tx *bolt.Tx) error { return d.change(f, tx) })
			res := mustCheck(t, path)
			found := false
			for _, p := range res.Problems {
				if p.Bucket == d.bucket && strings.Contains(p.Key, key) && strings.Contains(p.What, d.what) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem in %s naming %q and saying %q; found:\n%s", d.bucket, key, d.what, problemList(res))
			}
			if !d.alsoAllowOther && len(res.Problems) != 1 {
				t.Errorf("want exactly one problem, found:\n%s", problemList(res))
			}
		})
	}
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// auditTimeKey is the entry of stored event seq in audit_by_time, or
// nil when the event is missing or damaged (the delete then fails).
func auditTimeKey(tx *bolt.Tx, seq uint64) []byte {
	e, err := audit.Decode(tx.Bucket([]byte("audit")).Get(u64(seq)))
	if err != nil {
		return nil
	}
	return storekey.AuditTimeKey(e.Time, seq)
}

func timerKey(at time.Time, caseID uint64, deadline uint32) []byte {
	k := u64(uint64(at.UnixNano()))
	k = append(k, u64(caseID)...)
	return append(k, u32(deadline)...)
}

// TestCheckSurvivesDamagedPages damages the file below bbolt (a byte
// inserted, pages overwritten): Check reports problems or fails, and does
// not crash.
func TestCheckSurvivesDamagedPages(t *testing.T) {
	dir := t.TempDir()
	healthy := filepath.Join(dir, "cc.db")
	writeHealthy(t, healthy)
	data, err := os.ReadFile(healthy)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(data) < 8*page {
		t.Fatalf("the fixture is only %d bytes", len(data))
	}
	shifted := slices.Concat(data[:4*page], []byte("\n"), data[4*page:])
	overwritten := bytes.Clone(data)
	for i := 2 * page; i < len(overwritten); i++ {
		overwritten[i] = byte(i * 7)
	}
	zeroed := bytes.Clone(data)
	clear(zeroed[3*page : 6*page])
	for name, damaged := range map[string][]byte{"shifted": shifted, "overwritten": overwritten, "zeroed": zeroed} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".db")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := boltstore.Check(context.Background(), path)
			if err == nil && res.OK() {
				t.Fatalf("a damaged file passes the check")
			}
			t.Logf("err %v; problems:\n%s", err, problemList(res))
		})
	}
}

func TestCheckRefusesADatabaseInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	open(t, path)
	start := time.Now()
	_, err := boltstore.Check(context.Background(), path)
	if !errors.Is(err, boltstore.ErrInUse) {
		t.Fatalf("Check of an open database: %v, want ErrInUse", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Check took %v to give up", took)
	}
	if _, err := boltstore.Check(context.Background(), filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check of a missing file: %v, want ErrNotExist", err)
	}
}

// TestWriteBackupWhileWriting copies a store while writers go on: the
// copy is a database that passes Check and holds every report committed
// before the copy began.
func TestWriteBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "cc.db"))
	ctx := context.Background()
	create := func() string {
		id := uuid.Must(uuid.NewV7()).String()
		if err := s.Update(ctx, func(tx datastore.Tx) error {
			if err := tx.CreateReport(model.StoredReport{ID: id, CallType: 2, TakenBy: ckUser}); err != nil {
				return err
			}
			_, err := tx.AppendAudit(audit.Event{Time: ckT0, Actor: ckUser, Action: "report.create", Resource: "reports/" + id, Outcome: audit.OutcomeOK})
			return err
		}); err != nil {
			t.Error(err)
		}
		return id
	}
	var before []string
	for range 50 {
		before = append(before, create())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					create()
				}
			}
		}()
	}
	var copies []string
	for i := range 3 {
		path := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.WriteBackup(ctx, f)
		if err != nil {
			t.Fatalf("WriteBackup: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Size() != n {
			t.Errorf("WriteBackup said %d bytes, wrote %d", n, st.Size())
		}
		copies = append(copies, path)
	}
	close(stop)
	wg.Wait()

	for _, path := range copies {
		res := mustCheck(t, path)
		if !res.OK() {
			t.Fatalf("%s has problems:\n%s", path, problemList(res))
		}
		b, err := boltstore.OpenReadOnly(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = b.View(ctx, func(tx datastore.ReadTx) error {
			for _, id := range before {
				if _, err := tx.Report(id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if err := b.Update(ctx, func(datastore.Tx) error { return nil }); err == nil {
			t.Errorf("Update on a read-only store succeeded")
		}
		b.Close()
	}
}

func TestWriteBackupStopsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	writeHealthy(t, path)
	s := open(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WriteBackup(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteBackup with a cancelled context: %v", err)
	}
}

func TestSnapshotLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	writeHealthy(t, path)
	s := open(t, path)
	snap, n, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(snap)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != n {
		t.Errorf("read %d bytes of a %d-byte snapshot", len(data), n)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v", entries)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := mustCheck(t, copyPath); !res.OK() || res.Reports != 2 {
		t.Errorf("the snapshot: %+v\n%s", res.CheckSummary, problemList(res))
	}
}

func TestOpenReadOnlyRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := boltstore.OpenReadOnly(filepath.Join(dir, "none.db"), boltstore.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Errorf("OpenReadOnly created the file")
	}
	path := filepath.Join(dir, "cc.db")
	open(t, path)
	if _, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, boltstore.ErrInUse) {
		t.Errorf("file in use: %v, want ErrInUse", err)
	}
}

// TestOpenRefusesACutFile opens a backup cut short, as the server does at
// start (Open) and the offline commands do (OpenReadOnly): both refuse it
// naming the truncation, where bbolt alone would map the file and crash
// with SIGBUS reading the freelist beyond its end. Check's table of
// truncations and corruptions is in internal/cli (TestOpsDamagedFiles).
// TestOpenMakesAnEmptyFileANewDatabase holds the README's exception to
// "the server refuses to start on a file cut short": a file of 0 bytes is
// what a crash leaves between creating a new database and writing its
// first pages, so Open makes it a new database rather than refuse it
// (check and restore, which read a file as a backup, refuse it).
func TestOpenMakesAnEmptyFileANewDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open of an empty file: %v, want a new database", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("the new database does not open: %v", err)
	}
	ro.Close()
}

func TestOpenRefusesACutFile(t *testing.T) {
	dir := t.TempDir()
	healthy := filepath.Join(dir, "cc.db")
	writeHealthy(t, healthy)
	s, err := boltstore.OpenReadOnly(healthy, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	_, err = s.WriteBackup(context.Background(), &backup)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	data := backup.Bytes()
	for _, size := range []int{len(data) * 9 / 10, len(data) / 2, 2 * 4096, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.db")
			if err := os.WriteFile(path, data[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			if s, err := boltstore.Open(path, boltstore.Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), "truncated") {
				if err == nil {
					s.Close()
				}
				t.Errorf("Open: %v, want a truncation named", err)
			}
			if s, err := boltstore.OpenReadOnly(path, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "truncated") {
				if err == nil {
					s.Close()
				}
				t.Errorf("OpenReadOnly: %v, want a truncation named", err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(size) {
				t.Errorf("the refused file changed: %v, %d bytes, want %d", err, fi.Size(), size)
			}
		})
	}
}

// editCase rewrites a stored case record, behind the store's back.
func editCase(tx *bolt.Tx, id uint64, edit func(*model.Case)) error {
	b := tx.Bucket([]byte("cases"))
	var c model.Case
	if err := boltstore.DecodeRecord(b.Get(u64(id)), &c); err != nil {
		return err
	}
	edit(&c)
	out, err := boltstore.EncodeRecord(c)
	if err != nil {
		return err
	}
	return b.Put(u64(id), out)
}

// The parts of a check run side by side, but their problems come in the
// order of the check's steps, whichever part ends first: the reports', the
// tokens', the audit log's, the timeline's, the outbox's.
func TestCheckProblemsInStepOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	f := writeHealthy(t, path)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if err := boltstore.RawKeys(tx, "outbox").Put([]byte("x"), []byte{1}); err != nil {
			return err
		}
		for _, d := range []struct {
			bucket string
			key    []byte
		}{
			{"case_events", append(u64(f.caseID), u64(1)...)},
			{"audit_by_actor", append([]byte(ckUser+"\x00"), u64(2)...)},
			{"tokens_by_user", []byte(ckUser + "\x00" + f.tokenID)},
			{"reports_by_call_type", append(u32(1), f.report[:]...)},
		} {
			if err := boltstore.RawKeys(tx, d.bucket).Delete(d.key); err != nil {
				return err
			}
		}
		return nil
	})
	res := mustCheck(t, path)
	var order []string
	for _, p := range res.Problems {
		if len(order) == 0 || order[len(order)-1] != p.Bucket {
			order = append(order, p.Bucket)
		}
	}
	want := []string{"reports_by_call_type", "tokens_by_user", "audit_by_actor", "case_events", "outbox"}
	if !slices.Equal(order, want) {
		t.Errorf("problems by bucket, in order: %q, want %q:\n%s", order, want, problemList(res))
	}
}

// The reports and the cases are read in parts, by key (one per core): a
// record damaged in the first part or in the last is found, and the
// problems are those of a check in one part, in the same order.
func TestCheckInPartsFindsDamageAtTheirEnds(t *testing.T) {
	path := workloadFile(t, 50)
	var want []boltstore.Problem
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, bucket := range []string{"reports", "cases"} {
			cur := tx.Bucket([]byte(bucket)).Cursor()
			first, _ := cur.First()
			last, _ := cur.Last()
			for _, k := range [][]byte{first, last} {
				key := "id " + fmt.Sprint(be64(k))
				if bucket == "reports" {
					key = uuid.UUID(k).String()
				}
				want = append(want, boltstore.Problem{Bucket: bucket, Key: key, What: "the record does not decode"})
				if err := tx.Bucket([]byte(bucket)).Put(bytes.Clone(k), []byte{0xff, 0xfe}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	whole, err := boltstore.CheckInChunks(context.Background(), path, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(whole.Problems, func(p boltstore.Problem) bool {
			return p.Bucket == w.Bucket && p.Key == w.Key && strings.HasPrefix(p.What, w.What)
		}) {
			t.Errorf("in one part: no problem %q; found:\n%s", w, problemList(whole))
		}
	}
	for _, n := range []int{2, 3, 8} {
		res, err := boltstore.CheckInChunks(context.Background(), path, n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Problems, whole.Problems) || res.CheckSummary != whole.CheckSummary {
			t.Errorf("in %d parts: %+v, problems\n%s\nwant those of one part: %+v\n%s", n, res.CheckSummary, problemList(res), whole.CheckSummary, problemList(whole))
		}
	}
}

// TestCheckRunsAtMostWorkersParts: the parts of a check run on a pool of
// at most as many goroutines as it is given (GOMAXPROCS in a real check),
// not one goroutine each, and what it finds in a damaged file, and in
// which order, does not depend on how many run at once.
func TestCheckRunsAtMostWorkersParts(t *testing.T) {
	path := workloadFile(t, 50)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, bucket := range []string{"reports", "cases", "audit"} {
			k, _ := tx.Bucket([]byte(bucket)).Cursor().Last()
			if err := tx.Bucket([]byte(bucket)).Put(bytes.Clone(k), []byte{0xff, 0xfe}); err != nil {
				return err
			}
		}
		return nil
	})
	var whole boltstore.CheckResult
	for _, workers := range []int{1, 2, 3} {
		var mu sync.Mutex
		most, parts := 0, 0
		res, err := boltstore.CheckOnWorkers(context.Background(), path, workers, func(running int) {
			mu.Lock()
			defer mu.Unlock()
			most, parts = max(most, running), parts+1
		})
		if err != nil {
			t.Fatal(err)
		}
		if most > workers || parts < 10 {
			t.Errorf("on %d workers: %d parts, at most %d running at once; want at most %d at once, of some 20 parts", workers, parts, most, workers)
		}
		if workers == 1 {
			whole = res
			if len(res.Problems) < 3 {
				t.Fatalf("on one worker: %d problems, want one per damaged record at least:\n%s", len(res.Problems), problemList(res))
			}
			continue
		}
		if !slices.Equal(res.Problems, whole.Problems) || res.CheckSummary != whole.CheckSummary {
			t.Errorf("on %d workers: %+v, problems\n%s\nwant those on one: %+v\n%s", workers, res.CheckSummary, problemList(res), whole.CheckSummary, problemList(whole))
		}
	}
}

func be64(k []byte) uint64 {
	var v uint64
	for _, b := range k {
		v = v<<8 | uint64(b)
	}
	return v
}

// bbolt's walk of the pages runs beside the rest of the check, and its
// problems still come first: here the freelist names the root bucket's
// page, which is in use, and an index entry is missing too.
func TestCheckStructureProblemsFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	f := writeHealthy(t, path)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return boltstore.RawKeys(tx, "reports_by_call_type").Delete(append(u32(1), f.report[:]...))
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian // bbolt writes in the machine's order; the tests run on little-endian ones
	meta := func(page int64) []byte { return data[page*int64(le.Uint32(data[16+8:])):][16:] }
	m := meta(0)
	if m1 := meta(1); le.Uint64(m1[48:]) > le.Uint64(m[48:]) {
		m = m1
	}
	root, freelist := le.Uint64(m[16:]), le.Uint64(m[32:])
	ps := uint64(le.Uint32(m[8:]))
	fl := data[freelist*ps:]
	count := le.Uint16(fl[10:])
	if count >= 0xffff-1 || (uint64(count)+1)*8+16 > ps {
		t.Fatalf("the freelist holds %d ids: no room for one more here", count)
	}
	le.PutUint64(fl[16+8*int(count):], root)
	le.PutUint16(fl[10:], count+1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res := mustCheck(t, path)
	if len(res.Problems) < 2 || !strings.HasPrefix(res.Problems[0].What, "bbolt structure:") ||
		res.Problems[len(res.Problems)-1].Bucket != "reports_by_call_type" {
		t.Fatalf("want bbolt's problems first, then the missing index entry; found:\n%s", problemList(res))
	}
}

// TestCheckFindsADamagedMetaPage: bbolt keeps two meta pages and reads the
// file as of the valid one with the higher transaction id. When the newer
// one is damaged it silently reads the file as of the transaction before,
// and the writes of the last commit are gone: seen from outside on a
// stopped server's file, check answered OK with one audit event fewer
// than before the damage. Either page damaged is a problem check must
// name, with what it means for the writes.
func TestCheckFindsADamagedMetaPage(t *testing.T) {
	dir := t.TempDir()
	healthy := filepath.Join(dir, "cc.db")
	writeHealthy(t, healthy)
	data, err := os.ReadFile(healthy)
	if err != nil {
		t.Fatal(err)
	}
	const metaAt = 16 // the page header
	pageSize := int(binary.LittleEndian.Uint32(data[metaAt+8:]))
	txid := func(page int) uint64 { return binary.LittleEndian.Uint64(data[page*pageSize+metaAt+48:]) }
	newer := 0
	if txid(1) > txid(0) {
		newer = 1
	}
	for _, tt := range []struct {
		name string
		page int
	}{{"newer", newer}, {"older", 1 - newer}} {
		t.Run(tt.name, func(t *testing.T) {
			damaged := slices.Clone(data)
			damaged[tt.page*pageSize+metaAt+56] ^= 0xff // its checksum
			path := filepath.Join(t.TempDir(), "cc.db")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := boltstore.Check(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("meta page %d is damaged", tt.page)
			if res.OK() || !strings.Contains(res.Problems[0].String(), want) {
				t.Errorf("check of a file whose %s meta page is damaged: %v, want first %q", tt.name, res.Problems, want)
			}
		})
	}
}

// The entries an audit event must have are summed, not looked up, and
// compared with the sums of the indexes: an entry swapped for another, so
// that the index holds as many entries as the events need, is found both
// ways, the event's entry missing and the other dangling.
func TestCheckFindsAnAuditEntrySwapped(t *testing.T) {
	for _, d := range []struct {
		bucket  string
		entry   func(tx *bolt.Tx, seq uint64) []byte
		missing string
	}{
		{"audit_by_case", func(_ *bolt.Tx, seq uint64) []byte { return append([]byte("cases/"+ckCase+"\x00"), u64(seq)...) }, "seq 2"},
		{"audit_by_actor", func(_ *bolt.Tx, seq uint64) []byte { return append([]byte(ckUser+"\x00"), u64(seq)...) }, "seq 2"},
		{"audit_by_time", func(tx *bolt.Tx, seq uint64) []byte {
			if seq == 2 {
				return auditTimeKey(tx, 2)
			}
			return append(bytes.Clone(auditTimeKey(tx, 2)[:8]), u64(seq)...)
		}, "seq 2"},
	} {
		t.Run(d.bucket, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			writeHealthy(t, path)
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				b := boltstore.RawKeys(tx, d.bucket)
				if err := b.Delete(d.entry(tx, 2)); err != nil {
					return err
				}
				return b.Put(d.entry(tx, 77), nil)
			})
			res := mustCheck(t, path)
			var missing, dangling bool
			for _, p := range res.Problems {
				missing = missing || (p.Bucket == d.bucket && strings.Contains(p.Key, d.missing) && strings.Contains(p.What, "missing"))
				dangling = dangling || (p.Bucket == d.bucket && strings.Contains(p.Key, "seq 77") && strings.Contains(p.What, "dangling"))
			}
			if !missing || !dangling || len(res.Problems) != 2 {
				t.Errorf("want the entry of seq 2 missing and that of seq 77 dangling, no more; found:\n%s", problemList(res))
			}
		})
	}
}

// The entries the reports and cases must have are summed too, and those a
// report owes to its case are summed from the case's side: an entry
// swapped for a stale one of the same record, so that the index holds as
// many entries as the records need, is found both ways.
func TestCheckFindsARecordEntrySwapped(t *testing.T) {
	for _, d := range []struct {
		bucket           string
		gone, stale      func(f ckFixture) []byte
		missing, unknown string // what the two problems' keys contain
		what             string // and what the second says
	}{
		{
			bucket:  "report_scope",
			gone:    func(f ckFixture) []byte { return append([]byte("incident:units/00004@2025-07-01\x00"), f.report[:]...) },
			stale:   func(f ckFixture) []byte { return append([]byte("taker:minh.tran\x00"), f.report[:]...) },
			missing: `"incident:units/00004@2025-07-01", report`, unknown: `"taker:minh.tran", report`, what: "stale",
		},
		{
			bucket: "case_scope",
			gone: func(f ckFixture) []byte {
				return append([]byte("incident:units/00004@2025-07-01\x00"), u64(f.caseID)...)
			},
			stale: func(f ckFixture) []byte {
				return append([]byte("handler:units/00070@2025-07-01\x00"), u64(f.caseID)...)
			},
			missing: `"incident:units/00004@2025-07-01", case id`, unknown: `"handler:units/00070@2025-07-01"`, what: "stale",
		},
		{
			bucket:  "cases_by_unit",
			gone:    func(f ckFixture) []byte { return append([]byte("00004@2025-07-01\x00"), u64(f.caseID)...) },
			stale:   func(f ckFixture) []byte { return append([]byte("00070@2025-07-01\x00"), u64(f.caseID)...) },
			missing: "unit 00004@2025-07-01", unknown: "unit 00070@2025-07-01", what: "is the responsibility of",
		},
		{
			bucket:  "reports_by_taker",
			gone:    func(f ckFixture) []byte { return append([]byte(ckUser+"\x00"), f.report[:]...) },
			stale:   func(f ckFixture) []byte { return append([]byte("minh.tran\x00"), f.report[:]...) },
			missing: `taker "lan.nguyen"`, unknown: `taker "minh.tran"`, what: "was taken by",
		},
	} {
		t.Run(d.bucket, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			f := writeHealthy(t, path)
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				b := boltstore.RawKeys(tx, d.bucket)
				if err := b.Delete(d.gone(f)); err != nil {
					return err
				}
				return b.Put(d.stale(f), nil)
			})
			res := mustCheck(t, path)
			var missing, unknown bool
			for _, p := range res.Problems {
				missing = missing || (p.Bucket == d.bucket && strings.Contains(p.Key, d.missing) && strings.Contains(p.What, "missing"))
				unknown = unknown || (p.Bucket == d.bucket && strings.Contains(p.Key, d.unknown) && strings.Contains(p.What, d.what))
			}
			if !missing || !unknown || len(res.Problems) != 2 {
				t.Errorf("want the record's entry missing and the other %q, no more; found:\n%s", d.what, problemList(res))
			}
		})
	}
}

// Entries swapped between two records, so that an index holds as many
// entries as its records need, with the same keys' parts, each of them
// pointing at a record that exists: the sums of the entries differ, and
// both are named, each missing and the other wrong.
func TestCheckFindsEntriesSwappedBetweenRecords(t *testing.T) {
	for _, d := range []struct {
		bucket string
		pairs  func(f ckFixture, tx *bolt.Tx) (was, now [2][]byte)
	}{
		{"reports_by_call_type", func(f ckFixture, _ *bolt.Tx) (was, now [2][]byte) {
			r1, r2 := append(u32(uint32(model.CallIntervention)), f.report[:]...), append(u32(2), f.loose[:]...)
			s1, s2 := append(u32(2), f.report[:]...), append(u32(uint32(model.CallIntervention)), f.loose[:]...)
			return [2][]byte{r1, r2}, [2][]byte{s1, s2}
		}},
		{"audit_by_time", func(_ ckFixture, tx *bolt.Tx) (was, now [2][]byte) {
			a, b := auditTimeKey(tx, 1), auditTimeKey(tx, 3)
			return [2][]byte{a, b}, [2][]byte{append(bytes.Clone(b[:8]), u64(1)...), append(bytes.Clone(a[:8]), u64(3)...)}
		}},
	} {
		t.Run(d.bucket, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			f := writeHealthy(t, path)
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				was, now := d.pairs(f, tx)
				b := boltstore.RawKeys(tx, d.bucket)
				for i := range was {
					if b.Get(was[i]) == nil {
						return fmt.Errorf("no entry %x", was[i])
					}
					if err := b.Delete(was[i]); err != nil {
						return err
					}
				}
				for _, k := range now {
					if err := b.Put(k, nil); err != nil {
						return err
					}
				}
				return nil
			})
			for range 8 {
				res := mustCheck(t, path)
				missing, wrong := 0, 0
				for _, p := range res.Problems {
					switch {
					case p.Bucket != d.bucket:
					case strings.Contains(p.What, "missing"):
						missing++
					default:
						wrong++
					}
				}
				if missing != 2 || wrong != 2 {
					t.Fatalf("want both records' entries missing and both entries there wrong; found:\n%s", problemList(res))
				}
			}
		})
	}
}

// A report and its case unlinked on both sides (the report names no case,
// the case lists no report), so that every link agrees: the entries the
// report held in report_scope under its case's scope keys are no longer
// owed, and check names them, though the shortcut that takes a report's
// entries from its case's side is taken when links agree.
func TestCheckFindsReportScopeEntriesOfACaseUnlinked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	f := writeHealthy(t, path)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		reports, cases := tx.Bucket([]byte("reports")), tx.Bucket([]byte("cases"))
		var r model.StoredReport
		if err := boltstore.DecodeRecord(reports.Get(f.report[:]), &r); err != nil {
			return err
		}
		r.CaseNumber = ""
		var c model.Case
		if err := boltstore.DecodeRecord(cases.Get(u64(f.caseID)), &c); err != nil {
			return err
		}
		c.ReportIDs = nil
		for _, put := range []struct {
			b   *bolt.Bucket
			k   []byte
			rec any
		}{{reports, f.report[:], r}, {cases, u64(f.caseID), c}} {
			raw, err := boltstore.EncodeRecord(put.rec)
			if err != nil {
				return err
			}
			if err := put.b.Put(put.k, raw); err != nil {
				return err
			}
		}
		return nil
	})
	res := mustCheck(t, path)
	stale := 0
	for _, p := range res.Problems {
		if p.Bucket == "report_scope" && strings.Contains(p.Key, `"incident:units/00004@2025-07-01", report `+f.report.String()) && strings.Contains(p.What, "stale") {
			stale++
		}
	}
	if stale == 0 {
		t.Fatalf("want the report's entries under its former case's scope keys named in report_scope; found:\n%s", problemList(res))
	}
}
