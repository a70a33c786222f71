package search

import (
	"maps"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
)

// askingTx records the cases a search looks tie-breakers up for.
type askingTx struct {
	datastore.ReadTx
	asked map[uint64]bool
}

func (a askingTx) CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error) {
	for _, id := range caseIDs {
		a.asked[id] = true
	}
	return a.ReadTx.CasesWithTokenAmong(token, caseIDs)
}

// The tie-breakers (a commune, a birth year) are looked up only for the
// cases they could lift to MinScore: a case found by a caregiver's name
// one syllable off (2) stays under it with both (2+1+1), so its look-ups
// are skipped; one found by the child's name one syllable off (4) is
// looked up, and qualifies by its commune. The ranking is what it was.
func TestTieBreakersOnlyForCasesTheyCanLift(t *testing.T) {
	commune := "00004@2025-07-01"
	s, store, ids := indexCorpus(t, []corpusChild{
		{Name: "Nguyễn Thị Lan", BirthDate: "2017-05-01", Commune: commune, Caregiver: "Trần Văn Bình"},
		{Name: "Nguyễn Thị Hoa", BirthDate: "2015-02-03", Commune: commune, Caregiver: "Lê Văn Tâm"},
		{Name: "Lê Văn Nam", BirthDate: "2014-08-09", Commune: "00070@2025-07-01", Caregiver: "Nguyễn Văn Hùng"},
	})
	q := Query{ChildName: "Nguyễn Thị Lan", Commune: mustKey(commune), BirthYear: 2017, CaregiverName: "Nguyễn Văn Tùng"}
	asked := map[uint64]bool{}
	got := rankedThrough(t, s, store, q, func(tx datastore.ReadTx) datastore.ReadTx { return askingTx{ReadTx: tx, asked: asked} })
	if want := ids[:2]; !slices.Equal(got, want) {
		t.Errorf("ranked %v, want %v", got, want)
	}
	if asked := slices.Sorted(maps.Keys(asked)); !slices.Equal(asked, ids[:2]) {
		t.Errorf("tie-breakers looked up for cases %v, want only %v", asked, ids[:2])
	}
}
