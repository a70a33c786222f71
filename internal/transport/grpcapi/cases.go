package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"log/slog"
	"strconv"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
)

type caseServer struct {
	pb.UnimplementedCaseServiceServer
	pages    *pageTokens
	intake   *intake.Service
	process  *process.Engine
	search   *search.Service
	identity *identity.Service
	clock    clock.Clock
	log      *slog.Logger
}

func (s *caseServer) GetCase(ctx context.Context, req *pb.GetCaseRequest) (*pb.Case, error) {
	// The officer's contact comes with the case, from its transaction.
	read, err := s.intake.ReadCase(ctx, principalFrom(ctx), req.GetName())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	c, dossier := read.Case, read.Dossier
	out := s.caseWithOfficer(c, read.Officer)
	// Per caller, on the view they got: the police view holds only their
	// own unit's referral and its clocks, which is all their steps look
	// at.
	out.AllowedSteps = s.process.StepsAllowed(principalFrom(ctx), c, dossier)
	if dossier != nil {
		out.Dossier = dossierToProto(*dossier)
		mergeDetails(out.Services, *dossier)
	}
	return out, nil
}

func (s *caseServer) ListCases(ctx context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	p := principalFrom(ctx)
	unit, err := responsibleUnitFilter(req.GetResponsibleUnit())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	if req.GetQueue() != pb.CaseQueue_CASE_QUEUE_UNSPECIFIED || req.GetDueBefore() != nil {
		return s.listQueue(ctx, req)
	}
	filters := []string{unit.String(), strconv.Itoa(int(req.GetStatus()))}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	cases, next, err := s.intake.ListCases(ctx, p, intake.CaseQuery{
		ResponsibleUnit: unit,
		Status:          caseStatuses.toModel(req.GetStatus()),
		After:           cursor,
		Limit:           pageSize(req.GetPageSize(), 50, 500),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListCasesResponse{NextPageToken: s.pages.encode(ctx, next, filters...)}
	for _, c := range cases {
		resp.Cases = append(resp.Cases, s.caseToProto(ctx, c))
	}
	return resp, nil
}

// responsibleUnitFilter reads the responsible_unit filter of a list or an
// export: the zero key for none.
func responsibleUnitFilter(name string) (units.Key, error) {
	if name == "" {
		return units.Key{}, nil
	}
	k, err := parseUnitName(name)
	if err != nil {
		return units.Key{}, model.InvalidField("responsible_unit", "unit.name", "%v", err)
	}
	return k, nil
}

// caseToProto converts a case, with its responsible officer's contact.
func (s *caseServer) caseToProto(ctx context.Context, c model.Case) *pb.Case {
	var officer model.User
	if c.ResponsibleOfficer != "" {
		if u, err := s.identity.GetUser(ctx, c.ResponsibleOfficer); err == nil {
			officer = u
		}
	}
	return s.caseWithOfficer(c, officer)
}

// caseWithOfficer converts a case, with its responsible officer's contact
// already read (the zero user: none).
func (s *caseServer) caseWithOfficer(c model.Case, officer model.User) *pb.Case {
	p := caseToProto(c)
	p.Deadlines = deadlinesToProto(c, s.clock.Now())
	if officer.ID != "" {
		p.ResponsibleOfficer = &pb.Officer{User: model.UserName(officer.ID), DisplayName: officer.DisplayName, Phone: officer.Phone}
	}
	return p
}

// listQueue serves ListCases for a work queue: sorted by the nearest open
// deadline, paged by a cursor.
func (s *caseServer) listQueue(ctx context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	p := principalFrom(ctx)
	if req.GetResponsibleUnit() != "" || req.GetStatus() != 0 {
		return nil, toStatus(ctx, s.log, model.InvalidField("queue", "queue.alone", "a queue or due_before cannot be combined with responsible_unit or status"))
	}
	q := intake.QueueQuery{Queue: caseQueues.toModel(req.GetQueue()), Limit: pageSize(req.GetPageSize(), 50, 500)}
	if t := req.GetDueBefore(); t != nil {
		q.DueBefore = givenTime(t)
	}
	filters := []string{"queue", strconv.Itoa(int(q.Queue)), q.DueBefore.String()}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	q.After = cursor
	cases, next, err := s.intake.ListQueue(ctx, p, q)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListCasesResponse{NextPageToken: s.pages.encode(ctx, next, filters...)}
	for _, c := range cases {
		resp.Cases = append(resp.Cases, s.caseToProto(ctx, c))
	}
	return resp, nil
}

func (s *caseServer) SearchCases(ctx context.Context, req *pb.SearchCasesRequest) (*pb.SearchCasesResponse, error) {
	if s.search == nil {
		return nil, withInfo(codes.Unimplemented, "search is not configured", ReasonUnavailable, nil)
	}
	q := search.Query{
		ChildName: req.GetChildName(), BirthYear: int(req.GetBirthYear()), Phone: req.GetPhone(),
		CommuneCode: req.GetCommuneCode(), CaregiverName: req.GetCaregiverName(),
	}
	if d := req.GetBirthDate(); d != "" {
		date, err := parseBirthDate("birth_date", d)
		if err != nil {
			return nil, toStatus(ctx, s.log, err)
		}
		q.BirthDate = date
	}
	found, err := s.search.Search(ctx, principalFrom(ctx), q, int(req.GetPageSize()))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.SearchCasesResponse{}
	for _, c := range found {
		out := &pb.CaseCandidate{Score: c.Score, MatchedFields: matchedFieldNames(c.Matched), CandidateView: c.View == access.ViewCandidate}
		if out.CandidateView {
			out.Case = candidateToProto(c.Case)
		} else {
			out.Case = s.caseToProto(ctx, c.Case)
		}
		resp.Candidates = append(resp.Candidates, out)
	}
	return resp, nil
}

// candidateToProto converts the candidate view of a case: only what
// access.CandidateView keeps, so nothing a zero field would imply (an
// etag, a unit) is made up.
func candidateToProto(c model.Case) *pb.Case {
	p := &pb.Case{
		Name: "cases/" + c.Number, CaseNumber: c.Number, Status: caseStatuses.toAPI(c.Status),
		ResponsibleUnit: access.UnitName(c.ResponsibleUnit), UpdateTime: timestamp(c.UpdateTime),
	}
	for _, ch := range c.Children {
		p.Children = append(p.Children, &pb.ChildSummary{AgeYears: ch.AgeYears, AgeEstimated: ch.AgeEstimated, Sex: sexes.toAPI(ch.Sex)})
	}
	return p
}

func matchedFieldNames(fs []search.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}
