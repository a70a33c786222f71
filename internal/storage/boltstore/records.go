package boltstore

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore/recordpb"
)

// The conversions between the domain structs and the stored records
// (proto/childcase/storage/v1). Every domain field has its line here, so a
// renamed Go field changes nothing on disk; TestRecordRoundTrip fills every
// field by reflection, so a new one without a mapping fails it.

// Times are stored as Unix nanoseconds in UTC, 0 for the zero time (so the
// instant 1970-01-01T00:00:00Z itself reads back as the zero time, which no
// record holds). Nanoseconds reach the year 2262.
func timeToRec(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeFromRec(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func unitToRec(k units.Key) *recordpb.UnitKey {
	if k.IsZero() {
		return nil
	}
	return &recordpb.UnitKey{Code: k.Code, ValidFrom: &recordpb.Date{
		Year: int32(k.ValidFrom.Year), Month: int32(k.ValidFrom.Month), Day: int32(k.ValidFrom.Day),
	}}
}

func unitFromRec(r *recordpb.UnitKey) units.Key {
	if r == nil {
		return units.Key{}
	}
	d := r.GetValidFrom()
	return units.Key{Code: r.GetCode(), ValidFrom: vntime.Date{
		Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay()),
	}}
}

// mapSlice converts each element; it keeps nil as nil and an empty slice
// as nil too, which is how the domain reads both.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if len(in) == 0 {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// orNil is in, or nil when in is empty, which is how the domain reads
// both. It does not copy: a record message is made for one marshal
// (encode) or by one unmarshal, which copies out of the stored bytes, and
// is dropped once converted, so nothing that changes the slice shares it.
// Copying byte by byte was a tenth of what a check allocated (the sealed
// dossiers and texts of every case).
func orNil[S ~[]E, E any](in S) S {
	if len(in) == 0 {
		return nil
	}
	return in
}

func int32s[T ~int32](in []T) []int32                 { return mapSlice(in, func(v T) int32 { return int32(v) }) }
func enums[T ~int32](in []int32) []T                  { return mapSlice(in, func(v int32) T { return T(v) }) }
func strs(in []string) []string                       { return orNil(in) }
func byteSlice(in []byte) []byte                      { return orNil(in) }
func floats(in []float64) []float64                   { return orNil(in) }
func unitsToRec(in []units.Key) []*recordpb.UnitKey   { return mapSlice(in, unitToRec) }
func unitsFromRec(in []*recordpb.UnitKey) []units.Key { return mapSlice(in, unitFromRec) }

func sealedToRec(s model.Sealed) *recordpb.Sealed {
	if s.KeyID == "" && len(s.Data) == 0 {
		return nil
	}
	return &recordpb.Sealed{KeyId: s.KeyID, Data: s.Data}
}

func sealedFromRec(r *recordpb.Sealed) model.Sealed {
	return model.Sealed{KeyID: r.GetKeyId(), Data: byteSlice(r.GetData())}
}

func childToRec(c model.ChildSummary) *recordpb.ChildSummary {
	return &recordpb.ChildSummary{AgeYears: c.AgeYears, AgeEstimated: c.AgeEstimated, Sex: int32(c.Sex)}
}

func childFromRec(r *recordpb.ChildSummary) model.ChildSummary {
	return model.ChildSummary{AgeYears: r.GetAgeYears(), AgeEstimated: r.GetAgeEstimated(), Sex: model.Sex(r.GetSex())}
}

func reportToRec(r model.StoredReport) *recordpb.Report {
	return &recordpb.Report{
		Id: r.ID, Channel: int32(r.Channel), Means: int32(r.Means), ReceiveTime: timeToRec(r.ReceiveTime),
		IncidentUnit: unitToRec(r.IncidentUnit), CallType: int32(r.CallType),
		Children:       mapSlice(r.Children, childToRec),
		SuspectedAbuse: int32s(r.SuspectedAbuse), SpecialCircumstances: int32s(r.SpecialCircumstances),
		ImmediateDanger: r.ImmediateDanger, CaseNumber: r.CaseNumber, CreateTime: timeToRec(r.CreateTime),
		TakenBy: r.TakenBy, TakerUnit: r.TakerUnit,
		Private: sealedToRec(r.Private), Reporter: sealedToRec(r.Reporter),
	}
}

func reportFromRec(r *recordpb.Report) model.StoredReport {
	return model.StoredReport{
		ID: r.GetId(), Channel: model.Channel(r.GetChannel()), Means: model.Means(r.GetMeans()), ReceiveTime: timeFromRec(r.GetReceiveTime()),
		IncidentUnit: unitFromRec(r.GetIncidentUnit()), CallType: model.CallType(r.GetCallType()),
		Children:             mapSlice(r.GetChildren(), childFromRec),
		SuspectedAbuse:       enums[model.AbuseForm](r.GetSuspectedAbuse()),
		SpecialCircumstances: enums[model.SpecialCircumstance](r.GetSpecialCircumstances()),
		ImmediateDanger:      r.GetImmediateDanger(), CaseNumber: r.GetCaseNumber(),
		CreateTime: timeFromRec(r.GetCreateTime()), TakenBy: r.GetTakenBy(), TakerUnit: r.GetTakerUnit(),
		Private: sealedFromRec(r.GetPrivate()), Reporter: sealedFromRec(r.GetReporter()),
	}
}

func referralToRec(p model.PoliceReferral) *recordpb.PoliceReferral {
	return &recordpb.PoliceReferral{
		PoliceUnit: p.PoliceUnit, SuspectedOffence: p.SuspectedOffence, ReferTime: timeToRec(p.ReferTime),
		ReferredBy: p.ReferredBy, State: p.State, ReferenceNumber: p.ReferenceNumber,
		AcknowledgeTime: timeToRec(p.AcknowledgeTime), ForwardTime: timeToRec(p.ForwardTime),
		ForwardRecordTime: timeToRec(p.ForwardRecordTime), ForwardLateRecording: p.ForwardLateRecording,
		Investigators: p.Investigators, Outcome: p.Outcome, OutcomeTime: timeToRec(p.OutcomeTime),
		Decisions: mapSlice(p.Decisions, func(d model.PoliceDecision) *recordpb.PoliceDecision {
			return &recordpb.PoliceDecision{Kind: d.Kind, DecisionNumber: d.Number, Reason: d.Reason, UntilDate: d.UntilDate,
				RecordTime: timeToRec(d.Time), RecordedBy: d.RecordedBy}
		}),
	}
}

func referralFromRec(r *recordpb.PoliceReferral) model.PoliceReferral {
	return model.PoliceReferral{
		PoliceUnit: r.GetPoliceUnit(), SuspectedOffence: r.GetSuspectedOffence(), ReferTime: timeFromRec(r.GetReferTime()),
		ReferredBy: r.GetReferredBy(), State: r.GetState(), ReferenceNumber: r.GetReferenceNumber(),
		AcknowledgeTime: timeFromRec(r.GetAcknowledgeTime()), ForwardTime: timeFromRec(r.GetForwardTime()),
		ForwardRecordTime: timeFromRec(r.GetForwardRecordTime()), ForwardLateRecording: r.GetForwardLateRecording(),
		Investigators: r.GetInvestigators(), Outcome: r.GetOutcome(), OutcomeTime: timeFromRec(r.GetOutcomeTime()),
		Decisions: mapSlice(r.GetDecisions(), func(d *recordpb.PoliceDecision) model.PoliceDecision {
			return model.PoliceDecision{Kind: d.GetKind(), Number: d.GetDecisionNumber(), Reason: d.GetReason(), UntilDate: d.GetUntilDate(),
				Time: timeFromRec(d.GetRecordTime()), RecordedBy: d.GetRecordedBy()}
		}),
	}
}

func serviceToRec(s model.PlanService) *recordpb.PlanService {
	return &recordpb.PlanService{
		Id: int64(s.ID), StartDate: s.StartDate, ExpectedEndDate: s.ExpectedEndDate,
		CostEstimateVnd: s.CostEstimateVND, State: s.State,
	}
}

func serviceFromRec(r *recordpb.PlanService) model.PlanService {
	return model.PlanService{
		ID: int(r.GetId()), StartDate: r.GetStartDate(), ExpectedEndDate: r.GetExpectedEndDate(),
		CostEstimateVND: r.GetCostEstimateVnd(), State: r.GetState(),
	}
}

func escalationToRec(e model.Escalation) *recordpb.Escalation {
	return &recordpb.Escalation{Time: timeToRec(e.Time), To: e.To, MinutesLate: e.MinutesLate}
}

func escalationFromRec(r *recordpb.Escalation) model.Escalation {
	return model.Escalation{Time: timeFromRec(r.GetTime()), To: r.GetTo(), MinutesLate: r.GetMinutesLate()}
}

func lateRecordingToRec(l model.LateRecording) *recordpb.LateRecording {
	return &recordpb.LateRecording{RecordTime: timeToRec(l.RecordTime), Unit: l.Unit}
}

func lateRecordingFromRec(r *recordpb.LateRecording) model.LateRecording {
	return model.LateRecording{RecordTime: timeFromRec(r.GetRecordTime()), Unit: r.GetUnit()}
}

func policeViewToRec(v model.PoliceViewStamp) *recordpb.PoliceViewStamp {
	return &recordpb.PoliceViewStamp{PoliceUnit: v.PoliceUnit, Revision: v.Revision, Time: timeToRec(v.Time), CaseEtag: v.CaseEtag}
}

func policeViewFromRec(r *recordpb.PoliceViewStamp) model.PoliceViewStamp {
	return model.PoliceViewStamp{PoliceUnit: r.GetPoliceUnit(), Revision: r.GetRevision(), Time: timeFromRec(r.GetTime()), CaseEtag: r.GetCaseEtag()}
}

func deadlineToRec(d model.Deadline) *recordpb.Deadline {
	return &recordpb.Deadline{
		Id: int64(d.ID), Kind: string(d.Kind), Ref: d.Ref, Clock: string(d.Clock),
		Length: int64(d.Length), Days: int64(d.Days), Unit: d.Unit,
		Start: timeToRec(d.Start), Due: timeToRec(d.Due), CalendarVersion: d.CalendarVersion,
		Pausable: d.Pausable, PausedAt: timeToRec(d.PausedAt), PauseReason: d.PauseReason,
		Paused: int64(d.Paused), WarnAt: floats(d.WarnAt), WarningsSent: int64(d.WarningsSent),
		State: string(d.State), Breached: d.Breached, DoneTime: timeToRec(d.DoneTime),
		MinutesLate: d.MinutesLate, Escalations: mapSlice(d.Escalations, escalationToRec),
		NextFire: timeToRec(d.NextFire), WarnTimes: mapSlice(d.WarnTimes, timeToRec),
	}
}

func deadlineFromRec(r *recordpb.Deadline) model.Deadline {
	return model.Deadline{
		ID: int(r.GetId()), Kind: model.DeadlineKind(r.GetKind()), Ref: r.GetRef(), Clock: model.ClockKind(r.GetClock()),
		Length: time.Duration(r.GetLength()), Days: int(r.GetDays()), Unit: r.GetUnit(),
		Start: timeFromRec(r.GetStart()), Due: timeFromRec(r.GetDue()), CalendarVersion: r.GetCalendarVersion(),
		Pausable: r.GetPausable(), PausedAt: timeFromRec(r.GetPausedAt()), PauseReason: r.GetPauseReason(),
		Paused: time.Duration(r.GetPaused()), WarnAt: floats(r.GetWarnAt()), WarningsSent: int(r.GetWarningsSent()),
		State: model.DeadlineState(r.GetState()), Breached: r.GetBreached(), DoneTime: timeFromRec(r.GetDoneTime()),
		MinutesLate: r.GetMinutesLate(), Escalations: mapSlice(r.GetEscalations(), escalationFromRec),
		NextFire: timeFromRec(r.GetNextFire()), WarnTimes: mapSlice(r.GetWarnTimes(), timeFromRec),
	}
}

func transferToRec(t model.Transfer) *recordpb.Transfer {
	return &recordpb.Transfer{
		Id: int64(t.ID), From: t.From, To: t.To, Reason: t.Reason, ProposedBy: t.ProposedBy,
		ProposeTime: timeToRec(t.ProposeTime), State: t.State, DecidedBy: t.DecidedBy,
		DecideTime: timeToRec(t.DecideTime), DeclineNote: t.DeclineNote,
	}
}

func transferFromRec(r *recordpb.Transfer) model.Transfer {
	return model.Transfer{
		ID: int(r.GetId()), From: r.GetFrom(), To: r.GetTo(), Reason: r.GetReason(), ProposedBy: r.GetProposedBy(),
		ProposeTime: timeFromRec(r.GetProposeTime()), State: r.GetState(), DecidedBy: r.GetDecidedBy(),
		DecideTime: timeFromRec(r.GetDecideTime()), DeclineNote: r.GetDeclineNote(),
	}
}

func caseToRec(c model.Case) *recordpb.Case {
	return &recordpb.Case{
		Id: c.ID, Number: c.Number, Status: int32(c.Status),
		ResponsibleUnit: unitToRec(c.ResponsibleUnit), IncidentUnit: unitToRec(c.IncidentUnit),
		ReportIds: strs(c.ReportIDs), ReceiveTime: timeToRec(c.ReceiveTime), ImmediateDanger: c.ImmediateDanger,
		CreateTime: timeToRec(c.CreateTime), UpdateTime: timeToRec(c.UpdateTime), Revision: c.Revision,
		Children: mapSlice(c.Children, childToRec), SuspectedAbuse: int32s(c.SuspectedAbuse),
		SpecialCircumstances: int32s(c.SpecialCircumstances),
		Handlers:             unitsToRec(c.Handlers), IntakeUsers: strs(c.IntakeUsers), IntakeUnits: strs(c.IntakeUnits),
		ResponsibleOfficer: c.ResponsibleOfficer, PoliceReferrals: mapSlice(c.PoliceReferrals, referralToRec),
		Emergency: c.Emergency, EmergencyReason: int32(c.EmergencyReason),
		EmergencyMeasured: timeToRec(c.EmergencyMeasured),
		SeparationStart:   timeToRec(c.SeparationStart), SeparationEnd: timeToRec(c.SeparationEnd),
		PlanState: c.PlanState, PlanCycle: int64(c.PlanCycle), Services: mapSlice(c.Services, serviceToRec),
		ClosureProposed: c.ClosureProposed, CloseTime: timeToRec(c.CloseTime),
		Deadlines: mapSlice(c.Deadlines, deadlineToRec), Transfers: mapSlice(c.Transfers, transferToRec),
		Dossier: sealedToRec(c.Dossier), Texts: sealedToRec(c.Texts),
		AwaitingSuccessor: c.AwaitingSuccessor, PoliceAlerted: strs(c.PoliceAlerted),
		LateRecordings: mapSlice(c.LateRecordings, lateRecordingToRec),
		MergedInto:     c.MergedInto, MergedFrom: strs(c.MergedFrom), FirstReportId: c.FirstReportID,
		Reopened:    mapSlice(c.Reopened, timeToRec),
		PoliceViews: mapSlice(c.PoliceViews, policeViewToRec),
	}
}

func caseFromRec(r *recordpb.Case) model.Case {
	return model.Case{
		ID: r.GetId(), Number: r.GetNumber(), Status: model.CaseStatus(r.GetStatus()),
		ResponsibleUnit: unitFromRec(r.GetResponsibleUnit()), IncidentUnit: unitFromRec(r.GetIncidentUnit()),
		ReportIDs: strs(r.GetReportIds()), ReceiveTime: timeFromRec(r.GetReceiveTime()), ImmediateDanger: r.GetImmediateDanger(),
		CreateTime: timeFromRec(r.GetCreateTime()), UpdateTime: timeFromRec(r.GetUpdateTime()), Revision: r.GetRevision(),
		Children: mapSlice(r.GetChildren(), childFromRec), SuspectedAbuse: enums[model.AbuseForm](r.GetSuspectedAbuse()),
		SpecialCircumstances: enums[model.SpecialCircumstance](r.GetSpecialCircumstances()),
		Handlers:             unitsFromRec(r.GetHandlers()), IntakeUsers: strs(r.GetIntakeUsers()), IntakeUnits: strs(r.GetIntakeUnits()),
		ResponsibleOfficer: r.GetResponsibleOfficer(), PoliceReferrals: mapSlice(r.GetPoliceReferrals(), referralFromRec),
		Emergency: r.GetEmergency(), EmergencyReason: model.EmergencyReason(r.GetEmergencyReason()),
		EmergencyMeasured: timeFromRec(r.GetEmergencyMeasured()),
		SeparationStart:   timeFromRec(r.GetSeparationStart()), SeparationEnd: timeFromRec(r.GetSeparationEnd()),
		PlanState: r.GetPlanState(), PlanCycle: int(r.GetPlanCycle()), Services: mapSlice(r.GetServices(), serviceFromRec),
		ClosureProposed: r.GetClosureProposed(), CloseTime: timeFromRec(r.GetCloseTime()),
		Deadlines: mapSlice(r.GetDeadlines(), deadlineFromRec), Transfers: mapSlice(r.GetTransfers(), transferFromRec),
		Dossier: sealedFromRec(r.GetDossier()), Texts: sealedFromRec(r.GetTexts()),
		AwaitingSuccessor: r.GetAwaitingSuccessor(), PoliceAlerted: strs(r.GetPoliceAlerted()),
		LateRecordings: mapSlice(r.GetLateRecordings(), lateRecordingFromRec),
		MergedInto:     r.GetMergedInto(), MergedFrom: strs(r.GetMergedFrom()), FirstReportID: r.GetFirstReportId(),
		Reopened:    mapSlice(r.GetReopened(), timeFromRec),
		PoliceViews: mapSlice(r.GetPoliceViews(), policeViewFromRec),
	}
}

func eventToRec(e model.CaseEvent) *recordpb.CaseEvent {
	return &recordpb.CaseEvent{
		Seq: e.Seq, Time: timeToRec(e.Time), Actor: e.Actor, Kind: e.Kind, Detail: e.Detail, DeadlineId: int64(e.DeadlineID),
	}
}

func eventFromRec(r *recordpb.CaseEvent) model.CaseEvent {
	return model.CaseEvent{
		Seq: r.GetSeq(), Time: timeFromRec(r.GetTime()), Actor: r.GetActor(), Kind: r.GetKind(),
		Detail: r.GetDetail(), DeadlineID: int(r.GetDeadlineId()),
	}
}

func notificationToRec(n model.Notification) *recordpb.Notification {
	return &recordpb.Notification{
		Seq: n.Seq, Time: timeToRec(n.Time), Kind: n.Kind, Case: n.Case, Units: strs(n.Units),
		DeadlineId: int64(n.DeadlineID), Detail: n.Detail,
	}
}

func notificationFromRec(r *recordpb.Notification) model.Notification {
	return model.Notification{
		Seq: r.GetSeq(), Time: timeFromRec(r.GetTime()), Kind: r.GetKind(), Case: r.GetCase(), Units: strs(r.GetUnits()),
		DeadlineID: int(r.GetDeadlineId()), Detail: r.GetDetail(),
	}
}

func idempotencyToRec(i model.IdempotencyRecord) *recordpb.IdempotencyRecord {
	return &recordpb.IdempotencyRecord{
		Key: i.Key, Fingerprint: i.Fingerprint, Resource: i.Resource, Result: i.Result, CreateTime: timeToRec(i.CreateTime),
	}
}

func idempotencyFromRec(r *recordpb.IdempotencyRecord) model.IdempotencyRecord {
	return model.IdempotencyRecord{
		Key: r.GetKey(), Fingerprint: byteSlice(r.GetFingerprint()), Resource: r.GetResource(),
		Result: byteSlice(r.GetResult()), CreateTime: timeFromRec(r.GetCreateTime()),
	}
}

func userToRec(u model.User) *recordpb.User {
	return &recordpb.User{
		Id: u.ID, DisplayName: u.DisplayName, Role: int32(u.Role), Unit: u.Unit, Phone: u.Phone,
		CreateTime: timeToRec(u.CreateTime), DisableTime: timeToRec(u.DisableTime),
		PasswordHash: u.SignIn.PasswordHash, Totp: sealedToRec(u.SignIn.TOTP), TotpLastStep: u.SignIn.TOTPLastStep,
		SignInFailures: u.SignIn.Failures, LockedUntil: timeToRec(u.SignIn.LockedUntil),
	}
}

func userFromRec(r *recordpb.User) model.User {
	return model.User{
		ID: r.GetId(), DisplayName: r.GetDisplayName(), Role: model.Role(r.GetRole()), Unit: r.GetUnit(), Phone: r.GetPhone(),
		CreateTime: timeFromRec(r.GetCreateTime()), DisableTime: timeFromRec(r.GetDisableTime()),
		SignIn: model.SignIn{
			PasswordHash: r.GetPasswordHash(), TOTP: sealedFromRec(r.GetTotp()), TOTPLastStep: r.GetTotpLastStep(),
			Failures: r.GetSignInFailures(), LockedUntil: timeFromRec(r.GetLockedUntil()),
		},
	}
}

func tokenToRec(t model.Token) *recordpb.Token {
	return &recordpb.Token{
		Id: t.ID, UserId: t.UserID, SecretHash: t.SecretHash, CreateTime: timeToRec(t.CreateTime),
		ExpireTime: timeToRec(t.ExpireTime), RevokeTime: timeToRec(t.RevokeTime), Kind: int32(t.Kind),
		CreatedBy: t.CreatedBy,
	}
}

func tokenFromRec(r *recordpb.Token) model.Token {
	return model.Token{
		ID: r.GetId(), UserID: r.GetUserId(), SecretHash: byteSlice(r.GetSecretHash()), CreateTime: timeFromRec(r.GetCreateTime()),
		ExpireTime: timeFromRec(r.GetExpireTime()), RevokeTime: timeFromRec(r.GetRevokeTime()), Kind: model.TokenKind(r.GetKind()),
		CreatedBy: r.GetCreatedBy(),
	}
}

func policeUnitToRec(p model.PoliceUnit) *recordpb.PoliceUnit {
	return &recordpb.PoliceUnit{
		Id: p.ID, DisplayName: p.DisplayName, Covers: unitsToRec(p.Covers), CreateTime: timeToRec(p.CreateTime),
	}
}

func policeUnitFromRec(r *recordpb.PoliceUnit) model.PoliceUnit {
	return model.PoliceUnit{
		ID: r.GetId(), DisplayName: r.GetDisplayName(), Covers: unitsFromRec(r.GetCovers()), CreateTime: timeFromRec(r.GetCreateTime()),
	}
}

func wrappedKeyToRec(w keys.WrappedKey) *recordpb.WrappedKey {
	return &recordpb.WrappedKey{MasterId: w.MasterID, Sealed: w.Sealed}
}

func wrappedKeyFromRec(r *recordpb.WrappedKey) keys.WrappedKey {
	return keys.WrappedKey{MasterID: r.GetMasterId(), Sealed: byteSlice(r.GetSealed())}
}

// searchEntryFromRec leaves the case id to the caller: it is the key.
func searchEntryFromRec(r *recordpb.SearchEntry) datastore.SearchEntry {
	tokens := make([][]byte, 0, len(r.GetTokens()))
	for _, t := range r.GetTokens() {
		tokens = append(tokens, byteSlice(t))
	}
	return datastore.SearchEntry{KeyID: r.GetKeyId(), Tokens: tokens}
}

// toRecord converts a domain value to its stored message.
func toRecord(v any) (proto.Message, error) {
	switch v := v.(type) {
	case model.StoredReport:
		return reportToRec(v), nil
	case model.Case:
		return caseToRec(v), nil
	case model.CaseEvent:
		return eventToRec(v), nil
	case model.Notification:
		return notificationToRec(v), nil
	case model.IdempotencyRecord:
		return idempotencyToRec(v), nil
	case model.User:
		return userToRec(v), nil
	case model.Token:
		return tokenToRec(v), nil
	case model.PoliceUnit:
		return policeUnitToRec(v), nil
	case keys.WrappedKey:
		return wrappedKeyToRec(v), nil
	case datastore.SearchEntry:
		return &recordpb.SearchEntry{KeyId: v.KeyID, Tokens: v.Tokens}, nil
	case tally.Tally:
		return statToRec(v), nil
	}
	return nil, fmt.Errorf("encode %T: no stored record for this type", v)
}

// fromRecord unmarshals a stored message into the domain value v points to.
func fromRecord(b []byte, v any) error {
	switch v := v.(type) {
	case *model.StoredReport:
		return unmarshalInto(b, v, reportFromRec)
	case *model.Case:
		return unmarshalInto(b, v, caseFromRec)
	case *model.CaseEvent:
		return unmarshalInto(b, v, eventFromRec)
	case *model.Notification:
		return unmarshalInto(b, v, notificationFromRec)
	case *model.IdempotencyRecord:
		return unmarshalInto(b, v, idempotencyFromRec)
	case *model.User:
		return unmarshalInto(b, v, userFromRec)
	case *model.Token:
		return unmarshalInto(b, v, tokenFromRec)
	case *model.PoliceUnit:
		return unmarshalInto(b, v, policeUnitFromRec)
	case *keys.WrappedKey:
		return unmarshalInto(b, v, wrappedKeyFromRec)
	case *datastore.SearchEntry:
		return unmarshalInto(b, v, searchEntryFromRec)
	case *tally.Tally:
		return unmarshalInto(b, v, statFromRec)
	}
	return fmt.Errorf("no stored record for this type")
}

func unmarshalInto[D any, R any, PR interface {
	*R
	proto.Message
}](b []byte, v *D, from func(PR) D) error {
	m := PR(new(R))
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	*v = from(m)
	return nil
}
