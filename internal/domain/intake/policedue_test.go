package intake

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// A police list by due time sees only the clocks the police view shows:
// the commune's social-track deadlines must neither list a case for a
// police due_before nor order the police's list, or bisecting due_before
// would tell the police when the commune's hidden clocks fall due.
func TestPoliceDueBeforeSeesOnlyPoliceClocks(t *testing.T) {
	ctx := context.Background()
	w := newIndexWorld(t, 0, 0, 1)
	const police = "policeUnits/ba-dinh"
	commune := w.communes[0]
	at := func(h int) time.Time { return indexT0.Add(time.Duration(h) * time.Hour) }
	referred := func(number string, deadlines ...model.Deadline) model.Case {
		return model.Case{
			Number: number, Status: model.StatusPlanning, ResponsibleUnit: commune, IncidentUnit: commune,
			Handlers: []units.Key{commune}, ReceiveTime: indexT0, CreateTime: indexT0, Revision: 1,
			PoliceReferrals: []model.PoliceReferral{{PoliceUnit: police, State: model.PoliceAcknowledged}},
			Deadlines:       deadlines,
		}
	}
	// HN-2026-00001: the commune's plan is due in 1 hour, the police's
	// forwarding in 20. HN-2026-00002: only the police's, in 10.
	early := referred("HN-2026-00001",
		model.Deadline{ID: 1, Kind: model.DeadlinePlanDraft, Unit: access.UnitName(commune), Due: at(1), State: model.DeadlineOpen},
		model.Deadline{ID: 2, Kind: model.DeadlinePoliceForward, Unit: police, Due: at(20), State: model.DeadlineOpen})
	late := referred("HN-2026-00002",
		model.Deadline{ID: 1, Kind: model.DeadlinePoliceForward, Unit: police, Due: at(10), State: model.DeadlineOpen})
	err := w.store.Update(ctx, func(tx datastore.Tx) error {
		for _, c := range []*model.Case{&early, &late} {
			if err := tx.CreateCase(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	liaison := access.Principal{UserID: "liaison", Role: model.RolePoliceLiaison, Unit: police}
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(commune)}
	list := func(p access.Principal, q QueueQuery) []string {
		t.Helper()
		q.Limit = 10
		cs, _, err := w.svc.ListQueue(ctx, p, q)
		if err != nil {
			t.Fatalf("ListQueue(%s, queue %d, due before %v): %v", p.Role, q.Queue, q.DueBefore, err)
		}
		return numbers(cs)
	}
	for _, tt := range []struct {
		p    access.Principal
		q    QueueQuery
		want []string
	}{
		// Between the commune's clock and the police's: the police see
		// no clock of HN-2026-00001 due yet.
		{liaison, QueueQuery{DueBefore: at(5)}, nil},
		{liaison, QueueQuery{Queue: QueueMyUnitOpen, DueBefore: at(5)}, nil},
		// The commune still finds it by its own clock.
		{worker, QueueQuery{DueBefore: at(5)}, []string{"HN-2026-00001"}},
		// The police's list is in order of the police clocks: 10 h, then
		// 20 h, whatever the commune's clock says.
		{liaison, QueueQuery{DueBefore: at(30)}, []string{"HN-2026-00002", "HN-2026-00001"}},
		{liaison, QueueQuery{Queue: QueueMyUnitOpen, DueBefore: at(30)}, []string{"HN-2026-00002", "HN-2026-00001"}},
		{liaison, QueueQuery{DueBefore: at(15)}, []string{"HN-2026-00002"}},
	} {
		if got := list(tt.p, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("ListQueue(%s, queue %d, due before +%v) = %v, want %v", tt.p.Role, tt.q.Queue, tt.q.DueBefore.Sub(indexT0), got, tt.want)
		}
	}
}
