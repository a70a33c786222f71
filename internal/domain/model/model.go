// Package model holds the records of the case process (reports and cases)
// and the errors domain code returns about them. It is plain data: no I/O,
// no protobuf, no storage.
//
// Enumerations are stored by number, so a value's number never changes
// and a new value takes a new number (enums_test.go pins them). The API's
// enums happen to use the same numbers, but the transport maps each value
// explicitly (grpcapi's enums.go), so neither can renumber the other.
package model

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Channel is how a report reached the service.
type Channel int32

// Channels, by their stored number.
const (
	ChannelHotline111       Channel = 1
	ChannelSocialWorkCentre Channel = 2
	ChannelPolice           Channel = 3
	ChannelCommune          Channel = 4
	ChannelWalkIn           Channel = 5
	ChannelOther            Channel = 6
	// ChannelSocialAffairsOffice is a labour/social-affairs office (Decree
	// 56 Art. 25(1)): the district's until 2025-06-30, the city's department.
	ChannelSocialAffairsOffice Channel = 7
)

// Means is how the information of a report came in (Mẫu 01, "hình thức
// tiếp nhận"), whatever the channel that received it; 0 when not recorded.
type Means int32

// Means, by their stored number.
const (
	MeansPhoneCall   Means = 1
	MeansInPerson    Means = 2
	MeansLetter      Means = 3
	MeansEmail       Means = 4
	MeansOnline      Means = 5 // a website, app or social network
	MeansTextMessage Means = 6
	MeansOther       Means = 7
)

// CallType is the kind of call; only CallIntervention opens a case.
type CallType int32

// Call types, by their stored number (also in reports_by_call_type keys).
const (
	CallIntervention CallType = 1 // a report that needs intervention
	CallCounselling  CallType = 2
	CallInformation  CallType = 3
	CallSilent       CallType = 4
	CallPrank        CallType = 5
	CallWrongNumber  CallType = 6
)

// Sex of a child as known at intake.
type Sex int32

// Sexes, by their stored number.
const (
	SexFemale  Sex = 1
	SexMale    Sex = 2
	SexUnknown Sex = 3 // not known to the reporter
)

// AbuseForm is a suspected form of abuse (Child Law Art. 4) or hotline category.
type AbuseForm int32

// Abuse forms, by their stored number.
const (
	AbuseViolence                AbuseForm = 1
	AbuseSexual                  AbuseForm = 2
	AbuseExploitation            AbuseForm = 3
	AbuseTrafficking             AbuseForm = 4
	AbuseNeglect                 AbuseForm = 5
	AbuseOther                   AbuseForm = 6
	AbuseViolenceWithInjury      AbuseForm = 7 // injury or torture: a police matter
	AbuseChildRightsViolation    AbuseForm = 8
	AbuseCustodyDispute          AbuseForm = 9
	AbuseFinancialSupportRequest AbuseForm = 10
	AbuseSexualExploitation      AbuseForm = 11 // prostitution, sex tourism: a police matter
	AbusePornographicUse         AbuseForm = 12 // a police matter
	// AbuseOnline is abuse online ("xâm hại trên môi trường mạng"). It is a
	// category listed beside the form the abuse took, not a form of its
	// own: online sexual abuse is SEXUAL and ONLINE, so the police rule,
	// which looks at the forms, still applies.
	AbuseOnline AbuseForm = 13
)

// policeMatters are the forms of abuse that are crimes for the police:
// sexual abuse, with sexual exploitation and pornographic use (Child Law
// Art. 4), trafficking (and abduction), violence with injury.
var policeMatters = []AbuseForm{AbuseSexual, AbuseTrafficking, AbuseViolenceWithInjury,
	AbuseSexualExploitation, AbusePornographicUse}

// CrimeSuspected reports whether any of forms is a crime for the police: a
// case of such a form closes only after a police referral or with a reason
// for none, and the statistics count the closures without one.
func CrimeSuspected(forms []AbuseForm) bool {
	return slices.ContainsFunc(forms, func(a AbuseForm) bool { return slices.Contains(policeMatters, a) })
}

// SpecialCircumstance is a group of Child Law Art. 10.
type SpecialCircumstance int32

// Special circumstances, by the letter of Art. 10 and their stored number.
const (
	CircumstanceOrphaned           SpecialCircumstance = 1  // a)
	CircumstanceAbandoned          SpecialCircumstance = 2  // b)
	CircumstanceWithoutSupport     SpecialCircumstance = 3  // c)
	CircumstanceDisabled           SpecialCircumstance = 4  // d)
	CircumstanceHIVAIDS            SpecialCircumstance = 5  // đ)
	CircumstanceInConflictWithLaw  SpecialCircumstance = 6  // e)
	CircumstanceDrugAddicted       SpecialCircumstance = 7  // g)
	CircumstanceOutOfSchoolWorking SpecialCircumstance = 8  // h)
	CircumstanceHarmedByViolence   SpecialCircumstance = 9  // i)
	CircumstanceExploited          SpecialCircumstance = 10 // k)
	CircumstanceSexuallyAbused     SpecialCircumstance = 11 // l)
	CircumstanceTrafficked         SpecialCircumstance = 12 // m)
	CircumstanceSeriouslyIllPoor   SpecialCircumstance = 13 // n)
	CircumstanceMigrantDisplaced   SpecialCircumstance = 14 // o)
)

// CaseStatus is where a case stands in the process of Decree 56.
type CaseStatus int32

// Case statuses used by the domain.
const (
	StatusAwaitingAcknowledgement CaseStatus = 1
	StatusClosed                  CaseStatus = 7
)

// Report is one intake (form Mẫu 01).
type Report struct {
	ID                   string // public id, a UUID
	Channel              Channel
	Means                Means     // how it came in; 0 when not recorded
	ReceiveTime          time.Time // UTC
	IncidentUnit         units.Key // the commune in force on the receive date
	CallType             CallType
	Children             []Child
	Caregivers           []Caregiver
	FamilySituation      string
	ActionsTaken         string
	Narrative            string
	SuspectedAbuse       []AbuseForm
	SpecialCircumstances []SpecialCircumstance
	ImmediateDanger      bool
	Reporter             Reporter
	CaseNumber           string // empty while the report belongs to no case
	CreateTime           time.Time
	TakenBy              string // id of the user who recorded it
	TakerUnit            string // that user's unit when recording it
}

// Child is a child named in a report. Exactly one of BirthDate and
// EstimatedAge is set.
type Child struct {
	FullName     string
	BirthDate    vntime.Date
	EstimatedAge *int32 // whole years
	Sex          Sex
	Location     string
	Condition    string
	ExpectedHarm string
	// ResidenceUnit is the commune where the child lives, in force on the
	// day of the report; zero when not known. Private (Decree 56 Art. 33).
	ResidenceUnit units.Key
}

// AgeOn returns the child's age in whole years on day: by the date of
// birth, or by the age estimated on the day the report was received and
// the years since. known is false when neither was recorded.
func (c Child) AgeOn(received, day vntime.Date) (years int, known bool) {
	switch {
	case !c.BirthDate.IsZero():
		return c.BirthDate.YearsTo(day), true
	case c.EstimatedAge != nil:
		return int(*c.EstimatedAge) + received.YearsTo(day), true
	}
	return 0, false
}

// Caregiver is a parent or caregiver named in a report.
type Caregiver struct {
	FullName        string
	Relation        string
	Phone           string
	Address         string
	SuspectedAbuser bool
}

// Reporter is the person who made a report. When Anonymous is false the
// reporter consented to having the other fields recorded. Withheld says the
// identity was not opened for this reader: only a disclosure reveals it.
type Reporter struct {
	Withheld        bool `json:"-"`
	Anonymous       bool
	FullName        string
	Phone           string
	RelationToChild string
	Address         string
}

// Case is the social case opened for a child.
type Case struct {
	ID              uint64 // internal key, never shown
	Number          string // e.g. HN-2026-00123
	Status          CaseStatus
	ResponsibleUnit units.Key
	IncidentUnit    units.Key
	ReportIDs       []string // oldest first
	ReceiveTime     time.Time
	ImmediateDanger bool
	CreateTime      time.Time
	UpdateTime      time.Time
	Revision        uint64 // incremented by every change

	// What the police view shows of the children and the suspected harm,
	// gathered from the linked reports without private details.
	Children       []ChildSummary
	SuspectedAbuse []AbuseForm
	// SpecialCircumstances are the groups of Child Law Art. 10 that apply:
	// the linked reports' as they join, as the assessments corrected them.
	// They are personal (health, abuse): sealed in Texts like the free
	// text, and outside the police view.
	SpecialCircumstances []SpecialCircumstance

	// Who may see the case besides the city (see package access).
	// Handlers are the administrative units that were ever responsible for
	// the case or were handed or escalated it, oldest first; the current
	// ResponsibleUnit is always among them.
	Handlers []units.Key
	// IntakeUsers and IntakeUnits are the users who recorded the case's
	// reports and their units, so hotline staff can follow up.
	IntakeUsers []string
	IntakeUnits []string
	// ResponsibleOfficer is the id of the user handling the case, "" until
	// one is assigned.
	ResponsibleOfficer string
	// PoliceReferrals is the police track, oldest first.
	PoliceReferrals []PoliceReferral
	// PoliceAlerted are the police units a police clock of the case was
	// escalated to, or a late record of a police forwarding was notified
	// to (the city police): they see the case in the police view from
	// then on, as a level a social clock escalates to joins Handlers.
	PoliceAlerted []string
	// PoliceViews are, for each police unit that sees the case, the
	// revision and time of the last change its police view shows
	// (access.StampPoliceViews): that view's etag and update time, which
	// must not move with the commune's work the view hides.
	PoliceViews []PoliceViewStamp
	// LateRecordings are the records of emergency measures, of a
	// separation or of a police forwarding made later than the policy's
	// late_recording after the time they give (issue 11: flagged for the
	// accountability reports).
	// They are kept in the clear, apart from the sealed records
	// themselves, so that the statistics counters can count them.
	LateRecordings []LateRecording
	// AwaitingSuccessor says the responsible unit went out of force and
	// nothing succeeds it wholly (it split, or was a district): the case
	// waits in the city's queue for a reassignment to a commune.
	AwaitingSuccessor bool
	// MergedInto is the number of the case this one was merged into, ""
	// unless it was: a merged case is closed, and its number resolves to
	// the surviving case. MergedFrom are the numbers of the cases merged
	// into this one, oldest merge first.
	MergedInto string
	MergedFrom []string
	// FirstReportID is the report that opened a case merged into another,
	// kept when the merge moved its reports (ReportIDs then lists none):
	// the case still counts in the statistics under that call's channel
	// and call type, as every case counts under its first report's. ""
	// for a case that keeps its reports.
	FirstReportID string

	// The process (Decree 56 Arts. 25-32): what the deadlines and the
	// state machine need in the clear. The content of each step is sealed
	// in Dossier under the case's data key.
	Emergency         bool
	EmergencyReason   EmergencyReason
	EmergencyMeasured time.Time // when emergency measures were applied; zero if not yet
	SeparationStart   time.Time // zero unless the child was separated
	SeparationEnd     time.Time
	PlanState         string // "", "DRAFT", "SUBMITTED", "APPROVED"
	PlanCycle         int    // 1 for the first plan, +1 for each new cycle after a review
	Services          []PlanService
	ClosureProposed   bool
	CloseTime         time.Time
	Deadlines         []Deadline
	Transfers         []Transfer
	Dossier           Sealed
	// Reopened are the times the case was reopened, oldest first. A
	// reopening is new information: the emergency clock (D3) of the cycle
	// it starts runs from it (InformationTime).
	Reopened []time.Time

	// Texts is the free text of the referrals, transfers and paused
	// deadlines (SuspectedOffence, ReferenceNumber, Investigators,
	// Reason, DeclineNote, PauseReason) sealed under the case's data key.
	// Storage keeps those fields empty and the text here; package vault
	// moves it between the two (SealCase, OpenCase).
	Texts Sealed

	// EtagView is set on a view of the case whose etag counts the
	// changes that view shows rather than the case's revision
	// (PoliceEtagView). A view is never stored: `store:"-"` tells the
	// storage tests, which check that every other field is, to leave it.
	EtagView string `json:"-" store:"-"`
}

// InformationTime is when the information the case now acts on was
// received: its last reopening, else its first receive time. The 12-hour
// clock of an emergency (D3) runs from it, and what was applied to meet
// that clock cannot lie before it.
func (c *Case) InformationTime() time.Time {
	if n := len(c.Reopened); n > 0 {
		return c.Reopened[n-1]
	}
	return c.ReceiveTime
}

// PoliceViewStamp is the revision of a police unit's view of a case (how
// many changes that view has shown) and when it last changed.
type PoliceViewStamp struct {
	PoliceUnit string
	Revision   uint64
	Time       time.Time
	// CaseEtag is set while the view shows nothing new since the write
	// that first stamped it, a case of an older database whose police
	// view showed the case's etag: it keeps that number as its etag, not
	// the view's form of it ("p" and the number), which would move it
	// with a write it does not show and refuse the police's step sent
	// with the etag they read.
	CaseEtag bool
}

// Plan states.
const (
	PlanDraft     = "DRAFT"
	PlanSubmitted = "SUBMITTED"
	PlanApproved  = "APPROVED"
)

// Deadline returns a pointer to the case's deadline with that id, or nil.
func (c *Case) Deadline(id int) *Deadline {
	for i := range c.Deadlines {
		if c.Deadlines[i].ID == id {
			return &c.Deadlines[i]
		}
	}
	return nil
}

// OpenDeadline returns the open deadline of a kind and ref, or nil.
func (c *Case) OpenDeadline(kind DeadlineKind, ref string) *Deadline {
	for i := range c.Deadlines {
		d := &c.Deadlines[i]
		if d.Kind == kind && d.Ref == ref && d.Open() {
			return d
		}
	}
	return nil
}

// PendingTransfer returns the transfer awaiting a decision, or nil.
func (c *Case) PendingTransfer() *Transfer {
	for i := range c.Transfers {
		if c.Transfers[i].State == TransferProposed {
			return &c.Transfers[i]
		}
	}
	return nil
}

// Dossier is the confidential content of a case's steps (Decree 56 Art. 33
// counts the services provided to a child as private information too). It
// is stored sealed under the case's data key.
type Dossier struct {
	InitialAssessment  *InitialAssessment  `json:"initial_assessment,omitempty"`
	EmergencyMeasures  []EmergencyMeasures `json:"emergency_measures,omitempty"`
	Separation         *Separation         `json:"separation,omitempty"`
	SpecificAssessment *SpecificAssessment `json:"specific_assessment,omitempty"`
	Services           []ServiceDetail     `json:"services,omitempty"`
	PlanApprovals      []PlanApproval      `json:"plan_approvals,omitempty"`
	Reviews            []Review            `json:"reviews,omitempty"`
	Notes              []Note              `json:"notes,omitempty"`
	CareFollowUps      []CareFollowUp      `json:"care_follow_ups,omitempty"`
	// Merged keeps the content of the cases merged into this one, so that
	// what their steps recorded stays readable under the number that now
	// answers for them.
	Merged []MergedDossier `json:"merged,omitempty"`
	// PlanInForce keeps the approved plan's services while a change of
	// it awaits the chair's decision: a change returned leaves them in
	// force. Nil otherwise.
	PlanInForce *PlanInForce `json:"plan_in_force,omitempty"`
}

// PlanInForce is an approved plan's services, what the case shows of them
// and what its dossier holds, kept aside while a change is decided.
type PlanInForce struct {
	Services []PlanService   `json:"services"`
	Details  []ServiceDetail `json:"details"`
}

// MergedDossier is the step content of a case merged into another, as it
// was at the merge: its dossier and its plan's services.
type MergedDossier struct {
	Case     string        `json:"case"` // the absorbed case's number
	Dossier  Dossier       `json:"dossier"`
	Services []PlanService `json:"services,omitempty"`
}

// InitialAssessment is Mẫu 02.
type InitialAssessment struct {
	Emergency       bool            `json:"emergency"`
	EmergencyReason EmergencyReason `json:"emergency_reason,omitempty"`
	HarmSeverity    Level           `json:"harm_severity"`
	AbuserAccess    Level           `json:"abuser_access"`
	SafetyObstacles Level           `json:"safety_obstacles"`
	Notes           string          `json:"notes,omitempty"`
	By              string          `json:"by"`
	Time            time.Time       `json:"time"`
}

// EmergencyMeasures records the measures applied in an emergency: when
// they were applied and, apart, when they were recorded; LateRecording
// flags a gap beyond the policy's late_recording limit.
type EmergencyMeasures struct {
	Measures      string    `json:"measures"`
	AppliedBy     string    `json:"applied_by"`
	AppliedTime   time.Time `json:"applied_time"`
	RecordedBy    string    `json:"recorded_by"`
	RecordTime    time.Time `json:"record_time,omitzero"`
	LateRecording bool      `json:"late_recording,omitempty"`
}

// LateRecording is a record of emergency measures, of a separation or of
// a police forwarding made late: when it was recorded, and the unit that
// recorded it (the case's responsible unit then, or the police unit, as a
// resource name), which answers for the delay in the statistics even after
// the case moves on.
type LateRecording struct {
	RecordTime time.Time
	Unit       string
}

// Separation is a temporary separation (Art. 32, Mẫu 07): the chair's
// decision, its ground and the carer; when it started and, apart, when it
// was recorded; its extensions; and how it ended, or the court petition
// that keeps it in force until the court decides.
type Separation struct {
	Place          string                `json:"place"`
	Carer          string                `json:"carer,omitempty"`
	Ground         string                `json:"ground,omitempty"` // the Art. 32(1) ground the decision cites
	DecisionNumber string                `json:"decision_number,omitempty"`
	RecordTime     time.Time             `json:"record_time,omitzero"`
	LateRecording  bool                  `json:"late_recording,omitempty"`
	Extensions     []SeparationExtension `json:"extensions,omitempty"`
	Outcome        string                `json:"outcome,omitempty"` // RETURNED_HOME, ALTERNATIVE_CARE or COURT_PETITION
	Notes          string                `json:"notes,omitempty"`
	Court          *CourtPetition        `json:"court,omitempty"`
}

// SeparationExtension is an extension of a separation's 15 days, with the
// chair's decision and its reason (Mẫu 07).
type SeparationExtension struct {
	Days           int       `json:"days"`
	Reason         string    `json:"reason"`
	DecisionNumber string    `json:"decision_number"`
	By             string    `json:"by"`
	Time           time.Time `json:"time"`
}

// CourtPetition is the commune's petition to the court at the end of a
// separation (Circular 14/2020 Art. 14(3)(b)) and the court's decision.
type CourtPetition struct {
	Court          string    `json:"court"`
	Notes          string    `json:"notes,omitempty"`
	PetitionTime   time.Time `json:"petition_time"`
	PetitionedBy   string    `json:"petitioned_by"`
	DecisionNumber string    `json:"decision_number,omitempty"`
	DecisionDate   string    `json:"decision_date,omitempty"` // YYYY-MM-DD
	Outcome        string    `json:"outcome,omitempty"`       // RETURNED_HOME or ALTERNATIVE_CARE
	RecordTime     time.Time `json:"record_time,omitzero"`
}

// Pending reports whether the court has yet to decide.
func (p *CourtPetition) Pending() bool { return p != nil && p.DecisionNumber == "" }

// CareFollowUp is one follow-up of a child in alternative care (Decree 56
// Art. 30).
type CareFollowUp struct {
	Ref   string    `json:"ref"` // the deadline it met: "follow-up-N"
	Notes string    `json:"notes"`
	By    string    `json:"by"`
	Time  time.Time `json:"time"`
}

// SpecificAssessment is Mẫu 03 with the meeting record.
type SpecificAssessment struct {
	Needs         string    `json:"needs"`
	ChildViews    string    `json:"child_views"`
	ParentViews   string    `json:"parent_views,omitempty"`
	MeetingRecord string    `json:"meeting_record"`
	MeetingTime   time.Time `json:"meeting_time"`
	By            string    `json:"by"`
	// The meeting's chair (Art. 27) and the others who took part.
	MeetingChair        Attendee   `json:"meeting_chair,omitzero"`
	MeetingParticipants []Attendee `json:"meeting_participants,omitempty"`
}

// Attendee is a person at the specific-assessment meeting.
type Attendee struct {
	FullName string `json:"full_name"`
	Role     string `json:"role,omitempty"` // position, or relation to the child
}

// PlanApproval is the chair's decision approving a plan (Mẫu 05).
type PlanApproval struct {
	PlanCycle      int       `json:"plan_cycle"`
	DecisionNumber string    `json:"decision_number"`
	DecisionDate   string    `json:"decision_date"` // YYYY-MM-DD
	By             string    `json:"by"`
	Time           time.Time `json:"time"`
}

// ServiceDetail is what a plan service is and who provides it.
type ServiceDetail struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Owner string `json:"owner"`
	// CommuneAssignee is the commune's person in charge of the service,
	// apart from its provider (Owner).
	CommuneAssignee string   `json:"commune_assignee,omitempty"`
	Progress        []string `json:"progress,omitempty"`
}

// Review is Mẫu 06.
type Review struct {
	HarmSeverity    Level     `json:"harm_severity"`
	AbuserAccess    Level     `json:"abuser_access"`
	SafetyObstacles Level     `json:"safety_obstacles"`
	Notes           string    `json:"notes,omitempty"`
	Outcome         string    `json:"outcome"` // NEW_PLAN_CYCLE or PROPOSE_CLOSURE
	By              string    `json:"by"`
	Time            time.Time `json:"time"`
	// Part (b): the child's self-protection and recovery.
	SelfProtection string `json:"self_protection,omitempty"`
	Recovery       string `json:"recovery,omitempty"`
}

// Note is a free-text note on a case, or the reason given for a step
// (return of a plan, closure, reopening, no police referral).
type Note struct {
	Kind   string    `json:"kind"`
	Text   string    `json:"text"`
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
}

// ChildSummary is what may be shown of a child outside the social case:
// age and sex, no name, date of birth or address.
type ChildSummary struct {
	AgeYears     int32 // on the day of the report
	AgeEstimated bool  // the age was estimated, not computed from a birth date
	Sex          Sex
}

// PoliceReferral is one referral of a case to a police unit: the police
// track, beside the social case.
type PoliceReferral struct {
	PoliceUnit       string // "policeUnits/{id}"
	SuspectedOffence string
	ReferTime        time.Time
	ReferredBy       string // user id
	State            string // REFERRED, ACKNOWLEDGED, FORWARDED, DECIDED
	ReferenceNumber  string // the police's own number
	AcknowledgeTime  time.Time
	ForwardTime      time.Time // forwarded to the investigation agency
	// ForwardRecordTime is when the forwarding was recorded, apart from
	// ForwardTime, which the liaison may give; ForwardLateRecording flags
	// a gap beyond the policy's late_recording limit, as for emergency
	// measures (also in Case.LateRecordings).
	ForwardRecordTime    time.Time
	ForwardLateRecording bool
	Investigators        string // which investigation agency
	Outcome              string // PROSECUTED, NOT_PROSECUTED, SUSPENDED
	OutcomeTime          time.Time
	// Decisions extended, suspended or resumed D16, oldest first.
	Decisions []PoliceDecision
}

// PoliceDecision is a decision under Criminal Procedure Code Art.
// 147(3)-(4) that moved or stopped D16. Number and Reason are free text,
// sealed with the case's.
type PoliceDecision struct {
	Kind       string // EXTENSION, SUSPENSION, RESUMPTION
	Number     string
	Reason     string
	UntilDate  string // for an extension: its last day, YYYY-MM-DD
	Time       time.Time
	RecordedBy string // user id
}

// Police decision kinds.
const (
	PoliceExtension  = "EXTENSION"
	PoliceSuspension = "SUSPENSION"
	PoliceResumption = "RESUMPTION"
)

// Police referral states.
const (
	PoliceReferred     = "REFERRED"
	PoliceAcknowledged = "ACKNOWLEDGED"
	PoliceForwarded    = "FORWARDED"
	PoliceDecided      = "DECIDED"
)

// ReferredTo reports whether the case was referred to the police unit.
func (c Case) ReferredTo(policeUnit string) bool {
	for _, r := range c.PoliceReferrals {
		if r.PoliceUnit == policeUnit {
			return true
		}
	}
	return false
}

// WriteTime is when a write of the case that read the clock at now is
// dated: now, or the case's last write if that is later. A writer reads
// the clock before its transaction, and one that needs no current etag
// (the scheduler, a report joining the case, a police step with its
// view's etag) goes through whatever committed on the case in between;
// it happened after that write, so its events must not be dated before
// it, and the case's update time must not go back.
//
// Only a last write at most MaxWriteLead ahead of now lifts it: that is
// such a write, or one by another instance's clock running a little
// ahead. A case dated further ahead was written by a clock that ran fast
// (stepped back since, a backup restored from a machine with a fast
// clock, an instance with a skewed clock); dating every later write by
// it would date steps, breaches and the audit in its future, miss a
// limit met in time and breach a deadline at its first warning. Such a
// write is dated now, by the clock set right.
func (c Case) WriteTime(now time.Time) time.Time {
	if c.UpdateTime.After(now) && !c.UpdateTime.After(now.Add(MaxWriteLead)) {
		return c.UpdateTime
	}
	return now
}

// MaxWriteLead is how far ahead of a writer's clock a case's last write
// may be and still date the write (Case.WriteTime): more than a write
// waits for its transaction and than clocks kept by NTP drift apart, far
// less than any limit's warning.
const MaxWriteLead = time.Minute

// Etag is the case's entity tag, derived from its revision and its
// number: a number for the case itself, and "p" and the number of the
// view's changes for a police unit's view of it (access.PoliceView), so
// the two can never be taken for each other; then "." and a tag of the
// case's number (etagTag), so that one case's etag is never taken for
// another's at the same revision (a client that mixed up two cases' forms,
// or a merged case's old number, which answers with the survivor). An
// etag of the former form, the number alone, matches no case's now, and
// is refused as a stale one.
func (c Case) Etag() string {
	return c.EtagView + strconv.FormatUint(c.Revision, 10) + "." + etagTag(c.Number)
}

// etagTag is a short tag of a case number for its etags: 6 characters
// (30 bits) of its SHA-256, lower-case base32. It tells cases apart, so
// that a mix-up is refused; it keeps no secret (the number is no secret
// to whoever may send a step on the case), and so needs no key.
func etagTag(number string) string {
	sum := sha256.Sum256([]byte("childcase etag\x00" + number))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:5]))[:6]
}

// PoliceEtagView marks the etag of a police unit's view (Case.EtagView).
const PoliceEtagView = "p"

// StoredReport is a report as storage keeps it: the fields that scoping,
// indexes and the police view need in the clear, the rest sealed. Private
// holds the children's private information (Decree 56 Art. 33), the
// caregivers and the free text under the data key of the report's case (or
// of the report itself while it belongs to no case); Reporter holds the
// reporter's identity under a key of its own. Package vault converts
// between Report and StoredReport.
type StoredReport struct {
	ID                   string
	Channel              Channel
	Means                Means
	ReceiveTime          time.Time
	IncidentUnit         units.Key
	CallType             CallType
	Children             []ChildSummary
	SuspectedAbuse       []AbuseForm
	SpecialCircumstances []SpecialCircumstance
	ImmediateDanger      bool
	CaseNumber           string
	CreateTime           time.Time
	TakenBy              string
	TakerUnit            string
	Private              Sealed
	Reporter             Sealed
}

// Sealed is data encrypted under a data key, named by KeyID.
type Sealed struct {
	KeyID string
	Data  []byte
}

// IdempotencyRecord remembers the result of a request that carried a
// request_id, so a retry returns the first result.
type IdempotencyRecord struct {
	Key         string    // method and request_id
	Fingerprint []byte    // hash of the request without its request_id
	Resource    string    // the id of the resource the request produced
	Result      []byte    // the first answer, when a retry must get it back as it was
	CreateTime  time.Time // for expiry
}
