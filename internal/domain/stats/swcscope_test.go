package stats

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// The statistics of a supervisor of the social work centre, which acts
// for the city, count the cases the centre took and those the city
// holds, and read those alone: among 1,000 cases a commune holds whose
// deadlines were escalated to the city (which makes the city a handler
// without making it hold them), they looked at every one of the 1,000,
// through the city's handler entries, to count 5.
func TestSocialWorkCentreStatisticsReadItsOwnCases(t *testing.T) {
	ctx := context.Background()
	reg, err := units.Load()
	if err != nil {
		t.Fatalf("units.Load: %v", err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "childcase.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	city := reg.List(units.Filter{Level: units.LevelCity})[0].Key
	commune := reg.List(units.Filter{Level: units.LevelCommune, AsOf: vntime.Date{Year: 2026, Month: time.January, Day: 1}})[0].Key
	const n, swcEvery, heldEvery = 1000, 300, 400 // 4 taken by the centre, 3 held by the city
	want := 0
	err = store.Update(ctx, func(tx datastore.Tx) error {
		for i := range n {
			c := model.Case{
				Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusInitialAssessment, Revision: 1,
				ReceiveTime:     t0.Add(time.Duration(i) * time.Minute),
				ResponsibleUnit: commune, IncidentUnit: commune, Handlers: []units.Key{commune, city},
				IntakeUsers: []string{"operator.111"}, IntakeUnits: []string{model.OrgHotline111},
			}
			switch {
			case i%swcEvery == 0:
				c.IntakeUsers, c.IntakeUnits = []string{"operator.swc"}, []string{model.OrgSocialWorkCentre}
				want++
			case i%heldEvery == 1:
				c.ResponsibleUnit = city // handed over to the city, which accepted it
				want++
			}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	looked := 0
	svc := New(Deps{Store: storagetest.LookingStore{Store: store, Looked: &looked}, Units: reg, Vault: vault.New(keys.NewKeyring(master)), Clock: clock.NewFake(t0.Add(24 * time.Hour))})
	p := access.Principal{UserID: "supervisor.swc", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre}
	res, err := svc.Compute(ctx, p, Query{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	if len(res.Groups) != 1 || res.Groups[0].CasesOpened != want {
		t.Errorf("counted %+v, want one group of %d cases opened", res.Groups, want)
	}
	// Each page of the list may look once more at the case its cursor
	// stopped at; never at the cases the supervisor does not see.
	if looked > 2*want {
		t.Errorf("looked at %d cases to count %d (the store holds %d escalated to the city)", looked, want, n)
	}
}
