package model_test

import (
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
)

// TestStoredEnumNumbers pins the number every enumeration value is stored
// under (in records, and for case status and call type in index keys). A
// renumbering would make every existing database mean something else, so
// it must fail here: a new value takes a new number, an old one keeps its
// own for ever.
func TestStoredEnumNumbers(t *testing.T) {
	tests := []struct {
		name string
		got  int32
		want int32
	}{
		{"ChannelHotline111", int32(model.ChannelHotline111), 1},
		{"ChannelSocialWorkCentre", int32(model.ChannelSocialWorkCentre), 2},
		{"ChannelPolice", int32(model.ChannelPolice), 3},
		{"ChannelCommune", int32(model.ChannelCommune), 4},
		{"ChannelWalkIn", int32(model.ChannelWalkIn), 5},
		{"ChannelOther", int32(model.ChannelOther), 6},
		{"ChannelSocialAffairsOffice", int32(model.ChannelSocialAffairsOffice), 7},

		{"MeansPhoneCall", int32(model.MeansPhoneCall), 1},
		{"MeansInPerson", int32(model.MeansInPerson), 2},
		{"MeansLetter", int32(model.MeansLetter), 3},
		{"MeansEmail", int32(model.MeansEmail), 4},
		{"MeansOnline", int32(model.MeansOnline), 5},
		{"MeansTextMessage", int32(model.MeansTextMessage), 6},
		{"MeansOther", int32(model.MeansOther), 7},

		{"CallIntervention", int32(model.CallIntervention), 1},
		{"CallCounselling", int32(model.CallCounselling), 2},
		{"CallInformation", int32(model.CallInformation), 3},
		{"CallSilent", int32(model.CallSilent), 4},
		{"CallPrank", int32(model.CallPrank), 5},
		{"CallWrongNumber", int32(model.CallWrongNumber), 6},

		{"SexFemale", int32(model.SexFemale), 1},
		{"SexMale", int32(model.SexMale), 2},
		{"SexUnknown", int32(model.SexUnknown), 3},

		{"AbuseViolence", int32(model.AbuseViolence), 1},
		{"AbuseSexual", int32(model.AbuseSexual), 2},
		{"AbuseExploitation", int32(model.AbuseExploitation), 3},
		{"AbuseTrafficking", int32(model.AbuseTrafficking), 4},
		{"AbuseNeglect", int32(model.AbuseNeglect), 5},
		{"AbuseOther", int32(model.AbuseOther), 6},
		{"AbuseViolenceWithInjury", int32(model.AbuseViolenceWithInjury), 7},
		{"AbuseChildRightsViolation", int32(model.AbuseChildRightsViolation), 8},
		{"AbuseCustodyDispute", int32(model.AbuseCustodyDispute), 9},
		{"AbuseFinancialSupportRequest", int32(model.AbuseFinancialSupportRequest), 10},
		{"AbuseSexualExploitation", int32(model.AbuseSexualExploitation), 11},
		{"AbusePornographicUse", int32(model.AbusePornographicUse), 12},
		{"AbuseOnline", int32(model.AbuseOnline), 13},

		{"ClosureRiskLow", int32(model.ClosureRiskLow), 1},
		{"ClosureMovedAway", int32(model.ClosureMovedAway), 2},
		{"ClosureTurned18", int32(model.ClosureTurned18), 3},
		{"ClosureDeceased", int32(model.ClosureDeceased), 4},
		{"ClosureTransferred", int32(model.ClosureTransferred), 5},
		{"ClosureTurned16", int32(model.ClosureTurned16), 6},

		{"CircumstanceOrphaned", int32(model.CircumstanceOrphaned), 1},
		{"CircumstanceAbandoned", int32(model.CircumstanceAbandoned), 2},
		{"CircumstanceWithoutSupport", int32(model.CircumstanceWithoutSupport), 3},
		{"CircumstanceDisabled", int32(model.CircumstanceDisabled), 4},
		{"CircumstanceHIVAIDS", int32(model.CircumstanceHIVAIDS), 5},
		{"CircumstanceInConflictWithLaw", int32(model.CircumstanceInConflictWithLaw), 6},
		{"CircumstanceDrugAddicted", int32(model.CircumstanceDrugAddicted), 7},
		{"CircumstanceOutOfSchoolWorking", int32(model.CircumstanceOutOfSchoolWorking), 8},
		{"CircumstanceHarmedByViolence", int32(model.CircumstanceHarmedByViolence), 9},
		{"CircumstanceExploited", int32(model.CircumstanceExploited), 10},
		{"CircumstanceSexuallyAbused", int32(model.CircumstanceSexuallyAbused), 11},
		{"CircumstanceTrafficked", int32(model.CircumstanceTrafficked), 12},
		{"CircumstanceSeriouslyIllPoor", int32(model.CircumstanceSeriouslyIllPoor), 13},
		{"CircumstanceMigrantDisplaced", int32(model.CircumstanceMigrantDisplaced), 14},

		{"StatusAwaitingAcknowledgement", int32(model.StatusAwaitingAcknowledgement), 1},
		{"StatusInitialAssessment", int32(model.StatusInitialAssessment), 2},
		{"StatusSpecificAssessment", int32(model.StatusSpecificAssessment), 3},
		{"StatusPlanning", int32(model.StatusPlanning), 4},
		{"StatusImplementation", int32(model.StatusImplementation), 5},
		{"StatusReview", int32(model.StatusReview), 6},
		{"StatusClosed", int32(model.StatusClosed), 7},

		{"RoleHotlineOperator", int32(model.RoleHotlineOperator), 1},
		{"RoleHotlineSupervisor", int32(model.RoleHotlineSupervisor), 2},
		{"RoleCommuneWorker", int32(model.RoleCommuneWorker), 3},
		{"RoleCommuneChair", int32(model.RoleCommuneChair), 4},
		{"RoleDistrictOfficer", int32(model.RoleDistrictOfficer), 5},
		{"RoleCityOfficer", int32(model.RoleCityOfficer), 6},
		{"RolePoliceLiaison", int32(model.RolePoliceLiaison), 7},
		{"RoleAuditor", int32(model.RoleAuditor), 8},
		{"RoleAdmin", int32(model.RoleAdmin), 9},
		{"RoleSystem", int32(model.RoleSystem), 10}, // the service's own, no user's

		{"LevelLow", int32(model.LevelLow), 1},
		{"LevelMedium", int32(model.LevelMedium), 2},
		{"LevelHigh", int32(model.LevelHigh), 3},

		{"EmergencySeriousHarm", int32(model.EmergencySeriousHarm), 1},
		{"EmergencyCaregiverIsAbuser", int32(model.EmergencyCaregiverIsAbuser), 2},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s is %d, stored as %d: a stored value must keep its number", tt.name, tt.got, tt.want)
		}
	}
	if len(model.Roles) != 9 {
		t.Errorf("model.Roles has %d roles; a new role needs its number pinned here", len(model.Roles))
	}
}

// TestStoredEnumStrings pins the enumerations stored as strings.
func TestStoredEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		// Every audit event stores its actor's role by name.
		{model.RoleHotlineOperator.String(), "HOTLINE_OPERATOR"},
		{model.RoleHotlineSupervisor.String(), "HOTLINE_SUPERVISOR"},
		{model.RoleCommuneWorker.String(), "COMMUNE_WORKER"},
		{model.RoleCommuneChair.String(), "COMMUNE_CHAIR"},
		{model.RoleDistrictOfficer.String(), "DISTRICT_OFFICER"},
		{model.RoleCityOfficer.String(), "CITY_OFFICER"},
		{model.RolePoliceLiaison.String(), "POLICE_LIAISON"},
		{model.RoleAuditor.String(), "AUDITOR"},
		{model.RoleAdmin.String(), "ADMIN"},
		{model.RoleSystem.String(), "SYSTEM"},
		{string(model.DeadlineAcknowledge), "ACKNOWLEDGE"},
		{string(model.DeadlineEmergencyMeasures), "D3_EMERGENCY"},
		{string(model.DeadlineSeparationReview), "D4_SEPARATION"},
		{string(model.DeadlinePlanDraft), "D6_PLAN_DRAFT"},
		{string(model.DeadlinePlanApproval), "D7_PLAN_APPROVAL"},
		{string(model.DeadlineServiceEnd), "D8_SERVICE"},
		{string(model.DeadlinePoliceForward), "D13_POLICE_FORWARD"},
		{string(model.DeadlineProsecutionDecision), "D16_PROSECUTION"},
		{string(model.DeadlineTransferAccept), "TRANSFER_ACCEPT"},
		{string(model.DeadlinePoliceAcknowledge), "POLICE_ACKNOWLEDGE"},
		{string(model.ClockHours), "HOURS"},
		{string(model.ClockCalendarDays), "CALENDAR_DAYS"},
		{string(model.ClockWorkingDays), "WORKING_DAYS"},
		{string(model.DeadlineOpen), "OPEN"},
		{string(model.DeadlineMet), "MET"},
		{string(model.DeadlineMissed), "MISSED"},
		{string(model.DeadlineCancelled), "CANCELLED"},
		{model.PoliceReferred, "REFERRED"},
		{model.PoliceAcknowledged, "ACKNOWLEDGED"},
		{model.PoliceForwarded, "FORWARDED"},
		{model.PoliceDecided, "DECIDED"},
		{model.PlanDraft, "DRAFT"},
		{model.PlanSubmitted, "SUBMITTED"},
		{model.PlanApproved, "APPROVED"},
		{model.TransferProposed, "PROPOSED"},
		{model.TransferAccepted, "ACCEPTED"},
		{model.TransferDeclined, "DECLINED"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("a value stored as %q is now %q: a stored value must keep its spelling", tt.want, tt.got)
		}
	}
}

// TestNoUserHoldsTheSystemRole: the service's role names its own work in
// the audit log; a user given it would act under the service's name.
func TestNoUserHoldsTheSystemRole(t *testing.T) {
	if slices.Contains(model.Roles, model.RoleSystem) {
		t.Error("model.Roles lists RoleSystem: users could be given it")
	}
	for _, name := range []string{"SYSTEM", "ROLE_SYSTEM"} {
		if r, ok := model.ParseRole(name); ok {
			t.Errorf("ParseRole(%q) = %v: no user may be given the service's role", name, r)
		}
	}
}
