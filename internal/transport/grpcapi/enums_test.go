package grpcapi

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// enumPin is one API value, by its name in the .proto file: the number it
// has on the wire, and the domain value it stands for.
type enumPin[M enumValue] struct {
	name  string
	api   int32
	model M
}

type protoEnum interface {
	~int32
	Descriptor() protoreflect.EnumDescriptor
}

// checkEnumMap pins every value of an API enum (its number, and that
// UNSPECIFIED is 0), requires a pin for every value the .proto defines,
// and checks the mapping both ways for each, and that values without a
// twin map to the zero value.
func checkEnumMap[A protoEnum, M enumValue](t *testing.T, em enumMap[A, M], pins []enumPin[M]) {
	t.Helper()
	values := A(0).Descriptor().Values()
	byName := map[string]enumPin[M]{}
	for _, p := range pins {
		byName[p.name] = p
	}
	for i := range values.Len() {
		v := values.Get(i)
		name, num := string(v.Name()), int32(v.Number())
		if num == 0 {
			if em.toModel(A(0)) != 0 {
				t.Errorf("%s maps to %d, want the zero value", name, em.toModel(A(0)))
			}
			continue
		}
		p, ok := byName[name]
		if !ok {
			t.Errorf("%s = %d has no pin: pin it and map it to a domain value", name, num)
			continue
		}
		delete(byName, name)
		if num != p.api {
			t.Errorf("%s is %d on the wire, pinned as %d: clients would read another value", name, num, p.api)
		}
		if got := em.toModel(A(num)); got != p.model {
			t.Errorf("%s maps to domain value %d, want %d", name, got, p.model)
		}
		if got := em.toAPI(p.model); got != A(num) {
			t.Errorf("domain value %d maps to %v, want %s", p.model, got, name)
		}
	}
	for name := range byName {
		t.Errorf("pinned %s is not in the .proto any more", name)
	}
	if len(em) != len(pins) {
		t.Errorf("the map has %d pairs, the pins %d: every pair must be pinned", len(em), len(pins))
	}
	if got := em.toModel(A(1000)); got != 0 {
		t.Errorf("an API value without a twin maps to %d, want 0", got)
	}
	if got := em.toAPI(M(1000)); got != 0 {
		t.Errorf("a domain value without a twin maps to %v, want UNSPECIFIED", got)
	}
}

func TestEnumMaps(t *testing.T) {
	run := func(name string, f func(t *testing.T)) { t.Run(name, f) }
	run("Channel", func(t *testing.T) {
		checkEnumMap(t, channels, []enumPin[model.Channel]{
			{"CHANNEL_HOTLINE_111", 1, model.ChannelHotline111},
			{"CHANNEL_SOCIAL_WORK_CENTRE", 2, model.ChannelSocialWorkCentre},
			{"CHANNEL_POLICE", 3, model.ChannelPolice},
			{"CHANNEL_COMMUNE", 4, model.ChannelCommune},
			{"CHANNEL_WALK_IN", 5, model.ChannelWalkIn},
			{"CHANNEL_OTHER", 6, model.ChannelOther},
			{"CHANNEL_SOCIAL_AFFAIRS_OFFICE", 7, model.ChannelSocialAffairsOffice},
		})
	})
	run("ReportMeans", func(t *testing.T) {
		checkEnumMap(t, means, []enumPin[model.Means]{
			{"REPORT_MEANS_PHONE_CALL", 1, model.MeansPhoneCall},
			{"REPORT_MEANS_IN_PERSON", 2, model.MeansInPerson},
			{"REPORT_MEANS_LETTER", 3, model.MeansLetter},
			{"REPORT_MEANS_EMAIL", 4, model.MeansEmail},
			{"REPORT_MEANS_ONLINE", 5, model.MeansOnline},
			{"REPORT_MEANS_TEXT_MESSAGE", 6, model.MeansTextMessage},
			{"REPORT_MEANS_OTHER", 7, model.MeansOther},
		})
	})
	run("CallType", func(t *testing.T) {
		checkEnumMap(t, callTypes, []enumPin[model.CallType]{
			{"CALL_TYPE_INTERVENTION", 1, model.CallIntervention},
			{"CALL_TYPE_COUNSELLING", 2, model.CallCounselling},
			{"CALL_TYPE_INFORMATION", 3, model.CallInformation},
			{"CALL_TYPE_SILENT", 4, model.CallSilent},
			{"CALL_TYPE_PRANK", 5, model.CallPrank},
			{"CALL_TYPE_WRONG_NUMBER", 6, model.CallWrongNumber},
		})
	})
	run("Sex", func(t *testing.T) {
		checkEnumMap(t, sexes, []enumPin[model.Sex]{
			{"SEX_FEMALE", 1, model.SexFemale},
			{"SEX_MALE", 2, model.SexMale},
			{"SEX_UNKNOWN", 3, model.SexUnknown},
		})
	})
	run("AbuseForm", func(t *testing.T) {
		checkEnumMap(t, abuseForms, []enumPin[model.AbuseForm]{
			{"ABUSE_FORM_VIOLENCE", 1, model.AbuseViolence},
			{"ABUSE_FORM_SEXUAL_ABUSE", 2, model.AbuseSexual},
			{"ABUSE_FORM_EXPLOITATION", 3, model.AbuseExploitation},
			{"ABUSE_FORM_TRAFFICKING", 4, model.AbuseTrafficking},
			{"ABUSE_FORM_NEGLECT", 5, model.AbuseNeglect},
			{"ABUSE_FORM_OTHER", 6, model.AbuseOther},
			{"ABUSE_FORM_VIOLENCE_WITH_INJURY", 7, model.AbuseViolenceWithInjury},
			{"ABUSE_FORM_CHILD_RIGHTS_VIOLATION", 8, model.AbuseChildRightsViolation},
			{"ABUSE_FORM_CUSTODY_DISPUTE", 9, model.AbuseCustodyDispute},
			{"ABUSE_FORM_FINANCIAL_SUPPORT_REQUEST", 10, model.AbuseFinancialSupportRequest},
			{"ABUSE_FORM_SEXUAL_EXPLOITATION", 11, model.AbuseSexualExploitation},
			{"ABUSE_FORM_PORNOGRAPHIC_USE", 12, model.AbusePornographicUse},
			{"ABUSE_FORM_ONLINE", 13, model.AbuseOnline},
		})
	})
	run("SpecialCircumstance", func(t *testing.T) {
		checkEnumMap(t, circumstances, []enumPin[model.SpecialCircumstance]{
			{"SPECIAL_CIRCUMSTANCE_A_ORPHANED", 1, model.CircumstanceOrphaned},
			{"SPECIAL_CIRCUMSTANCE_B_ABANDONED", 2, model.CircumstanceAbandoned},
			{"SPECIAL_CIRCUMSTANCE_C_WITHOUT_SUPPORT", 3, model.CircumstanceWithoutSupport},
			{"SPECIAL_CIRCUMSTANCE_D_DISABLED", 4, model.CircumstanceDisabled},
			{"SPECIAL_CIRCUMSTANCE_DD_HIV_AIDS", 5, model.CircumstanceHIVAIDS},
			{"SPECIAL_CIRCUMSTANCE_E_IN_CONFLICT_WITH_LAW", 6, model.CircumstanceInConflictWithLaw},
			{"SPECIAL_CIRCUMSTANCE_G_DRUG_ADDICTED", 7, model.CircumstanceDrugAddicted},
			{"SPECIAL_CIRCUMSTANCE_H_OUT_OF_SCHOOL_WORKING", 8, model.CircumstanceOutOfSchoolWorking},
			{"SPECIAL_CIRCUMSTANCE_I_HARMED_BY_VIOLENCE", 9, model.CircumstanceHarmedByViolence},
			{"SPECIAL_CIRCUMSTANCE_K_EXPLOITED", 10, model.CircumstanceExploited},
			{"SPECIAL_CIRCUMSTANCE_L_SEXUALLY_ABUSED", 11, model.CircumstanceSexuallyAbused},
			{"SPECIAL_CIRCUMSTANCE_M_TRAFFICKED", 12, model.CircumstanceTrafficked},
			{"SPECIAL_CIRCUMSTANCE_N_SERIOUSLY_ILL_POOR", 13, model.CircumstanceSeriouslyIllPoor},
			{"SPECIAL_CIRCUMSTANCE_O_MIGRANT_DISPLACED", 14, model.CircumstanceMigrantDisplaced},
		})
	})
	run("CaseStatus", func(t *testing.T) {
		checkEnumMap(t, caseStatuses, []enumPin[model.CaseStatus]{
			{"CASE_STATUS_AWAITING_ACKNOWLEDGEMENT", 1, model.StatusAwaitingAcknowledgement},
			{"CASE_STATUS_INITIAL_ASSESSMENT", 2, model.StatusInitialAssessment},
			{"CASE_STATUS_SPECIFIC_ASSESSMENT", 3, model.StatusSpecificAssessment},
			{"CASE_STATUS_PLANNING", 4, model.StatusPlanning},
			{"CASE_STATUS_IMPLEMENTATION", 5, model.StatusImplementation},
			{"CASE_STATUS_REVIEW", 6, model.StatusReview},
			{"CASE_STATUS_CLOSED", 7, model.StatusClosed},
		})
	})
	run("Role", func(t *testing.T) {
		checkEnumMap(t, roles, []enumPin[model.Role]{
			{"ROLE_HOTLINE_OPERATOR", 1, model.RoleHotlineOperator},
			{"ROLE_HOTLINE_SUPERVISOR", 2, model.RoleHotlineSupervisor},
			{"ROLE_COMMUNE_WORKER", 3, model.RoleCommuneWorker},
			{"ROLE_COMMUNE_CHAIR", 4, model.RoleCommuneChair},
			{"ROLE_DISTRICT_OFFICER", 5, model.RoleDistrictOfficer},
			{"ROLE_CITY_OFFICER", 6, model.RoleCityOfficer},
			{"ROLE_POLICE_LIAISON", 7, model.RolePoliceLiaison},
			{"ROLE_AUDITOR", 8, model.RoleAuditor},
			{"ROLE_ADMIN", 9, model.RoleAdmin},
		})
		for _, r := range model.Roles {
			if roles.toAPI(r) == pb.Role_ROLE_UNSPECIFIED {
				t.Errorf("role %s has no API value", r)
			}
		}
	})
	run("RiskLevel", func(t *testing.T) {
		checkEnumMap(t, riskLevels, []enumPin[model.Level]{
			{"RISK_LEVEL_LOW", 1, model.LevelLow},
			{"RISK_LEVEL_MEDIUM", 2, model.LevelMedium},
			{"RISK_LEVEL_HIGH", 3, model.LevelHigh},
		})
	})
	run("EmergencyReason", func(t *testing.T) {
		checkEnumMap(t, emergencyReasons, []enumPin[model.EmergencyReason]{
			{"EMERGENCY_REASON_SERIOUS_HARM", 1, model.EmergencySeriousHarm},
			{"EMERGENCY_REASON_CAREGIVER_IS_ABUSER", 2, model.EmergencyCaregiverIsAbuser},
		})
	})
	run("ClosureGround", func(t *testing.T) {
		checkEnumMap(t, closureGrounds, []enumPin[model.ClosureGround]{
			{"CLOSURE_GROUND_RISK_LOW", 1, model.ClosureRiskLow},
			{"CLOSURE_GROUND_MOVED_AWAY", 2, model.ClosureMovedAway},
			{"CLOSURE_GROUND_TURNED_18", 3, model.ClosureTurned18},
			{"CLOSURE_GROUND_DECEASED", 4, model.ClosureDeceased},
			{"CLOSURE_GROUND_TRANSFERRED", 5, model.ClosureTransferred},
			{"CLOSURE_GROUND_TURNED_16", 6, model.ClosureTurned16},
		})
	})
	run("UnitLevel", func(t *testing.T) {
		checkEnumMap(t, unitLevels, []enumPin[units.Level]{
			{"UNIT_LEVEL_CITY", 1, units.LevelCity},
			{"UNIT_LEVEL_DISTRICT", 2, units.LevelDistrict},
			{"UNIT_LEVEL_COMMUNE", 3, units.LevelCommune},
		})
	})
	run("CaseQueue", func(t *testing.T) {
		checkEnumMap(t, caseQueues, []enumPin[intake.Queue]{
			{"CASE_QUEUE_MY_UNIT_OPEN", 1, intake.QueueMyUnitOpen},
			{"CASE_QUEUE_OVERDUE", 2, intake.QueueOverdue},
			{"CASE_QUEUE_AWAITING_MY_ACCEPTANCE", 3, intake.QueueAwaitingMyAccept},
			{"CASE_QUEUE_AWAITING_SUCCESSOR", 4, intake.QueueAwaitingSuccessor},
		})
	})
}
