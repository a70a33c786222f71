package search

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// sameReports is what BenchmarkScale's 64-client row leaves in the index:
// n reports about one child, each of which opened a case of its own (the
// same name, caregiver, phone and commune), beside n namesakes elsewhere.
func sameReports(n int) []corpusChild {
	out := sameNames(n)
	for i := range n {
		out = append(out, corpusChild{
			Name: "Nguyễn Thị Lan", BirthDate: vntime.Date{Year: 2017, Month: time.May, Day: 1}.AddDays(i % 700).String(),
			Commune: "00004@2025-07-01", Caregiver: "Nguyễn Văn Hùng", Phone: "0912345678",
		})
	}
	return out
}

// BenchmarkRank ranks the candidates of the report BenchmarkScale's
// write rows send (the child by an estimated age, the caregiver, the
// reporter's phone, the commune) as CandidatesOf does, against a city
// where that report was made many times already.
func BenchmarkRank(b *testing.B) {
	s, store, _ := indexCorpus(b, sameReports(1000))
	q := scaleQuery()
	read, n := 0, 0
	err := store.View(context.Background(), func(tx datastore.ReadTx) error {
		counted := countingTx{ReadTx: tx, read: &read}
		for b.Loop() {
			if _, _, _, err := s.rank(counted, q, firstPostings, IntakeCandidates+1); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// The postings read and the cases looked tokens up among: each a
	// seek on bbolt.
	b.ReportMetric(float64(read)/float64(n), "postings/op")
}

// BenchmarkTokens makes the index entry's tokens of a report such as the
// scale rows send, as writeEntry does for each case written.
func BenchmarkTokens(b *testing.B) {
	reg, master := testRegistry(b), newMaster(b)
	nine := int32(9)
	r := model.Report{
		ReceiveTime: time.Date(2026, time.November, 27, 3, 0, 0, 0, time.UTC), IncidentUnit: mustKey("00004@2025-07-01"),
		Children:   []model.Child{{FullName: "Nguyễn Thị Lan", EstimatedAge: &nine, Sex: model.SexFemale}},
		Caregivers: []model.Caregiver{{FullName: "Nguyễn Văn Hùng"}},
		Reporter:   model.Reporter{FullName: "Trần Thị Mai", Phone: "0912 345 678"},
	}
	for b.Loop() {
		if toks := Tokens(master.IndexKey(), reg, r); len(toks) == 0 {
			b.Fatal("no tokens")
		}
	}
}

// scaleQuery is the query of the report BenchmarkScale's write rows send.
func scaleQuery() Query {
	nine := int32(9)
	return Query{
		ChildName: "Nguyễn Thị Lan", EstimatedAge: &nine, Day: vntime.Date{Year: 2026, Month: time.November, Day: 27},
		Commune: mustKey("00004@2025-07-01"), CaregiverName: "Nguyễn Văn Hùng", Phone: "0912 345 678", Reporters: true,
	}
}

// BenchmarkCandidates is BenchmarkRank with the rest of CandidatesOf: the
// cases ranked first read and shaped for a worker of the commune the
// reports' cases are in.
func BenchmarkCandidates(b *testing.B) {
	s, store, _ := indexCorpus(b, sameReports(1000))
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	read, n := 0, 0
	err := store.View(context.Background(), func(tx datastore.ReadTx) error {
		counted := countingTx{ReadTx: tx, read: &read}
		for b.Loop() {
			if got, err := s.candidates(counted, worker, scaleQuery(), IntakeCandidates, ""); err != nil || len(got) != IntakeCandidates {
				return fmt.Errorf("%d candidates, %v", len(got), err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(read)/float64(n), "postings/op")
}
