package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

var ctx = context.Background()

// newStore returns an empty store in memory: sealing does not depend on
// the database.
func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// openFileStore returns an empty bbolt store and its file, for the tests
// that read what reaches the disk.
func openFileStore(t *testing.T) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func master(t *testing.T) keys.MasterKey {
	t.Helper()
	m, err := keys.GenerateMaster()
	if err != nil {
		t.Fatalf("GenerateMaster: %v", err)
	}
	return m
}

func date(s string) vntime.Date {
	d, err := vntime.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

var commune = units.Key{Code: "00004", ValidFrom: date("2020-01-01")}

// Distinct strings that must never reach storage in the clear. Each is
// unusual enough not to occur in a database by chance.
var secrets = []string{
	"Nguyễn Thị Hoàng Yến", "ngo-47-hang-bong-LOCATION", "bam-tim-tren-tay-CONDITION", "bo-hoc-HARM",
	"Trần Văn Quýnh Nam", "nha-ba-ngoai-LOCATION2", "suy-dinh-duong-CONDITION2", "bi-bo-roi-HARM2",
	"Nguyễn Văn Cường Thịnh", "cha-duong-RELATION", "0912345678", "so-9-pho-hue-ADDRESS",
	"Phạm Thị Lụa Đào", "me-ruot-RELATION", "0977001122", "thon-dong-ADDRESS",
	"FAMILY-SITUATION-cha-me-ly-hon", "ACTIONS-TAKEN-goi-cong-an-phuong", "NARRATIVE-chau-ke-rang-bi-danh",
	"Lê Thị Mai Phương", "0987654321", "hang-xom-REPORTER-RELATION",
}

// sampleReport is a report with every field set: a child with a birth date,
// one with an estimated age, two caregivers and a consenting reporter.
func sampleReport(caseNumber string) model.Report {
	receive := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)
	return model.Report{
		ID:           uuid.NewString(),
		Channel:      2,
		Means:        model.MeansEmail,
		ReceiveTime:  receive,
		IncidentUnit: commune,
		CallType:     model.CallIntervention,
		Children: []model.Child{
			{FullName: secrets[0], BirthDate: date("2015-06-01"), Sex: 2, Location: secrets[1], Condition: secrets[2], ExpectedHarm: secrets[3], ResidenceUnit: commune},
			{FullName: secrets[4], EstimatedAge: ptr[int32](7), Sex: 1, Location: secrets[5], Condition: secrets[6], ExpectedHarm: secrets[7]},
		},
		Caregivers: []model.Caregiver{
			{FullName: secrets[8], Relation: secrets[9], Phone: secrets[10], Address: secrets[11], SuspectedAbuser: true},
			{FullName: secrets[12], Relation: secrets[13], Phone: secrets[14], Address: secrets[15]},
		},
		FamilySituation:      secrets[16],
		ActionsTaken:         secrets[17],
		Narrative:            secrets[18],
		SuspectedAbuse:       []model.AbuseForm{1, 3},
		SpecialCircumstances: []model.SpecialCircumstance{2},
		ImmediateDanger:      true,
		Reporter:             model.Reporter{FullName: secrets[19], Phone: secrets[20], RelationToChild: secrets[21]},
		CaseNumber:           caseNumber,
		CreateTime:           receive.Add(90 * time.Second),
		TakenBy:              "op.lan",
		TakerUnit:            model.OrgHotline111,
	}
}

// withheld is r as OpenReport returns it: without the reporter.
func withheld(r model.Report) model.Report {
	r.Reporter = model.Reporter{Withheld: true}
	return r
}

// seal seals r and stores it in one transaction.
func seal(t *testing.T, s datastore.Store, v *vault.Vault, r model.Report) model.StoredReport {
	t.Helper()
	var out model.StoredReport
	err := s.Update(ctx, func(tx datastore.Tx) error {
		var err error
		if out, err = v.SealReport(tx, r); err != nil {
			return err
		}
		return tx.CreateReport(out)
	})
	if err != nil {
		t.Fatalf("seal report %s: %v", r.ID, err)
	}
	return out
}

func openReport(s datastore.Store, v *vault.Vault, id string) (model.Report, error) {
	var out model.Report
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		st, err := tx.Report(id)
		if err != nil {
			return err
		}
		out, err = v.OpenReport(tx, st)
		return err
	})
	return out, err
}

func openReporter(s datastore.Store, v *vault.Vault, id string) (model.Reporter, error) {
	var out model.Reporter
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		st, err := tx.Report(id)
		if err != nil {
			return err
		}
		out, err = v.OpenReporter(tx, st)
		return err
	})
	return out, err
}

func dataKeys(t *testing.T, s datastore.Store) []datastore.DataKey {
	t.Helper()
	var all []datastore.DataKey
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		after := ""
		for {
			ks, next, err := tx.ListDataKeys(after, 1000)
			if err != nil {
				return err
			}
			all = append(all, ks...)
			if next == "" {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		t.Fatalf("ListDataKeys: %v", err)
	}
	return all
}

func keyIDs(ks []datastore.DataKey) []string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

func TestSealOpenRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		report func() model.Report
	}{
		{"report of a case", func() model.Report { return sampleReport("HN-2026-00001") }},
		{"report of no case", func() model.Report { return sampleReport("") }},
		{"anonymous reporter", func() model.Report {
			r := sampleReport("HN-2026-00002")
			r.Reporter = model.Reporter{Anonymous: true}
			return r
		}},
		{"no children, no caregivers, no text", func() model.Report {
			r := sampleReport("")
			r.Children, r.Caregivers = nil, nil
			r.FamilySituation, r.ActionsTaken, r.Narrative = "", "", ""
			return r
		}},
		{"child of estimated age 0 and child with no age", func() model.Report {
			r := sampleReport("HN-2026-00003")
			r.Children = []model.Child{
				{FullName: "Bé Na", EstimatedAge: ptr[int32](0), Sex: 2},
				{FullName: "Bé Tí", Sex: 1, Location: "chợ"},
			}
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			v := vault.New(keys.NewKeyring(master(t)))
			r := tt.report()
			stored := seal(t, s, v, r)

			// The stored form keeps the public fields in the clear.
			if stored.ID != r.ID || stored.CaseNumber != r.CaseNumber || stored.TakenBy != r.TakenBy ||
				stored.TakerUnit != r.TakerUnit || stored.IncidentUnit != r.IncidentUnit || stored.CallType != r.CallType ||
				stored.Channel != r.Channel || stored.Means != r.Means || !stored.ReceiveTime.Equal(r.ReceiveTime) || !stored.CreateTime.Equal(r.CreateTime) ||
				stored.ImmediateDanger != r.ImmediateDanger ||
				!slices.Equal(stored.SuspectedAbuse, r.SuspectedAbuse) ||
				!slices.Equal(stored.SpecialCircumstances, r.SpecialCircumstances) {
				t.Errorf("stored public fields = %+v, report %+v", stored, r)
			}
			if want := vault.Summaries(r); !reflect.DeepEqual(stored.Children, want) {
				t.Errorf("stored children = %+v, want %+v", stored.Children, want)
			}

			// Opened inside the sealing transaction's result...
			err := s.View(ctx, func(tx datastore.ReadTx) error {
				got, err := v.OpenReport(tx, stored)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, withheld(r)) {
					t.Errorf("OpenReport(sealed) =\n%+v\nwant\n%+v", got, withheld(r))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("OpenReport(sealed): %v", err)
			}

			// ... and read back from storage.
			got, err := openReport(s, v, r.ID)
			if err != nil {
				t.Fatalf("OpenReport: %v", err)
			}
			if !reflect.DeepEqual(got, withheld(r)) {
				t.Errorf("OpenReport =\n%+v\nwant\n%+v", got, withheld(r))
			}
			if !got.Reporter.Withheld || got.Reporter.FullName != "" || got.Reporter.Phone != "" || got.Reporter.RelationToChild != "" {
				t.Errorf("OpenReport reveals the reporter: %+v", got.Reporter)
			}

			rep, err := openReporter(s, v, r.ID)
			if err != nil {
				t.Fatalf("OpenReporter: %v", err)
			}
			if rep != r.Reporter {
				t.Errorf("OpenReporter = %+v, want %+v", rep, r.Reporter)
			}
		})
	}
}

// TestStoredFormHoldsNoSecret checks the StoredReport itself and the whole
// database file for every private string of a report.
func TestStoredFormHoldsNoSecret(t *testing.T) {
	s, path := openFileStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	inCase := sampleReport("HN-2026-00007")
	alone := sampleReport("")
	var stored []model.StoredReport
	for _, r := range []model.Report{inCase, alone} {
		stored = append(stored, seal(t, s, v, r))
	}
	// Move the standalone report into a case, so the file has seen a
	// re-seal too.
	err := s.Update(ctx, func(tx datastore.Tx) error {
		st := stored[1]
		st.CaseNumber = "HN-2026-00007"
		st, err := v.MoveToCase(tx, st)
		if err != nil {
			return err
		}
		return tx.UpdateReport(st)
	})
	if err != nil {
		t.Fatalf("MoveToCase: %v", err)
	}

	for i, st := range stored {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("stored report %d holds %q in the clear: %s", i, secret, b)
			}
		}
		if !bytes.Contains(b, []byte(st.ID)) || !bytes.Contains(b, []byte("op.lan")) {
			t.Errorf("stored report %d lacks its public fields: %s", i, b)
		}
	}

	// The reports are readable, then the file is closed and searched.
	for _, r := range []model.Report{inCase, alone} {
		if _, err := openReport(s, v, r.ID); err != nil {
			t.Fatalf("OpenReport(%s): %v", r.ID, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("op.lan")) || !bytes.Contains(raw, []byte("HN-2026-00007")) {
		t.Fatal("the database file does not hold the public fields; the search below proves nothing")
	}
	for _, secret := range secrets {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file holds %q in the clear", secret)
		}
	}
}

func TestKeyIDs(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	a := seal(t, s, v, sampleReport("HN-2026-00010"))
	b := seal(t, s, v, sampleReport("HN-2026-00010"))
	c := seal(t, s, v, sampleReport("HN-2026-00011"))
	alone := seal(t, s, v, sampleReport(""))

	tests := []struct {
		name            string
		st              model.StoredReport
		private, report string
	}{
		{"first report of a case", a, "cases/HN-2026-00010", "reports/" + a.ID + "/reporter"},
		{"second report of the same case", b, "cases/HN-2026-00010", "reports/" + b.ID + "/reporter"},
		{"report of another case", c, "cases/HN-2026-00011", "reports/" + c.ID + "/reporter"},
		{"report of no case", alone, "reports/" + alone.ID, "reports/" + alone.ID + "/reporter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.st.Private.KeyID != tt.private {
				t.Errorf("private key id = %q, want %q", tt.st.Private.KeyID, tt.private)
			}
			if tt.st.Reporter.KeyID != tt.report {
				t.Errorf("reporter key id = %q, want %q", tt.st.Reporter.KeyID, tt.report)
			}
			if len(tt.st.Private.Data) == 0 || len(tt.st.Reporter.Data) == 0 {
				t.Errorf("sealed data is empty: %+v", tt.st)
			}
		})
	}

	// One key per case, one per standalone report, one per reporter; no
	// more, each wrapped under the current master.
	want := []string{
		"cases/HN-2026-00010", "cases/HN-2026-00011",
		"reports/" + a.ID + "/reporter", "reports/" + b.ID + "/reporter", "reports/" + c.ID + "/reporter",
		"reports/" + alone.ID, "reports/" + alone.ID + "/reporter",
	}
	slices.Sort(want)
	ks := dataKeys(t, s)
	if got := keyIDs(ks); !slices.Equal(got, want) {
		t.Errorf("data keys = %v, want %v", got, want)
	}
	for _, k := range ks {
		if k.Wrapped.MasterID != v.Keyring().Current().ID() {
			t.Errorf("data key %s wrapped under %s, want %s", k.ID, k.Wrapped.MasterID, v.Keyring().Current().ID())
		}
	}
	// The data keys are distinct: the same plaintext wrapped twice
	// differs, but two different keys must not share wrapped bytes.
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if bytes.Equal(ks[i].Wrapped.Sealed, ks[j].Wrapped.Sealed) {
				t.Errorf("data keys %s and %s have the same wrapped bytes", ks[i].ID, ks[j].ID)
			}
		}
	}
}

func TestMoveToCase(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	other := sampleReport("HN-2026-00020")
	seal(t, s, v, other)
	r := sampleReport("")
	before := seal(t, s, v, r)
	if before.Private.KeyID != "reports/"+r.ID {
		t.Fatalf("private key id before = %q", before.Private.KeyID)
	}

	var moved model.StoredReport
	err := s.Update(ctx, func(tx datastore.Tx) error {
		st, err := tx.Report(r.ID)
		if err != nil {
			return err
		}
		st.CaseNumber = "HN-2026-00020"
		if moved, err = v.MoveToCase(tx, st); err != nil {
			return err
		}
		return tx.UpdateReport(moved)
	})
	if err != nil {
		t.Fatalf("MoveToCase: %v", err)
	}
	if moved.Private.KeyID != "cases/HN-2026-00020" {
		t.Errorf("private key id after = %q, want cases/HN-2026-00020", moved.Private.KeyID)
	}
	if bytes.Equal(moved.Private.Data, before.Private.Data) {
		t.Error("the private part was not re-sealed")
	}
	if !reflect.DeepEqual(moved.Reporter, before.Reporter) {
		t.Errorf("the reporter changed: %+v, was %+v", moved.Reporter, before.Reporter)
	}
	if moved.CaseNumber != "HN-2026-00020" || !reflect.DeepEqual(moved.Children, before.Children) || moved.TakenBy != before.TakenBy {
		t.Errorf("public fields changed: %+v", moved)
	}

	want := r
	want.CaseNumber = "HN-2026-00020"
	got, err := openReport(s, v, r.ID)
	if err != nil {
		t.Fatalf("OpenReport after move: %v", err)
	}
	if !reflect.DeepEqual(got, withheld(want)) {
		t.Errorf("OpenReport after move =\n%+v\nwant\n%+v", got, withheld(want))
	}
	if rep, err := openReporter(s, v, r.ID); err != nil || rep != r.Reporter {
		t.Errorf("OpenReporter after move = %+v, %v; want %+v", rep, err, r.Reporter)
	}
	if _, err := openReport(s, v, other.ID); err != nil {
		t.Errorf("the case's first report no longer opens: %v", err)
	}

	// The blob sealed under the case key opens only under it: with the old
	// key id it fails.
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		st := moved
		st.Private.KeyID = "reports/" + r.ID
		_, err := v.OpenReport(tx, st)
		return err
	})
	if !errors.Is(err, keys.ErrDecrypt) {
		t.Errorf("OpenReport with the moved blob under the old key = %v, want ErrDecrypt", err)
	}

	// Moving again to the same case changes nothing.
	err = s.Update(ctx, func(tx datastore.Tx) error {
		again, err := v.MoveToCase(tx, moved)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(again, moved) {
			t.Errorf("second MoveToCase changed the report:\n%+v\nwas\n%+v", again, moved)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("second MoveToCase: %v", err)
	}
}

func TestSealedDataIsBoundToItsReport(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	a := seal(t, s, v, sampleReport("HN-2026-00030"))
	b := seal(t, s, v, sampleReport("HN-2026-00030"))
	if a.Private.KeyID != b.Private.KeyID {
		t.Fatalf("reports of one case use keys %s and %s", a.Private.KeyID, b.Private.KeyID)
	}
	flip := func(d []byte) []byte {
		d = bytes.Clone(d)
		d[len(d)-1] ^= 1
		return d
	}

	tests := []struct {
		name     string
		modify   func(st model.StoredReport) model.StoredReport
		reporter bool // open the reporter instead of the report
		want     error
	}{
		{"private part of another report of the same case", func(st model.StoredReport) model.StoredReport {
			st.Private = a.Private
			return st
		}, false, keys.ErrDecrypt},
		{"reporter of another report, with its key", func(st model.StoredReport) model.StoredReport {
			st.Reporter = a.Reporter
			return st
		}, true, keys.ErrDecrypt},
		{"reporter of another report, under own key id", func(st model.StoredReport) model.StoredReport {
			st.Reporter.Data = a.Reporter.Data
			return st
		}, true, keys.ErrDecrypt},
		{"private part flipped", func(st model.StoredReport) model.StoredReport {
			st.Private.Data = flip(st.Private.Data)
			return st
		}, false, keys.ErrDecrypt},
		{"reporter flipped", func(st model.StoredReport) model.StoredReport {
			st.Reporter.Data = flip(st.Reporter.Data)
			return st
		}, true, keys.ErrDecrypt},
		{"private part truncated", func(st model.StoredReport) model.StoredReport {
			st.Private.Data = st.Private.Data[:10]
			return st
		}, false, keys.ErrDecrypt},
		{"report id changed", func(st model.StoredReport) model.StoredReport {
			st.ID = a.ID
			return st
		}, false, keys.ErrDecrypt},
		{"private part named under the reporter key", func(st model.StoredReport) model.StoredReport {
			st.Private.KeyID = st.Reporter.KeyID
			return st
		}, false, keys.ErrDecrypt},
		{"unknown data key", func(st model.StoredReport) model.StoredReport {
			st.Private.KeyID = "cases/HN-2026-99999"
			return st
		}, false, model.ErrNotFound},
		{"unknown reporter key", func(st model.StoredReport) model.StoredReport {
			st.Reporter.KeyID = "reports/nobody/reporter"
			return st
		}, true, model.ErrNotFound},
		{"child summary dropped", func(st model.StoredReport) model.StoredReport {
			st.Children = st.Children[:1]
			return st
		}, false, nil}, // any error: the sealed part has two children
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.modify(b)
			err := s.View(ctx, func(tx datastore.ReadTx) error {
				var err error
				if tt.reporter {
					_, err = v.OpenReporter(tx, st)
				} else {
					_, err = v.OpenReport(tx, st)
				}
				return err
			})
			if err == nil {
				t.Fatal("opened, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}

	// A wrapped data key copied under another id does not unwrap there.
	err := s.Update(ctx, func(tx datastore.Tx) error {
		w, err := tx.DataKey(a.Private.KeyID)
		if err != nil {
			return err
		}
		return tx.PutDataKey("cases/HN-2026-00031", w)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		st := b
		st.Private.KeyID = "cases/HN-2026-00031"
		_, err := v.OpenReport(tx, st)
		return err
	})
	if !errors.Is(err, keys.ErrWrongKey) {
		t.Errorf("OpenReport under a copied data key = %v, want ErrWrongKey", err)
	}

	// b itself still opens.
	if _, err := openReport(s, v, b.ID); err != nil {
		t.Errorf("OpenReport(b): %v", err)
	}
}

func TestSummaries(t *testing.T) {
	// ICT is UTC+7: 17:00 UTC is midnight of the next day in Vietnam.
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return tm.UTC()
	}
	born := func(d string, sex model.Sex) model.Child {
		return model.Child{FullName: "x", BirthDate: date(d), Sex: sex}
	}
	estimated := func(age int32, sex model.Sex) model.Child {
		return model.Child{FullName: "x", EstimatedAge: ptr(age), Sex: sex}
	}
	tests := []struct {
		name     string
		received time.Time
		children []model.Child
		want     []model.ChildSummary
	}{
		{"birthday not yet reached that year", at("2026-03-10T03:00:00Z"), []model.Child{born("2015-06-01", 2)}, []model.ChildSummary{{AgeYears: 10, Sex: 2}}},
		{"birthday later that month", at("2026-03-10T03:00:00Z"), []model.Child{born("2015-03-11", 1)}, []model.ChildSummary{{AgeYears: 10, Sex: 1}}},
		{"birthday exactly that day", at("2026-03-10T03:00:00Z"), []model.Child{born("2015-03-10", 1)}, []model.ChildSummary{{AgeYears: 11, Sex: 1}}},
		{"birthday the day before", at("2026-03-10T03:00:00Z"), []model.Child{born("2015-03-09", 1)}, []model.ChildSummary{{AgeYears: 11, Sex: 1}}},
		{"birthday earlier in the year", at("2026-03-10T03:00:00Z"), []model.Child{born("2015-01-31", 2)}, []model.ChildSummary{{AgeYears: 11, Sex: 2}}},
		{"birthday reached on the Vietnamese day, not yet on the UTC day", at("2026-03-09T17:00:00Z"), []model.Child{born("2015-03-10", 1)}, []model.ChildSummary{{AgeYears: 11, Sex: 1}}},
		{"last second before the Vietnamese birthday", at("2026-03-09T16:59:59Z"), []model.Child{born("2015-03-10", 1)}, []model.ChildSummary{{AgeYears: 10, Sex: 1}}},
		{"born 29 February, on 28 February", at("2025-02-28T05:00:00Z"), []model.Child{born("2016-02-29", 2)}, []model.ChildSummary{{AgeYears: 8, Sex: 2}}},
		{"born 29 February, on 1 March", at("2025-03-01T05:00:00Z"), []model.Child{born("2016-02-29", 2)}, []model.ChildSummary{{AgeYears: 9, Sex: 2}}},
		{"born that day", at("2026-03-10T03:00:00Z"), []model.Child{born("2026-03-10", 1)}, []model.ChildSummary{{AgeYears: 0, Sex: 1}}},
		{"one day short of a year", at("2026-03-10T03:00:00Z"), []model.Child{born("2025-03-11", 1)}, []model.ChildSummary{{AgeYears: 0, Sex: 1}}},
		{"birth date after the report", at("2026-03-10T03:00:00Z"), []model.Child{born("2027-01-01", 1)}, []model.ChildSummary{{AgeYears: 0, Sex: 1}}},
		{"estimated age", at("2026-03-10T03:00:00Z"), []model.Child{estimated(7, 1)}, []model.ChildSummary{{AgeYears: 7, AgeEstimated: true, Sex: 1}}},
		{"estimated age 0", at("2026-03-10T03:00:00Z"), []model.Child{estimated(0, 2)}, []model.ChildSummary{{AgeYears: 0, AgeEstimated: true, Sex: 2}}},
		{"no age at all", at("2026-03-10T03:00:00Z"), []model.Child{{FullName: "x", Sex: 1}}, []model.ChildSummary{{AgeYears: 0, Sex: 1}}},
		{"several children in order", at("2026-03-10T03:00:00Z"),
			[]model.Child{born("2015-06-01", 2), estimated(4, 1), born("2010-03-10", 1)},
			[]model.ChildSummary{{AgeYears: 10, Sex: 2}, {AgeYears: 4, AgeEstimated: true, Sex: 1}, {AgeYears: 16, Sex: 1}}},
		{"no children", at("2026-03-10T03:00:00Z"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := vault.Summaries(model.Report{ReceiveTime: tt.received, Children: tt.children})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Summaries = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	a, b := master(t), master(t)

	t.Run("empty database passes any keyring", func(t *testing.T) {
		s := newStore(t)
		for _, ring := range []*keys.Keyring{keys.NewKeyring(a), keys.NewKeyring(b)} {
			if err := vault.New(ring).Check(ctx, s); err != nil {
				t.Errorf("Check on an empty database: %v", err)
			}
		}
	})

	s := newStore(t)
	v := vault.New(keys.NewKeyring(a))
	for range 3 {
		seal(t, s, v, sampleReport(""))
	}
	tests := []struct {
		name    string
		ring    *keys.Keyring
		wantErr bool
	}{
		{"the right master", keys.NewKeyring(a), false},
		{"the right master as previous", keys.NewKeyring(b, a), false},
		{"another master", keys.NewKeyring(b), true},
		{"another master with an unrelated previous", keys.NewKeyring(b, master(t)), true},
		{"the zero master", keys.NewKeyring(keys.MasterKey{}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := vault.New(tt.ring).Check(ctx, s)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, keys.ErrWrongKey) {
				t.Errorf("Check = %v, want an error wrapping keys.ErrWrongKey", err)
			}
		})
	}
}

// TestCheckUnwrapsFirstAndLastKey: Check's documentation promises that it
// unwraps the first and the last data key. A database whose first key is
// under the keyring's master but whose last key is under another master
// (a rotation left half done, a key file from before a restore) must fail
// the check, not serve errors later.
func TestCheckUnwrapsFirstAndLastKey(t *testing.T) {
	s := newStore(t)
	a, b := master(t), master(t)
	// Keys "cases/..." sort before "reports/...": the first key is the
	// case key, wrapped under a; the reporter and report keys of the later
	// report are wrapped under b.
	first := sampleReport("HN-2026-00001")
	first.ID = "00000000-0000-4000-8000-000000000001"
	seal(t, s, vault.New(keys.NewKeyring(a)), first)
	last := sampleReport("")
	last.ID = "ffffffff-ffff-4fff-bfff-ffffffffffff"
	seal(t, s, vault.New(keys.NewKeyring(b, a)), last)

	ks := dataKeys(t, s)
	if ks[0].Wrapped.MasterID != a.ID() || ks[len(ks)-1].Wrapped.MasterID != b.ID() {
		t.Fatalf("fixture: first key %s under %s, last key %s under %s", ks[0].ID, ks[0].Wrapped.MasterID, ks[len(ks)-1].ID, ks[len(ks)-1].Wrapped.MasterID)
	}
	if _, err := openReport(s, vault.New(keys.NewKeyring(a)), last.ID); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("fixture: the last report opens with master a alone (%v)", err)
	}
	if err := vault.New(keys.NewKeyring(a)).Check(ctx, s); !errors.Is(err, keys.ErrWrongKey) {
		t.Errorf("Check with a keyring that cannot open the last data key = %v, want an error wrapping keys.ErrWrongKey", err)
	}
	if err := vault.New(keys.NewKeyring(b, a)).Check(ctx, s); err != nil {
		t.Errorf("Check with both masters = %v, want nil", err)
	}
}

func TestRotate(t *testing.T) {
	s := newStore(t)
	old, next := master(t), master(t)
	v := vault.New(keys.NewKeyring(old))

	// 110 reports of no case have 220 data keys: more than one batch.
	var reports []model.Report
	err := s.Update(ctx, func(tx datastore.Tx) error {
		reports = reports[:0] // a store may run the body again
		for range 110 {
			r := sampleReport("")
			st, err := v.SealReport(tx, r)
			if err != nil {
				return err
			}
			if err := tx.CreateReport(st); err != nil {
				return err
			}
			reports = append(reports, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dataKeys(t, s)); n != 220 {
		t.Fatalf("%d data keys, want 220", n)
	}

	v.SetKeyring(keys.NewKeyring(next, old))
	if v.Keyring().Current().ID() != next.ID() {
		t.Fatalf("SetKeyring did not take")
	}
	n, err := v.Rotate(ctx, s)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if n != 220 {
		t.Errorf("Rotate re-wrapped %d keys, want 220", n)
	}
	for _, k := range dataKeys(t, s) {
		if k.Wrapped.MasterID != next.ID() {
			t.Errorf("data key %s still under %s", k.ID, k.Wrapped.MasterID)
		}
	}

	// The new master alone opens everything; the old one alone nothing.
	onlyNext := vault.New(keys.NewKeyring(next))
	onlyOld := vault.New(keys.NewKeyring(old))
	for _, r := range reports {
		got, err := openReport(s, onlyNext, r.ID)
		if err != nil {
			t.Fatalf("OpenReport(%s) with the new master: %v", r.ID, err)
		}
		if !reflect.DeepEqual(got, withheld(r)) {
			t.Fatalf("OpenReport(%s) after rotation =\n%+v\nwant\n%+v", r.ID, got, withheld(r))
		}
		if rep, err := openReporter(s, onlyNext, r.ID); err != nil || rep != r.Reporter {
			t.Fatalf("OpenReporter(%s) with the new master = %+v, %v", r.ID, rep, err)
		}
		if _, err := openReport(s, onlyOld, r.ID); !errors.Is(err, keys.ErrWrongKey) {
			t.Fatalf("OpenReport(%s) with the old master = %v, want ErrWrongKey", r.ID, err)
		}
	}
	if err := onlyNext.Check(ctx, s); err != nil {
		t.Errorf("Check with the new master: %v", err)
	}
	if err := onlyOld.Check(ctx, s); !errors.Is(err, keys.ErrWrongKey) {
		t.Errorf("Check with the old master = %v, want ErrWrongKey", err)
	}

	// Again: nothing left to do, with either keyring.
	for _, ring := range []*keys.Keyring{keys.NewKeyring(next, old), keys.NewKeyring(next)} {
		v.SetKeyring(ring)
		if n, err := v.Rotate(ctx, s); err != nil || n != 0 {
			t.Errorf("second Rotate = %d, %v; want 0, nil", n, err)
		}
	}

	// A new report after the rotation is wrapped under the new master and
	// a further rotation counts only keys not yet under the current one.
	third := master(t)
	r := sampleReport("HN-2026-00100")
	seal(t, s, onlyNext, r)
	v.SetKeyring(keys.NewKeyring(third, next))
	n, err = v.Rotate(ctx, s)
	if err != nil || n != 222 {
		t.Errorf("third-master Rotate = %d, %v; want 222, nil", n, err)
	}
	if _, err := openReport(s, vault.New(keys.NewKeyring(third)), r.ID); err != nil {
		t.Errorf("OpenReport after the second rotation: %v", err)
	}
}

func TestRotateWithoutTheOldMaster(t *testing.T) {
	s := newStore(t)
	old := master(t)
	seal(t, s, vault.New(keys.NewKeyring(old)), sampleReport(""))
	v := vault.New(keys.NewKeyring(master(t))) // old master missing
	n, err := v.Rotate(ctx, s)
	if !errors.Is(err, keys.ErrWrongKey) || n != 0 {
		t.Errorf("Rotate without the old master = %d, %v; want 0 and ErrWrongKey", n, err)
	}
	for _, k := range dataKeys(t, s) {
		if k.Wrapped.MasterID != old.ID() {
			t.Errorf("data key %s changed master to %s after a failed rotation", k.ID, k.Wrapped.MasterID)
		}
	}
	if _, err := openReport(s, vault.New(keys.NewKeyring(old)), dataKeysReportID(t, s)); err != nil {
		t.Errorf("the report no longer opens with the old master: %v", err)
	}
}

func dataKeysReportID(t *testing.T, s datastore.Store) string {
	t.Helper()
	var id string
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		rs, _, err := tx.ListReports(datastore.ReportQuery{Limit: 1})
		if err != nil || len(rs) == 0 {
			return fmt.Errorf("no report: %v", err)
		}
		id = rs[0].ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestHasData(t *testing.T) {
	s := newStore(t)
	has, err := vault.HasData(ctx, s)
	if err != nil || has {
		t.Fatalf("HasData(empty) = %v, %v; want false, nil", has, err)
	}
	// Data that is not sealed (a user) is not "data" in this sense.
	err = s.Update(ctx, func(tx datastore.Tx) error {
		return tx.CreateUser(model.User{ID: "admin", DisplayName: "A", Role: model.RoleAdmin, Unit: model.OrgSystem})
	})
	if err != nil {
		t.Fatal(err)
	}
	if has, err := vault.HasData(ctx, s); err != nil || has {
		t.Fatalf("HasData(users only) = %v, %v; want false, nil", has, err)
	}
	seal(t, s, vault.New(keys.NewKeyring(master(t))), sampleReport(""))
	if has, err := vault.HasData(ctx, s); err != nil || !has {
		t.Fatalf("HasData(one report) = %v, %v; want true, nil", has, err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := vault.HasData(canceled, s); !errors.Is(err, context.Canceled) {
		t.Errorf("HasData(canceled) = %v, want context.Canceled", err)
	}
}

// TestConcurrentUse seals and opens from many goroutines while the keyring
// is replaced, for the race detector.
func TestConcurrentUse(t *testing.T) {
	s := newStore(t)
	a, b := master(t), master(t)
	v := vault.New(keys.NewKeyring(a))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := sampleReport(fmt.Sprintf("HN-2026-%05d", i%3+1))
			err := s.Update(ctx, func(tx datastore.Tx) error {
				st, err := v.SealReport(tx, r)
				if err != nil {
					return err
				}
				return tx.CreateReport(st)
			})
			if err == nil {
				_, err = openReport(s, v, r.ID)
			}
			errs <- err
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		v.SetKeyring(keys.NewKeyring(b, a))
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := v.Rotate(ctx, s); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if err := vault.New(keys.NewKeyring(b)).Check(ctx, s); err != nil {
		t.Errorf("Check after rotation: %v", err)
	}
}

// countingStore hands out read transactions that count the data keys they
// return, by whatever method.
type countingStore struct {
	datastore.Store
	read int
}

func (s *countingStore) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(&countingReadTx{ReadTx: tx, read: &s.read}) })
}

type countingReadTx struct {
	datastore.ReadTx
	read *int
}

func (tx *countingReadTx) DataKey(id string) (keys.WrappedKey, error) {
	*tx.read++
	return tx.ReadTx.DataKey(id)
}

func (tx *countingReadTx) ListDataKeys(after string, limit int) ([]datastore.DataKey, string, error) {
	ks, next, err := tx.ReadTx.ListDataKeys(after, limit)
	*tx.read += len(ks)
	return ks, next, err
}

func (tx *countingReadTx) DataKeyPerMaster() ([]datastore.DataKey, error) {
	ks, err := tx.ReadTx.DataKeyPerMaster()
	*tx.read += len(ks)
	return ks, err
}

// TestCheckReadsOneKeyPerMaster: the check at start reads one data key
// per master id in use, not every data key, so that a start does not grow
// with the database; and it still finds a master the keyring lacks however
// few data keys that master wraps.
func TestCheckReadsOneKeyPerMaster(t *testing.T) {
	s := newStore(t)
	a, b, c := master(t), master(t), master(t)
	const many = 2000
	// Most keys under a, a run under b in the middle, and the very last
	// one under c.
	putWrappedKeys(t, s, many, func(i int) (string, keys.MasterKey) {
		switch {
		case i == many-1:
			return fmt.Sprintf("cases/HN-2026-%05d", i), c
		case i >= many/2 && i < many/2+10:
			return fmt.Sprintf("cases/HN-2026-%05d", i), b
		}
		return fmt.Sprintf("cases/HN-2026-%05d", i), a
	})
	counted := &countingStore{Store: s}
	if err := vault.New(keys.NewKeyring(a, b, c)).Check(ctx, counted); err != nil {
		t.Fatalf("Check with every master: %v", err)
	}
	if counted.read != 3 {
		t.Errorf("Check read %d data keys of %d under 3 masters, want 3 (one per master)", counted.read, many)
	}
	for lacking, ring := range map[string]*keys.Keyring{
		"c": keys.NewKeyring(a, b), "b": keys.NewKeyring(a, c), "a": keys.NewKeyring(c, b),
	} {
		if err := vault.New(ring).Check(ctx, counted); !errors.Is(err, keys.ErrWrongKey) {
			t.Errorf("Check with a keyring lacking master %s = %v, want an error wrapping keys.ErrWrongKey", lacking, err)
		}
	}
}

// BenchmarkCheckAtStart compares the check at start (one data key per
// master) with what it did before, a walk over every data key, on 90 000
// data keys (three per case of 30 000 cases) under two masters.
func BenchmarkCheckAtStart(b *testing.B) {
	path := filepath.Join(b.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m1, err := keys.GenerateMaster()
	if err != nil {
		b.Fatal(err)
	}
	m2, err := keys.GenerateMaster()
	if err != nil {
		b.Fatal(err)
	}
	const n = 90_000
	putWrappedKeys(b, s, n, func(i int) (string, keys.MasterKey) {
		if i%3 == 0 {
			return fmt.Sprintf("reports/%08d", i), m2
		}
		return fmt.Sprintf("reports/%08d", i), m1
	})
	v := vault.New(keys.NewKeyring(m1, m2))
	b.Run("per-master", func(b *testing.B) {
		for b.Loop() {
			if err := v.Check(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The walk Check made before: every data key listed and decoded, one
	// unwrapped per master.
	b.Run("every-key", func(b *testing.B) {
		for b.Loop() {
			err := s.View(ctx, func(tx datastore.ReadTx) error {
				seen := map[string]bool{}
				for after := ""; ; {
					ks, next, err := tx.ListDataKeys(after, 1000)
					if err != nil {
						return err
					}
					for _, k := range ks {
						if !seen[k.Wrapped.MasterID] {
							if _, err := v.Keyring().Unwrap(k.Wrapped, []byte(k.ID)); err != nil {
								return err
							}
							seen[k.Wrapped.MasterID] = true
						}
					}
					if next == "" {
						return nil
					}
					after = next
				}
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// putWrappedKeys stores n data keys, the i-th with the id and under the
// master key that key(i) gives, in transactions of up to 10 000.
func putWrappedKeys(tb testing.TB, s datastore.Store, n int, key func(i int) (string, keys.MasterKey)) {
	tb.Helper()
	dk, err := keys.NewDataKey()
	if err != nil {
		tb.Fatal(err)
	}
	for start := 0; start < n; start += 10_000 {
		err := s.Update(ctx, func(tx datastore.Tx) error {
			for i := start; i < min(start+10_000, n); i++ {
				id, m := key(i)
				w, err := m.Wrap(dk, []byte(id))
				if err != nil {
					return err
				}
				if err := tx.PutDataKey(id, w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("store data keys: %v", err)
		}
	}
}

// A search's query is sealed in the audit event: OpenReason, which
// auditors' lists use, leaves it sealed; OpenQuery opens it.
func TestSealQuery(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(keys.NewKeyring(master))
	e := audit.Event{Action: "case.search", Resource: "cases"}
	query := []byte(`{"ChildName":"Nguyễn Thị Hồng Nhung"}`)
	err = store.Update(ctx, func(tx datastore.Tx) error { return v.SealQuery(tx, &e, query) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Reason, "Nhung") {
		t.Fatalf("the sealed query shows the name: %q", e.Reason)
	}
	err = store.View(ctx, func(tx datastore.ReadTx) error {
		reason, err := v.OpenReason(tx, e)
		if err != nil || strings.Contains(reason, "Nhung") {
			t.Errorf("OpenReason = %q, %v; want the query left sealed", reason, err)
		}
		got, ok, err := v.OpenQuery(tx, e)
		if err != nil || !ok || string(got) != string(query) {
			t.Errorf("OpenQuery = %q, %v, %v; want the query", got, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// putCountingTx counts the data keys and cases a body puts
// (storagetest.SmallCommits).
type putCountingTx struct {
	datastore.Tx
	puts *int
}

func (c putCountingTx) PutDataKey(id string, w keys.WrappedKey) error {
	*c.puts++
	return c.Tx.PutDataKey(id, w)
}

func (c putCountingTx) UpdateCase(st model.Case) error {
	*c.puts++
	return c.Tx.UpdateCase(st)
}

// A rotation on a store that commits fewer keys at once than a rotation's
// batch (an etcd cluster started with a small --max-txn-ops) re-wraps
// every key, in smaller transactions, rather than failing at each try.
func TestRotateFitsAStoreOfSmallCommits(t *testing.T) {
	mem := newStore(t)
	old, next := master(t), master(t)
	v := vault.New(keys.NewKeyring(old))
	for i := range 150 {
		seal(t, mem, v, sampleReport(fmt.Sprintf("HN-2026-%05d", i+1)))
	}
	total := len(dataKeys(t, mem))
	s := &storagetest.SmallCommits{Store: mem, Limit: 40, Count: func(tx datastore.Tx, n *int) datastore.Tx {
		return putCountingTx{Tx: tx, puts: n}
	}}
	v.SetKeyring(keys.NewKeyring(next, old))
	n, err := v.Rotate(ctx, s)
	if err != nil || n != total {
		t.Fatalf("Rotate = %d, %v; want %d keys re-wrapped", n, err, total)
	}
	if s.Refused == 0 {
		t.Fatal("no commit was refused: the test's limit does not bite")
	}
	for _, k := range dataKeys(t, mem) {
		if k.Wrapped.MasterID != next.ID() {
			t.Errorf("data key %s still under %s", k.ID, k.Wrapped.MasterID)
		}
	}
}

// TestUnwrappedDataKeysAreCleared: every plaintext data key the vault
// unwraps is cleared once used, by Check and Rotate as by the reads and
// writes (which keep only the key's Sealer): before, Rotate and Check left
// the bytes of each key they unwrapped for the garbage collector, in the
// clear in memory (a core dump, a swapped page) for as long as it took.
func TestUnwrappedDataKeysAreCleared(t *testing.T) {
	s := newStore(t)
	old, next := master(t), master(t)
	v := vault.New(keys.NewKeyring(old))
	for range 3 {
		seal(t, s, v, sampleReport(""))
	}
	var unwrapped [][]byte
	watch := func(v *vault.Vault) {
		v.OnUnwrap(func(dk []byte) { unwrapped = append(unwrapped, dk) })
	}
	cleared := func(what string, want int) {
		t.Helper()
		if len(unwrapped) < want {
			t.Fatalf("%s unwrapped %d data keys, want at least %d", what, len(unwrapped), want)
		}
		for i, dk := range unwrapped {
			if len(dk) == 0 || slices.ContainsFunc(dk, func(b byte) bool { return b != 0 }) {
				t.Errorf("%s: data key %d of %d is not cleared once used", what, i+1, len(unwrapped))
			}
		}
		unwrapped = nil
	}

	checked := vault.New(keys.NewKeyring(old))
	watch(checked)
	if err := checked.Check(ctx, s); err != nil {
		t.Fatalf("Check: %v", err)
	}
	cleared("Check", 1)

	v.SetKeyring(keys.NewKeyring(next, old))
	watch(v)
	n, err := v.Rotate(ctx, s)
	if err != nil || n != 6 {
		t.Fatalf("Rotate = %d, %v; want 6 keys re-wrapped", n, err)
	}
	cleared("Rotate", 6)

	opened := vault.New(keys.NewKeyring(next))
	watch(opened)
	if err := s.View(ctx, func(tx datastore.ReadTx) error {
		for _, k := range dataKeys(t, s) {
			if _, err := opened.SealerOf(tx, k.ID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cleared("a read", 6)
}
