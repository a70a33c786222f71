package grpcapi

import (
	"context"
	"log/slog"
	"strconv"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage"
)

type caseServer struct {
	pb.UnimplementedCaseServiceServer
	intake   *intake.Service
	identity *identity.Service
	log      *slog.Logger
}

func (s *caseServer) GetCase(ctx context.Context, req *pb.GetCaseRequest) (*pb.Case, error) {
	c, err := s.intake.GetCase(ctx, principalFrom(ctx), req.GetName())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return s.caseToProto(ctx, c), nil
}

func (s *caseServer) ListCases(ctx context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	p := principalFrom(ctx)
	var unit units.Key
	if name := req.GetResponsibleUnit(); name != "" {
		k, err := parseUnitName(name)
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField("responsible_unit", "unit.name", "%v", err))
		}
		unit = k
	}
	filters := []string{p.UserID, unit.String(), strconv.Itoa(int(req.GetStatus()))}
	cursor, err := decodePageToken(req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	cases, next, err := s.intake.ListCases(ctx, p, storage.CaseQuery{
		ResponsibleUnit: unit,
		Status:          model.CaseStatus(req.GetStatus()),
		After:           cursor,
		Limit:           pageSize(req.GetPageSize(), 50, 500),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListCasesResponse{NextPageToken: encodePageToken(next, filters...)}
	for _, c := range cases {
		resp.Cases = append(resp.Cases, s.caseToProto(ctx, c))
	}
	return resp, nil
}

func (s *caseServer) ReferCaseToPolice(ctx context.Context, req *pb.ReferCaseToPoliceRequest) (*pb.Case, error) {
	c, err := s.intake.ReferToPolice(ctx, principalFrom(ctx), req.GetName(), req.GetPoliceUnit(), req.GetSuspectedOffence(), req.GetEtag())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return s.caseToProto(ctx, c), nil
}

// caseToProto converts a case, with its responsible officer's contact.
func (s *caseServer) caseToProto(ctx context.Context, c model.Case) *pb.Case {
	p := caseToProto(c)
	if c.ResponsibleOfficer != "" {
		if u, err := s.identity.GetUser(ctx, c.ResponsibleOfficer); err == nil {
			p.ResponsibleOfficer = &pb.Officer{User: model.UserName(u.ID), DisplayName: u.DisplayName, Phone: u.Phone}
		}
	}
	return p
}
