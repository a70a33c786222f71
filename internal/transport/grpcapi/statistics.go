package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

type statisticsServer struct {
	pb.UnimplementedStatisticsServiceServer
	stats *stats.Service
	log   *slog.Logger
}

func (s *statisticsServer) GetStatistics(ctx context.Context, req *pb.GetStatisticsRequest) (*pb.GetStatisticsResponse, error) {
	// What the request says wrong and what the domain refuses of the rest
	// (an absent unit, an unknown dimension) are named together.
	q, err := statisticsQuery(req)
	if err = errors.Join(err, s.stats.CheckFields(q.Unit, q.GroupBy)); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	res, err := s.stats.Compute(ctx, principalFrom(ctx), q)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.GetStatisticsResponse{AsOf: timestamppb.New(res.AsOf)}
	for _, g := range res.Groups {
		resp.Groups = append(resp.Groups, statisticsGroupToProto(q.GroupBy, g))
	}
	return resp, nil
}

// statisticsQuery reads a request: the period's days in Vietnam time, the
// last one included, the unit and the dimensions. With an error it
// returns what it could read (a unit only when well formed), so that the
// caller can check the rest too.
func statisticsQuery(req *pb.GetStatisticsRequest) (stats.Query, error) {
	// Every bad field is named at once.
	var bad []error
	start, err := vntime.ParseDate(req.GetStartDate())
	if err != nil {
		bad = append(bad, model.InvalidField("start_date", "date.valid", "%v", err))
	}
	end, err := vntime.ParseDate(req.GetEndDate())
	if err != nil {
		bad = append(bad, model.InvalidField("end_date", "date.valid", "%v", err))
	}
	if len(bad) == 0 && end.Before(start) {
		bad = append(bad, model.InvalidField("end_date", "period.order", "end_date %s is before start_date %s", end, start))
	}
	q := stats.Query{From: start.Start(), To: end.AddDays(1).Start(), Mapped: req.GetIncludeMapped()}
	if name := req.GetUnit(); name != "" {
		k, err := parseUnitName(name)
		if err != nil {
			bad = append(bad, model.InvalidField("unit", "unit.name", "%v", err))
		} else {
			q.Unit = k
		}
	}
	for _, d := range req.GetGroupBy() {
		q.GroupBy = append(q.GroupBy, stats.Dimension(d))
	}
	return q, errors.Join(bad...)
}

func statisticsGroupToProto(dims []stats.Dimension, g stats.Group) *pb.StatisticsGroup {
	out := &pb.StatisticsGroup{
		Reports: int32(g.Reports), CasesOpened: int32(g.CasesOpened), CasesClosed: int32(g.CasesClosed),
		CasesStillOpen: int32(g.CasesStillOpen), Escalations: int32Map(g.Escalations),
		TransfersProposed: int32(g.TransfersProposed), TransfersAccepted: int32(g.TransfersAccepted),
		TransfersDeclined: int32(g.TransfersDeclined), TransferAcceptedRate: g.AcceptedRate(),
		TransferDeclinedRate: g.DeclinedRate(), PoliceReferrals: int32(g.PoliceReferrals),
		PoliceOutcomes: int32Map(g.PoliceOutcomes), CrimeClosedWithoutReferral: int32(g.CrimeClosedWithoutReferral),
		Emergencies: int32(g.Emergencies), EmergencyD3: int32Map(g.EmergencyD3), LateRecordings: int32(g.LateRecordings),
	}
	for i, d := range dims {
		out.Key = append(out.Key, &pb.StatisticsKey{Dimension: string(d), Value: g.Key[i]})
	}
	for _, kind := range slices.Sorted(maps.Keys(g.Deadlines)) {
		dc := g.Deadlines[kind]
		out.Deadlines = append(out.Deadlines, &pb.DeadlineStatistics{
			Kind: string(kind), Met: int32(dc.Met), Missed: int32(dc.Missed), OverdueNow: int32(dc.OverdueNow),
			MedianMinutesLate: dc.MedianMinutesLate, P90MinutesLate: dc.P90MinutesLate,
		})
	}
	return out
}

func int32Map(m map[string]int) map[string]int32 {
	out := make(map[string]int32, len(m))
	for k, v := range m {
		out[k] = int32(v)
	}
	return out
}

func (s *statisticsServer) GetActionMonthReport(ctx context.Context, req *pb.GetActionMonthReportRequest) (*httpbody.HttpBody, error) {
	yearErr := stats.CheckYear(int(req.GetYear()))
	o, format, err := s.reportTarget(req.GetUnit(), req.GetIncludeMapped(), req.GetExternal(), req.GetFormat())
	if err = errors.Join(yearErr, err); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	t, err := s.stats.ActionMonthReport(ctx, principalFrom(ctx), int(req.GetYear()), o)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return s.reportBody(ctx, t, format)
}

func (s *statisticsServer) GetPeriodicReport(ctx context.Context, req *pb.GetPeriodicReportRequest) (*httpbody.HttpBody, error) {
	// The period is read as GetStatistics reads it; its faults and the
	// target's are named together.
	q, periodErr := statisticsQuery(&pb.GetStatisticsRequest{StartDate: req.GetStartDate(), EndDate: req.GetEndDate()})
	o, format, err := s.reportTarget(req.GetUnit(), req.GetIncludeMapped(), req.GetExternal(), req.GetFormat())
	if err = errors.Join(periodErr, err); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	first, last := vntime.DateOf(q.From), vntime.DateOf(q.To).AddDays(-1)
	t, err := s.stats.PeriodicReport(ctx, principalFrom(ctx), first, last, o)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return s.reportBody(ctx, t, format)
}

// reportTarget reads for whom a report is made and its format, naming
// every field it refuses: a unit malformed or absent, a format unknown.
func (s *statisticsServer) reportTarget(unit string, mapped, external bool, format string) (stats.ReportOptions, reportfile.Format, error) {
	o := stats.ReportOptions{Mapped: mapped, External: external}
	var bad []error
	if unit != "" {
		k, err := parseUnitName(unit)
		if err != nil {
			bad = append(bad, model.InvalidField("unit", "unit.name", "%v", err))
		} else if err := s.stats.CheckFields(k, nil); err != nil {
			bad = append(bad, err)
		}
		o.Unit = k
	}
	f, ok := reportfile.ParseFormat(format)
	if !ok {
		bad = append(bad, model.InvalidField("format", "report.format", "is not one of xlsx, csv, html"))
	}
	return o, f, errors.Join(bad...)
}

// reportBody renders a report as the file it is answered as.
func (s *statisticsServer) reportBody(ctx context.Context, t stats.Table, f reportfile.Format) (*httpbody.HttpBody, error) {
	data, err := reportfile.Render(t, f)
	if err != nil {
		return nil, toStatus(ctx, s.log, fmt.Errorf("render report %s as %s: %w", t.Name, f, err))
	}
	return &httpbody.HttpBody{ContentType: f.ContentType(), Data: data}, nil
}
