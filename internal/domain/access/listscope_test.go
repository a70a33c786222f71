package access_test

import (
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// A list reads ListScope's scope keys and the cases its units hold, so
// every case View shows in a list must be among them (or the list would
// leave it out); for a social work centre's supervisor and a commune
// that wholly took over an old one, whose ListScope reads held cases
// instead of a handler key, every case among them is one View shows (or
// the list would read cases it passes over, which it changed to avoid).
func TestListScopeHoldsWhatTheListShows(t *testing.T) {
	pol := access.New(registry(t))
	const method = "CaseService/ListCases"
	baDinh, trucBach, hoanKiem := mustKey("00004@2025-07-01"), mustKey("00004@2025-01-01"), mustKey("00070@2025-07-01")
	city25 := mustKey("01@2025-03-01")
	var cases []model.Case
	for _, resp := range []units.Key{baDinh, trucBach, hoanKiem, commune1, city, city25} {
		for _, handlers := range [][]units.Key{{resp}, {trucBach, resp}, {resp, city}, {resp, city25}, {baDinh, resp}} {
			for _, org := range []string{model.OrgHotline111, model.OrgSocialWorkCentre} {
				cases = append(cases, model.Case{
					Number: "HN-2026-00001", Status: model.StatusInitialAssessment, ResponsibleUnit: resp, IncidentUnit: resp,
					Handlers: handlers, IntakeUsers: []string{"op"}, IntakeUnits: []string{org},
				})
			}
		}
	}
	swc := principal("sup.swc", model.RoleHotlineSupervisor, model.OrgSocialWorkCentre)
	exact := []access.Principal{swc, principal("bd.w", model.RoleCommuneWorker, access.UnitName(baDinh)), principal("bd.c", model.RoleCommuneChair, access.UnitName(baDinh))}
	others := []access.Principal{
		principal("sup.111", model.RoleHotlineSupervisor, model.OrgHotline111),
		principal("hk.w", model.RoleCommuneWorker, access.UnitName(hoanKiem)),
		principal("d1", model.RoleDistrictOfficer, access.UnitName(district1)),
		principal("op", model.RoleHotlineOperator, model.OrgHotline111),
	}
	for _, p := range slices.Concat(exact, others) {
		keys, held, all := pol.ListScope(p)
		if all {
			t.Fatalf("%s: ListScope sees all", p.UserID)
		}
		for _, c := range cases {
			inScope := slices.Contains(held, c.ResponsibleUnit) || slices.ContainsFunc(access.ScopeKeys(c), func(k string) bool { return slices.Contains(keys, k) })
			shown := pol.View(p, method, c) != access.ViewNone
			if shown && !inScope {
				t.Errorf("%s: a case held by %s, handled by %v, taken by %s is shown but not in ListScope (%v, held %v)", p.UserID, access.UnitName(c.ResponsibleUnit), c.Handlers, c.IntakeUnits[0], keys, held)
			}
			if inScope && !shown && slices.Contains(exact, p) {
				t.Errorf("%s: a case held by %s, handled by %v, taken by %s is in ListScope but not shown: the list reads it in vain", p.UserID, access.UnitName(c.ResponsibleUnit), c.Handlers, c.IntakeUnits[0])
			}
		}
	}
	if _, held, _ := pol.ListScope(exact[1]); !slices.Contains(held, trucBach) {
		t.Errorf("Ba Đình's ListScope holds %v, not the Trúc Bạch it wholly succeeds", held)
	}
}
