package app_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// listRequest is a request message of a list, an export or a search: the
// methods whose filters must filter.
var listRequest = regexp.MustCompile(`^childcase\.v1\.(List|Export|Search)\w*Request$`)

// notFilters are the fields of a list request that choose a page or a
// file format, not the records.
var notFilters = []string{"page_size", "page_token", "format"}

// TestEveryListFilterFilters: a filter of a list, an export or a search
// narrows the caller's answer and never widens or replaces it. One that
// names something out of the caller's scope (another commune's unit, a
// case of another commune) answers as if there were nothing there (an
// empty answer, or NOT_FOUND for the one record a list belongs to), never
// PERMISSION_DENIED and never the caller's other records; one that names
// nothing (a unit no reform ever made) or is malformed is
// INVALID_ARGUMENT naming it. Every filter field of every such request
// message has a probe here: a filter added without one fails the test.
func TestEveryListFilterFilters(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, confHoanKiem)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, confHoanKiem)
	ts.addUser(t, "op2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addPoliceUnit(t, "ca-hoan-kiem", confHoanKiem)
	ts.addUser(t, "hk.police", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-hoan-kiem")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ctx := context.Background()
	// Ba Đình's case, which none of the Hoàn Kiếm staff may see, and
	// Hoàn Kiếm's, which they may.
	bd, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	r := validReport()
	r.IncidentCommuneCode = "00070"
	r.Children[0].FullName = "Trần Văn An"
	r.Caregivers[0].FullName = "Trần Văn Bình"
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	hk, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	ts.addFormerUser(t, "hk.district", pb.Role_ROLE_DISTRICT_OFFICER, "units/002@2020-01-01") // Quận Hoàn Kiếm
	communeStaff := []string{"hk.worker", "hk.chair", "hk.police", "hk.district"}
	// A case the social work centre took, which the hotline's staff may
	// not see, not even as a search's candidate.
	ts.addUser(t, "swc.op", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	sr := validReport()
	sr.Channel = pb.Channel_CHANNEL_SOCIAL_WORK_CENTRE
	sr.Children[0].FullName = "Lê Minh Châu"
	swc, err := ts.reports().CreateReport(ts.as(t, "swc.op"), &pb.CreateReportRequest{Report: sr})
	if err != nil {
		t.Fatal(err)
	}

	// cases lists as user, failing on an error.
	cases := func(t *testing.T, user string, req *pb.ListCasesRequest) []string {
		t.Helper()
		resp, err := ts.cases().ListCases(ts.as(t, user), req)
		if err != nil {
			t.Fatalf("ListCases(%v) as %s: %v", req, user, err)
		}
		return caseNames(resp.GetCases())
	}
	// wantOnly fails unless got is want (nil: nothing).
	wantOnly := func(t *testing.T, what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	// wantBad fails unless err is INVALID_ARGUMENT naming field.
	wantBad := func(t *testing.T, err error, field string) {
		t.Helper()
		if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), field) {
			t.Errorf("%v names %v, want %s", err, badFields(st), field)
		}
	}
	exported := func(t *testing.T, user string, req *pb.ExportCasesRequest) []string {
		t.Helper()
		data, _, err := exportCases(t, ts, user, req)
		if err != nil {
			t.Fatalf("ExportCases(%v) as %s: %v", req, user, err)
		}
		var numbers []string
		for _, line := range strings.Split(string(data), "\n")[1:] {
			if n, _, _ := strings.Cut(line, ","); n != "" {
				numbers = append(numbers, "cases/"+n)
			}
		}
		return numbers
	}
	search := func(t *testing.T, user string, req *pb.SearchCasesRequest) []string {
		t.Helper()
		resp, err := ts.cases().SearchCases(ts.as(t, user), req)
		if err != nil {
			t.Fatalf("SearchCases(%v) as %s: %v", req, user, err)
		}
		var names []string
		for _, c := range resp.GetCandidates() {
			names = append(names, c.GetCase().GetName())
		}
		return names
	}
	listUnits := func(t *testing.T, req *pb.ListUnitsRequest) []*pb.Unit {
		t.Helper()
		req.PageSize = 1000
		resp, err := ts.units().ListUnits(ts.as(t, "hk.worker"), req)
		if err != nil {
			t.Fatalf("ListUnits(%v): %v", req, err)
		}
		if len(resp.GetUnits()) == 0 {
			t.Fatalf("ListUnits(%v) is empty: nothing to check the filter on", req)
		}
		return resp.GetUnits()
	}
	events := func(t *testing.T, req *pb.ListAuditEventsRequest) []*pb.AuditEvent {
		t.Helper()
		req.PageSize = 1000
		resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), req)
		if err != nil {
			t.Fatalf("ListAuditEvents(%v): %v", req, err)
		}
		if len(resp.GetEvents()) == 0 {
			t.Fatalf("ListAuditEvents(%v) is empty: nothing to check the filter on", req)
		}
		return resp.GetEvents()
	}
	const (
		otherUnit = pBaDinh
		noUnit    = "units/00004@2025-01-02" // a date no version of 00004 began on
	)
	probes := map[string]func(t *testing.T){
		"ListCasesRequest.responsible_unit": func(t *testing.T) {
			for _, u := range append(communeStaff, "op2") {
				wantOnly(t, u+"'s cases of another commune", cases(t, u, &pb.ListCasesRequest{ResponsibleUnit: otherUnit}))
			}
			wantOnly(t, "the worker's cases of their commune", cases(t, "hk.worker", &pb.ListCasesRequest{ResponsibleUnit: confHoanKiem}), hk.GetCase())
			for _, bad := range []string{noUnit, "units/00004", "00004@2025-07-01"} {
				_, err := ts.cases().ListCases(ts.as(t, "hk.worker"), &pb.ListCasesRequest{ResponsibleUnit: bad})
				wantBad(t, err, "responsible_unit")
			}
		},
		"ListCasesRequest.status": func(t *testing.T) {
			wantOnly(t, "closed cases", cases(t, "hk.worker", &pb.ListCasesRequest{Status: pb.CaseStatus_CASE_STATUS_CLOSED}))
			wantOnly(t, "cases awaiting acknowledgement", cases(t, "hk.worker", &pb.ListCasesRequest{Status: pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT}), hk.GetCase())
			wantOnly(t, "another commune's cases awaiting acknowledgement",
				cases(t, "hk.worker", &pb.ListCasesRequest{ResponsibleUnit: otherUnit, Status: pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT}))
		},
		"ListCasesRequest.queue": func(t *testing.T) {
			for _, u := range []string{"hk.worker", "hk.chair"} {
				wantOnly(t, u+"'s open queue", cases(t, u, &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN}), hk.GetCase())
				wantOnly(t, u+"'s acceptance queue", cases(t, u, &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE}))
			}
			_, err := ts.cases().ListCases(ts.as(t, "hk.worker"), &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN, ResponsibleUnit: otherUnit})
			wantBad(t, err, "queue")
		},
		"ListCasesRequest.due_before": func(t *testing.T) {
			late := timestamppb.New(testNow.Add(365 * 24 * time.Hour))
			for _, u := range append(communeStaff, "op2") {
				got := cases(t, u, &pb.ListCasesRequest{DueBefore: late})
				if slices.Contains(got, bd.GetCase()) {
					t.Errorf("%s's cases due before %v hold %s, another commune's", u, late.AsTime(), bd.GetCase())
				}
			}
			wantOnly(t, "cases due before now", cases(t, "hk.worker", &pb.ListCasesRequest{DueBefore: timestamppb.New(testNow)}))
			_, err := ts.cases().ListCases(ts.as(t, "hk.worker"), &pb.ListCasesRequest{DueBefore: late, ResponsibleUnit: otherUnit})
			wantBad(t, err, "queue")
		},
		"ExportCasesRequest.responsible_unit": func(t *testing.T) {
			csv := pb.ExportFormat_EXPORT_FORMAT_CSV
			for _, u := range []string{"hk.chair", "hk.district"} {
				wantOnly(t, u+"'s export of another commune", exported(t, u, &pb.ExportCasesRequest{Format: csv, ResponsibleUnit: otherUnit}))
			}
			wantOnly(t, "export of the chair's commune", exported(t, "hk.chair", &pb.ExportCasesRequest{Format: csv, ResponsibleUnit: confHoanKiem}), hk.GetCase())
			for _, bad := range []string{noUnit, "units/00004"} {
				_, _, err := exportCases(t, ts, "hk.chair", &pb.ExportCasesRequest{Format: csv, ResponsibleUnit: bad})
				wantBad(t, err, "responsible_unit")
			}
		},
		"ExportCasesRequest.status": func(t *testing.T) {
			csv := pb.ExportFormat_EXPORT_FORMAT_CSV
			wantOnly(t, "export of closed cases", exported(t, "hk.chair", &pb.ExportCasesRequest{Format: csv, Status: pb.CaseStatus_CASE_STATUS_CLOSED}))
			wantOnly(t, "export of cases awaiting acknowledgement",
				exported(t, "hk.chair", &pb.ExportCasesRequest{Format: csv, Status: pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT}), hk.GetCase())
		},
		"ListReportsRequest.call_type": func(t *testing.T) {
			for _, u := range []string{"hk.worker", "hk.chair", "op2"} {
				resp, err := ts.reports().ListReports(ts.as(t, u), &pb.ListReportsRequest{CallType: pb.CallType_CALL_TYPE_INTERVENTION})
				if err != nil {
					t.Fatal(err)
				}
				for _, rep := range resp.GetReports() {
					if rep.GetName() != hk.GetName() {
						t.Errorf("%s's intervention reports hold %s, not theirs", u, rep.GetName())
					}
				}
			}
			resp, err := ts.reports().ListReports(ts.as(t, "hk.worker"), &pb.ListReportsRequest{CallType: pb.CallType_CALL_TYPE_COUNSELLING})
			if err != nil || len(resp.GetReports()) != 0 {
				t.Errorf("counselling reports = %v, %v; want none", resp.GetReports(), err)
			}
		},
		// A search names the child; whoever may not see the case finds
		// nothing, by any of its fields alone or all of them.
		"SearchCasesRequest.child_name": func(t *testing.T) {
			for _, u := range []string{"hk.worker", "hk.chair"} {
				wantOnly(t, u+"'s search by another commune's child", search(t, u, &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan"}))
			}
			wantOnly(t, "search by the commune's child", search(t, "hk.worker", &pb.SearchCasesRequest{ChildName: "Trần Văn An"}), hk.GetCase())
			for _, u := range []string{"op2", "hk.worker"} {
				wantOnly(t, u+"'s search by the social work centre's child", search(t, u, &pb.SearchCasesRequest{ChildName: "Lê Minh Châu"}))
			}
			wantOnly(t, "the centre's search by its child", search(t, "swc.op", &pb.SearchCasesRequest{ChildName: "Lê Minh Châu"}), swc.GetCase())
		},
		"SearchCasesRequest.birth_date": func(t *testing.T) {
			wantOnly(t, "search by birth date", search(t, "hk.worker", &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan", BirthDate: "2017-01-01"}))
			_, err := ts.cases().SearchCases(ts.as(t, "hk.worker"), &pb.SearchCasesRequest{BirthDate: "17-01-01"})
			wantBad(t, err, "birth_date")
		},
		"SearchCasesRequest.birth_year": func(t *testing.T) {
			wantOnly(t, "search by birth year", search(t, "hk.worker", &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan", BirthYear: 2017}))
		},
		"SearchCasesRequest.phone": func(t *testing.T) {
			wantOnly(t, "search by phone", search(t, "hk.worker", &pb.SearchCasesRequest{Phone: "0912 345 678"}))
		},
		"SearchCasesRequest.commune_code": func(t *testing.T) {
			wantOnly(t, "search by another commune", search(t, "hk.worker", &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan", CommuneCode: "00004"}))
			for _, bad := range []string{"99999", "abc"} {
				_, err := ts.cases().SearchCases(ts.as(t, "hk.worker"), &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan", CommuneCode: bad})
				wantBad(t, err, "commune_code")
			}
		},
		"SearchCasesRequest.caregiver_name": func(t *testing.T) {
			wantOnly(t, "search by caregiver", search(t, "hk.worker", &pb.SearchCasesRequest{CaregiverName: "Nguyễn Văn Hùng"}))
		},
		"ListUnitsRequest.parent": func(t *testing.T) {
			const district = "units/001@2020-01-01" // Quận Ba Đình
			for _, u := range listUnits(t, &pb.ListUnitsRequest{Parent: district}) {
				if u.GetParent() != district {
					t.Errorf("child of %s: %s has parent %s", district, u.GetName(), u.GetParent())
				}
			}
			for _, bad := range []string{noUnit, "units/999@2020-01-01", "bogus"} {
				_, err := ts.units().ListUnits(ts.as(t, "hk.worker"), &pb.ListUnitsRequest{Parent: bad})
				wantBad(t, err, "parent")
			}
		},
		"ListUnitsRequest.level": func(t *testing.T) {
			for _, u := range listUnits(t, &pb.ListUnitsRequest{Level: pb.UnitLevel_UNIT_LEVEL_DISTRICT}) {
				if u.GetLevel() != pb.UnitLevel_UNIT_LEVEL_DISTRICT {
					t.Errorf("district %s is of level %v", u.GetName(), u.GetLevel())
				}
			}
		},
		"ListUnitsRequest.as_of_date": func(t *testing.T) {
			const day = "2024-06-01"
			for _, u := range listUnits(t, &pb.ListUnitsRequest{AsOfDate: day}) {
				if u.GetValidFrom() > day || (u.GetValidTo() != "" && u.GetValidTo() < day) {
					t.Errorf("unit %s in force on %s: %s to %s", u.GetName(), day, u.GetValidFrom(), u.GetValidTo())
				}
			}
			_, err := ts.units().ListUnits(ts.as(t, "hk.worker"), &pb.ListUnitsRequest{AsOfDate: "2024-02-30"})
			wantBad(t, err, "as_of_date")
		},
		"ListAuditEventsRequest.case": func(t *testing.T) {
			for _, e := range events(t, &pb.ListAuditEventsRequest{Case: hk.GetCase()}) {
				if e.GetCase() != hk.GetCase() {
					t.Errorf("event %d of %s is on %q", e.GetSeq(), hk.GetCase(), e.GetCase())
				}
			}
			_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: "garbage"})
			wantBad(t, err, "case")
		},
		"ListAuditEventsRequest.actor": func(t *testing.T) {
			actor := "users/" + operatorID
			for _, e := range events(t, &pb.ListAuditEventsRequest{Actor: actor}) {
				if e.GetActor() != actor {
					t.Errorf("event %d of %s is by %q", e.GetSeq(), actor, e.GetActor())
				}
			}
			for _, bad := range []string{operatorID, "users/nobody"} {
				_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: bad})
				wantBad(t, err, "actor")
			}
			// The service's own name acts too, though no user holds it.
			if _, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/system"}); err != nil {
				t.Errorf("the events of users/system: %v", err)
			}
		},
		"ListAuditEventsRequest.action": func(t *testing.T) {
			for _, e := range events(t, &pb.ListAuditEventsRequest{Action: "report.create"}) {
				if e.GetAction() != "report.create" {
					t.Errorf("event %d of report.create is a %q", e.GetSeq(), e.GetAction())
				}
			}
			_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Action: "Report Create"})
			wantBad(t, err, "action")
		},
		"ListAuditEventsRequest.start_time": func(t *testing.T) {
			start := testNow.Add(-time.Minute)
			for _, e := range events(t, &pb.ListAuditEventsRequest{StartTime: timestamppb.New(start)}) {
				if e.GetTime().AsTime().Before(start) {
					t.Errorf("event %d at %v is before %v", e.GetSeq(), e.GetTime().AsTime(), start)
				}
			}
		},
		"ListAuditEventsRequest.end_time": func(t *testing.T) {
			end := testNow.Add(time.Minute)
			for _, e := range events(t, &pb.ListAuditEventsRequest{EndTime: timestamppb.New(end)}) {
				if !e.GetTime().AsTime().Before(end) {
					t.Errorf("event %d at %v is not before %v", e.GetSeq(), e.GetTime().AsTime(), end)
				}
			}
			_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{StartTime: timestamppb.New(end), EndTime: timestamppb.New(end.Add(-time.Hour))})
			wantCode(t, err, codes.InvalidArgument)
		},
		"ListTokensRequest.parent": func(t *testing.T) {
			resp, err := ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/hk.worker"})
			if err != nil || len(resp.GetTokens()) == 0 {
				t.Fatalf("ListTokens: %v, %v", resp.GetTokens(), err)
			}
			for _, tok := range resp.GetTokens() {
				if !strings.HasPrefix(tok.GetName(), "users/hk.worker/tokens/") {
					t.Errorf("token %s of users/hk.worker", tok.GetName())
				}
			}
			_, err = ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/nobody"})
			wantCode(t, err, codes.NotFound)
			_, err = ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "hk.worker"})
			wantBad(t, err, "parent")
		},
		"ListCaseEventsRequest.parent": func(t *testing.T) {
			for _, u := range []string{"hk.worker", "hk.chair", "op2"} {
				_, err := ts.process().ListCaseEvents(ts.as(t, u), &pb.ListCaseEventsRequest{Parent: bd.GetCase()})
				wantCode(t, err, codes.NotFound)
			}
		},
		"ListCaseEventsRequest.order_by": func(t *testing.T) {
			_, err := ts.process().ListCaseEvents(ts.as(t, "hk.worker"), &pb.ListCaseEventsRequest{Parent: hk.GetCase(), OrderBy: "time"})
			wantBad(t, err, "order_by")
		},
		"ListAssignableOfficersRequest.name": func(t *testing.T) {
			_, err := ts.process().ListAssignableOfficers(ts.as(t, "hk.chair"), &pb.ListAssignableOfficersRequest{Name: bd.GetCase()})
			wantCode(t, err, codes.NotFound)
			resp, err := ts.process().ListAssignableOfficers(ts.as(t, "hk.chair"), &pb.ListAssignableOfficersRequest{Name: hk.GetCase()})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range resp.GetOfficers() {
				if o.GetUnit() != confHoanKiem {
					t.Errorf("officer %s of %s for a case of %s", o.GetName(), o.GetUnit(), confHoanKiem)
				}
			}
		},
	}
	// Every filter of every list request has its probe.
	var fields []string
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Messages().Len() {
			m := fd.Messages().Get(i)
			if !listRequest.MatchString(string(m.FullName())) {
				continue
			}
			for j := range m.Fields().Len() {
				if f := string(m.Fields().Get(j).Name()); !slices.Contains(notFilters, f) {
					fields = append(fields, string(m.Name())+"."+f)
				}
			}
		}
		return true
	})
	for f := range probes {
		if !slices.Contains(fields, f) {
			t.Errorf("probe %s: no such filter field among %v", f, fields)
		}
	}
	for _, f := range fields {
		if probes[f] == nil {
			t.Errorf("%s: a filter with no probe in this test", f)
		}
	}
	for _, f := range fields {
		if probe := probes[f]; probe != nil {
			t.Run(f, probe)
		}
	}
}
