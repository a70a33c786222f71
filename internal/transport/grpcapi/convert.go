package grpcapi

import (
	"encoding/hex"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// givenTime reads a timestamp a request gave where the domain takes the
// zero time for one left out (a list's due_before, an audit list's
// start_time and end_time, a police forwarding's forward_time, a step's
// applied_time, start_time or meeting_time). The first instant a
// timestamp names, 0001-01-01T00:00:00Z, is Go's zero time: a nanosecond
// later is checked and bounds alike, nothing being dated at that instant,
// where the zero time meant no bound, now, or a time left out.
func givenTime(t *timestamppb.Timestamp) time.Time {
	if at := t.AsTime(); !at.IsZero() {
		return at
	}
	return time.Time{}.Add(time.Nanosecond)
}

// givenTTL reads a token's lifetime: left out, 0, which the domain reads
// as the default; given as 0s, a lifetime shorter than any allowed, so
// that it is refused as such rather than taken for one left out.
func givenTTL(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	if ttl := d.AsDuration(); ttl != 0 {
		return ttl
	}
	return -time.Nanosecond
}

// reportFromProto converts a validated request report. The protovalidate
// rules have checked shapes and limits; dates that the schema can only match
// as patterns are parsed here.
func reportFromProto(p *pb.Report) (model.Report, error) {
	r := model.Report{
		Channel:              channels.toModel(p.GetChannel()),
		Means:                means.toModel(p.GetMeans()),
		ReceiveTime:          p.GetReceiveTime().AsTime(),
		CallType:             callTypes.toModel(p.GetCallType()),
		FamilySituation:      p.GetFamilySituation(),
		ActionsTaken:         p.GetActionsTaken(),
		Narrative:            p.GetNarrative(),
		ImmediateDanger:      p.GetImmediateDanger(),
		SuspectedAbuse:       abuseForms.toModels(p.GetSuspectedAbuse()),
		SpecialCircumstances: circumstances.toModels(p.GetSpecialCircumstances()),
	}
	for i, c := range p.GetChildren() {
		child := model.Child{
			FullName:     c.GetFullName(),
			Sex:          sexes.toModel(c.GetSex()),
			Location:     c.GetLocation(),
			Condition:    c.GetCondition(),
			ExpectedHarm: c.GetExpectedHarm(),
		}
		if name := c.GetResidenceUnit(); name != "" {
			k, err := parseUnitName(name)
			if err != nil {
				// Not repeated in the message: where a child lives is private.
				return model.Report{}, model.InvalidField(indexed("report.children", i)+".residence_unit", "unit.name", "residence_unit must be a unit name like units/{code}@{valid_from}")
			}
			child.ResidenceUnit = k
		}
		switch age := c.GetAge().(type) {
		case *pb.Child_BirthDate:
			d, err := parseBirthDate(indexed("report.children", i)+".birth_date", age.BirthDate)
			if err != nil {
				return model.Report{}, err
			}
			child.BirthDate = d
		case *pb.Child_EstimatedAgeYears:
			years := age.EstimatedAgeYears
			child.EstimatedAge = &years
		}
		r.Children = append(r.Children, child)
	}
	for _, g := range p.GetCaregivers() {
		r.Caregivers = append(r.Caregivers, model.Caregiver{
			FullName:        g.GetFullName(),
			Relation:        g.GetRelation(),
			Phone:           g.GetPhone(),
			Address:         g.GetAddress(),
			SuspectedAbuser: g.GetSuspectedAbuser(),
		})
	}
	switch id := p.GetReporter().GetIdentity().(type) {
	case *pb.Reporter_Identified:
		r.Reporter = model.Reporter{
			FullName: id.Identified.GetFullName(), Phone: id.Identified.GetPhone(),
			RelationToChild: id.Identified.GetRelationToChild(), Address: id.Identified.GetAddress(),
		}
	case *pb.Reporter_Anonymous:
		r.Reporter = model.Reporter{Anonymous: true}
	default:
		return model.Report{}, model.InvalidField("report.reporter", "reporter.identity", "reporter: give anonymous or identified; withheld is output only")
	}
	return r, nil
}

func reportToProto(r model.Report) *pb.Report {
	p := &pb.Report{
		Name:                 reportName(r.ID),
		Channel:              channels.toAPI(r.Channel),
		Means:                means.toAPI(r.Means),
		ReceiveTime:          timestamp(r.ReceiveTime),
		IncidentCommuneCode:  r.IncidentUnit.Code,
		IncidentUnit:         unitName(r.IncidentUnit),
		CallType:             callTypes.toAPI(r.CallType),
		FamilySituation:      r.FamilySituation,
		ActionsTaken:         r.ActionsTaken,
		Narrative:            r.Narrative,
		SuspectedAbuse:       abuseForms.toAPIs(r.SuspectedAbuse),
		SpecialCircumstances: circumstances.toAPIs(r.SpecialCircumstances),
		ImmediateDanger:      r.ImmediateDanger,
		CreateTime:           timestamp(r.CreateTime),
	}
	if r.CaseNumber != "" {
		p.Case = caseName(r.CaseNumber)
	}
	for _, c := range r.Children {
		child := &pb.Child{
			FullName:      c.FullName,
			Sex:           sexes.toAPI(c.Sex),
			Location:      c.Location,
			Condition:     c.Condition,
			ExpectedHarm:  c.ExpectedHarm,
			ResidenceUnit: unitName(c.ResidenceUnit),
		}
		if c.EstimatedAge != nil {
			child.Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: *c.EstimatedAge}
		} else {
			child.Age = &pb.Child_BirthDate{BirthDate: c.BirthDate.String()}
		}
		p.Children = append(p.Children, child)
	}
	for _, g := range r.Caregivers {
		p.Caregivers = append(p.Caregivers, &pb.Caregiver{
			FullName: g.FullName, Relation: g.Relation, Phone: g.Phone, Address: g.Address, SuspectedAbuser: g.SuspectedAbuser,
		})
	}
	p.Reporter = reporterToProto(r.Reporter)
	return p
}

// reporterToProto shows a reporter, or only that the identity is withheld.
func reporterToProto(r model.Reporter) *pb.Reporter {
	switch {
	case r.Withheld:
		return &pb.Reporter{Identity: &pb.Reporter_Withheld{Withheld: true}}
	case r.Anonymous:
		return &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	}
	return &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
		Consent: true, FullName: r.FullName, Phone: r.Phone, RelationToChild: r.RelationToChild, Address: r.Address,
	}}}
}

func caseToProto(c model.Case) *pb.Case {
	p := &pb.Case{
		Name:            caseName(c.Number),
		CaseNumber:      c.Number,
		Status:          caseStatuses.toAPI(c.Status),
		ResponsibleUnit: unitName(c.ResponsibleUnit),
		IncidentUnit:    unitName(c.IncidentUnit),
		ReceiveTime:     timestamp(c.ReceiveTime),
		ImmediateDanger: c.ImmediateDanger,
		CreateTime:      timestamp(c.CreateTime),
		UpdateTime:      timestamp(c.UpdateTime),
		Etag:            c.Etag(),
	}
	for _, id := range c.ReportIDs {
		p.Reports = append(p.Reports, reportName(id))
	}
	for _, ch := range c.Children {
		p.Children = append(p.Children, &pb.ChildSummary{AgeYears: ch.AgeYears, AgeEstimated: ch.AgeEstimated, Sex: sexes.toAPI(ch.Sex)})
	}
	p.SuspectedAbuse = abuseForms.toAPIs(c.SuspectedAbuse)
	p.SpecialCircumstances = circumstances.toAPIs(c.SpecialCircumstances)
	if c.MergedInto != "" {
		p.MergedInto = caseName(c.MergedInto)
	}
	for _, n := range c.MergedFrom {
		p.MergedFrom = append(p.MergedFrom, caseName(n))
	}
	for _, r := range c.PoliceReferrals {
		p.PoliceReferrals = append(p.PoliceReferrals, &pb.PoliceReferral{
			PoliceUnit: r.PoliceUnit, SuspectedOffence: r.SuspectedOffence,
			ReferTime: timestamp(r.ReferTime), ReferredBy: model.UserName(r.ReferredBy),
			State: r.State, ReferenceNumber: r.ReferenceNumber, AcknowledgeTime: timestamp(r.AcknowledgeTime),
			ForwardTime: timestamp(r.ForwardTime), InvestigationAgency: r.Investigators,
			ForwardRecordTime: timestamp(r.ForwardRecordTime), ForwardLateRecording: r.ForwardLateRecording,
			Outcome: r.Outcome, OutcomeTime: timestamp(r.OutcomeTime),
		})
		last := p.PoliceReferrals[len(p.PoliceReferrals)-1]
		for _, d := range r.Decisions {
			last.Decisions = append(last.Decisions, &pb.PoliceDeadlineDecision{
				Kind: d.Kind, DecisionNumber: d.Number, Reason: d.Reason, UntilDate: d.UntilDate,
				RecordTime: timestamp(d.Time), RecordedBy: model.UserName(d.RecordedBy),
			})
		}
	}
	p.Emergency = c.Emergency
	p.EmergencyReason = emergencyReasons.toAPI(c.EmergencyReason)
	p.EmergencyMeasuresTime = timestamp(c.EmergencyMeasured)
	p.SeparationStartTime = timestamp(c.SeparationStart)
	p.SeparationEndTime = timestamp(c.SeparationEnd)
	p.PlanState, p.PlanCycle = c.PlanState, int32(c.PlanCycle)
	p.ClosureProposed, p.CloseTime = c.ClosureProposed, timestamp(c.CloseTime)
	for _, sv := range c.Services {
		p.Services = append(p.Services, planServiceToProto(sv))
	}
	for _, t := range c.Transfers {
		p.Transfers = append(p.Transfers, &pb.Transfer{
			Id: int32(t.ID), FromUnit: t.From, ToUnit: t.To, Reason: t.Reason, ProposedBy: model.UserName(t.ProposedBy),
			ProposeTime: timestamp(t.ProposeTime), State: t.State, DecidedBy: userNameOrEmpty(t.DecidedBy),
			DecideTime: timestamp(t.DecideTime), DeclineReason: t.DeclineNote,
		})
	}
	return p
}

func userNameOrEmpty(id string) string {
	if id == "" {
		return ""
	}
	return model.UserName(id)
}

// deadlinesToProto converts the deadlines of c as they stand at now:
// whether each is paused, and whether :pauseDeadline would pause it now,
// are the domain's answers (model.Deadline.IsPaused, process.Pausable),
// not the stored flags: a deadline closed while paused is not paused, and
// a D16 or an overdue clock is not pausable.
func deadlinesToProto(c model.Case, now time.Time) []*pb.Deadline {
	var out []*pb.Deadline
	for _, d := range c.Deadlines {
		out = append(out, deadlineToProto(d, process.Pausable(c, d, now)))
	}
	return out
}

func deadlineToProto(d model.Deadline, pausable bool) *pb.Deadline {
	out := &pb.Deadline{
		Id: int32(d.ID), Kind: string(d.Kind), Ref: d.Ref, Clock: string(d.Clock), Unit: d.Unit,
		StartTime: timestamp(d.Start), DueTime: timestamp(d.Due), CalendarVersion: d.CalendarVersion,
		State: string(d.State), Overdue: d.Open() && d.Breached, Paused: d.IsPaused(),
		DoneTime: timestamp(d.DoneTime), MinutesLate: d.MinutesLate, Pausable: pausable, Breached: d.Breached,
	}
	if d.IsPaused() {
		// The reason of a pause that ended stays in the case's notes.
		out.PauseReason = d.PauseReason
	}
	for _, e := range d.Escalations {
		out.Escalations = append(out.Escalations, &pb.Escalation{Time: timestamp(e.Time), ToUnit: e.To, MinutesLate: e.MinutesLate})
	}
	// The deadline's own warning points, as the scheduler fires them,
	// not the running policy's: the console colours by them.
	for i := range d.WarnAt {
		out.WarningTimes = append(out.WarningTimes, timestamp(d.WarningTime(i)))
	}
	return out
}

// dossierToProto shows the confidential content of a case's steps.
func dossierToProto(d model.Dossier) *pb.CaseDossier {
	out := &pb.CaseDossier{}
	if a := d.InitialAssessment; a != nil {
		out.InitialAssessment = &pb.InitialAssessment{
			Emergency: a.Emergency, EmergencyReason: emergencyReasons.toAPI(a.EmergencyReason),
			HarmSeverity: riskLevels.toAPI(a.HarmSeverity), AbuserAccess: riskLevels.toAPI(a.AbuserAccess),
			SafetyObstacles: riskLevels.toAPI(a.SafetyObstacles), Notes: a.Notes, By: model.UserName(a.By), Time: timestamp(a.Time),
		}
	}
	for _, m := range d.EmergencyMeasures {
		out.EmergencyMeasures = append(out.EmergencyMeasures, &pb.EmergencyMeasuresRecord{
			Measures: m.Measures, AppliedBy: m.AppliedBy, AppliedTime: timestamp(m.AppliedTime), RecordedBy: model.UserName(m.RecordedBy),
			RecordTime: timestamp(m.RecordTime), LateRecording: m.LateRecording,
		})
	}
	if sep := d.Separation; sep != nil {
		out.Separation = &pb.SeparationRecord{
			Place: sep.Place, Outcome: sep.Outcome, Notes: sep.Notes, Carer: sep.Carer, Ground: sep.Ground,
			DecisionNumber: sep.DecisionNumber, RecordTime: timestamp(sep.RecordTime), LateRecording: sep.LateRecording,
		}
		for _, x := range sep.Extensions {
			out.Separation.Extensions = append(out.Separation.Extensions, &pb.SeparationExtension{
				Days: int32(x.Days), Reason: x.Reason, DecisionNumber: x.DecisionNumber, By: model.UserName(x.By), Time: timestamp(x.Time),
			})
		}
		if c := sep.Court; c != nil {
			out.Separation.CourtPetition = &pb.CourtPetition{
				Court: c.Court, Notes: c.Notes, PetitionTime: timestamp(c.PetitionTime), PetitionedBy: model.UserName(c.PetitionedBy),
				DecisionNumber: c.DecisionNumber, DecisionDate: c.DecisionDate, Outcome: c.Outcome,
			}
		}
	}
	for _, f := range d.CareFollowUps {
		out.CareFollowUps = append(out.CareFollowUps, &pb.CareFollowUpRecord{Ref: f.Ref, Notes: f.Notes, By: model.UserName(f.By), Time: timestamp(f.Time)})
	}
	if a := d.SpecificAssessment; a != nil {
		out.SpecificAssessment = &pb.SpecificAssessment{
			Needs: a.Needs, ChildViews: a.ChildViews, ParentViews: a.ParentViews, MeetingRecord: a.MeetingRecord,
			MeetingTime: timestamp(a.MeetingTime), By: model.UserName(a.By),
		}
		if a.MeetingChair != (model.Attendee{}) {
			out.SpecificAssessment.MeetingChair = attendeeToProto(a.MeetingChair)
		}
		for _, p := range a.MeetingParticipants {
			out.SpecificAssessment.MeetingParticipants = append(out.SpecificAssessment.MeetingParticipants, attendeeToProto(p))
		}
	}
	for _, a := range d.PlanApprovals {
		out.PlanApprovals = append(out.PlanApprovals, &pb.PlanApprovalRecord{
			PlanCycle: int32(a.PlanCycle), DecisionNumber: a.DecisionNumber, DecisionDate: a.DecisionDate,
			By: model.UserName(a.By), Time: timestamp(a.Time),
		})
	}
	for _, r := range d.Reviews {
		out.Reviews = append(out.Reviews, &pb.ReviewRecord{
			HarmSeverity: riskLevels.toAPI(r.HarmSeverity), AbuserAccess: riskLevels.toAPI(r.AbuserAccess),
			SafetyObstacles: riskLevels.toAPI(r.SafetyObstacles), Notes: r.Notes, Outcome: r.Outcome,
			By: model.UserName(r.By), Time: timestamp(r.Time), SelfProtection: r.SelfProtection, Recovery: r.Recovery,
		})
	}
	for _, n := range d.Notes {
		out.Notes = append(out.Notes, &pb.CaseNote{Kind: n.Kind, Text: n.Text, Author: model.UserName(n.Author), Time: timestamp(n.Time)})
	}
	for _, m := range d.Merged {
		merged := &pb.MergedCaseDossier{Case: "cases/" + m.Case, Dossier: dossierToProto(m.Dossier)}
		for _, sv := range m.Services {
			merged.Services = append(merged.Services, planServiceToProto(sv))
		}
		out.Merged = append(out.Merged, merged)
		mergeDetails(merged.Services, m.Dossier)
	}
	return out
}

func attendeeToProto(a model.Attendee) *pb.MeetingAttendee {
	return &pb.MeetingAttendee{FullName: a.FullName, Role: a.Role}
}

// planServiceToProto shows the public part of a plan's service.
func planServiceToProto(sv model.PlanService) *pb.PlanService {
	return &pb.PlanService{
		Id: int32(sv.ID), StartDate: sv.StartDate, ExpectedEndDate: sv.ExpectedEndDate,
		CostEstimateVnd: sv.CostEstimateVND, State: sv.State,
	}
}

// mergeDetails adds the sealed name, owner, commune assignee and progress
// of each of d's services to a public service list (a case's, or that of
// a case merged into it).
func mergeDetails(services []*pb.PlanService, d model.Dossier) {
	for _, sv := range services {
		for _, det := range d.Services {
			if int32(det.ID) == sv.Id {
				sv.Name, sv.Owner, sv.CommuneAssignee, sv.Progress = det.Name, det.Owner, det.CommuneAssignee, det.Progress
			}
		}
	}
}

func caseEventToProto(e model.CaseEvent) *pb.CaseEvent {
	actor := e.Actor
	if actor != access.SystemUserID && actor != "" {
		actor = model.UserName(actor)
	}
	return &pb.CaseEvent{Seq: e.Seq, Time: timestamp(e.Time), Actor: actor, Kind: e.Kind, Detail: e.Detail, DeadlineId: int32(e.DeadlineID)}
}

func notificationToProto(n model.Notification) *pb.Notification {
	return &pb.Notification{Seq: n.Seq, Time: timestamp(n.Time), Kind: n.Kind, Case: n.Case, Units: n.Units, DeadlineId: int32(n.DeadlineID), Detail: n.Detail}
}

func userToProto(u model.User) *pb.User {
	return &pb.User{
		Name: model.UserName(u.ID), DisplayName: u.DisplayName, Role: roles.toAPI(u.Role), Unit: u.Unit,
		Phone: u.Phone, CreateTime: timestamp(u.CreateTime), DisableTime: timestamp(u.DisableTime),
	}
}

// tokenToProto shows a token; secret is "" except in the response that
// created it.
func tokenToProto(t model.Token, secret string) *pb.Token {
	out := &pb.Token{
		Name: model.UserName(t.UserID) + "/tokens/" + t.ID, Secret: secret,
		CreateTime: timestamp(t.CreateTime), ExpireTime: timestamp(t.ExpireTime), RevokeTime: timestamp(t.RevokeTime),
	}
	if t.CreatedBy != "" {
		out.Creator = model.UserName(t.CreatedBy)
	}
	return out
}

func policeUnitToProto(p model.PoliceUnit) *pb.PoliceUnit {
	out := &pb.PoliceUnit{Name: model.PoliceUnitName(p.ID), DisplayName: p.DisplayName, CreateTime: timestamp(p.CreateTime)}
	for _, k := range p.Covers {
		out.Covers = append(out.Covers, unitName(k))
	}
	return out
}

func auditEventToProto(e audit.Event) *pb.AuditEvent {
	actor := ""
	if e.Actor != "" {
		actor = model.UserName(e.Actor)
	}
	pe := &pb.AuditEvent{
		Seq: e.Seq, Time: timestamp(e.Time), Actor: actor, Role: e.Role, Unit: e.Unit,
		Action: e.Action, Resource: e.Resource, Case: e.Case, RequestId: e.RequestID,
		Reason: e.Reason, Outcome: e.Outcome,
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
	if e.Token != "" {
		pe.Token = actor + "/tokens/" + e.Token
	}
	if e.TokenCreatedBy != "" {
		pe.TokenCreatedBy = model.UserName(e.TokenCreatedBy)
	}
	return pe
}

func unitToProto(u units.Unit, predecessors []units.Link) *pb.Unit {
	p := &pb.Unit{
		Name:        unitName(u.Key),
		Code:        u.Code,
		DisplayName: u.Name,
		FullName:    u.FullName(),
		Type:        u.Type,
		Level:       unitLevels.toAPI(u.Level),
		ValidFrom:   u.ValidFrom.String(),
	}
	if !u.Parent.IsZero() {
		p.Parent = unitName(u.Parent)
	}
	if !u.ValidTo.IsZero() {
		p.ValidTo = u.ValidTo.String()
	}
	for _, l := range predecessors {
		p.Predecessors = append(p.Predecessors, &pb.UnitPredecessor{Unit: unitName(l.From), Full: l.Full})
	}
	return p
}

// reportName names a report; "" for none (a police receipt names none).
func reportName(id string) string {
	if id == "" {
		return ""
	}
	return "reports/" + id
}
func caseName(number string) string { return "cases/" + number }

func unitName(k units.Key) string {
	if k.IsZero() {
		return ""
	}
	return "units/" + k.String()
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// parseBirthDate reads a child's birth date, the request's field. A
// refusal does not repeat the value, as no message repeats a child's
// private data: messages are logged, and a date the rules refuse, typed
// day first (2017-19-05), is still the child's.
func parseBirthDate(field, s string) (vntime.Date, error) {
	d, err := vntime.ParseDate(s)
	if err != nil {
		return vntime.Date{}, model.InvalidField(field, "date.valid", "not a date of the calendar, YYYY-MM-DD")
	}
	return d, nil
}
