package search

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A search by a supervisor of the social work centre, which acts for the
// city, keeps to the cases the centre took and those the city holds
// (access.Policy.SearchScope): 600 newer namesakes that a commune holds,
// escalated to the city (a handler of each without holding it), are not
// read. Through the city's handler entries they were in its scope keys:
// the search read maxExamined of them, passing over each, and did not
// reach the centre's and the city's own older cases of that name.
func TestSocialWorkCentreSearchReadsItsOwnCases(t *testing.T) {
	reg := testRegistry(t)
	master := newMaster(t)
	store := memstore.New()
	s := New(Deps{Store: store, Units: reg, Vault: vault.New(keys.NewKeyring(master))})
	city := reg.List(units.Filter{Level: units.LevelCity})[0].Key
	commune := mustKey("00070@2025-07-01")
	received := time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)
	const escalated = 600
	var want []uint64 // the centre's and the city's, newest first
	err := store.Update(context.Background(), func(tx datastore.Tx) error {
		want = nil // an update may run more than once
		for i := range escalated + 4 {
			r := model.Report{
				ReceiveTime: received, IncidentUnit: commune,
				Children: []model.Child{{FullName: "Nguyễn Thị Lan", BirthDate: vntime.Date{Year: 2017, Month: time.May, Day: 1}.AddDays(i), Sex: model.SexUnknown}},
				Reporter: model.Reporter{Anonymous: true},
			}
			c := model.Case{Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusInitialAssessment, Revision: 1,
				ResponsibleUnit: commune, IncidentUnit: commune, Handlers: []units.Key{commune, city},
				IntakeUsers: []string{"operator.111"}, IntakeUnits: []string{model.OrgHotline111}}
			own := true
			switch i {
			case 0, 2: // the oldest: taken by the centre
				c.IntakeUsers, c.IntakeUnits = []string{"operator.swc"}, []string{model.OrgSocialWorkCentre}
			case 1, 3: // handed over to the city, which accepted it
				c.ResponsibleUnit = city
			default:
				own = false
			}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			if own {
				want = append([]uint64{c.ID}, want...)
			}
			if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: c.ID, KeyID: EntryKeyID(master), Tokens: Tokens(master.IndexKey(), reg, r)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := access.Principal{UserID: "supervisor.swc", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre}
	reads := 0
	got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) {
		return s.candidates(casesCountingTx{ReadTx: tx, reads: &reads}, p, Query{ChildName: "Nguyễn Thị Lan"}, IntakeCandidates, "")
	})
	var ids []uint64
	for _, c := range got {
		ids = append(ids, c.Case.ID)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("the supervisor's search found cases %v, want the centre's and the city's %v", ids, want)
	}
	// It reads its own cases, and at most once more the first page's.
	if reads > 2*len(want) {
		t.Errorf("the search read %d cases to find %d (%d namesakes escalated to the city are not the supervisor's)", reads, len(want), escalated)
	}
}
