package model

import "time"

// Case statuses of the Decree 56 process, numbered as the API's CaseStatus.
const (
	StatusInitialAssessment  CaseStatus = 2
	StatusSpecificAssessment CaseStatus = 3
	StatusPlanning           CaseStatus = 4
	StatusImplementation     CaseStatus = 5
	StatusReview             CaseStatus = 6
)

// Level is a high / medium / low rating (Cao / Trung bình / Thấp) of
// Mẫu 02 and Mẫu 06.
type Level int32

// Levels, numbered as the API's RiskLevel.
const (
	LevelLow    Level = 1
	LevelMedium Level = 2
	LevelHigh   Level = 3
)

// EmergencyReason says why a case is an emergency (Decree 56 Art. 26(3)).
type EmergencyReason int32

// Emergency reasons, numbered as the API's EmergencyReason.
const (
	EmergencySeriousHarm       EmergencyReason = 1 // serious harm to life, health or dignity
	EmergencyCaregiverIsAbuser EmergencyReason = 2 // the parent or caregiver is the abuser
)

// ClosureGround is the lawful ground on which a case closes.
type ClosureGround int32

// Closure grounds, numbered as the API's ClosureGround.
const (
	ClosureRiskLow   ClosureGround = 1 // the last review rates every risk LOW (Decree 56 Art. 30(1)(b))
	ClosureMovedAway ClosureGround = 2
	// ClosureTurned18: the child turned 18, where criminal-procedure
	// protections of a victim end; not checked against a recorded age.
	ClosureTurned18    ClosureGround = 3
	ClosureDeceased    ClosureGround = 4
	ClosureTransferred ClosureGround = 5 // to an agency outside the service
	// ClosureTurned16: every child of the case is 16 or older, no longer a
	// child (Child Law Art. 1).
	ClosureTurned16 ClosureGround = 6
)

// String names the ground as the API does, for the timeline.
func (g ClosureGround) String() string {
	switch g {
	case ClosureRiskLow:
		return "RISK_LOW"
	case ClosureMovedAway:
		return "MOVED_AWAY"
	case ClosureTurned18:
		return "TURNED_18"
	case ClosureDeceased:
		return "DECEASED"
	case ClosureTransferred:
		return "TRANSFERRED"
	case ClosureTurned16:
		return "TURNED_16"
	}
	return "UNSPECIFIED"
}

// DeadlineKind names a deadline: the statutory ones by their id in the
// domain reference (D3, D4, D6, D7, D8, D13, D16) and the policy ones.
type DeadlineKind string

// Deadline kinds.
const (
	DeadlineAcknowledge         DeadlineKind = "ACKNOWLEDGE"        // policy: the commune acknowledges a forwarded case
	DeadlineEmergencyMeasures   DeadlineKind = "D3_EMERGENCY"       // 12 h from the information received
	DeadlineSeparationReview    DeadlineKind = "D4_SEPARATION"      // 15 days from the separation's start
	DeadlinePlanDraft           DeadlineKind = "D6_PLAN_DRAFT"      // 5 working days from the needs established
	DeadlinePlanApproval        DeadlineKind = "D7_PLAN_APPROVAL"   // 2 working days from the plan submitted
	DeadlineServiceEnd          DeadlineKind = "D8_SERVICE"         // each service's expected end
	DeadlinePoliceForward       DeadlineKind = "D13_POLICE_FORWARD" // 24 h (48 h remote) from the police receiving it
	DeadlineProsecutionDecision DeadlineKind = "D16_PROSECUTION"    // 20 days from the crime report
	DeadlineTransferAccept      DeadlineKind = "TRANSFER_ACCEPT"    // policy: the receiving unit accepts or declines
	DeadlinePoliceAcknowledge   DeadlineKind = "POLICE_ACKNOWLEDGE" // policy: the police unit acknowledges a referral
	DeadlineCareFollowUp        DeadlineKind = "CARE_FOLLOW_UP"     // alternative care: after 1 month, 3 months, then every 6 months
	DeadlinePlanResubmit        DeadlineKind = "PLAN_RESUBMIT"      // policy: a returned plan is submitted again
)

// ClockKind is how a deadline counts time.
type ClockKind string

// Clocks.
const (
	ClockHours        ClockKind = "HOURS"         // wall clock, nights and holidays included
	ClockCalendarDays ClockKind = "CALENDAR_DAYS" // calendar days, ending at 24:00 Vietnam time
	ClockWorkingDays  ClockKind = "WORKING_DAYS"  // public-sector working days, ending at 24:00
)

// DeadlineState is where a deadline stands.
type DeadlineState string

// Deadline states. An open deadline past due is overdue (Breached) and
// stays open until the step is done.
const (
	DeadlineOpen      DeadlineState = "OPEN"
	DeadlineMet       DeadlineState = "MET"       // done by the due time
	DeadlineMissed    DeadlineState = "MISSED"    // done, late
	DeadlineCancelled DeadlineState = "CANCELLED" // no longer applies (e.g. waived in an emergency)
)

// Deadline is one clock running on a case.
type Deadline struct {
	ID     int          // 1-based within the case
	Kind   DeadlineKind //
	Ref    string       // what it is about, for repeated kinds: a service, a transfer, a police unit
	Clock  ClockKind
	Length time.Duration // for ClockHours
	Days   int           // for the day clocks
	// Unit is the unit that must meet it: "units/..." or "policeUnits/...".
	Unit            string
	Start           time.Time
	Due             time.Time
	CalendarVersion string // the working-day calendar that computed Due
	// Pausable is false for a deadline that :pauseDeadline may not stop
	// although its kind may be (the ACKNOWLEDGE of an emergency); the
	// kind's rule is the process's (process.DeadlineKinds).
	Pausable bool
	// PausedAt is when the running pause (or D16's suspension) began:
	// zero unless paused. A deadline closed while paused keeps it, as
	// history; it is not paused for that (IsPaused).
	PausedAt    time.Time
	PauseReason string
	// Paused is the total time spent paused. Due has moved by it, or for
	// a working-day clock by the working days the pauses took.
	Paused time.Duration
	WarnAt []float64 // fractions of the limit that warn
	// WarnTimes are when each of WarnAt falls, for a working-day clock:
	// on its working days (process: warnings of a working-day clock),
	// fixed when it starts or resumes, so the unit is warned when it was
	// told it would be whatever the policy or the holiday data become.
	// Nil for the other clocks, whose warnings fall at WarnAt's fractions
	// of the wall-clock time from Start to Due, and for a working-day
	// deadline started before schema version 13, which keeps those
	// (WarningTime).
	WarnTimes    []time.Time
	WarningsSent int // how many of WarnAt have fired
	State        DeadlineState
	Breached     bool      // the due time passed while open
	DoneTime     time.Time // when met, missed or cancelled
	MinutesLate  int64     // for MISSED: how late it was done
	Escalations  []Escalation
	// NextFire is when the scheduler's timer for this deadline is set, so
	// that a change can remove it; zero when none is set.
	NextFire time.Time
}

// WarningTime is when d's i-th warning falls: its WarnTimes, or else
// WarnAt's fraction of the wall-clock time from Start to Due.
func (d Deadline) WarningTime(i int) time.Time {
	if len(d.WarnTimes) == len(d.WarnAt) {
		return d.WarnTimes[i]
	}
	span := d.Due.Sub(d.Start)
	return d.Start.Add(time.Duration(float64(span) * d.WarnAt[i]))
}

// Open reports whether the deadline still runs.
func (d Deadline) Open() bool { return d.State == DeadlineOpen }

// IsPaused reports whether the deadline's clock is stopped now: it is open
// and paused (or, for D16, suspended). A deadline met, missed or cancelled
// while paused is no longer paused: nothing is left to resume.
func (d Deadline) IsPaused() bool { return d.Open() && !d.PausedAt.IsZero() }

// Escalation is one escalation of an overdue deadline to the next level.
type Escalation struct {
	Time        time.Time
	To          string // the unit escalated to
	MinutesLate int64
}

// Transfer is a proposed hand-over of responsibility for a case.
type Transfer struct {
	ID          int
	From, To    string // unit names
	Reason      string
	ProposedBy  string
	ProposeTime time.Time
	State       string // PROPOSED, ACCEPTED, DECLINED
	DecidedBy   string
	DecideTime  time.Time
	DeclineNote string
}

// Transfer states.
const (
	TransferProposed = "PROPOSED"
	TransferAccepted = "ACCEPTED"
	TransferDeclined = "DECLINED"
)

// PlanService is one service of a plan (Mẫu 04): public dates for the
// deadlines; what it is and who provides it are sealed in the dossier.
type PlanService struct {
	ID              int
	StartDate       string // YYYY-MM-DD
	ExpectedEndDate string // YYYY-MM-DD
	CostEstimateVND int64
	State           string // PLANNED, IN_PROGRESS, COMPLETED, CANCELLED
}

// CaseEvent is one line of a case's timeline.
type CaseEvent struct {
	Seq    uint64
	Time   time.Time
	Actor  string // user id, or "system" for the scheduler
	Kind   string // e.g. "ACKNOWLEDGED", "DEADLINE_WARNING", "ESCALATED", "TRANSFER_PROPOSED"
	Detail string // non-confidential detail: never names, narratives or notes
	// Deadline, when the event is about one.
	DeadlineID int
}

// Timer is a durable wake-up of the deadline scheduler: at At, look at
// deadline DeadlineID of case CaseID.
type Timer struct {
	At         time.Time
	CaseID     uint64
	DeadlineID int
}

// Notification is an entry of the transactional outbox: what watchers and
// webhooks are told.
type Notification struct {
	Seq        uint64
	Time       time.Time
	Kind       string   // WARNING, BREACH, ESCALATION, TRANSFER_PROPOSED, TRANSFER_ACCEPTED, TRANSFER_DECLINED, POLICE_REFERRAL, ...
	Case       string   // "cases/{number}"
	Units      []string // the units concerned: who may be told
	DeadlineID int
	Detail     string // non-confidential
}

// EmergencyReason returns why the report makes its case an emergency from
// intake (Decree 56 Arts. 26(3), 31(1)), or 0 if it does not: a parent or
// caregiver named as the suspected abuser, else a child in immediate danger
// (serious harm to life or health).
func (r Report) EmergencyReason() EmergencyReason {
	for _, cg := range r.Caregivers {
		if cg.SuspectedAbuser {
			return EmergencyCaregiverIsAbuser
		}
	}
	if r.ImmediateDanger {
		return EmergencySeriousHarm
	}
	return 0
}
