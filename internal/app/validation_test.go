package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

func TestCreateReportValidation(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	long := strings.Repeat("ả", 20001)
	tests := []struct {
		name      string
		edit      func(r *pb.Report)
		requestID string
		wantField string
	}{
		{"no channel", func(r *pb.Report) { r.Channel = 0 }, "", "report.channel"},
		{"undefined channel", func(r *pb.Report) { r.Channel = 99 }, "", "report.channel"},
		{"no receive time", func(r *pb.Report) { r.ReceiveTime = nil }, "", "report.receive_time"},
		{"receive time in the future", func(r *pb.Report) { r.ReceiveTime = timestamppb.New(testNow.Add(time.Hour)) }, "", "report.receive_time"},
		{"receive time before the unit data", func(r *pb.Report) { r.ReceiveTime = timestamppb.New(time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)) }, "", "report.receive_time"},
		{"no commune", func(r *pb.Report) { r.IncidentCommuneCode = "" }, "", "report.incident_commune_code"},
		{"malformed commune", func(r *pb.Report) { r.IncidentCommuneCode = "0004A" }, "", "report.incident_commune_code"},
		{"unknown commune", func(r *pb.Report) { r.IncidentCommuneCode = "99999" }, "", "report.incident_commune_code"},
		// 00007 was Phường Cống Vị until 2025-06-30; the 2025 reform ended it.
		{"commune not in force on the date", func(r *pb.Report) { r.IncidentCommuneCode = "00007" }, "", "report.incident_commune_code"},
		{"no call type", func(r *pb.Report) { r.CallType = 0 }, "", "report.call_type"},
		{"intervention without a child", func(r *pb.Report) { r.Children = nil }, "", "report.children"},
		{"child without age", func(r *pb.Report) { r.Children[0].Age = nil }, "", "report.children[0].age"},
		{"child aged 18", func(r *pb.Report) { r.Children[0].Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 18} }, "", "report.children[0].estimated_age_years"},
		{"malformed birth date", func(r *pb.Report) { r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "28/11/2019"} }, "", "report.children[0].birth_date"},
		{"impossible birth date", func(r *pb.Report) { r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2019-02-30"} }, "", "report.children[0].birth_date"},
		{"birth date day first", func(r *pb.Report) { r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2019-28-11"} }, "", "report.children[0].birth_date"},
		{"birth date after the report", func(r *pb.Report) { r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2026-12-25"} }, "", "report.children[0].birth_date"},
		{"adult by birth date", func(r *pb.Report) { r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2001-01-01"} }, "", "report.children[0].birth_date"},
		{"no sex", func(r *pb.Report) { r.Children[0].Sex = 0 }, "", "report.children[0].sex"},
		{"too many children", func(r *pb.Report) {
			for range 20 {
				r.Children = append(r.Children, r.Children[0])
			}
		}, "", "report.children"},
		{"oversized narrative", func(r *pb.Report) { r.Narrative = long }, "", "report.narrative"},
		{"oversized child name", func(r *pb.Report) { r.Children[0].FullName = strings.Repeat("a", 201) }, "", "report.children[0].full_name"},
		{"unspecified abuse form", func(r *pb.Report) { r.SuspectedAbuse = []pb.AbuseForm{0} }, "", "report.suspected_abuse[0]"},
		{"undefined abuse form", func(r *pb.Report) { r.SuspectedAbuse = []pb.AbuseForm{42} }, "", "report.suspected_abuse[0]"},
		{"repeated abuse form", func(r *pb.Report) {
			r.SuspectedAbuse = []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_VIOLENCE, pb.AbuseForm_ABUSE_FORM_VIOLENCE}
		}, "", "report.suspected_abuse"},
		{"no reporter", func(r *pb.Report) { r.Reporter = nil }, "", "report.reporter"},
		{"reporter neither anonymous nor identified", func(r *pb.Report) { r.Reporter = &pb.Reporter{} }, "", "report.reporter.identity"},
		{"anonymous false", func(r *pb.Report) { r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: false}} }, "", "report.reporter.anonymous"},
		{"identified without consent", func(r *pb.Report) { r.Reporter.GetIdentified().Consent = false }, "", "report.reporter.identified.consent"},
		{"identified without name or phone", func(r *pb.Report) {
			r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{Consent: true}}}
		}, "", "report.reporter.identified"},
		{"bad phone", func(r *pb.Report) { r.Reporter.GetIdentified().Phone = "call me" }, "", "report.reporter.identified.phone"},
		{"unknown case", func(r *pb.Report) { r.Case = "cases/HN-2026-04242" }, "", "report.case"},
		{"malformed case", func(r *pb.Report) { r.Case = "case 42" }, "", "report.case"},
		{"malformed request id", func(*pb.Report) {}, "bad id!", "request_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validReport()
			tt.edit(r)
			_, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: r, RequestId: tt.requestID})
			st := wantCode(t, err, codes.InvalidArgument)
			if fields := badFields(st); !slices.Contains(fields, tt.wantField) {
				t.Errorf("fields %v, want %s (message %q)", fields, tt.wantField, st.Message())
			}
			if !strings.Contains(st.Message(), tt.wantField) {
				t.Errorf("message %q does not name %s", st.Message(), tt.wantField)
			}
			// Messages are logged: none repeats a child's birth date, even
			// one refused (a date typed day first is still the child's).
			for _, c := range r.GetChildren() {
				if d := c.GetBirthDate(); d != "" && strings.Contains(fmt.Sprint(st.Proto()), d) {
					t.Errorf("the refusal repeats the birth date %s: %v", d, st.Proto())
				}
			}
		})
	}
	// None of the refused requests wrote anything.
	list, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetReports()) != 0 {
		t.Errorf("refused requests left %d reports", len(list.GetReports()))
	}
	cases, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{})
	if err != nil || len(cases.GetCases()) != 0 {
		t.Errorf("refused requests left cases: %v %v", cases.GetCases(), err)
	}
}

func TestOtherRequestValidation(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	tests := []struct {
		name      string
		call      func() error
		wantField string
	}{
		{"get report by bad name", func() error {
			_, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: "reports/42"})
			return err
		}, "name"},
		{"get case by bad name", func() error {
			_, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: "cases/42"})
			return err
		}, "name"},
		{"huge page size", func() error {
			_, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{PageSize: 100000})
			return err
		}, "page_size"},
		{"negative page size", func() error {
			_, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{PageSize: -1})
			return err
		}, "page_size"},
		{"forged page token", func() error {
			_, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{PageToken: "not-a-token"})
			return err
		}, "page_token"},
		{"bad unit filter", func() error {
			_, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{ResponsibleUnit: "00004"})
			return err
		}, "responsible_unit"},
		// A unit no list can hold (a typo of its code or date) names the
		// field, as statistics' unit does, rather than an empty list the
		// caller would take for a commune without cases.
		{"unit filter that names no unit", func() error {
			_, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{ResponsibleUnit: "units/99999@2025-07-01"})
			return err
		}, "responsible_unit"},
		{"export of a unit that names no unit", func() error {
			ctx := ts.as(t, "city")
			stream, err := ts.cases().ExportCases(ctx, &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV, ResponsibleUnit: "units/00004@2099-01-01"})
			if err == nil {
				_, err = stream.Recv()
			}
			return err
		}, "responsible_unit"},
		{"undefined status", func() error {
			_, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{Status: 77})
			return err
		}, "status"},
		{"bad as_of_date", func() error {
			_, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{AsOfDate: "2025-02-30"})
			return err
		}, "as_of_date"},
		{"link without case", func() error {
			_, err := ts.reports().LinkReport(ctx, &pb.LinkReportRequest{Name: "reports/0192f7a0-0000-7000-8000-000000000000"})
			return err
		}, "case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := wantCode(t, tt.call(), codes.InvalidArgument)
			if fields := badFields(st); !slices.Contains(fields, tt.wantField) {
				t.Errorf("fields %v, want %s (message %q)", fields, tt.wantField, st.Message())
			}
		})
	}
}

// A caregiver that says nothing (no name, relation, phone or address,
// and not said to be the suspected abuser; or only spaces, which are
// trimmed away) is refused naming it, as the console leaves out a blank
// caregiver block: it was stored as an empty caregiver on the report and
// its case. A caregiver known only as the suspected abuser says
// something: the case is an emergency from intake.
func TestCaregiverThatSaysNothingIsRefused(t *testing.T) {
	ts := startServer(t, "")
	// Characters nobody sees (a zero-width space, a soft hyphen, a byte
	// order mark pasted with a name) and punctuation alone say nothing
	// either: search drops them (search.Fold), and the caregiver would
	// show as one of whom nothing is known.
	for _, g := range []*pb.Caregiver{{}, {FullName: "  ", Relation: "\u3000", Address: " "}, {FullName: "\u200b", Relation: "\u00ad", Address: "\ufeff \u2060"}, {FullName: "-", Address: "..."}} {
		r := validReport()
		r.Caregivers = append(r.Caregivers, g)
		_, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
		wantBadField(t, err, "report.caregivers[1]")
	}
	list, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{})
	if err != nil || len(list.GetReports()) != 0 {
		t.Fatalf("the refused reports left %v (%v)", list.GetReports(), err)
	}
	r := validReport()
	r.Caregivers = []*pb.Caregiver{{SuspectedAbuser: true}}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r}); err != nil {
		t.Errorf("a caregiver known only as the suspected abuser: %v", err)
	}
}

// An identified reporter needs a name or a phone number; a name of
// characters nobody sees, or of punctuation alone, is no name (as a
// caregiver's is none), and such a report is refused naming the
// reporter, with no trace of it left.
func TestIdentifiedReporterWithoutANameOrPhoneIsRefused(t *testing.T) {
	ts := startServer(t, "")
	for _, name := range []string{"", "  ", "\u200b\u2060", "\u00ad", "-", "..."} {
		r := validReport()
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: name, RelationToChild: "hàng xóm"}}}
		t.Run(fmt.Sprintf("%+q", name), func(t *testing.T) {
			_, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
			wantBadField(t, err, "report.reporter.identified")
		})
	}
	list, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{})
	if err != nil || len(list.GetReports()) != 0 {
		t.Fatalf("the refused reports left %v (%v)", list.GetReports(), err)
	}
	r := validReport()
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{Consent: true, Phone: "0912 345 678"}}}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r}); err != nil {
		t.Errorf("an identified reporter known by a phone number only: %v", err)
	}
}
