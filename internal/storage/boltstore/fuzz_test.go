package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
)

// FuzzDecodeRecord decodes arbitrary bytes as every kind of stored record,
// as reading a damaged or hostile file (and Check) does. Decoding must
// never panic; a record that decodes must encode again, and that encoding
// must be stable (decode and encode once more give the same bytes), so a
// record read and written back is not silently changed.
func FuzzDecodeRecord(f *testing.F) {
	for _, seed := range fuzzRecordSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		roundTrip[model.StoredReport](t, raw)
		roundTrip[model.Case](t, raw)
		roundTrip[model.IdempotencyRecord](t, raw)
		roundTrip[model.User](t, raw)
		roundTrip[model.Token](t, raw)
		roundTrip[model.PoliceUnit](t, raw)
		roundTrip[keys.WrappedKey](t, raw)
		roundTrip[model.CaseEvent](t, raw)
		roundTrip[model.Notification](t, raw)
	})
}

func roundTrip[T any](t *testing.T, raw []byte) {
	t.Helper()
	v, err := decodeAs[T](raw)
	if err != nil {
		return
	}
	once, err := encode(v)
	if err != nil {
		t.Fatalf("%T decoded from %q does not encode: %v", v, raw, err)
	}
	w, err := decodeAs[T](once)
	if err != nil {
		t.Fatalf("%T: its own encoding %q does not decode: %v", v, once, err)
	}
	twice, err := encode(w)
	if err != nil || !bytes.Equal(once, twice) {
		t.Fatalf("%T: encoding is not stable:\n%q\n%q (%v)", v, once, twice, err)
	}
}

// fuzzRecordSeeds are records as the store writes them, and damage.
func fuzzRecordSeeds(f *testing.F) [][]byte {
	at := time.Date(2026, 11, 28, 2, 15, 0, 123456789, time.UTC)
	unit := units.Key{Code: "00004", ValidFrom: vntime.DateOf(time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC))}
	records := []any{
		model.StoredReport{
			ID: "01a222d5-bea0-7bea-bf64-debef56d112a", Channel: 1, ReceiveTime: at, IncidentUnit: unit, CallType: 1,
			Children:       []model.ChildSummary{{Sex: 2, AgeYears: 9, AgeEstimated: true}},
			SuspectedAbuse: []model.AbuseForm{1}, CaseNumber: "HN-2026-00005", CreateTime: at, TakenBy: "operator",
		},
		model.Case{ID: 5, Number: "HN-2026-00005", Status: 1, ResponsibleUnit: unit, IncidentUnit: unit,
			ReportIDs: []string{"01a222d5-bea0-7bea-bf64-debef56d112a"}, ReceiveTime: at, CreateTime: at, UpdateTime: at, Revision: 3},
		model.IdempotencyRecord{Key: "CreateReport/call-1", Fingerprint: []byte{1, 2, 3}, Resource: "x", CreateTime: at},
		model.User{ID: "lan.nguyen", DisplayName: "Nguyễn Thị Lan", Role: 1, Unit: "orgs/hotline-111", CreateTime: at},
		model.Token{ID: "7f3a9c01d2e4b5a6", UserID: "lan.nguyen", SecretHash: bytes.Repeat([]byte{7}, 32), CreateTime: at, ExpireTime: at.AddDate(0, 3, 0)},
		model.PoliceUnit{ID: "ca-phuong-ba-dinh", DisplayName: "Công an phường Ba Đình", Covers: []units.Key{unit}, CreateTime: at},
		keys.WrappedKey{MasterID: "139007e17e2d094a", Sealed: bytes.Repeat([]byte{0xAB}, 61)},
		model.CaseEvent{Seq: 1, Time: at, Actor: "system", Kind: "DEADLINE_WARNING", Detail: "50%", DeadlineID: 3},
		model.Notification{Seq: 9, Time: at, Kind: "BREACH", Case: "cases/HN-2026-00005", Units: []string{"units/00004@2025-07-01"}},
	}
	var seeds [][]byte
	for _, r := range records {
		b, err := encode(r)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		nil, []byte{jsonRecord}, []byte{protoRecord}, []byte("\x02\xff\xff"), []byte("\x01null"), []byte("\x01{}"), []byte("\x02{}"), []byte("{}"),
		[]byte("\x01{\"ReceiveTime\":\"0000-01-01T00:00:00+01:00\"}"),
		[]byte("\x01{\"IncidentUnit\":{\"Code\":\"00004\",\"ValidFrom\":\"2025-02-30\"}}"),
		[]byte("\x01{\"ID\":\"\xff\xfe\",\"Children\":[{\"AgeYears\":-1}]}"),
	)
}

// FuzzInspectFile damages a small database at random. inspectFile must
// never panic, and a file it lets through must go through Check (bbolt
// mapping it and walking every page) without crashing the process: that
// is what stands between a damaged file and SIGBUS.
func FuzzInspectFile(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	err = s.Update(context.Background(), func(tx datastore.Tx) error {
		for i := range 40 {
			if err := tx.PutDataKey(fmt.Sprintf("cases/HN-2026-%05d", i), keys.WrappedKey{MasterID: "mk1", Sealed: make([]byte, 200)}); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := inspectFile(bytes.NewReader(data), int64(len(data)), true); err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "f.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Check(context.Background(), path); err != nil {
			t.Logf("check: %v", err)
		}
	})
}
