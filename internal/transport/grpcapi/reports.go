package grpcapi

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage"
)

type reportServer struct {
	pb.UnimplementedReportServiceServer
	intake *intake.Service
	log    *slog.Logger
}

func (s *reportServer) CreateReport(ctx context.Context, req *pb.CreateReportRequest) (*pb.Report, error) {
	r, err := reportFromProto(req.GetReport())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	out, err := s.intake.CreateReport(ctx, intake.CreateReportInput{
		Report:              r,
		IncidentCommuneCode: req.GetReport().GetIncidentCommuneCode(),
		CaseName:            req.GetReport().GetCase(),
		RequestID:           req.GetRequestId(),
		Fingerprint:         fingerprint(&pb.CreateReportRequest{Report: req.GetReport()}),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reportToProto(out), nil
}

func (s *reportServer) GetReport(ctx context.Context, req *pb.GetReportRequest) (*pb.Report, error) {
	r, err := s.intake.GetReport(ctx, req.GetName())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reportToProto(r), nil
}

func (s *reportServer) ListReports(ctx context.Context, req *pb.ListReportsRequest) (*pb.ListReportsResponse, error) {
	filter := strconv.Itoa(int(req.GetCallType()))
	cursor, err := decodePageToken(req.GetPageToken(), filter)
	if err != nil {
		return nil, err
	}
	reports, next, err := s.intake.ListReports(ctx, storage.ReportQuery{
		CallType: model.CallType(req.GetCallType()),
		After:    cursor,
		Limit:    pageSize(req.GetPageSize(), 50, 500),
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListReportsResponse{NextPageToken: encodePageToken(next, filter)}
	for _, r := range reports {
		resp.Reports = append(resp.Reports, reportToProto(r))
	}
	return resp, nil
}

func (s *reportServer) LinkReport(ctx context.Context, req *pb.LinkReportRequest) (*pb.Report, error) {
	fp := fingerprint(&pb.LinkReportRequest{Name: req.GetName(), Case: req.GetCase()})
	r, err := s.intake.LinkReport(ctx, req.GetName(), req.GetCase(), req.GetRequestId(), fp)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return reportToProto(r), nil
}

// fingerprint hashes the request without its request_id (withoutID is the
// request with that field left out), so that a retry matches its first try
// and a reused id with a different request does not.
func fingerprint(withoutID proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(withoutID)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
