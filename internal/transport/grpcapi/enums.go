package grpcapi

import (
	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// The API's enums and the domain's have the same numbers today, but they
// answer to different masters: the API's to its clients, the domain's to
// what is stored on disk. Each value is therefore mapped by name here,
// never by a type conversion, so a renumbering on either side breaks the
// mapping test instead of silently changing what a stored record means.

// enumValue is an enumeration of the API or the domain.
type enumValue interface{ ~int | ~int32 }

// enumPair is one API value and its domain twin.
type enumPair[A, M enumValue] struct {
	api   A
	model M
}

// enumMap is the complete correspondence of one API enum and one domain
// enum. A value without a twin maps to the zero value (UNSPECIFIED):
// requests cannot carry one (protovalidate's defined_only), and a stored
// value a later version added is shown as unspecified rather than as a
// number the client cannot name.
type enumMap[A, M enumValue] []enumPair[A, M]

func (em enumMap[A, M]) toModel(a A) M {
	for _, p := range em {
		if p.api == a {
			return p.model
		}
	}
	return 0
}

func (em enumMap[A, M]) toAPI(m M) A {
	for _, p := range em {
		if p.model == m {
			return p.api
		}
	}
	return 0
}

func (em enumMap[A, M]) toModels(in []A) []M {
	if len(in) == 0 {
		return nil
	}
	out := make([]M, len(in))
	for i, a := range in {
		out[i] = em.toModel(a)
	}
	return out
}

func (em enumMap[A, M]) toAPIs(in []M) []A {
	if len(in) == 0 {
		return nil
	}
	out := make([]A, len(in))
	for i, m := range in {
		out[i] = em.toAPI(m)
	}
	return out
}

var (
	channels = enumMap[pb.Channel, model.Channel]{
		{pb.Channel_CHANNEL_HOTLINE_111, model.ChannelHotline111},
		{pb.Channel_CHANNEL_SOCIAL_WORK_CENTRE, model.ChannelSocialWorkCentre},
		{pb.Channel_CHANNEL_POLICE, model.ChannelPolice},
		{pb.Channel_CHANNEL_COMMUNE, model.ChannelCommune},
		{pb.Channel_CHANNEL_WALK_IN, model.ChannelWalkIn},
		{pb.Channel_CHANNEL_OTHER, model.ChannelOther},
		{pb.Channel_CHANNEL_SOCIAL_AFFAIRS_OFFICE, model.ChannelSocialAffairsOffice},
	}
	means = enumMap[pb.ReportMeans, model.Means]{
		{pb.ReportMeans_REPORT_MEANS_PHONE_CALL, model.MeansPhoneCall},
		{pb.ReportMeans_REPORT_MEANS_IN_PERSON, model.MeansInPerson},
		{pb.ReportMeans_REPORT_MEANS_LETTER, model.MeansLetter},
		{pb.ReportMeans_REPORT_MEANS_EMAIL, model.MeansEmail},
		{pb.ReportMeans_REPORT_MEANS_ONLINE, model.MeansOnline},
		{pb.ReportMeans_REPORT_MEANS_TEXT_MESSAGE, model.MeansTextMessage},
		{pb.ReportMeans_REPORT_MEANS_OTHER, model.MeansOther},
	}
	callTypes = enumMap[pb.CallType, model.CallType]{
		{pb.CallType_CALL_TYPE_INTERVENTION, model.CallIntervention},
		{pb.CallType_CALL_TYPE_COUNSELLING, model.CallCounselling},
		{pb.CallType_CALL_TYPE_INFORMATION, model.CallInformation},
		{pb.CallType_CALL_TYPE_SILENT, model.CallSilent},
		{pb.CallType_CALL_TYPE_PRANK, model.CallPrank},
		{pb.CallType_CALL_TYPE_WRONG_NUMBER, model.CallWrongNumber},
	}
	sexes = enumMap[pb.Sex, model.Sex]{
		{pb.Sex_SEX_FEMALE, model.SexFemale},
		{pb.Sex_SEX_MALE, model.SexMale},
		{pb.Sex_SEX_UNKNOWN, model.SexUnknown},
	}
	abuseForms = enumMap[pb.AbuseForm, model.AbuseForm]{
		{pb.AbuseForm_ABUSE_FORM_VIOLENCE, model.AbuseViolence},
		{pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE, model.AbuseSexual},
		{pb.AbuseForm_ABUSE_FORM_EXPLOITATION, model.AbuseExploitation},
		{pb.AbuseForm_ABUSE_FORM_TRAFFICKING, model.AbuseTrafficking},
		{pb.AbuseForm_ABUSE_FORM_NEGLECT, model.AbuseNeglect},
		{pb.AbuseForm_ABUSE_FORM_OTHER, model.AbuseOther},
		{pb.AbuseForm_ABUSE_FORM_VIOLENCE_WITH_INJURY, model.AbuseViolenceWithInjury},
		{pb.AbuseForm_ABUSE_FORM_CHILD_RIGHTS_VIOLATION, model.AbuseChildRightsViolation},
		{pb.AbuseForm_ABUSE_FORM_CUSTODY_DISPUTE, model.AbuseCustodyDispute},
		{pb.AbuseForm_ABUSE_FORM_FINANCIAL_SUPPORT_REQUEST, model.AbuseFinancialSupportRequest},
		{pb.AbuseForm_ABUSE_FORM_SEXUAL_EXPLOITATION, model.AbuseSexualExploitation},
		{pb.AbuseForm_ABUSE_FORM_PORNOGRAPHIC_USE, model.AbusePornographicUse},
		{pb.AbuseForm_ABUSE_FORM_ONLINE, model.AbuseOnline},
	}
	circumstances = enumMap[pb.SpecialCircumstance, model.SpecialCircumstance]{
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_A_ORPHANED, model.CircumstanceOrphaned},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_B_ABANDONED, model.CircumstanceAbandoned},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_C_WITHOUT_SUPPORT, model.CircumstanceWithoutSupport},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_D_DISABLED, model.CircumstanceDisabled},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_DD_HIV_AIDS, model.CircumstanceHIVAIDS},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_E_IN_CONFLICT_WITH_LAW, model.CircumstanceInConflictWithLaw},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_G_DRUG_ADDICTED, model.CircumstanceDrugAddicted},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_H_OUT_OF_SCHOOL_WORKING, model.CircumstanceOutOfSchoolWorking},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_I_HARMED_BY_VIOLENCE, model.CircumstanceHarmedByViolence},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_K_EXPLOITED, model.CircumstanceExploited},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_L_SEXUALLY_ABUSED, model.CircumstanceSexuallyAbused},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_M_TRAFFICKED, model.CircumstanceTrafficked},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_N_SERIOUSLY_ILL_POOR, model.CircumstanceSeriouslyIllPoor},
		{pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_O_MIGRANT_DISPLACED, model.CircumstanceMigrantDisplaced},
	}
	caseStatuses = enumMap[pb.CaseStatus, model.CaseStatus]{
		{pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT, model.StatusAwaitingAcknowledgement},
		{pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT, model.StatusInitialAssessment},
		{pb.CaseStatus_CASE_STATUS_SPECIFIC_ASSESSMENT, model.StatusSpecificAssessment},
		{pb.CaseStatus_CASE_STATUS_PLANNING, model.StatusPlanning},
		{pb.CaseStatus_CASE_STATUS_IMPLEMENTATION, model.StatusImplementation},
		{pb.CaseStatus_CASE_STATUS_REVIEW, model.StatusReview},
		{pb.CaseStatus_CASE_STATUS_CLOSED, model.StatusClosed},
	}
	roles = enumMap[pb.Role, model.Role]{
		{pb.Role_ROLE_HOTLINE_OPERATOR, model.RoleHotlineOperator},
		{pb.Role_ROLE_HOTLINE_SUPERVISOR, model.RoleHotlineSupervisor},
		{pb.Role_ROLE_COMMUNE_WORKER, model.RoleCommuneWorker},
		{pb.Role_ROLE_COMMUNE_CHAIR, model.RoleCommuneChair},
		{pb.Role_ROLE_DISTRICT_OFFICER, model.RoleDistrictOfficer},
		{pb.Role_ROLE_CITY_OFFICER, model.RoleCityOfficer},
		{pb.Role_ROLE_POLICE_LIAISON, model.RolePoliceLiaison},
		{pb.Role_ROLE_AUDITOR, model.RoleAuditor},
		{pb.Role_ROLE_ADMIN, model.RoleAdmin},
	}
	riskLevels = enumMap[pb.RiskLevel, model.Level]{
		{pb.RiskLevel_RISK_LEVEL_LOW, model.LevelLow},
		{pb.RiskLevel_RISK_LEVEL_MEDIUM, model.LevelMedium},
		{pb.RiskLevel_RISK_LEVEL_HIGH, model.LevelHigh},
	}
	emergencyReasons = enumMap[pb.EmergencyReason, model.EmergencyReason]{
		{pb.EmergencyReason_EMERGENCY_REASON_SERIOUS_HARM, model.EmergencySeriousHarm},
		{pb.EmergencyReason_EMERGENCY_REASON_CAREGIVER_IS_ABUSER, model.EmergencyCaregiverIsAbuser},
	}
	closureGrounds = enumMap[pb.ClosureGround, model.ClosureGround]{
		{pb.ClosureGround_CLOSURE_GROUND_RISK_LOW, model.ClosureRiskLow},
		{pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, model.ClosureMovedAway},
		{pb.ClosureGround_CLOSURE_GROUND_TURNED_18, model.ClosureTurned18},
		{pb.ClosureGround_CLOSURE_GROUND_DECEASED, model.ClosureDeceased},
		{pb.ClosureGround_CLOSURE_GROUND_TRANSFERRED, model.ClosureTransferred},
		{pb.ClosureGround_CLOSURE_GROUND_TURNED_16, model.ClosureTurned16},
	}
	unitLevels = enumMap[pb.UnitLevel, units.Level]{
		{pb.UnitLevel_UNIT_LEVEL_CITY, units.LevelCity},
		{pb.UnitLevel_UNIT_LEVEL_DISTRICT, units.LevelDistrict},
		{pb.UnitLevel_UNIT_LEVEL_COMMUNE, units.LevelCommune},
	}
	caseQueues = enumMap[pb.CaseQueue, intake.Queue]{
		{pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN, intake.QueueMyUnitOpen},
		{pb.CaseQueue_CASE_QUEUE_OVERDUE, intake.QueueOverdue},
		{pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE, intake.QueueAwaitingMyAccept},
		{pb.CaseQueue_CASE_QUEUE_AWAITING_SUCCESSOR, intake.QueueAwaitingSuccessor},
	}
)
