package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// processServer serves the transitions of the case process. Each handler
// turns its request into the engine's input; the engine checks the state,
// roles, scope and etag.
type processServer struct {
	pb.UnimplementedCaseProcessServiceServer
	pages    *pageTokens
	engine   *process.Engine
	identity *identity.Service
	clock    clock.Clock
	log      *slog.Logger
	// stopping ends the open watches at shutdown.
	stopping *shutdownSignal
}

// transitionRequest is what every transition request has.
type transitionRequest interface {
	proto.Message
	GetName() string
	GetEtag() string
	GetRequestId() string
}

// request builds the engine's request; the fingerprint is the request
// without its request_id.
func request(req transitionRequest) process.Request {
	return process.Request{Case: req.GetName(), Etag: req.GetEtag(), RequestID: req.GetRequestId(), Fingerprint: fingerprintWithoutID(req)}
}

// answer converts the engine's result.
func (s *processServer) answer(ctx context.Context, c model.Case, err error) (*pb.Case, error) {
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	cs := caseServer{identity: s.identity, clock: s.clock, log: s.log}
	return cs.caseToProto(ctx, c), nil
}

func (s *processServer) AcknowledgeCase(ctx context.Context, req *pb.AcknowledgeCaseRequest) (*pb.Case, error) {
	c, err := s.engine.Acknowledge(ctx, principalFrom(ctx), request(req))
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordInitialAssessment(ctx context.Context, req *pb.RecordInitialAssessmentRequest) (*pb.Case, error) {
	c, err := s.engine.RecordInitialAssessment(ctx, principalFrom(ctx), request(req), process.InitialAssessment{
		Emergency: req.GetEmergency(), EmergencyReason: emergencyReasons.toModel(req.GetEmergencyReason()),
		HarmSeverity: riskLevels.toModel(req.GetHarmSeverity()), AbuserAccess: riskLevels.toModel(req.GetAbuserAccess()),
		SafetyObstacles: riskLevels.toModel(req.GetSafetyObstacles()), Notes: req.GetNotes(),
		Circumstances:   circumstanceSet(req.GetSpecialCircumstances()),
		DowngradeReason: req.GetEmergencyDowngradeReason(),
	})
	return s.answer(ctx, c, err)
}

// circumstanceSet converts an optional set of groups: nil when unset (no
// change), non-nil (maybe empty) when set.
func circumstanceSet(set *pb.SpecialCircumstanceSet) []model.SpecialCircumstance {
	if set == nil {
		return nil
	}
	return append([]model.SpecialCircumstance{}, circumstances.toModels(set.GetGroups())...)
}

func (s *processServer) RecordEmergencyMeasures(ctx context.Context, req *pb.RecordEmergencyMeasuresRequest) (*pb.Case, error) {
	c, err := s.engine.RecordEmergencyMeasures(ctx, principalFrom(ctx), request(req), process.EmergencyMeasures{
		Measures: req.GetMeasures(), AppliedBy: req.GetAppliedBy(), AppliedTime: givenTime(req.GetAppliedTime()),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) StartSeparation(ctx context.Context, req *pb.StartSeparationRequest) (*pb.Case, error) {
	c, err := s.engine.StartSeparation(ctx, principalFrom(ctx), request(req), process.Separation{
		Start: givenTime(req.GetStartTime()), Place: req.GetPlace(), Carer: req.GetCarer(), Ground: req.GetGround(), DecisionNumber: req.GetDecisionNumber(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) EndSeparation(ctx context.Context, req *pb.EndSeparationRequest) (*pb.Case, error) {
	c, err := s.engine.EndSeparation(ctx, principalFrom(ctx), request(req), req.GetOutcome(), req.GetNotes())
	return s.answer(ctx, c, err)
}

func (s *processServer) ExtendSeparation(ctx context.Context, req *pb.ExtendSeparationRequest) (*pb.Case, error) {
	c, err := s.engine.ExtendSeparation(ctx, principalFrom(ctx), request(req), int(req.GetDays()), req.GetReason(), req.GetDecisionNumber())
	return s.answer(ctx, c, err)
}

func (s *processServer) PetitionCourt(ctx context.Context, req *pb.PetitionCourtRequest) (*pb.Case, error) {
	c, err := s.engine.PetitionCourt(ctx, principalFrom(ctx), request(req), req.GetCourt(), req.GetNotes())
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordCourtDecision(ctx context.Context, req *pb.RecordCourtDecisionRequest) (*pb.Case, error) {
	c, err := s.engine.RecordCourtDecision(ctx, principalFrom(ctx), request(req), req.GetDecisionNumber(), req.GetDecisionDate(), req.GetOutcome())
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordCareFollowUp(ctx context.Context, req *pb.RecordCareFollowUpRequest) (*pb.Case, error) {
	c, err := s.engine.RecordCareFollowUp(ctx, principalFrom(ctx), request(req), req.GetNotes())
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordSpecificAssessment(ctx context.Context, req *pb.RecordSpecificAssessmentRequest) (*pb.Case, error) {
	in := process.SpecificAssessment{
		Needs: req.GetNeeds(), ChildViews: req.GetChildViews(), ParentViews: req.GetParentViews(),
		MeetingRecord: req.GetMeetingRecord(), MeetingTime: givenTime(req.GetMeetingTime()),
		MeetingChair:  attendeeFromProto(req.GetMeetingChair()),
		Circumstances: circumstanceSet(req.GetSpecialCircumstances()),
	}
	for _, a := range req.GetMeetingParticipants() {
		in.MeetingParticipants = append(in.MeetingParticipants, attendeeFromProto(a))
	}
	c, err := s.engine.RecordSpecificAssessment(ctx, principalFrom(ctx), request(req), in)
	return s.answer(ctx, c, err)
}

func attendeeFromProto(a *pb.MeetingAttendee) model.Attendee {
	return model.Attendee{FullName: a.GetFullName(), Role: a.GetRole()}
}

func (s *processServer) SubmitPlan(ctx context.Context, req *pb.SubmitPlanRequest) (*pb.Case, error) {
	var services []process.Service
	for _, sv := range req.GetServices() {
		services = append(services, process.Service{
			Name: sv.GetName(), Owner: sv.GetOwner(), CommuneAssignee: sv.GetCommuneAssignee(), StartDate: sv.GetStartDate(),
			ExpectedEndDate: sv.GetExpectedEndDate(), CostEstimateVND: sv.GetCostEstimateVnd(),
		})
	}
	c, err := s.engine.SubmitPlan(ctx, principalFrom(ctx), request(req), services)
	return s.answer(ctx, c, err)
}

func (s *processServer) ApprovePlan(ctx context.Context, req *pb.ApprovePlanRequest) (*pb.Case, error) {
	c, err := s.engine.ApprovePlan(ctx, principalFrom(ctx), request(req), process.Approval{
		DecisionNumber: req.GetDecisionNumber(), DecisionDate: req.GetDecisionDate(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) ReturnPlan(ctx context.Context, req *pb.ReturnPlanRequest) (*pb.Case, error) {
	c, err := s.engine.ReturnPlan(ctx, principalFrom(ctx), request(req), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordServiceProgress(ctx context.Context, req *pb.RecordServiceProgressRequest) (*pb.Case, error) {
	c, err := s.engine.RecordServiceProgress(ctx, principalFrom(ctx), request(req), int(req.GetServiceId()), req.GetState(), req.GetNote())
	return s.answer(ctx, c, err)
}

func (s *processServer) StartReview(ctx context.Context, req *pb.StartReviewRequest) (*pb.Case, error) {
	c, err := s.engine.StartReview(ctx, principalFrom(ctx), request(req))
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordReview(ctx context.Context, req *pb.RecordReviewRequest) (*pb.Case, error) {
	c, err := s.engine.RecordReview(ctx, principalFrom(ctx), request(req), process.Review{
		HarmSeverity: riskLevels.toModel(req.GetHarmSeverity()), AbuserAccess: riskLevels.toModel(req.GetAbuserAccess()),
		SafetyObstacles: riskLevels.toModel(req.GetSafetyObstacles()), Notes: req.GetNotes(), Outcome: req.GetOutcome(),
		SelfProtection: req.GetSelfProtection(), Recovery: req.GetRecovery(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) ApproveClosure(ctx context.Context, req *pb.ApproveClosureRequest) (*pb.Case, error) {
	c, err := s.engine.ApproveClosure(ctx, principalFrom(ctx), request(req), process.Closure{
		Ground: closureGrounds.toModel(req.GetGround()), Reason: req.GetReason(), NoPoliceReferralReason: req.GetNoPoliceReferralReason(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) ReopenCase(ctx context.Context, req *pb.ReopenCaseRequest) (*pb.Case, error) {
	c, err := s.engine.Reopen(ctx, principalFrom(ctx), request(req), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) AddCaseNote(ctx context.Context, req *pb.AddCaseNoteRequest) (*pb.Case, error) {
	c, err := s.engine.AddNote(ctx, principalFrom(ctx), request(req), req.GetText())
	return s.answer(ctx, c, err)
}

func (s *processServer) ProposeTransfer(ctx context.Context, req *pb.ProposeTransferRequest) (*pb.Case, error) {
	c, err := s.engine.ProposeTransfer(ctx, principalFrom(ctx), request(req), req.GetToUnit(), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) AcceptTransfer(ctx context.Context, req *pb.AcceptTransferRequest) (*pb.Case, error) {
	c, err := s.engine.AcceptTransfer(ctx, principalFrom(ctx), request(req))
	return s.answer(ctx, c, err)
}

func (s *processServer) DeclineTransfer(ctx context.Context, req *pb.DeclineTransferRequest) (*pb.Case, error) {
	c, err := s.engine.DeclineTransfer(ctx, principalFrom(ctx), request(req), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) ReassignCase(ctx context.Context, req *pb.ReassignCaseRequest) (*pb.Case, error) {
	c, err := s.engine.ReassignCase(ctx, principalFrom(ctx), request(req), req.GetToUnit(), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) AssignCase(ctx context.Context, req *pb.AssignCaseRequest) (*pb.Case, error) {
	c, err := s.engine.AssignOfficer(ctx, principalFrom(ctx), request(req), req.GetOfficer())
	return s.answer(ctx, c, err)
}

func (s *processServer) MergeCase(ctx context.Context, req *pb.MergeCaseRequest) (*pb.Case, error) {
	c, err := s.engine.MergeCase(ctx, principalFrom(ctx), request(req), process.Merge{
		Absorbed: req.GetAbsorbedCase(), AbsorbedEtag: req.GetAbsorbedEtag(), Reason: req.GetReason(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) ReferCaseToPolice(ctx context.Context, req *pb.ReferCaseToPoliceRequest) (*pb.Case, error) {
	c, err := s.engine.ReferToPolice(ctx, principalFrom(ctx), request(req), req.GetPoliceUnit(), req.GetSuspectedOffence())
	return s.answer(ctx, c, err)
}

func (s *processServer) AcknowledgePoliceReferral(ctx context.Context, req *pb.AcknowledgePoliceReferralRequest) (*pb.Case, error) {
	c, err := s.engine.AcknowledgePoliceReferral(ctx, principalFrom(ctx), request(req), req.GetReferenceNumber())
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordPoliceForwarding(ctx context.Context, req *pb.RecordPoliceForwardingRequest) (*pb.Case, error) {
	var at time.Time // zero: now
	if req.GetForwardTime() != nil {
		at = givenTime(req.GetForwardTime())
	}
	c, err := s.engine.RecordPoliceForwarding(ctx, principalFrom(ctx), request(req), req.GetInvestigationAgency(), at)
	return s.answer(ctx, c, err)
}

func (s *processServer) RecordPoliceOutcome(ctx context.Context, req *pb.RecordPoliceOutcomeRequest) (*pb.Case, error) {
	c, err := s.engine.RecordPoliceOutcome(ctx, principalFrom(ctx), request(req), req.GetOutcome())
	return s.answer(ctx, c, err)
}

func (s *processServer) ExtendPoliceDeadline(ctx context.Context, req *pb.ExtendPoliceDeadlineRequest) (*pb.Case, error) {
	c, err := s.engine.ExtendPoliceDeadline(ctx, principalFrom(ctx), request(req), process.PoliceDecision{
		Number: req.GetDecisionNumber(), Reason: req.GetReason(), UntilDate: req.GetUntilDate(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) SuspendPoliceDeadline(ctx context.Context, req *pb.SuspendPoliceDeadlineRequest) (*pb.Case, error) {
	c, err := s.engine.SuspendPoliceDeadline(ctx, principalFrom(ctx), request(req), process.PoliceDecision{
		Number: req.GetDecisionNumber(), Reason: req.GetReason(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) ResumePoliceDeadline(ctx context.Context, req *pb.ResumePoliceDeadlineRequest) (*pb.Case, error) {
	c, err := s.engine.ResumePoliceDeadline(ctx, principalFrom(ctx), request(req), process.PoliceDecision{
		Number: req.GetDecisionNumber(), Reason: req.GetReason(),
	})
	return s.answer(ctx, c, err)
}

func (s *processServer) PauseDeadline(ctx context.Context, req *pb.PauseDeadlineRequest) (*pb.Case, error) {
	c, err := s.engine.PauseDeadline(ctx, principalFrom(ctx), request(req), int(req.GetDeadlineId()), req.GetReason())
	return s.answer(ctx, c, err)
}

func (s *processServer) ResumeDeadline(ctx context.Context, req *pb.ResumeDeadlineRequest) (*pb.Case, error) {
	c, err := s.engine.ResumeDeadline(ctx, principalFrom(ctx), request(req), int(req.GetDeadlineId()))
	return s.answer(ctx, c, err)
}

func (s *processServer) ListCaseEvents(ctx context.Context, req *pb.ListCaseEventsRequest) (*pb.ListCaseEventsResponse, error) {
	p := principalFrom(ctx)
	page := process.EventsPage{NewestFirst: req.GetOrderBy() == "seq desc"}
	// The list is the case's, however its name is typed: a token made
	// with one typing goes on with another.
	parent := req.GetParent()
	if number, err := intake.ParseCaseName(parent); err == nil {
		parent = caseName(number)
	}
	filters := []string{parent}
	if page.NewestFirst {
		// A page token made for one order is refused for the other.
		filters = append(filters, "seq desc")
	}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	if cursor != "" {
		if page.From, err = strconv.ParseUint(cursor, 10, 64); err != nil || (page.NewestFirst && page.From == 0) {
			return nil, badPageToken()
		}
	}
	limit := pageSize(req.GetPageSize(), 100, 1000)
	page.Limit = limit + 1
	events, err := s.engine.ListCaseEvents(ctx, p, req.GetParent(), page)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListCaseEventsResponse{}
	if len(events) > limit {
		events = events[:limit]
		resp.NextPageToken = s.pages.encode(ctx, strconv.FormatUint(events[limit-1].Seq, 10), filters...)
	}
	for _, e := range events {
		resp.Events = append(resp.Events, caseEventToProto(e))
	}
	return resp, nil
}

func (s *processServer) ListAssignableOfficers(ctx context.Context, req *pb.ListAssignableOfficersRequest) (*pb.ListAssignableOfficersResponse, error) {
	// The list is the case's, however its name is typed: a token made
	// with one typing goes on with another, and not for another case.
	name := req.GetName()
	if number, err := intake.ParseCaseName(name); err == nil {
		name = caseName(number)
	}
	after, err := s.pages.decode(ctx, req.GetPageToken(), name)
	if err != nil {
		return nil, err
	}
	page := process.OfficersPage{After: after, Limit: pageSize(req.GetPageSize(), 100, 1000)}
	users, next, err := s.engine.ListAssignableOfficers(ctx, principalFrom(ctx), req.GetName(), page)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListAssignableOfficersResponse{}
	if next != "" {
		resp.NextPageToken = s.pages.encode(ctx, next, name)
	}
	for _, u := range users {
		// No more than a chair needs to choose: not the phone, role or
		// dates an admin's ListUsers shows.
		resp.Officers = append(resp.Officers, &pb.AssignableOfficer{Name: model.UserName(u.ID), DisplayName: u.DisplayName, Unit: u.Unit})
	}
	return resp, nil
}

// WatchLiveHeader is the header metadata a watch sends once it is live:
// the REST gateway then answers its HTTP headers (a refused watch sends
// x-request-id in headers of its own, so headers alone do not say it).
const WatchLiveHeader = "childcase-watch-live"

func (s *processServer) WatchEvents(req *pb.WatchEventsRequest, stream grpc.ServerStreamingServer[pb.Notification]) error {
	ctx := stream.Context()
	caseFilter := ""
	if c := req.GetCase(); c != "" {
		number, err := intake.ParseCaseName(c)
		if err != nil {
			return toStatus(ctx, s.log, model.InvalidField("case", "case.name", "%v", err))
		}
		caseFilter = "cases/" + number
	}
	// last is the seq to resume after: the last one sent, or where the
	// watch began (a watch from now begins at the outbox's head).
	last := req.GetAfterSeq()
	// The response headers go out once the watch is live: a client that
	// waits for them (stream.Header) misses nothing written after.
	live := func(from uint64) error {
		last = from
		return stream.SendHeader(metadata.Pairs(WatchLiveHeader, "true"))
	}
	// The watch ends when its client goes or the server stops.
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stopping.raised():
			cancel()
		case <-watchCtx.Done():
		}
	}()
	err := s.engine.Watch(watchCtx, principalFrom(ctx), req.GetAfterSeq(), caseFilter, live, func(n model.Notification) error {
		if err := stream.Send(notificationToProto(n)); err != nil {
			return err
		}
		last = n.Seq
		return nil
	})
	if ctx.Err() == nil && watchCtx.Err() != nil && s.stopping.isRaised() {
		return shuttingDown(last)
	}
	if errors.Is(err, identity.ErrUnauthenticated) {
		// The watch read, after its token stopped being valid, what it
		// did not send.
		s.log.InfoContext(ctx, "stream ended: the token is no longer valid")
		return tokenNoLongerValid()
	}
	return toStatus(ctx, s.log, err)
}

// shuttingDown is how a watch ends when the server stops: UNAVAILABLE, so
// that clients retry, with the after_seq that resumes it where it ended
// (none when it ended before it began, or began on an empty outbox: it
// resumes from now).
func shuttingDown(last uint64) error {
	if last == 0 {
		return withInfo(codes.Unavailable, "the server is shutting down: watch again, here once it is back or on another instance",
			ReasonShuttingDown, nil)
	}
	after := strconv.FormatUint(last, 10)
	return withInfo(codes.Unavailable, "the server is shutting down: watch again with after_seq="+after+", here once it is back or on another instance",
		ReasonShuttingDown, map[string]string{"after_seq": after})
}

// shutdownSignal is raised once, when the server stops.
type shutdownSignal struct {
	once sync.Once
	ch   chan struct{}
}

func newShutdownSignal() *shutdownSignal { return &shutdownSignal{ch: make(chan struct{})} }

func (s *shutdownSignal) raise()                  { s.once.Do(func() { close(s.ch) }) }
func (s *shutdownSignal) raised() <-chan struct{} { return s.ch }

func (s *shutdownSignal) isRaised() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}
