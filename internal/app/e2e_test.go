package app_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

func TestGRPCIntakeToCase(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")

	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "call-1"})
	if err != nil {
		t.Fatalf("CreateReport: %v", err)
	}
	if created.GetCase() != "cases/HN-2026-00001" {
		t.Fatalf("case = %q, want cases/HN-2026-00001", created.GetCase())
	}
	if created.GetIncidentUnit() != "units/00004@2025-07-01" {
		t.Errorf("incident_unit = %q", created.GetIncidentUnit())
	}

	// A retry with the same request_id returns the first result, no duplicate.
	again, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "call-1"})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.GetName() != created.GetName() || again.GetCase() != created.GetCase() {
		t.Fatalf("retry made %s/%s, want %s/%s", again.GetName(), again.GetCase(), created.GetName(), created.GetCase())
	}
	// The same id with another request is refused.
	other := validReport()
	other.Narrative = "khác"
	_, err = ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: other, RequestId: "call-1"})
	if st := wantCode(t, err, codes.AlreadyExists); errorReason(st) != "REQUEST_ID_REUSED" {
		t.Errorf("reason = %q", errorReason(st))
	}

	got, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: created.GetName()})
	if err != nil {
		t.Fatalf("GetReport: %v", err)
	}
	if !proto.Equal(got, created) {
		t.Errorf("GetReport = %v, want %v", got, created)
	}

	c, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: created.GetCase()})
	if err != nil {
		t.Fatalf("GetCase: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT ||
		c.GetResponsibleUnit() != "units/00004@2025-07-01" ||
		!slices.Equal(c.GetReports(), []string{created.GetName()}) ||
		c.GetEtag() == "" {
		t.Errorf("case = %v", c)
	}
	// Police type case numbers by hand: case and spaces do not matter.
	if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: " hn-2026-00001 "}); err != nil {
		t.Errorf("GetCase by typed number: %v", err)
	}

	// A counselling call opens no case; it can be linked to the case later.
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	call2, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: counselling})
	if err != nil {
		t.Fatalf("CreateReport counselling: %v", err)
	}
	if call2.GetCase() != "" {
		t.Fatalf("counselling call opened case %s", call2.GetCase())
	}
	linked, err := ts.reports().LinkReport(ctx, &pb.LinkReportRequest{Name: call2.GetName(), Case: created.GetCase()})
	if err != nil {
		t.Fatalf("LinkReport: %v", err)
	}
	if linked.GetCase() != created.GetCase() {
		t.Errorf("linked case = %q", linked.GetCase())
	}
	c2, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: created.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c2.GetReports(), []string{created.GetName(), call2.GetName()}) || c2.GetEtag() == c.GetEtag() {
		t.Errorf("after link: reports %v etag %q (was %q)", c2.GetReports(), c2.GetEtag(), c.GetEtag())
	}
	// A report of one case cannot be moved to another by linking.
	second, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetCase() != "cases/HN-2026-00002" {
		t.Fatalf("second case = %q", second.GetCase())
	}
	_, err = ts.reports().LinkReport(ctx, &pb.LinkReportRequest{Name: second.GetName(), Case: created.GetCase()})
	if st := wantCode(t, err, codes.FailedPrecondition); errorReason(st) != "REPORT_ALREADY_LINKED" {
		t.Errorf("reason = %q", errorReason(st))
	}
	// A repeat call can join an existing case at intake.
	repeat := validReport()
	repeat.Case = created.GetCase()
	r3, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: repeat})
	if err != nil {
		t.Fatal(err)
	}
	if r3.GetCase() != created.GetCase() {
		t.Errorf("repeat call case = %q", r3.GetCase())
	}

	// Lists: by unit, by status, and paging.
	list, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{ResponsibleUnit: "units/00004@2025-07-01"})
	if err != nil {
		t.Fatal(err)
	}
	if names := caseNames(list.GetCases()); !slices.Equal(names, []string{"cases/HN-2026-00002", "cases/HN-2026-00001"}) {
		t.Errorf("cases of unit = %v", names)
	}
	list, err = ts.cases().ListCases(ctx, &pb.ListCasesRequest{ResponsibleUnit: "units/00004@2025-01-01"})
	if err != nil || len(list.GetCases()) != 0 {
		t.Errorf("cases of the old unit = %v, %v", list.GetCases(), err)
	}
	list, err = ts.cases().ListCases(ctx, &pb.ListCasesRequest{Status: pb.CaseStatus_CASE_STATUS_CLOSED})
	if err != nil || len(list.GetCases()) != 0 {
		t.Errorf("closed cases = %v, %v", list.GetCases(), err)
	}
	var paged []string
	token := ""
	for {
		page, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{PageSize: 1, PageToken: token, Status: pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, caseNames(page.GetCases())...)
		if token = page.GetNextPageToken(); token == "" {
			break
		}
		// A token from one query is refused by another.
		_, err = ts.cases().ListCases(ctx, &pb.ListCasesRequest{PageSize: 1, PageToken: token})
		wantCode(t, err, codes.InvalidArgument)
	}
	if !slices.Equal(paged, []string{"cases/HN-2026-00002", "cases/HN-2026-00001"}) {
		t.Errorf("paged = %v", paged)
	}
	reports, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{CallType: pb.CallType_CALL_TYPE_COUNSELLING})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports.GetReports()) != 1 || reports.GetReports()[0].GetName() != call2.GetName() {
		t.Errorf("counselling reports = %v", reports.GetReports())
	}
	all, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{})
	if err != nil || len(all.GetReports()) != 4 {
		t.Errorf("all reports: %d, %v", len(all.GetReports()), err)
	}

	_, err = ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: "cases/HN-2026-09999"})
	wantCode(t, err, codes.NotFound)
}

func caseNames(cs []*pb.Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

func TestUnits(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	tests := []struct {
		name, asOf, want string
	}{
		{"units/00004", "2024-06-01", "Trúc Bạch"},
		{"units/00004", "2025-07-01", "Ba Đình"},
		{"units/00004", "", "Ba Đình"}, // today (the fake clock) is 2026
		{"units/00004@2025-07-01", "", "Ba Đình"},
		{"units/001@2020-01-01", "", "Ba Đình"},
	}
	for _, tt := range tests {
		u, err := ts.units().GetUnit(ctx, &pb.GetUnitRequest{Name: tt.name, AsOfDate: tt.asOf})
		if err != nil {
			t.Errorf("GetUnit(%s, %s): %v", tt.name, tt.asOf, err)
			continue
		}
		if u.GetDisplayName() != tt.want {
			t.Errorf("GetUnit(%s, %s) = %s, want %s", tt.name, tt.asOf, u.GetDisplayName(), tt.want)
		}
	}
	_, err := ts.units().GetUnit(ctx, &pb.GetUnitRequest{Name: "units/001", AsOfDate: "2025-07-01"})
	wantCode(t, err, codes.NotFound) // districts ended on 2025-06-30

	var communes int
	token := ""
	for {
		page, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{
			Level: pb.UnitLevel_UNIT_LEVEL_COMMUNE, AsOfDate: "2026-01-01", PageSize: 50, PageToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		communes += len(page.GetUnits())
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if communes != 126 {
		t.Errorf("communes in force on 2026-01-01: %d, want 126", communes)
	}
	page, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{Parent: "units/001@2020-01-01", AsOfDate: "2024-06-01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.GetUnits()) != 14 {
		t.Errorf("communes of Ba Đình district in 2024: %d, want 14", len(page.GetUnits()))
	}
}

func TestRestartKeepsCase(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "before-restart"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: created.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()

	ts2 := startServer(t, ts.cfg.DBPath)
	after, err := ts2.cases().GetCase(ctx, &pb.GetCaseRequest{Name: created.GetCase()})
	if err != nil {
		t.Fatalf("GetCase after restart: %v", err)
	}
	if !proto.Equal(before, after) {
		t.Errorf("after restart %v, before %v", after, before)
	}
	// The idempotency record survived too: the retry does not duplicate.
	again, err := ts2.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "before-restart"})
	if err != nil || again.GetName() != created.GetName() {
		t.Errorf("retry after restart: %v, %v", again.GetName(), err)
	}
	// Numbering goes on where it stopped.
	next, err := ts2.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil || next.GetCase() != "cases/HN-2026-00002" {
		t.Errorf("next case after restart: %q, %v", next.GetCase(), err)
	}
}

func TestHealthAndReflection(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	resp, err := healthpb.NewHealthClient(ts.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", resp, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range msg.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"childcase.v1.ReportService", "childcase.v1.CaseService", "childcase.v1.UnitService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}
