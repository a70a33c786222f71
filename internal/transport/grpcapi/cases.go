package grpcapi

import (
	"context"
	"log/slog"
	"strconv"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage"
)

type caseServer struct {
	pb.UnimplementedCaseServiceServer
	intake *intake.Service
	log    *slog.Logger
}

func (s *caseServer) GetCase(ctx context.Context, req *pb.GetCaseRequest) (*pb.Case, error) {
	c, err := s.intake.GetCase(ctx, req.GetName())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return caseToProto(c), nil
}

func (s *caseServer) ListCases(ctx context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	var unit units.Key
	if name := req.GetResponsibleUnit(); name != "" {
		k, err := parseUnitName(name)
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField("responsible_unit", "unit.name", "%v", err))
		}
		unit = k
	}
	filters := []string{unit.String(), strconv.Itoa(int(req.GetStatus()))}
	cursor, err := decodePageToken(req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	cases, next, err := s.intake.ListCases(ctx, storage.CaseQuery{
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
		resp.Cases = append(resp.Cases, caseToProto(c))
	}
	return resp, nil
}
