package tally

import "github.com/childcase/childcase/internal/domain/model"

// The values a group's key shows, named as the API's enums are without
// their prefix, so that a key reads the same over gRPC, REST and in a
// report. A number without a name shows as the number.
var (
	channelNames = map[model.Channel]string{
		model.ChannelHotline111: "HOTLINE_111", model.ChannelSocialWorkCentre: "SOCIAL_WORK_CENTRE",
		model.ChannelPolice: "POLICE", model.ChannelCommune: "COMMUNE", model.ChannelWalkIn: "WALK_IN",
		model.ChannelOther: "OTHER", model.ChannelSocialAffairsOffice: "SOCIAL_AFFAIRS_OFFICE",
	}
	callTypeNames = map[model.CallType]string{
		model.CallIntervention: "INTERVENTION", model.CallCounselling: "COUNSELLING",
		model.CallInformation: "INFORMATION", model.CallSilent: "SILENT", model.CallPrank: "PRANK",
		model.CallWrongNumber: "WRONG_NUMBER",
	}
	sexNames   = map[model.Sex]string{model.SexFemale: "FEMALE", model.SexMale: "MALE", model.SexUnknown: "UNKNOWN"}
	abuseNames = map[model.AbuseForm]string{
		model.AbuseViolence: "VIOLENCE", model.AbuseSexual: "SEXUAL_ABUSE", model.AbuseExploitation: "EXPLOITATION",
		model.AbuseTrafficking: "TRAFFICKING", model.AbuseNeglect: "NEGLECT", model.AbuseOther: "OTHER",
		model.AbuseViolenceWithInjury: "VIOLENCE_WITH_INJURY", model.AbuseChildRightsViolation: "CHILD_RIGHTS_VIOLATION",
		model.AbuseCustodyDispute: "CUSTODY_DISPUTE", model.AbuseFinancialSupportRequest: "FINANCIAL_SUPPORT_REQUEST",
		model.AbuseSexualExploitation: "SEXUAL_EXPLOITATION", model.AbusePornographicUse: "PORNOGRAPHIC_USE",
		model.AbuseOnline: "ONLINE",
	}
	circumstanceNames = map[model.SpecialCircumstance]string{
		model.CircumstanceOrphaned: "A_ORPHANED", model.CircumstanceAbandoned: "B_ABANDONED",
		model.CircumstanceWithoutSupport: "C_WITHOUT_SUPPORT", model.CircumstanceDisabled: "D_DISABLED",
		model.CircumstanceHIVAIDS: "DD_HIV_AIDS", model.CircumstanceInConflictWithLaw: "E_IN_CONFLICT_WITH_LAW",
		model.CircumstanceDrugAddicted: "G_DRUG_ADDICTED", model.CircumstanceOutOfSchoolWorking: "H_OUT_OF_SCHOOL_WORKING",
		model.CircumstanceHarmedByViolence: "I_HARMED_BY_VIOLENCE", model.CircumstanceExploited: "K_EXPLOITED",
		model.CircumstanceSexuallyAbused: "L_SEXUALLY_ABUSED", model.CircumstanceTrafficked: "M_TRAFFICKED",
		model.CircumstanceSeriouslyIllPoor: "N_SERIOUSLY_ILL_POOR", model.CircumstanceMigrantDisplaced: "O_MIGRANT_DISPLACED",
	}
)
