package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// The access matrix drives every RPC of the childcase services, found from
// the service descriptors, as every role, in and out of scope. What each
// role may do and see comes from the one table of who may do what
// (access.Rules); the matrix checks that the running service does it: the
// status code, and that no data the caller may not see appears anywhere in
// the response. A new RPC without an entry in matrixCalls, or without a row
// in the table, fails the test.

// Secrets of the matrix fixtures: what must not leak.
const (
	mxChildName    = "Phạm Thị Bí Mật"
	mxNarrative    = "Lời kể riêng tư số 4711"
	mxCaregiver    = "Đặng Văn Giấu"
	mxReporterName = "Người Báo Kín"
	mxReporterTel  = "0987 654 321"
	mxReporterAddr = "Ngõ Kín 17, phố Đội Cấn"
)

// mxRole is one role's pair of users: one whose unit has the fixture in
// scope, one whose unit does not (empty when the role sees everything or
// has no scope).
type mxRole struct {
	role    pb.Role
	in, out string
	// target is the fixture the in-scope user sees: "A" (Ba Đình, 2026) or
	// "B" (Trúc Bạch in Quận Ba Đình, 2025).
	target string
	// outSameOrg says the out-of-scope user belongs to the in-scope
	// user's organisation: a grant of access.Candidates shows them the
	// candidate view of its cases.
	outSameOrg bool
}

var candidateViewPattern = regexp.MustCompile(`"candidateView":\s*true`)

var mxRoles = []mxRole{
	{pb.Role_ROLE_HOTLINE_OPERATOR, operatorID, "operator.two", "A", true},
	{pb.Role_ROLE_HOTLINE_SUPERVISOR, "sup.111", "sup.swc", "A", false},
	{pb.Role_ROLE_COMMUNE_WORKER, "worker.badinh", "worker.hoankiem", "A", false},
	{pb.Role_ROLE_COMMUNE_CHAIR, "chair.badinh", "chair.hoankiem", "A", false},
	{pb.Role_ROLE_DISTRICT_OFFICER, "district.badinh", "district.hoankiem", "B", false},
	{pb.Role_ROLE_CITY_OFFICER, "city", "", "A", false},
	{pb.Role_ROLE_POLICE_LIAISON, "police.badinh", "police.hoankiem", "A", false},
	{pb.Role_ROLE_AUDITOR, "auditor", "", "A", false},
	{pb.Role_ROLE_ADMIN, "admin", "", "A", false},
}

type mxFixture struct {
	ts      *testServer
	cases   map[string]string // "A", "B" -> case name
	reports map[string]string // "A", "B" -> report name
	seq     int
}

func (f *mxFixture) next() int { f.seq++; return f.seq }

func setupMatrix(t *testing.T) *mxFixture {
	ts := startServer(t, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", "units/00004@2025-07-01")
	ts.addPoliceUnit(t, "ca-hoan-kiem", "units/00070@2025-07-01")
	users := []struct {
		id   string
		role pb.Role
		unit string
	}{
		{"operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111"},
		{"operator.swc", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre"},
		{"sup.111", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111"},
		{"sup.swc", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/social-work-centre"},
		{"worker.badinh", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01"},
		{"worker.hoankiem", pb.Role_ROLE_COMMUNE_WORKER, "units/00070@2025-07-01"},
		{"chair.badinh", pb.Role_ROLE_COMMUNE_CHAIR, "units/00004@2025-07-01"},
		{"chair.hoankiem", pb.Role_ROLE_COMMUNE_CHAIR, "units/00070@2025-07-01"},
		{"district.badinh", pb.Role_ROLE_DISTRICT_OFFICER, "units/001@2020-01-01"},
		{"district.hoankiem", pb.Role_ROLE_DISTRICT_OFFICER, "units/002@2020-01-01"},
		{"city", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01"},
		{"police.badinh", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh"},
		{"police.hoankiem", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-hoan-kiem"},
		{"auditor", pb.Role_ROLE_AUDITOR, "orgs/system"},
	}
	for _, u := range users {
		if u.role == pb.Role_ROLE_DISTRICT_OFFICER {
			// Officers of districts the 2025 reform ended, who keep
			// working after it; no admin may create them today.
			ts.addFormerUser(t, u.id, u.role, u.unit)
			continue
		}
		ts.addUser(t, u.id, u.role, u.unit)
	}
	f := &mxFixture{ts: ts, cases: map[string]string{}, reports: map[string]string{}}
	for _, fx := range []struct {
		key     string
		receive time.Time
	}{
		{"A", testNow.Add(-2 * time.Hour)},
		{"B", time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)}, // Trúc Bạch, Quận Ba Đình
	} {
		r := secretReport(fx.receive)
		created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatalf("fixture %s: %v", fx.key, err)
		}
		f.cases[fx.key], f.reports[fx.key] = created.GetCase(), created.GetName()
	}
	// Case A is referred to the Ba Đình police by the commune worker.
	c, err := ts.cases().GetCase(ts.as(t, "worker.badinh"), &pb.GetCaseRequest{Name: f.cases["A"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "worker.badinh"), &pb.ReferCaseToPoliceRequest{
		Name: f.cases["A"], PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "hành hạ trẻ em", Etag: c.GetEtag(),
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func secretReport(receive time.Time) *pb.Report {
	r := validReport()
	r.ReceiveTime = timestamppb.New(receive)
	r.Children[0].FullName = mxChildName
	r.Narrative = mxNarrative
	r.Caregivers[0].FullName = mxCaregiver
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
		Consent: true, FullName: mxReporterName, Phone: mxReporterTel, Address: mxReporterAddr,
	}}}
	return r
}

// mxCall builds the request of one RPC for a caller: user is the caller,
// target the fixture ("A" or "B") it aims at. It may prepare state first
// (a report to link, a user to disable).
type mxCall func(t *testing.T, f *mxFixture, user, target string) proto.Message

var matrixCalls = map[string]mxCall{
	pb.ReportService_CreateReport_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		r := validReport()
		r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
		return &pb.CreateReportRequest{Report: r}
	},
	pb.ReportService_GetReport_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.GetReportRequest{Name: f.reports[target]}
	},
	pb.ReportService_ListReports_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ListReportsRequest{PageSize: 500}
	},
	pb.ReportService_LinkReport_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		// A fresh report of the caller's own, if their role may record one.
		name := f.reports[target]
		r := validReport()
		r.CallType = pb.CallType_CALL_TYPE_INFORMATION
		if created, err := f.ts.reports().CreateReport(f.ts.as(t, user), &pb.CreateReportRequest{Report: r}); err == nil {
			name = created.GetName()
		}
		return &pb.LinkReportRequest{Name: name, Case: f.cases[target]}
	},
	pb.ReportService_DiscloseReporter_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.DiscloseReporterRequest{Name: f.reports[target], Reason: "police request 12/CV-CAQ"}
	},
	pb.CaseService_GetCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.GetCaseRequest{Name: f.cases[target]}
	},
	pb.CaseService_ListCases_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ListCasesRequest{PageSize: 500}
	},
	pb.CaseService_SearchCases_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		// Both fixtures name the same child: every caller finds those of
		// its scope, and hotline staff those of their organisation.
		return &pb.SearchCasesRequest{ChildName: mxChildName}
	},
	pb.StatisticsService_GetStatistics_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		// Counts of every dimension: none may carry a name or a number.
		return &pb.GetStatisticsRequest{StartDate: "2020-01-01", EndDate: "2030-12-31",
			GroupBy: []string{"month", "unit", "channel", "call_type", "abuse_form", "special_circumstance", "sex", "age_band"}}
	},
	pb.StatisticsService_GetActionMonthReport_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.GetActionMonthReportRequest{Year: 2026, Format: "csv"}
	},
	pb.StatisticsService_GetPeriodicReport_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.GetPeriodicReportRequest{StartDate: "2020-01-01", EndDate: "2030-12-31", Format: "csv"}
	},
	pb.CaseService_ExportCases_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV}
	},
	pb.CaseProcessService_ReferCaseToPolice_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		id := fmt.Sprintf("ca-matrix-%d", f.next())
		f.ts.addPoliceUnit(t, id, "units/00004@2025-07-01") // covers a commune: there is one city police
		return &pb.ReferCaseToPoliceRequest{Name: f.cases[target], PoliceUnit: "policeUnits/" + id, SuspectedOffence: "x", Etag: f.etag(t, target)}
	},
	pb.CaseProcessService_AcknowledgeCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.AcknowledgeCaseRequest{Name: f.cases[target], Etag: f.etag(t, target)}
	},
	pb.CaseProcessService_RecordInitialAssessment_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordInitialAssessmentRequest{Name: f.cases[target], Etag: f.etag(t, target),
			HarmSeverity: pb.RiskLevel_RISK_LEVEL_LOW, AbuserAccess: pb.RiskLevel_RISK_LEVEL_LOW, SafetyObstacles: pb.RiskLevel_RISK_LEVEL_LOW}
	},
	pb.CaseProcessService_RecordEmergencyMeasures_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordEmergencyMeasuresRequest{Name: f.cases[target], Etag: f.etag(t, target),
			Measures: "đưa trẻ đến nơi an toàn", AppliedBy: "Công an phường", AppliedTime: timestamppb.New(testNow)}
	},
	pb.CaseProcessService_StartSeparation_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.StartSeparationRequest{Name: f.cases[target], Etag: f.etag(t, target), StartTime: timestamppb.New(testNow), Place: "Mái ấm",
			Carer: "Mái ấm", Ground: "Điều 32(1)", DecisionNumber: "1/QĐ-UBND"}
	},
	pb.CaseProcessService_EndSeparation_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.EndSeparationRequest{Name: f.cases[target], Etag: f.etag(t, target), Outcome: "RETURNED_HOME"}
	},
	pb.CaseProcessService_ExtendSeparation_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ExtendSeparationRequest{Name: f.cases[target], Etag: f.etag(t, target), Days: 5, Reason: "chờ đánh giá", DecisionNumber: "2/QĐ-UBND"}
	},
	pb.CaseProcessService_PetitionCourt_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.PetitionCourtRequest{Name: f.cases[target], Etag: f.etag(t, target), Court: "TAND khu vực 1"}
	},
	pb.CaseProcessService_RecordCourtDecision_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordCourtDecisionRequest{Name: f.cases[target], Etag: f.etag(t, target), DecisionNumber: "9/QĐ-TA", DecisionDate: "2026-11-28", Outcome: "RETURNED_HOME"}
	},
	pb.CaseProcessService_RecordCareFollowUp_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordCareFollowUpRequest{Name: f.cases[target], Etag: f.etag(t, target), Notes: "trẻ ổn định"}
	},
	pb.CaseProcessService_RecordSpecificAssessment_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordSpecificAssessmentRequest{Name: f.cases[target], Etag: f.etag(t, target),
			Needs: "n", ChildViews: "v", MeetingRecord: "r", MeetingTime: timestamppb.New(testNow), MeetingChair: chairAttendee()}
	},
	pb.CaseProcessService_SubmitPlan_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.SubmitPlanRequest{Name: f.cases[target], Etag: f.etag(t, target), Services: []*pb.PlanServiceInput{{
			Name: "tư vấn", Owner: "cán bộ", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-12-01", ExpectedEndDate: "2026-12-31"}}}
	},
	pb.CaseProcessService_ApprovePlan_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ApprovePlanRequest{Name: f.cases[target], Etag: f.etag(t, target), DecisionNumber: "1/QĐ-UBND", DecisionDate: "2026-11-28"}
	},
	pb.CaseProcessService_ReturnPlan_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ReturnPlanRequest{Name: f.cases[target], Etag: f.etag(t, target), Reason: "thiếu dịch vụ"}
	},
	pb.CaseProcessService_RecordServiceProgress_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordServiceProgressRequest{Name: f.cases[target], Etag: f.etag(t, target), ServiceId: 1, State: "IN_PROGRESS"}
	},
	pb.CaseProcessService_StartReview_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.StartReviewRequest{Name: f.cases[target], Etag: f.etag(t, target)}
	},
	pb.CaseProcessService_RecordReview_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordReviewRequest{Name: f.cases[target], Etag: f.etag(t, target), Outcome: "NEW_PLAN_CYCLE",
			HarmSeverity: pb.RiskLevel_RISK_LEVEL_LOW, AbuserAccess: pb.RiskLevel_RISK_LEVEL_LOW, SafetyObstacles: pb.RiskLevel_RISK_LEVEL_LOW,
			SelfProtection: "s", Recovery: "r"}
	},
	pb.CaseProcessService_ApproveClosure_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ApproveClosureRequest{Name: f.cases[target], Etag: f.etag(t, target), Reason: "an toàn"}
	},
	pb.CaseProcessService_ReopenCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ReopenCaseRequest{Name: f.cases[target], Etag: f.etag(t, target), Reason: "tái phát"}
	},
	pb.CaseProcessService_AddCaseNote_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.AddCaseNoteRequest{Name: f.cases[target], Etag: f.etag(t, target), Text: "ghi chú"}
	},
	pb.CaseProcessService_ProposeTransfer_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ProposeTransferRequest{Name: f.cases[target], Etag: f.etag(t, target), ToUnit: "units/00091@2025-07-01", Reason: "trẻ chuyển nhà"}
	},
	pb.CaseProcessService_ReassignCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ReassignCaseRequest{Name: f.cases[target], Etag: f.etag(t, target), ToUnit: "units/00091@2025-07-01", Reason: "trẻ chuyển nhà"}
	},
	pb.CaseProcessService_AssignCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.AssignCaseRequest{Name: f.cases[target], Etag: f.etag(t, target), Officer: "users/worker.badinh"}
	},
	pb.CaseProcessService_MergeCase_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		// A second case of the child, opened by a fresh report in the
		// target's commune, to merge into the target.
		created, err := f.ts.reports().CreateReport(f.ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
		if err != nil {
			t.Fatal(err)
		}
		absorbed, err := f.ts.cases().GetCase(f.ts.as(t, "city"), &pb.GetCaseRequest{Name: created.GetCase()})
		if err != nil {
			t.Fatal(err)
		}
		return &pb.MergeCaseRequest{Name: f.cases[target], Etag: f.etag(t, target),
			AbsorbedCase: absorbed.GetName(), AbsorbedEtag: absorbed.GetEtag(), Reason: "cùng một trẻ"}
	},
	pb.CaseProcessService_AcceptTransfer_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.AcceptTransferRequest{Name: f.cases[target], Etag: f.etag(t, target)}
	},
	pb.CaseProcessService_DeclineTransfer_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.DeclineTransferRequest{Name: f.cases[target], Etag: f.etag(t, target), Reason: "không thuộc địa bàn"}
	},
	pb.CaseProcessService_AcknowledgePoliceReferral_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.AcknowledgePoliceReferralRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), ReferenceNumber: "12/CAP"}
	},
	pb.CaseProcessService_RecordPoliceForwarding_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordPoliceForwardingRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), InvestigationAgency: "CQĐT"}
	},
	pb.CaseProcessService_RecordPoliceOutcome_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.RecordPoliceOutcomeRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), Outcome: "PROSECUTED"}
	},
	pb.CaseProcessService_ExtendPoliceDeadline_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ExtendPoliceDeadlineRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), DecisionNumber: "1/QĐ", Reason: "phức tạp", UntilDate: "2027-01-20"}
	},
	pb.CaseProcessService_SuspendPoliceDeadline_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.SuspendPoliceDeadlineRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), DecisionNumber: "2/QĐ", Reason: "chờ giám định"}
	},
	pb.CaseProcessService_ResumePoliceDeadline_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ResumePoliceDeadlineRequest{Name: f.cases[target], Etag: f.etagAs(t, user, target), DecisionNumber: "3/QĐ", Reason: "đã có kết luận"}
	},
	pb.CaseProcessService_PauseDeadline_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.PauseDeadlineRequest{Name: f.cases[target], Etag: f.etag(t, target), DeadlineId: 1, Reason: "không liên lạc được"}
	},
	pb.CaseProcessService_ResumeDeadline_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ResumeDeadlineRequest{Name: f.cases[target], Etag: f.etag(t, target), DeadlineId: 1}
	},
	pb.CaseProcessService_ListCaseEvents_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ListCaseEventsRequest{Parent: f.cases[target]}
	},
	pb.CaseProcessService_ListAssignableOfficers_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.ListAssignableOfficersRequest{Name: f.cases[target]}
	},
	pb.CaseProcessService_WatchEvents_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.WatchEventsRequest{AfterSeq: 0}
	},
	pb.UnitService_ListUnits_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ListUnitsRequest{PageSize: 5}
	},
	pb.UnitService_GetUnit_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.GetUnitRequest{Name: "units/00004"}
	},
	pb.PoliceUnitService_ListPoliceUnits_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ListPoliceUnitsRequest{}
	},
	pb.PoliceUnitService_GetPoliceUnit_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.GetPoliceUnitRequest{Name: "policeUnits/ca-ba-dinh"}
	},
	pb.AdminService_CreateUser_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.CreateUserRequest{UserId: fmt.Sprintf("new.user%d", f.next()), User: &pb.User{
			DisplayName: "Mới", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: "units/00004@2025-07-01"}}
	},
	pb.AdminService_GetUser_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.GetUserRequest{Name: "users/worker.badinh"}
	},
	pb.AdminService_ListUsers_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ListUsersRequest{}
	},
	pb.AdminService_DisableUser_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		id := fmt.Sprintf("leaver%d", f.next())
		f.ts.addUser(t, id, pb.Role_ROLE_COMMUNE_WORKER, "units/00070@2025-07-01")
		return &pb.DisableUserRequest{Name: "users/" + id}
	},
	pb.AdminService_ResetPassword_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ResetPasswordRequest{Name: "users/worker.hoankiem"}
	},
	pb.AdminService_CreateToken_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.CreateTokenRequest{Parent: "users/worker.hoankiem", Ttl: durationpb.New(time.Hour)}
	},
	pb.AdminService_ListTokens_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ListTokensRequest{Parent: "users/worker.hoankiem"}
	},
	pb.AdminService_RevokeToken_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		tok, err := f.ts.admin().CreateToken(f.ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/worker.hoankiem"})
		if err != nil {
			t.Fatal(err)
		}
		return &pb.RevokeTokenRequest{Name: tok.GetName()}
	},
	pb.AdminService_CreatePoliceUnit_FullMethodName: func(t *testing.T, f *mxFixture, user, target string) proto.Message {
		return &pb.CreatePoliceUnitRequest{PoliceUnitId: fmt.Sprintf("ca-new-%d", f.next()), PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an mới"}}
	},
	pb.AdminService_RotateMasterKey_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.RotateMasterKeyRequest{}
	},
	pb.AdminService_BackupDatabase_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.BackupDatabaseRequest{}
	},
	pb.AuditService_ListAuditEvents_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.ListAuditEventsRequest{PageSize: 1000}
	},
	pb.AuditService_VerifyAuditLog_FullMethodName: func(*testing.T, *mxFixture, string, string) proto.Message {
		return &pb.VerifyAuditLogRequest{}
	},
}

// scopedMethods act on one report or case: out of scope they must answer
// exactly as for a record that does not exist.
var scopedMethods = map[string]bool{
	pb.ReportService_GetReport_FullMethodName:           true,
	pb.ReportService_LinkReport_FullMethodName:          true,
	pb.ReportService_DiscloseReporter_FullMethodName:    true,
	pb.CaseService_GetCase_FullMethodName:               true,
	pb.CaseProcessService_ListCaseEvents_FullMethodName: true,
}

// etag reads a fixture case's current etag (as the city officer).
func (f *mxFixture) etag(t *testing.T, target string) string {
	t.Helper()
	c, err := f.ts.cases().GetCase(f.ts.as(t, "city"), &pb.GetCaseRequest{Name: f.cases[target]})
	if err != nil {
		t.Fatal(err)
	}
	return c.GetEtag()
}

// etagAs is the etag of a target case as user sees it: the police view's
// for the police liaison in scope (it moves only with what that view
// shows), else the city's. Anyone else's call of a police step is refused
// for its role or scope before its etag is looked at, and reads nothing
// here, so that the audit holds only what the call wrote.
func (f *mxFixture) etagAs(t *testing.T, user, target string) string {
	t.Helper()
	if !slices.ContainsFunc(mxRoles, func(r mxRole) bool {
		return r.in == user && r.target == target && r.role == pb.Role_ROLE_POLICE_LIAISON
	}) {
		return f.etag(t, target)
	}
	c, err := f.ts.cases().GetCase(f.ts.as(t, user), &pb.GetCaseRequest{Name: f.cases[target]})
	if err != nil {
		t.Fatal(err)
	}
	return c.GetEtag()
}

// childcaseMethods lists every method of every childcase service.
func childcaseMethods(t *testing.T) []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				out = append(out, sd.Methods().Get(j))
			}
		}
		return true
	})
	if len(out) < 20 {
		t.Fatalf("found only %d childcase methods", len(out))
	}
	return out
}

// matrixEntry returns the method's request builder and its row of
// access's table; it fails the test (and returns false) when either is
// missing, so that a new RPC cannot go untested.
func matrixEntry(t *testing.T, method string) (mxCall, access.Rule, bool) {
	t.Helper()
	build, ok := matrixCalls[method]
	if !ok {
		t.Errorf("%s has no entry in the access matrix", method)
		return nil, access.Rule{}, false
	}
	rule, ok := access.RuleFor(strings.TrimPrefix(method, "/childcase.v1."))
	if !ok {
		t.Errorf("%s has no row in access's table", method)
		return nil, access.Rule{}, false
	}
	return build, rule, true
}

// takesAStep reports whether m takes a step of the case process (its row
// of access's table names one): it carries an etag and a request_id.
func takesAStep(m protoreflect.MethodDescriptor) bool {
	rule, ok := access.RuleFor(string(m.Parent().Name()) + "/" + string(m.Name()))
	return ok && rule.Step != ""
}

func fullMethod(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

// invoke calls any method as user and returns the response as JSON text.
func (f *mxFixture) invoke(t *testing.T, m protoreflect.MethodDescriptor, user string, req proto.Message) (string, error) {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Output().FullName())
	if err != nil {
		t.Fatal(err)
	}
	if m.IsStreamingServer() {
		switch fullMethod(m) {
		case pb.AdminService_BackupDatabase_FullMethodName:
			return f.backup(t, m, user, req)
		case pb.CaseService_ExportCases_FullMethodName:
			data, err := f.readBody(t, m, user, req, "text/csv; charset=utf-8")
			return string(data), err
		}
		return f.watch(t, m, user, req)
	}
	resp := mt.New().Interface()
	err = f.ts.conn.Invoke(f.ts.as(t, user), fullMethod(m), req, resp)
	if err != nil {
		return "", err
	}
	if body, ok := resp.(*httpbody.HttpBody); ok {
		return string(body.GetData()), nil // a report's file, checked as it reads
	}
	return protojson.Format(resp), nil
}

// watch opens a server stream for a moment, with history from the start
// of the outbox, and returns what it received as JSON lines.
func (f *mxFixture) watch(t *testing.T, m protoreflect.MethodDescriptor, user string, req proto.Message) (string, error) {
	t.Helper()
	if w, ok := req.(*pb.WatchEventsRequest); ok {
		w.AfterSeq = 0
		req = &pb.WatchEventsRequest{AfterSeq: 1, Case: w.Case}
	}
	ctx, cancel := context.WithTimeout(f.ts.as(t, user), 300*time.Millisecond)
	defer cancel()
	stream, err := f.ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, fullMethod(m))
	if err != nil {
		return "", err
	}
	if err := stream.SendMsg(req); err != nil {
		return "", err
	}
	if err := stream.CloseSend(); err != nil {
		return "", err
	}
	var out strings.Builder
	for {
		n := &pb.Notification{}
		err := stream.RecvMsg(n)
		if status.Code(err) == codes.DeadlineExceeded || errors.Is(err, io.EOF) {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
		out.WriteString(protojson.Format(n) + "\n")
	}
}

// backup reads a BackupDatabase stream to its end, checks that the bytes
// are a database that passes boltstore.Check and hold none of the
// fixtures' secrets in the clear, and returns a summary of it rather than
// the bytes: the file names records (its audit events), as the database
// on disk does, which is what a backup is for.
func (f *mxFixture) backup(t *testing.T, m protoreflect.MethodDescriptor, user string, req proto.Message) (string, error) {
	t.Helper()
	data, err := f.readBody(t, m, user, req, "application/octet-stream")
	if err != nil {
		return "", err
	}
	for _, secret := range []string{mxChildName, mxNarrative, mxCaregiver, mxReporterName, mxReporterTel, mxReporterAddr} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the backup holds %q in the clear", secret)
		}
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := boltstore.Check(context.Background(), path)
	if err != nil {
		t.Fatalf("check the backup: %v", err)
	}
	for _, p := range res.Problems {
		t.Errorf("the backup: %s", p)
	}
	return fmt.Sprintf("backup of %d bytes: %d reports, %d cases, %d audit events\n", len(data), res.Reports, res.Cases, res.AuditEvents), nil
}

// readBody reads a stream of google.api.HttpBody chunks (a backup, an
// export) to its end, checking that every chunk has contentType.
func (f *mxFixture) readBody(t *testing.T, m protoreflect.MethodDescriptor, user string, req proto.Message, contentType string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(f.ts.as(t, user), 30*time.Second)
	defer cancel()
	stream, err := f.ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, fullMethod(m))
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var data []byte
	for {
		chunk := &httpbody.HttpBody{}
		err := stream.RecvMsg(chunk)
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return data, err
		}
		if chunk.GetContentType() != contentType {
			t.Errorf("%s chunk of type %q, want %q", m.Name(), chunk.GetContentType(), contentType)
		}
		data = append(data, chunk.GetData()...)
	}
}

func TestAccessMatrix(t *testing.T) {
	f := setupMatrix(t)
	// The answer to a name that does not exist, to compare out-of-scope
	// answers with.
	ghost := map[string]proto.Message{
		pb.ReportService_GetReport_FullMethodName:        &pb.GetReportRequest{Name: "reports/01900000-0000-7000-8000-000000000000"},
		pb.ReportService_DiscloseReporter_FullMethodName: &pb.DiscloseReporterRequest{Name: "reports/01900000-0000-7000-8000-000000000000", Reason: "police request 12/CV-CAQ"},
		pb.CaseService_GetCase_FullMethodName:            &pb.GetCaseRequest{Name: "cases/HN-2099-99999"},
	}

	for _, m := range childcaseMethods(t) {
		method := fullMethod(m)
		build, rule, ok := matrixEntry(t, method)
		if !ok {
			continue
		}
		allowed, public := grpcapi.MethodRoles(method)
		for _, r := range mxRoles {
			t.Run(string(m.Name())+"/"+r.role.String(), func(t *testing.T) {
				grant := rule.Grant(model.Role(r.role))
				mayCall := grant != access.Refused
				if public || slices.Contains(allowed, model.Role(r.role)) != mayCall {
					t.Errorf("the interceptor's rule (public %v, roles %v) is not the table's (%s)", public, allowed, grant)
				}
				target := r.target
				// The officers a case may be assigned are asked as the
				// assignment is made: a caller in scope who does not hold
				// the case is refused as the step refuses them.
				transition := takesAStep(m) || method == pb.CaseProcessService_ListAssignableOfficers_FullMethodName
				out, err := f.invoke(t, m, r.in, build(t, f, r.in, target))
				if !mayCall {
					if status.Code(err) != codes.PermissionDenied {
						t.Fatalf("role may not call it: got %v, want PermissionDenied", err)
					}
					return
				}
				switch {
				case transition:
					// A transition in scope gets past access control; the
					// case's state may still refuse it.
					switch status.Code(err) {
					case codes.NotFound, codes.PermissionDenied, codes.Unauthenticated, codes.Internal, codes.Unknown:
						t.Fatalf("in scope: %v", err)
					}
				case err != nil:
					t.Fatalf("in scope: %v", err)
				}
				checkNoLeak(t, r.role, grant, method, out, "")
				if r.out == "" {
					return // the role sees everything, or has no scope
				}
				// Out of scope: the other unit's user. An operator may
				// join (link a report to) a case of their organisation they
				// see in the candidate view (issue 12; TestSecondCallFinds
				// TheFirstCase), which would bring it into their scope: a
				// link is tried out of scope by another organisation's.
				outUser := r.out
				if method == pb.ReportService_LinkReport_FullMethodName && r.outSameOrg {
					outUser = "operator.swc"
				}
				outResp, outErr := f.invoke(t, m, outUser, build(t, f, outUser, target))
				if transition {
					if status.Code(outErr) != codes.NotFound {
						t.Fatalf("out of scope: got %v, want NotFound", outErr)
					}
					return
				}
				if scopedMethods[method] {
					checkLikeAbsent(t, f, m, outUser, outErr, ghost[method])
					return
				}
				if outErr != nil {
					t.Fatalf("out of scope: %v", outErr)
				}
				checkNoLeak(t, r.role, grant, method, outResp, target)
				if grant == access.Candidates && r.outSameOrg {
					// The candidate view of the organisation's case: that
					// it exists, with no content (checkNoLeak above).
					if !strings.Contains(outResp, f.cases[target]) || !candidateViewPattern.MatchString(outResp) {
						t.Errorf("out of scope in the same organisation: want %s in the candidate view, got\n%s", f.cases[target], outResp)
					}
					return
				}
				if strings.Contains(outResp, f.cases[target]) || strings.Contains(outResp, f.reports[target]) {
					t.Errorf("out-of-scope response names %s or %s:\n%s", f.cases[target], f.reports[target], outResp)
				}
			})
		}
	}
}

// checkLikeAbsent checks that an out-of-scope answer is NotFound (or the
// same answer a name that does not exist gets), revealing nothing.
func checkLikeAbsent(t *testing.T, f *mxFixture, m protoreflect.MethodDescriptor, user string, err error, ghost proto.Message) {
	t.Helper()
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound:
		if st.Message() != "not found" {
			t.Errorf("NotFound message %q says more than \"not found\"", st.Message())
		}
	case codes.InvalidArgument:
		// A referenced record (the case of a link) answers as a missing
		// reference does; the message names only what the caller sent.
		if !strings.Contains(st.Message(), "does not exist") {
			t.Errorf("out of scope: %v", err)
		}
	default:
		t.Fatalf("out of scope: got %v, want NotFound", err)
	}
	if ghost != nil {
		_, gerr := f.invoke(t, m, user, ghost)
		if gs := status.Convert(gerr); gs.Code() != st.Code() || gs.Message() != st.Message() {
			t.Errorf("out of scope answers %v, a missing record %v", err, gerr)
		}
	}
}

// checkNoLeak fails if a response holds data the role must not see: what
// the table grants it from the method, and what its role never sees.
func checkNoLeak(t *testing.T, role pb.Role, grant access.Grant, method, resp, outTarget string) {
	t.Helper()
	forbidden := []string{mxReporterTel, mxReporterName, mxReporterAddr}
	if method == pb.ReportService_DiscloseReporter_FullMethodName {
		forbidden = nil // the one place the identity is shown, to who may ask
	}
	switch grant {
	case access.Police:
		// The police view: no content, no reports.
		forbidden = append(forbidden, mxChildName, mxNarrative, mxCaregiver, `"reports/`)
	case access.Call:
		// No case content; auditors see which records were touched.
		forbidden = append(forbidden, mxChildName, mxNarrative, mxCaregiver)
	}
	if role == pb.Role_ROLE_POLICE_LIAISON || role == pb.Role_ROLE_ADMIN {
		forbidden = append(forbidden, mxChildName, mxNarrative, mxCaregiver, `"reports/`)
	}
	if outTarget != "" {
		forbidden = append(forbidden, mxChildName, mxNarrative, mxCaregiver)
	}
	for _, s := range forbidden {
		if strings.Contains(resp, s) {
			t.Errorf("%s as %s: response holds %q:\n%s", method, role, s, resp)
		}
	}
}

// TestAccessMatrixCoversEveryRole keeps the matrix honest: every role of
// the schema has users in it.
func TestAccessMatrixCoversEveryRole(t *testing.T) {
	seen := map[pb.Role]bool{}
	for _, r := range mxRoles {
		seen[r.role] = true
	}
	for _, r := range model.Roles {
		if !seen[pb.Role(r)] {
			t.Errorf("role %s is not in the matrix", r)
		}
	}
}
