package process_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestAssignableOfficersAreThoseTheStepAccepts: the people offered as a
// case's officer are those AssignOfficer accepts for the unit (its active
// workers; for the city, its officers and the social work centre's
// supervisors), and only someone who may name the unit's officer is told
// who they are.
func TestAssignableOfficersAreThoseTheStepAccepts(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	const baDinh, hoanKiem, city = "units/00004@2025-07-01", "units/00070@2025-07-01", "units/01@2020-01-01"
	users := []model.User{
		{ID: "bd.worker", Role: model.RoleCommuneWorker, Unit: baDinh},
		{ID: "bd.gone", Role: model.RoleCommuneWorker, Unit: baDinh, DisableTime: start},
		{ID: "bd.chair", Role: model.RoleCommuneChair, Unit: baDinh},
		{ID: "hk.worker", Role: model.RoleCommuneWorker, Unit: hoanKiem},
		{ID: "police", Role: model.RolePoliceLiaison, Unit: "policeUnits/ca-ba-dinh"},
		{ID: "city", Role: model.RoleCityOfficer, Unit: city},
		{ID: "swc", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre},
	}
	ids := func(us []model.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	for _, tc := range []struct {
		who  access.Principal
		unit string
		want []string
	}{
		{access.Principal{UserID: "bd.chair", Role: model.RoleCommuneChair, Unit: baDinh}, baDinh, []string{"bd.worker"}},
		{access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: city}, city, []string{"city", "swc"}},
	} {
		got, err := w.eng.AssignableOfficers(tc.who, tc.unit, users)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s for %s: %v, %v; want %v", tc.who.UserID, tc.unit, ids(got), err, tc.want)
		}
	}
	for _, who := range []access.Principal{
		{UserID: "hk.chair", Role: model.RoleCommuneChair, Unit: hoanKiem}, // another unit's chair
		{UserID: "bd.worker", Role: model.RoleCommuneWorker, Unit: baDinh}, // names no officer
	} {
		if got, err := w.eng.AssignableOfficers(who, baDinh, users); !errors.Is(err, model.ErrPermissionDenied) || got != nil {
			t.Errorf("%s asks who takes Ba Đình's cases: %v, %v; want ErrPermissionDenied and no one", who.UserID, ids(got), err)
		}
	}
}
