package boltstore_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
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
)

// fillWorkload writes n cases as the service does, one transaction per
// request: intake (report, data keys, case, timer, audit event,
// notification, idempotency record), and for each a step on an older case
// (timeline event, update, audit event, notification), so that keys of
// older cases keep arriving between newer ones.
func fillWorkload(t testing.TB, s datastore.Store, n int) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ids := make([]uint64, 0, n)
	for i := range n {
		now := t0.Add(time.Duration(i) * time.Minute)
		unit := units.Key{Code: fmt.Sprintf("%05d", 4+i%20), ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
		number := fmt.Sprintf("HN-2026-%05d", i+1)
		taker := fmt.Sprintf("operator%02d", i%7)
		rid := uuid.Must(uuid.NewV7()).String()
		err := s.Update(ctx, func(tx datastore.Tx) error {
			for _, id := range []string{"cases/" + number, "reports/" + rid, "reports/" + rid + "/reporter"} {
				if err := tx.PutDataKey(id, keys.WrappedKey{MasterID: "3d5afddbb342c889", Sealed: make([]byte, 60)}); err != nil {
					return err
				}
			}
			if err := tx.CreateReport(model.StoredReport{
				ID: rid, Channel: model.ChannelHotline111, ReceiveTime: now, IncidentUnit: unit, CallType: model.CallType(1 + i%3),
				Children:       []model.ChildSummary{{AgeYears: int32(i % 16), Sex: model.SexFemale}},
				SuspectedAbuse: []model.AbuseForm{model.AbuseNeglect}, CaseNumber: number, CreateTime: now,
				TakenBy: taker, TakerUnit: model.OrgHotline111,
				Private:  model.Sealed{KeyID: "reports/" + rid, Data: make([]byte, 300)},
				Reporter: model.Sealed{KeyID: "reports/" + rid + "/reporter", Data: make([]byte, 80)},
			}); err != nil {
				return err
			}
			if _, err := tx.NextCaseSequence(2026); err != nil {
				return err
			}
			due := now.Add(24 * time.Hour)
			c := model.Case{Number: number, Revision: 1, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit,
				ReportIDs: []string{rid}, CreateTime: now, UpdateTime: now,
				Deadlines: []model.Deadline{{ID: 1, Kind: model.DeadlineAcknowledge, Clock: model.ClockHours, Length: 24 * time.Hour,
					Unit: unit.String(), Start: now, Due: due, State: model.DeadlineOpen, NextFire: due}}}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			ids = append(ids, c.ID)
			if err := tx.PutTimer(model.Timer{At: due, CaseID: c.ID, DeadlineID: 1}); err != nil {
				return err
			}
			if _, err := tx.AppendCaseEvents(c.ID, model.CaseEvent{Time: now, Actor: taker, Kind: "CREATED"}); err != nil {
				return err
			}
			if _, err := tx.AppendNotifications(model.Notification{Time: now, Kind: "CASE_CREATED", Case: "cases/" + number, Units: []string{unit.String()}}); err != nil {
				return err
			}
			if err := tx.PutIdempotency(model.IdempotencyRecord{Key: taker + ":CreateReport:" + rid, Fingerprint: make([]byte, 32), Resource: rid, CreateTime: now}); err != nil {
				return err
			}
			_, err := tx.AppendAudit(audit.Event{Time: now, Actor: taker, Role: "HOTLINE_OPERATOR", Unit: model.OrgHotline111,
				Action: "report.create", Resource: "reports/" + rid, Case: "cases/" + number, Outcome: audit.OutcomeOK})
			return err
		})
		if err != nil {
			t.Fatalf("intake %d: %v", i, err)
		}
		// The case's search entry follows in a transaction of its own, as
		// the search service writes it.
		err = s.Update(ctx, func(tx datastore.Tx) error {
			return tx.PutSearchEntry(datastore.SearchEntry{CaseID: ids[i], KeyID: "3d5afddbb342c889", Tokens: fillTokens(i)})
		})
		if err != nil {
			t.Fatalf("search entry %d: %v", i, err)
		}
		older := ids[i/2]
		err = s.Update(ctx, func(tx datastore.Tx) error {
			c, err := tx.CaseByID(older)
			if err != nil {
				return err
			}
			c.Revision++
			c.UpdateTime = now
			if _, err := tx.AppendCaseEvents(older, model.CaseEvent{Time: now, Actor: "worker", Kind: "STEP", Detail: "a step"}); err != nil {
				return err
			}
			if err := tx.UpdateCase(c); err != nil {
				return err
			}
			if _, err := tx.AppendNotifications(model.Notification{Time: now, Kind: "STEP", Case: "cases/" + c.Number, Units: []string{c.ResponsibleUnit.String()}}); err != nil {
				return err
			}
			_, err = tx.AppendAudit(audit.Event{Time: now, Actor: "worker", Role: "COMMUNE_WORKER", Unit: c.ResponsibleUnit.String(),
				Action: "case.step", Resource: "cases/" + c.Number, Case: "cases/" + c.Number, Outcome: audit.OutcomeOK})
			return err
		})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// fillTokens are the search tokens of case i: 30, as many as a report
// with a child, a caregiver and a named reporter brings, of which a few
// are shared with other cases (a commune, a birth year), sorted.
func fillTokens(i int) [][]byte {
	var out [][]byte
	for j := range 30 {
		tok := make([]byte, datastore.SearchTokenSize)
		v := uint64(i)*31 + uint64(j)
		if j < 3 {
			v = uint64(j)*1000 + uint64(i%7)
		}
		for k := range tok {
			tok[k] = byte((v * 0x9e3779b97f4a7c15) >> (8 * (k % 8)))
		}
		out = append(out, tok)
	}
	slices.SortFunc(out, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	return slices.CompactFunc(out, func(a, b []byte) bool { return string(a) == string(b) })
}

// pageBytes returns the bytes of the pages each bucket holds, and the
// database's size as bbolt counts it (its high-water mark: every page ever
// allocated, free ones included). The file itself grows by whole steps of
// bbolt's allocation size, so at a few thousand cases it is the same size
// either way.
func pageBytes(t *testing.T, path string) (map[string]int, int64) {
	t.Helper()
	out := map[string]int{}
	var size int64
	rawView(t, path, func(tx *bolt.Tx) error {
		size = tx.Size()
		pageSize := tx.DB().Info().PageSize
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			out[string(name)] = (st.BranchPageN+st.BranchOverflowN+st.LeafPageN+st.LeafOverflowN)*pageSize + st.InlineBucketInuse
			return nil
		})
	})
	return out, size
}

// TestFillPercentShrinksTheFile writes the same workload twice in one run,
// once filling pages as before appendFill (only the audit log full) and
// once as the store does now, and compares the bytes per case: each bucket
// of appendFill must hold fewer pages, none more.
func TestFillPercentShrinksTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two databases of 1000 cases")
	}
	const n = 1000
	dir := t.TempDir()
	measure := func(name string, asBefore bool) (map[string]int, int, int64) {
		path := filepath.Join(dir, name+".db")
		s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if asBefore {
			boltstore.FillAsBefore(s)
		}
		fillWorkload(t, s, n)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		pages, file := pageBytes(t, path)
		total := 0
		for _, b := range pages {
			total += b
		}
		return pages, total, file
	}
	beforePages, before, beforeSize := measure("before", true)
	afterPages, after, afterSize := measure("dense", false)

	var lines []string
	for _, name := range slices.Sorted(maps.Keys(beforePages)) {
		lines = append(lines, fmt.Sprintf("%-22s %7.0f -> %7.0f bytes per case", name, float64(beforePages[name])/n, float64(afterPages[name])/n))
	}
	t.Logf("pages held by each bucket, %d cases:\n%s", n, strings.Join(lines, "\n"))
	t.Logf("all buckets: %.0f -> %.0f bytes per case (%.2fx); database size %.0f -> %.0f bytes per case",
		float64(before)/n, float64(after)/n, float64(after)/float64(before), float64(beforeSize)/n, float64(afterSize)/n)
	for name := range afterPages {
		if afterPages[name] > beforePages[name] {
			t.Errorf("bucket %s holds more pages now (%d bytes) than before (%d)", name, afterPages[name], beforePages[name])
		}
	}
	for _, name := range boltstore.AppendFill() {
		if name != "audit" && afterPages[name] >= beforePages[name] {
			t.Errorf("bucket %s holds %d bytes of pages, as many as before (%d)", name, afterPages[name], beforePages[name])
		}
	}
	if float64(after) > 0.9*float64(before) {
		t.Errorf("the buckets hold %d bytes now, %d before: want at least a tenth less", after, before)
	}
}

// TestStoredMessagesShrinkTheFile writes the workload once, then makes a
// copy with every record in the JSON of schema version 4, and compacts
// both (bbolt's Compact, the same way for each), so that the bytes per
// case compare the encodings alone in one run: the records, and the whole
// file. The stored messages must be the smaller.
func TestStoredMessagesShrinkTheFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a database of 1000 cases")
	}
	const n = 1000
	dir := t.TempDir()
	path, asJSON := filepath.Join(dir, "proto.db"), filepath.Join(dir, "json.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillWorkload(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asJSON, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var protoBytes, jsonBytes int
	rawUpdate(t, asJSON, func(tx *bolt.Tx) error {
		for bucket, newValue := range recordTypes {
			b := tx.Bucket([]byte(bucket))
			var ks, vs [][]byte
			err := b.ForEach(func(k, v []byte) error {
				rec := newValue()
				if err := boltstore.DecodeRecord(v, rec); err != nil {
					return fmt.Errorf("%s %x: %w", bucket, k, err)
				}
				j, err := boltstore.EncodeJSONRecord(reflect.ValueOf(rec).Elem().Interface())
				if err != nil {
					return err
				}
				protoBytes, jsonBytes = protoBytes+len(v), jsonBytes+len(j)
				ks, vs = append(ks, slices.Clone(k)), append(vs, j)
				return nil
			})
			if err != nil {
				return err
			}
			for i := range ks {
				if err := b.Put(ks[i], vs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	protoFile, jsonFile := compactedSize(t, path), compactedSize(t, asJSON)
	t.Logf("%d cases: records %.0f (JSON) -> %.0f (messages) bytes per case; compacted file %.0f -> %.0f bytes per case",
		n, float64(jsonBytes)/n, float64(protoBytes)/n, float64(jsonFile)/n, float64(protoFile)/n)
	if protoBytes >= jsonBytes || protoFile >= jsonFile {
		t.Errorf("the stored messages are not smaller than JSON: records %d -> %d bytes, file %d -> %d bytes",
			jsonBytes, protoBytes, jsonFile, protoFile)
	}
}

// compactedSize is the size of the file bbolt's Compact writes from path.
func compactedSize(t *testing.T, path string) int64 {
	t.Helper()
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := bolt.Open(path+".compact", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := bolt.Compact(dst, src, 1<<20); err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := dst.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return size
}
