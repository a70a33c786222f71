package access_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Real units of the 2020 hierarchy of Hanoi.
const (
	cityName      = "units/01@2020-01-01"
	district1Name = "units/001@2020-01-01"   // Quận Ba Đình
	commune1Name  = "units/00004@2020-01-01" // Phường Trúc Bạch, in Ba Đình
	district2Name = "units/002@2020-01-01"   // another district
	commune2Name  = "units/00070@2020-01-01" // a commune of district 2

	policeA = "policeUnits/ca-phuong-truc-bach"
	policeB = "policeUnits/ca-quan-tay-ho"
)

var (
	city      = mustKey("01@2020-01-01")
	district1 = mustKey("001@2020-01-01")
	commune1  = mustKey("00004@2020-01-01")
	district2 = mustKey("002@2020-01-01")
	commune2  = mustKey("00070@2020-01-01")
)

func mustKey(s string) units.Key {
	k, err := units.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func registry(t *testing.T) *units.Registry {
	t.Helper()
	reg, err := units.Load()
	if err != nil {
		t.Fatalf("units.Load: %v", err)
	}
	return reg
}

// TestFixtureUnits pins the facts about the real units the other tests rely
// on, so that a change of the data files shows here and not as a puzzling
// access failure.
func TestFixtureUnits(t *testing.T) {
	reg := registry(t)
	tests := []struct {
		key    units.Key
		level  units.Level
		parent units.Key
	}{
		{city, units.LevelCity, units.Key{}},
		{district1, units.LevelDistrict, city},
		{district2, units.LevelDistrict, city},
		{commune1, units.LevelCommune, district1},
		{commune2, units.LevelCommune, district2},
	}
	for _, tt := range tests {
		u, ok := reg.Get(tt.key)
		if !ok {
			t.Fatalf("unit %s not in the registry", tt.key)
		}
		if u.Level != tt.level || u.Parent != tt.parent {
			t.Errorf("unit %s: level %v parent %v, want level %v parent %v", tt.key, u.Level, u.Parent, tt.level, tt.parent)
		}
	}
	if u, _ := reg.Get(district1); u.FullName() != "Quận Ba Đình" {
		t.Errorf("district 001 is %q, want Quận Ba Đình", u.FullName())
	}
	if u, _ := reg.Get(commune1); u.FullName() != "Phường Trúc Bạch" {
		t.Errorf("commune 00004 is %q, want Phường Trúc Bạch", u.FullName())
	}
}

func principal(id string, role model.Role, unit string) access.Principal {
	return access.Principal{UserID: id, Role: role, Unit: unit, RequestID: "req-" + id}
}

var (
	operatorLan   = principal("op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	operatorMinh  = principal("op.minh", model.RoleHotlineOperator, model.OrgHotline111)
	supervisor111 = principal("sup.hoa", model.RoleHotlineSupervisor, model.OrgHotline111)
	supervisorSWC = principal("sup.tuan", model.RoleHotlineSupervisor, model.OrgSocialWorkCentre)
	worker1       = principal("cw.an", model.RoleCommuneWorker, commune1Name)
	chair1        = principal("cc.binh", model.RoleCommuneChair, commune1Name)
	worker2       = principal("cw.chi", model.RoleCommuneWorker, commune2Name)
	chair2        = principal("cc.dung", model.RoleCommuneChair, commune2Name)
	officerD1     = principal("do.em", model.RoleDistrictOfficer, district1Name)
	officerD2     = principal("do.giang", model.RoleDistrictOfficer, district2Name)
	officerCity   = principal("co.ha", model.RoleCityOfficer, cityName)
	policeLiaisA  = principal("pl.khanh", model.RolePoliceLiaison, policeA)
	policeLiaisB  = principal("pl.linh", model.RolePoliceLiaison, policeB)
	auditor       = principal("au.mai", model.RoleAuditor, model.OrgSystem)
	auditorCity   = principal("au.nam", model.RoleAuditor, cityName)
	admin         = principal("ad.oanh", model.RoleAdmin, model.OrgSystem)
	adminCity     = principal("ad.phuc", model.RoleAdmin, cityName)
	unknownRole   = principal("x.quynh", model.Role(0), cityName)
)

// Cases:
//   - caseC1 happened in commune 1, which handles it; op.lan of the hotline
//     111 recorded it; it was referred to police A.
//   - caseHanded happened in commune 2 and was handed to commune 1; op.minh
//     of the social work centre recorded it.
//   - caseEscalated happened in commune 2 and was escalated to district 1.
//   - caseIncidentOnly happened in commune 1 but only commune 2 handled it.
//   - caseC2 is commune 2's alone, recorded by nobody we know.
var (
	caseC1 = model.Case{
		Number: "HN-2026-00001", IncidentUnit: commune1, ResponsibleUnit: commune1,
		Handlers:    []units.Key{commune1},
		IntakeUsers: []string{"op.lan"}, IntakeUnits: []string{model.OrgHotline111},
		PoliceReferrals: []model.PoliceReferral{{PoliceUnit: policeA, ReferredBy: "cw.an"}},
	}
	caseHanded = model.Case{
		Number: "HN-2026-00002", IncidentUnit: commune2, ResponsibleUnit: commune1,
		Handlers:    []units.Key{commune2, commune1},
		IntakeUsers: []string{"op.minh"}, IntakeUnits: []string{model.OrgSocialWorkCentre},
	}
	caseEscalated = model.Case{
		Number: "HN-2026-00003", IncidentUnit: commune2, ResponsibleUnit: district1,
		Handlers:    []units.Key{commune2, district1},
		IntakeUsers: []string{"op.x"}, IntakeUnits: []string{"orgs/other"},
	}
	caseIncidentOnly = model.Case{
		Number: "HN-2026-00004", IncidentUnit: commune1, ResponsibleUnit: commune2,
		Handlers:    []units.Key{commune2},
		IntakeUsers: []string{"op.y"}, IntakeUnits: []string{"orgs/other"},
	}
	caseC2 = model.Case{
		Number: "HN-2026-00005", IncidentUnit: commune2, ResponsibleUnit: commune2,
		Handlers:    []units.Key{commune2},
		IntakeUsers: []string{"op.z"}, IntakeUnits: []string{"orgs/other"},
		PoliceReferrals: []model.PoliceReferral{{PoliceUnit: policeB}},
	}
)

func viewName(v access.CaseView) string {
	switch v {
	case access.ViewNone:
		return "ViewNone"
	case access.ViewPolice:
		return "ViewPolice"
	case access.ViewFull:
		return "ViewFull"
	}
	return "CaseView(?)"
}

func TestCaseView(t *testing.T) {
	pol := access.New(registry(t))
	tests := []struct {
		name string
		p    access.Principal
		c    model.Case
		want access.CaseView
	}{
		// Hotline operators: by IntakeUsers, i.e. their own reports.
		{"operator who recorded a report of the case", operatorLan, caseC1, access.ViewFull},
		{"operator of the same organisation who did not", operatorMinh, caseC1, access.ViewNone},
		{"operator who recorded a report of a handed case", operatorMinh, caseHanded, access.ViewFull},
		{"operator is not scoped by unit", principal("op.new", model.RoleHotlineOperator, model.OrgHotline111), caseC1, access.ViewNone},

		// Hotline supervisors: by IntakeUnits.
		{"supervisor of the intake organisation", supervisor111, caseC1, access.ViewFull},
		{"supervisor of another organisation", supervisorSWC, caseC1, access.ViewNone},
		{"supervisor of the social work centre, its case", supervisorSWC, caseHanded, access.ViewFull},
		{"supervisor of the hotline, a case of the centre", supervisor111, caseHanded, access.ViewNone},

		// Commune staff: by Handlers.
		{"commune worker of the handling commune", worker1, caseC1, access.ViewFull},
		{"commune chair of the handling commune", chair1, caseC1, access.ViewFull},
		{"commune worker of another commune", worker2, caseC1, access.ViewNone},
		{"commune chair of another commune", chair2, caseC1, access.ViewNone},
		{"commune worker handed the case", worker1, caseHanded, access.ViewFull},
		{"commune worker that handed the case on", worker2, caseHanded, access.ViewFull},
		{"commune worker where it happened but never handled it", worker1, caseIncidentOnly, access.ViewNone},
		{"commune worker that handled it elsewhere", worker2, caseIncidentOnly, access.ViewFull},
		{"commune worker of a case escalated away from them", worker2, caseEscalated, access.ViewFull},
		{"commune worker, case escalated to their district", worker1, caseEscalated, access.ViewNone},

		// District officers: through the communes of their district.
		{"district of the handling commune", officerD1, caseC1, access.ViewFull},
		{"other district", officerD2, caseC1, access.ViewNone},
		{"district of the commune a case was handed to", officerD1, caseHanded, access.ViewFull},
		{"district of the commune that handed it on", officerD2, caseHanded, access.ViewFull},
		{"district the case was escalated to", officerD1, caseEscalated, access.ViewFull},
		{"district where it happened, handled elsewhere", officerD1, caseIncidentOnly, access.ViewFull},
		{"district of commune 2, its own case", officerD2, caseC2, access.ViewFull},
		{"district 1, case of district 2 only", officerD1, caseC2, access.ViewNone},

		// City officers see every case.
		{"city officer, commune 1 case", officerCity, caseC1, access.ViewFull},
		{"city officer, commune 2 case", officerCity, caseC2, access.ViewFull},
		{"city officer, escalated case", officerCity, caseEscalated, access.ViewFull},
		{"city officer, empty case", officerCity, model.Case{}, access.ViewFull},

		// Police liaisons: the police view of cases referred to their unit.
		{"police unit the case was referred to", policeLiaisA, caseC1, access.ViewPolice},
		{"police unit it was not referred to", policeLiaisB, caseC1, access.ViewNone},
		{"police unit B, its referral", policeLiaisB, caseC2, access.ViewPolice},
		{"police, case never referred", policeLiaisA, caseHanded, access.ViewNone},
		{"police unit named like a commune", principal("pl.x", model.RolePoliceLiaison, commune1Name), caseC1, access.ViewNone},

		// Auditors and admins read no case, wherever they belong.
		{"auditor", auditor, caseC1, access.ViewNone},
		{"auditor of the city", auditorCity, caseC1, access.ViewNone},
		{"admin", admin, caseC1, access.ViewNone},
		{"admin of the city", adminCity, caseC1, access.ViewNone},
		{"system principal", access.System("seed"), caseC1, access.ViewNone},
		{"unknown role", unknownRole, caseC1, access.ViewNone},
		{"unknown role listed as intake user", principal("op.lan", model.Role(42), model.OrgHotline111), caseC1, access.ViewNone},

		// A malformed unit sees nothing.
		{"commune worker, unit without prefix", principal("cw.a", model.RoleCommuneWorker, "00004@2020-01-01"), caseC1, access.ViewNone},
		{"commune worker, unit without date", principal("cw.a", model.RoleCommuneWorker, "units/00004"), caseC1, access.ViewNone},
		{"commune worker, code not digits", principal("cw.a", model.RoleCommuneWorker, "units/0000x@2020-01-01"), caseC1, access.ViewNone},
		{"commune worker, impossible date", principal("cw.a", model.RoleCommuneWorker, "units/00004@2020-02-30"), caseC1, access.ViewNone},
		{"commune worker, empty unit", principal("cw.a", model.RoleCommuneWorker, ""), caseC1, access.ViewNone},
		{"commune chair, other version of the code", principal("cc.a", model.RoleCommuneChair, "units/00004@2025-07-01"), caseC1, access.ViewNone},
		{"district officer, malformed unit", principal("do.a", model.RoleDistrictOfficer, "units/001@2020-1-1"), caseC1, access.ViewNone},
		{"district officer, empty unit", principal("do.a", model.RoleDistrictOfficer, ""), caseC1, access.ViewNone},
		{"city officer, malformed unit", principal("co.a", model.RoleCityOfficer, "units/"), caseC1, access.ViewNone},
		{"city officer, org unit", principal("co.a", model.RoleCityOfficer, model.OrgSystem), caseC1, access.ViewNone},
		{"city officer, empty unit", principal("co.a", model.RoleCityOfficer, ""), caseC1, access.ViewNone},
		{"city officer, code only", principal("co.a", model.RoleCityOfficer, "units/01"), caseC1, access.ViewNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pol.CaseView(tt.p, tt.c); got != tt.want {
				t.Errorf("CaseView(%s %s %q, %s) = %s, want %s",
					tt.p.UserID, tt.p.Role, tt.p.Unit, tt.c.Number, viewName(got), viewName(tt.want))
			}
		})
	}
}

func TestCanSeeReport(t *testing.T) {
	pol := access.New(registry(t))
	report := model.StoredReport{
		ID: "0b6f4e0a-7f6a-4c55-9d2e-1f8a3f0f6a11", CaseNumber: caseC1.Number,
		TakenBy: "op.lan", TakerUnit: model.OrgHotline111,
	}
	standalone := report
	standalone.CaseNumber = ""
	byCommuneWorker := report
	byCommuneWorker.TakenBy, byCommuneWorker.TakerUnit, byCommuneWorker.CaseNumber = "cw.chi", commune2Name, ""
	takenBy := func(p access.Principal) model.StoredReport {
		r := report
		r.TakenBy, r.TakerUnit = p.UserID, p.Unit
		return r
	}
	c1 := caseC1
	c2 := caseC2

	tests := []struct {
		name string
		p    access.Principal
		r    model.StoredReport
		c    *model.Case
		want bool
	}{
		// The taker.
		{"operator who took it, no case", operatorLan, standalone, nil, true},
		{"operator who took it, in a case", operatorLan, report, &c1, true},
		{"commune worker who took it, no case", worker2, byCommuneWorker, nil, true},
		{"other operator of the same organisation", operatorMinh, standalone, nil, false},
		{"other operator who sees the case", operatorMinh, report, &model.Case{Number: c1.Number, IntakeUsers: []string{"op.lan", "op.minh"}}, false},

		// Hotline supervisors: their organisation's reports.
		{"supervisor of the taker's organisation, no case", supervisor111, standalone, nil, true},
		{"supervisor of the taker's organisation, in a case", supervisor111, report, &c1, true},
		{"supervisor of another organisation", supervisorSWC, standalone, nil, false},
		{"supervisor of another organisation who sees the case", supervisorSWC, report, &model.Case{Number: c1.Number, IntakeUnits: []string{model.OrgHotline111, model.OrgSocialWorkCentre}}, false},

		// Commune, district and city staff: through the case.
		{"commune worker of the handling commune", worker1, report, &c1, true},
		{"commune chair of the handling commune", chair1, report, &c1, true},
		{"commune worker of the handling commune, no case given", worker1, standalone, nil, false},
		{"commune worker of another commune", worker2, report, &c1, false},
		{"commune worker of commune 2, its case", worker2, report, &c2, true},
		{"district of the handling commune", officerD1, report, &c1, true},
		{"other district", officerD2, report, &c1, false},
		{"district, no case", officerD1, standalone, nil, false},
		{"city officer, in a case", officerCity, report, &c1, true},
		{"city officer, no case", officerCity, standalone, nil, false},
		{"city officer with a malformed unit", principal("co.a", model.RoleCityOfficer, "units/x"), report, &c1, false},

		// Police, auditors and admins never read a report, even as taker.
		{"police, case referred to them", policeLiaisA, report, &c1, false},
		{"police who took it", policeLiaisA, takenBy(policeLiaisA), &c1, false},
		{"police who took it, no case", policeLiaisA, func() model.StoredReport { r := takenBy(policeLiaisA); r.CaseNumber = ""; return r }(), nil, false},
		{"auditor", auditor, report, &c1, false},
		{"auditor who took it", auditor, takenBy(auditor), nil, false},
		{"admin", admin, report, &c1, false},
		{"admin who took it", admin, takenBy(admin), nil, false},
		{"admin of the same unit as the taker", principal("ad.x", model.RoleAdmin, model.OrgHotline111), standalone, nil, false},
		{"system principal who took it", access.System("seed"), takenBy(access.System("seed")), nil, false},
		{"unknown role", unknownRole, report, &c1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pol.CanSeeReport(tt.p, tt.r, tt.c); got != tt.want {
				t.Errorf("CanSeeReport(%s %s %q, taken by %s of %s) = %v, want %v",
					tt.p.UserID, tt.p.Role, tt.p.Unit, tt.r.TakenBy, tt.r.TakerUnit, got, tt.want)
			}
		})
	}
}

func TestPoliceView(t *testing.T) {
	receive := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)
	full := model.Case{
		ID:              7,
		Number:          "HN-2026-00042",
		Status:          model.StatusAwaitingAcknowledgement,
		ResponsibleUnit: commune1,
		IncidentUnit:    commune1,
		ReportIDs:       []string{"r1", "r2"},
		ReceiveTime:     receive,
		ImmediateDanger: true,
		CreateTime:      receive.Add(time.Minute),
		UpdateTime:      receive.Add(time.Hour),
		Revision:        4,
		Children:        []model.ChildSummary{{AgeYears: 9, Sex: 2}, {AgeYears: 4, AgeEstimated: true, Sex: 1}},
		SuspectedAbuse:  []model.AbuseForm{1, 3},
		// Health and abuse: private, never in the police view.
		SpecialCircumstances: []model.SpecialCircumstance{model.CircumstanceHIVAIDS, model.CircumstanceSexuallyAbused},
		Handlers:             []units.Key{commune2, commune1},
		IntakeUsers:          []string{"op.lan", "op.minh"},
		IntakeUnits:          []string{model.OrgHotline111, model.OrgSocialWorkCentre},
		ResponsibleOfficer:   "cw.an",
		// The social work's own course: the commune's, not the police's;
		// the emergency itself and its dates stay.
		Emergency: true, EmergencyReason: model.EmergencyCaregiverIsAbuser, EmergencyMeasured: receive.Add(5 * time.Hour),
		PlanState: model.PlanSubmitted, PlanCycle: 2, ClosureProposed: true, AwaitingSuccessor: true,
		PoliceReferrals: []model.PoliceReferral{
			{PoliceUnit: policeA, SuspectedOffence: "first", ReferTime: receive.Add(2 * time.Hour), ReferredBy: "cw.an"},
			{PoliceUnit: policeB, SuspectedOffence: "other unit", ReferTime: receive.Add(3 * time.Hour), ReferredBy: "do.em"},
			{PoliceUnit: policeA, SuspectedOffence: "second", ReferTime: receive.Add(4 * time.Hour), ReferredBy: "co.ha"},
		},
	}
	original := cloneCase(full)

	tests := []struct {
		name      string
		unit      string
		referrals []model.PoliceReferral
	}{
		{"unit A keeps both of its referrals in order", policeA, []model.PoliceReferral{full.PoliceReferrals[0], full.PoliceReferrals[2]}},
		{"unit B keeps only its own", policeB, []model.PoliceReferral{full.PoliceReferrals[1]}},
		{"unit without referral keeps none", "policeUnits/ca-other", nil},
		{"empty unit keeps none", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := access.PoliceView(full, tt.unit)
			want := cloneCase(full)
			want.ReportIDs, want.IntakeUsers, want.IntakeUnits, want.Handlers = nil, nil, nil, nil
			want.SpecialCircumstances = nil
			want.PlanState, want.PlanCycle, want.ClosureProposed, want.EmergencyReason, want.AwaitingSuccessor = "", 0, false, 0, false
			want.PoliceReferrals = tt.referrals
			if !reflect.DeepEqual(got, want) {
				t.Errorf("PoliceView(%q) =\n%+v\nwant\n%+v", tt.unit, got, want)
			}
			if got.ReportIDs != nil || got.IntakeUsers != nil || got.IntakeUnits != nil || got.Handlers != nil || got.SpecialCircumstances != nil {
				t.Errorf("PoliceView(%q) keeps reports, intake, handlers or special circumstances: %+v", tt.unit, got)
			}
			for _, r := range got.PoliceReferrals {
				if r.PoliceUnit != tt.unit {
					t.Errorf("PoliceView(%q) keeps a referral to %s", tt.unit, r.PoliceUnit)
				}
			}
			if !reflect.DeepEqual(full, original) {
				t.Errorf("PoliceView changed its argument:\n%+v\nwas\n%+v", full, original)
			}
		})
	}
}

func cloneCase(c model.Case) model.Case {
	c.ReportIDs = slices.Clone(c.ReportIDs)
	c.Children = slices.Clone(c.Children)
	c.SuspectedAbuse = slices.Clone(c.SuspectedAbuse)
	c.SpecialCircumstances = slices.Clone(c.SpecialCircumstances)
	c.Handlers = slices.Clone(c.Handlers)
	c.IntakeUsers = slices.Clone(c.IntakeUsers)
	c.IntakeUnits = slices.Clone(c.IntakeUnits)
	c.PoliceReferrals = slices.Clone(c.PoliceReferrals)
	return c
}

func TestCheckUserUnit(t *testing.T) {
	reg := registry(t)
	type check struct {
		unit string
		ok   bool
	}
	notUnits := []check{
		{"", false},
		{"units/", false},
		{"units/99999@2020-01-01", false}, // well formed, does not exist
		{"units/00004", false},
		{"00004@2020-01-01", false},
		{"orgs/unknown", false},
	}
	tests := []struct {
		role   model.Role
		checks []check
	}{
		{model.RoleHotlineOperator, append([]check{
			{model.OrgHotline111, true},
			{model.OrgSocialWorkCentre, true},
			{model.OrgSystem, false},
			{cityName, false},
			{commune1Name, false},
			{policeA, false},
			{"orgs/hotline-111/", false},
		}, notUnits...)},
		{model.RoleHotlineSupervisor, append([]check{
			{model.OrgHotline111, true},
			{model.OrgSocialWorkCentre, true},
			{model.OrgSystem, false},
			{district1Name, false},
		}, notUnits...)},
		{model.RoleCommuneWorker, append([]check{
			{commune1Name, true},
			{commune2Name, true},
			{"units/00004@2025-07-01", true}, // a commune of the 2025 hierarchy
			{district1Name, false},
			{cityName, false},
			{model.OrgHotline111, false},
			{policeA, false},
		}, notUnits...)},
		{model.RoleCommuneChair, append([]check{
			{commune1Name, true},
			{district2Name, false},
			{cityName, false},
		}, notUnits...)},
		{model.RoleDistrictOfficer, append([]check{
			{district1Name, true},
			{district2Name, true},
			{commune1Name, false},
			{cityName, false},
			{model.OrgSystem, false},
		}, notUnits...)},
		{model.RoleCityOfficer, append([]check{
			{cityName, true},
			{district1Name, false},
			{commune1Name, false},
			{model.OrgSystem, false},
		}, notUnits...)},
		{model.RolePoliceLiaison, []check{
			{policeA, true},
			{"policeUnits/x", true}, // existence is checked elsewhere
			{"policeunits/x", false},
			{"police/x", false},
			{commune1Name, false},
			{model.OrgSystem, false},
			{"", false},
		}},
		{model.RoleAuditor, append([]check{
			{model.OrgSystem, true},
			{cityName, true},
			{district1Name, false},
			{commune1Name, false},
			{model.OrgHotline111, false},
			{policeA, false},
		}, notUnits...)},
		{model.RoleAdmin, append([]check{
			{model.OrgSystem, true},
			{cityName, true},
			{district2Name, false},
			{commune2Name, false},
			{model.OrgSocialWorkCentre, false},
			{policeB, false},
		}, notUnits...)},
	}
	for _, tt := range tests {
		for _, c := range tt.checks {
			t.Run(tt.role.String()+"/"+c.unit, func(t *testing.T) {
				err := access.CheckUserUnit(reg, tt.role, c.unit, "user.unit")
				if c.ok {
					if err != nil {
						t.Fatalf("CheckUserUnit(%s, %q) = %v, want nil", tt.role, c.unit, err)
					}
					return
				}
				var fe *model.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("CheckUserUnit(%s, %q) = %v, want a *model.FieldError", tt.role, c.unit, err)
				}
				if fe.Field != "user.unit" || fe.Rule != "user.unit_for_role" {
					t.Errorf("CheckUserUnit(%s, %q): field %q rule %q, want user.unit and user.unit_for_role", tt.role, c.unit, fe.Field, fe.Rule)
				}
			})
		}
	}

	// The description is read by people: "an ADMIN", "an AUDITOR", not
	// "a ADMIN".
	for role, want := range map[model.Role]string{
		model.RoleAdmin:           "an ADMIN belongs to ",
		model.RoleAuditor:         "an AUDITOR belongs to ",
		model.RoleCommuneWorker:   "a COMMUNE_WORKER belongs to ",
		model.RolePoliceLiaison:   "a POLICE_LIAISON belongs to ",
		model.RoleHotlineOperator: "a HOTLINE_OPERATOR belongs to ",
	} {
		var fe *model.FieldError
		if err := access.CheckUserUnit(reg, role, "units/99999@2020-01-01", "user.unit"); !errors.As(err, &fe) || !strings.HasPrefix(fe.Description, want) {
			t.Errorf("CheckUserUnit(%s) = %v, want a description starting %q", role, err, want)
		}
	}

	t.Run("field name is the caller's", func(t *testing.T) {
		err := access.CheckUserUnit(reg, model.RoleCityOfficer, commune1Name, "users[3].unit")
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != "users[3].unit" {
			t.Fatalf("CheckUserUnit = %v, want a FieldError on users[3].unit", err)
		}
	})
	for _, role := range []model.Role{0, 10, -1} {
		t.Run("unknown role "+role.String(), func(t *testing.T) {
			err := access.CheckUserUnit(reg, role, model.OrgSystem, "user.unit")
			var fe *model.FieldError
			if !errors.As(err, &fe) || fe.Rule != "user.role" || fe.Field != "user.unit" {
				t.Fatalf("CheckUserUnit(role %d) = %v, want a FieldError with rule user.role", role, err)
			}
		})
	}
}

func TestPrincipalEvent(t *testing.T) {
	now := time.Date(2026, 3, 10, 3, 4, 5, 6, time.UTC)
	p := principal("cw.an", model.RoleCommuneWorker, commune1Name)
	e := p.Event(now, "case.read", "cases/HN-2026-00001", "cases/HN-2026-00001", "ok")
	if !e.Time.Equal(now) || e.Actor != "cw.an" || e.Role != "COMMUNE_WORKER" || e.Unit != commune1Name ||
		e.Action != "case.read" || e.Resource != "cases/HN-2026-00001" || e.Case != "cases/HN-2026-00001" ||
		e.RequestID != "req-cw.an" || e.Outcome != "ok" || e.Reason != "" || e.Seq != 0 {
		t.Errorf("Event = %+v", e)
	}

	sys := access.System("bootstrap")
	if sys.UserID != "system" || sys.Role != model.RoleSystem || sys.Unit != model.OrgSystem || sys.RequestID != "bootstrap" {
		t.Errorf("System(bootstrap) = %+v", sys)
	}
	if e := sys.Event(now, "user.create", "users/admin", "", "ok"); e.Role != "SYSTEM" {
		t.Errorf("the service's event has role %q, want SYSTEM", e.Role)
	}
	// The service's role is granted no method: it acts through the domain.
	for _, r := range access.Rules() {
		if sys.May(r.Method) {
			t.Errorf("the service's principal may call %s", r.Method)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{access.UnitName(commune1), commune1Name},
		{access.UnitName(city), cityName},
		{access.ReportResource("abc"), "reports/abc"},
		{access.CaseResource("HN-2026-00001"), "cases/HN-2026-00001"},
		{access.CaseResource(""), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// A search shows hotline staff the candidate view of a case their
// organisation took a report for beyond their own; never one of another
// organisation; and a commune worker no more than their scope.
func TestSearchView(t *testing.T) {
	pol := access.New(registry(t))
	c := model.Case{
		Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, IntakeUsers: []string{"op.one"},
		IntakeUnits: []string{model.OrgHotline111}, ResponsibleOfficer: "private officer",
		Children: []model.ChildSummary{{AgeYears: 7, Sex: model.SexFemale}},
	}
	const method = "CaseService/SearchCases"
	for _, tt := range []struct {
		p    access.Principal
		want access.CaseView
	}{
		{access.Principal{UserID: "op.one", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, access.ViewFull},
		{access.Principal{UserID: "op.two", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, access.ViewCandidate},
		{access.Principal{UserID: "op.swc", Role: model.RoleHotlineOperator, Unit: model.OrgSocialWorkCentre}, access.ViewNone},
		{access.Principal{UserID: "sup", Role: model.RoleHotlineSupervisor, Unit: model.OrgHotline111}, access.ViewFull},
		{access.Principal{UserID: "pol", Role: model.RolePoliceLiaison, Unit: "police/x"}, access.ViewNone},
	} {
		if got := pol.SearchView(tt.p, method, c); got != tt.want {
			t.Errorf("SearchView for %s = %v, want %v", tt.p.UserID, got, tt.want)
		}
	}
	shown, ok := access.Shape(access.Principal{}, access.ViewCandidate, c)
	if !ok || shown.ResponsibleOfficer != "" || len(shown.IntakeUsers) != 0 || shown.Number != c.Number || len(shown.Children) != 1 {
		t.Errorf("candidate view = %+v, want the number and the children's summaries only", shown)
	}
}

// A role row's EveryCase says what Policy.Scope decides: only a role whose
// scope is every case, placed at the city, sees all.
func TestEveryCaseMatchesScope(t *testing.T) {
	pol := access.New(registry(t))
	for _, row := range access.RoleRows() {
		_, all := pol.Scope(access.Principal{UserID: "u", Role: row.Role, Unit: access.UnitName(city)})
		if all != row.EveryCase {
			t.Errorf("%s: Scope at the city sees all = %v, its row's EveryCase = %v", row.Role, all, row.EveryCase)
		}
	}
}

// A case no write has stamped since police views kept their own etag (an
// older database) shows its own etag and update time in the police view
// until it is next written; from then on they are the view's: a write the
// view does not show leaves them, the etag's form too (the police may still
// send the number they read), one it shows moves them by one, to the
// view's form.
func TestPoliceViewOfACaseNotYetStamped(t *testing.T) {
	written := time.Date(2025, 11, 3, 2, 0, 0, 0, time.UTC)
	old := model.Case{
		ID: 7, Number: "HN-2025-00042", Status: model.StatusAwaitingAcknowledgement,
		ResponsibleUnit: commune1, IncidentUnit: commune1,
		PoliceReferrals: []model.PoliceReferral{{PoliceUnit: policeA}},
		Revision:        9, UpdateTime: written,
	}
	if v := access.PoliceView(old, policeA); v.Etag() != (model.Case{Number: old.Number, Revision: 9}).Etag() || !v.UpdateTime.Equal(written) {
		t.Errorf("the police view of an unstamped case: etag %s at %s, want the case's, 9 at %s", v.Etag(), v.UpdateTime, written)
	}

	// The commune's plan, which the view hides, is written.
	next := old
	next.PlanState, next.Revision, next.UpdateTime = model.PlanDraft, 10, written.Add(time.Hour)
	if err := access.StampPoliceViews(&next, func() (model.Case, error) { return old, nil }); err != nil {
		t.Fatal(err)
	}
	if v := access.PoliceView(next, policeA); v.Etag() != (model.Case{Number: old.Number, Revision: 9}).Etag() || !v.UpdateTime.Equal(written) {
		t.Errorf("after a write the view hides: etag %s at %s, want 9 at %s as before", v.Etag(), v.UpdateTime, written)
	}

	// The status, which the view shows, changes.
	shown := next
	shown.Status, shown.Revision, shown.UpdateTime = model.StatusClosed, 11, written.Add(2*time.Hour)
	if err := access.StampPoliceViews(&shown, func() (model.Case, error) { return next, nil }); err != nil {
		t.Fatal(err)
	}
	if v := access.PoliceView(shown, policeA); v.Etag() != (model.Case{Number: old.Number, Revision: 10, EtagView: model.PoliceEtagView}).Etag() || !v.UpdateTime.Equal(shown.UpdateTime) {
		t.Errorf("after a write the view shows: etag %s at %s, want p10 at %s", v.Etag(), v.UpdateTime, shown.UpdateTime)
	}
}

// OnlyOwnReports follows ReportScope: true exactly where the scope is the
// principal's own reports alone, so a list may read them by who took them.
func TestOnlyOwnReports(t *testing.T) {
	pol := access.New(registry(t))
	for _, tt := range []struct {
		p    access.Principal
		want bool
	}{
		{operatorLan, true},
		{supervisor111, false},
		{worker1, false},
		{officerD1, false},
		{officerCity, false},
		{principal("co.x", model.RoleCityOfficer, district1Name), true}, // a city officer not at the city level
		{principal("pl.x", model.RolePoliceLiaison, "policeUnits/pa01"), false},
	} {
		keys, all := pol.ReportScope(tt.p)
		if got := pol.OnlyOwnReports(tt.p); got != tt.want {
			t.Errorf("%s (%v): OnlyOwnReports = %v, want %v (ReportScope %v %v)", tt.p.UserID, tt.p.Role, got, tt.want, keys, all)
		}
	}
}

// The units a caller may name in the statistics and reports of a unit:
// deny by default, and a unit of the caller's scope only.
func TestUnitInReach(t *testing.T) {
	pol := access.New(registry(t))
	baDinh, trucBach25 := mustKey("00004@2025-07-01"), mustKey("00004@2025-01-01")
	hoanKiem := mustKey("00070@2025-07-01")
	worker := access.Principal{UserID: "w", Role: model.RoleCommuneWorker, Unit: access.UnitName(baDinh)}
	chair := access.Principal{UserID: "c", Role: model.RoleCommuneChair, Unit: access.UnitName(baDinh)}
	district := access.Principal{UserID: "d", Role: model.RoleDistrictOfficer, Unit: district1Name}
	cityOfficer := access.Principal{UserID: "o", Role: model.RoleCityOfficer, Unit: cityName}
	supervisor := access.Principal{UserID: "s", Role: model.RoleHotlineSupervisor, Unit: model.OrgHotline111}
	for _, tt := range []struct {
		name string
		p    access.Principal
		unit units.Key
		want bool
	}{
		{"worker, own commune", worker, baDinh, true},
		{"chair, own commune", chair, baDinh, true},
		{"worker, a commune it wholly succeeds", worker, trucBach25, true},
		{"worker, that commune before the data listed it anew", worker, mustKey("00004@2020-01-01"), true},
		{"worker, its own commune's earlier version in another commune's", access.Principal{UserID: "w", Role: model.RoleCommuneWorker, Unit: access.UnitName(hoanKiem)}, mustKey("00004@2020-01-01"), false},
		{"worker, another commune", worker, hoanKiem, false},
		{"chair, another commune", chair, hoanKiem, false},
		{"worker, the city", worker, city, false},
		{"worker, the district of its predecessor", worker, district1, false},
		{"district, itself", district, district1, true},
		{"district, its commune", district, commune1, true},
		{"district, another district's commune", district, commune2, false},
		{"district, another district", district, district2, false},
		{"district, the city", district, city, false},
		{"district, a commune of no district", district, baDinh, false},
		{"city, any commune", cityOfficer, hoanKiem, true},
		{"city officer outside the city", access.Principal{Role: model.RoleCityOfficer, Unit: district1Name}, hoanKiem, false},
		{"hotline supervisor, any commune", supervisor, hoanKiem, true},
		{"hotline operator", access.Principal{Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, hoanKiem, false},
		{"police liaison", access.Principal{Role: model.RolePoliceLiaison, Unit: policeA}, commune1, false},
		{"auditor", access.Principal{Role: model.RoleAuditor, Unit: cityName}, city, false},
		{"admin", access.Principal{Role: model.RoleAdmin, Unit: model.OrgSystem}, city, false},
	} {
		if got := pol.UnitInReach(tt.p, tt.unit); got != tt.want {
			t.Errorf("%s: UnitInReach(%s) = %v, want %v", tt.name, tt.unit, got, tt.want)
		}
	}
}

// A unit a reform ended is refused for new staff and coverage, naming
// what took it over; a unit in force, or not an administrative unit,
// passes.
func TestCheckUnitInForce(t *testing.T) {
	reg := registry(t)
	day := vntime.Date{Year: 2026, Month: time.March, Day: 10}
	for _, name := range []string{"units/00004@2025-07-01", cityName, model.OrgHotline111, policeA, "units/99999@2020-01-01"} {
		if err := access.CheckUnitInForce(reg, name, day, "user.unit"); err != nil {
			t.Errorf("CheckUnitInForce(%s) = %v, want nil", name, err)
		}
	}
	for name, want := range map[string]string{
		commune1Name:  "Phường Trúc Bạch (00004@2020-01-01) is not in force on 2026-03-10: it ended on 2024-12-31; it went into units/00004@2025-07-01 (Phường Ba Đình)",
		district1Name: "Quận Ba Đình (001@2020-01-01) is not in force on 2026-03-10: it ended on 2025-06-30; districts were abolished",
	} {
		var fe *model.FieldError
		err := access.CheckUnitInForce(reg, name, day, "police_unit.covers[2]")
		if !errors.As(err, &fe) || fe.Field != "police_unit.covers[2]" || fe.Rule != "unit.in_force" || !strings.HasPrefix(fe.Description, want) {
			t.Errorf("CheckUnitInForce(%s) = %v, want police_unit.covers[2] refused, unit.in_force, %q", name, err, want)
		}
	}
}
