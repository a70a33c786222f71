package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The tests of this file take phone numbers as a hotline operator types
// them: the way callers say them, on a Vietnamese keyboard.

// Intake accepts every unambiguous spelling of a Vietnamese number, as
// search already did, and stores it as typed, its full-width forms and
// non-breaking spaces in ASCII; the index and a search read it in E.164: "+84 (0) 912 345 678" and full-width digits were refused
// (rule string.pattern), though a search took them. What is no phone
// number is still refused, naming the field and the rule, and nothing is
// stored.
func TestIntakeTakesEveryUsualSpellingOfAPhone(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	op := ts.as(t, operatorID)
	spellings := []string{
		"0912 345 678", "0912.345.678", "0912-345-678", "+84 912 345 678", "(+84) 912345678",
		"84912345678", "+84 (0) 912 345 678", "０９１２３４５６７８", "０９１２ ３４５ ６７８",
		"0912\u00a0345\u00a0678", "＋８４ ９１２ ３４５ ６７８",
	}
	for i, typed := range spellings {
		r := validReport()
		r.ReceiveTime = timestamppb.New(testNow.Add(-time.Duration(i+1) * time.Minute))
		r.Caregivers[0].Phone = typed
		r.GetReporter().GetIdentified().Phone = typed
		created, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Errorf("the phone typed %q: %v; want it taken", typed, err)
			continue
		}
		got, err := ts.reports().GetReport(op, &pb.GetReportRequest{Name: created.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSpace(norm.NFKC.String(typed))
		if p := got.GetCaregivers()[0].GetPhone(); p != want {
			t.Errorf("the caregiver's phone typed %q is stored as %q; want %q", typed, p, want)
		}
		rep, err := ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: confGoodReason})
		if err != nil {
			t.Fatal(err)
		}
		if p := rep.GetIdentified().GetPhone(); p != want {
			t.Errorf("the reporter's phone typed %q is stored as %q; want %q", typed, p, want)
		}
		if strings.ContainsFunc(want, func(r rune) bool { return r > unicode.MaxASCII }) {
			t.Errorf("the phone typed %q is stored with characters beyond ASCII: %q", typed, want)
		}
	}
	// Every one of them finds the case by that phone, typed any way.
	found, err := ts.cases().SearchCases(ts.as(t, "sup"), &pb.SearchCasesRequest{Phone: "０９１２.３４５.６７８"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.GetCandidates()) == 0 || !strings.Contains(strings.Join(found.GetCandidates()[0].GetMatchedFields(), ","), "phone") {
		t.Errorf("a search by the phone in full-width digits: %v; want the cases matched by phone", found.GetCandidates())
	}

	before, err := ts.reports().ListReports(op, &pb.ListReportsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"call me", "0912 345 678 (mẹ)", "111", "0912", "0912abc678", "+84 12", "+0912 345 678", "0912 345 6789"} {
		r := validReport()
		r.Caregivers[0].Phone = bad
		_, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
		wantField(t, err, "report.caregivers[0].phone")
		if err != nil && !strings.Contains(err.Error(), "phone.number") {
			t.Errorf("the caregiver's phone %q: %v; want the rule phone.number named", bad, err)
		}
		r = validReport()
		r.GetReporter().GetIdentified().Phone = bad
		_, err = ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
		wantField(t, err, "report.reporter.identified.phone")
	}
	after, err := ts.reports().ListReports(op, &pb.ListReportsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.GetReports()) != len(before.GetReports()) {
		t.Errorf("refused reports stored: %d reports before, %d after", len(before.GetReports()), len(after.GetReports()))
	}

	// Over REST the same: the number as a Vietnamese keyboard types it,
	// and the commune's code too; a word is refused naming the field.
	report := strings.Replace(restReport, `"reporter": {"anonymous": true}`,
		`"caregivers": [{"full_name": "Lê Thị Thu", "phone": "+84 (0) ９１２ ３４５ ６７８"}], "reporter": {"anonymous": true}`, 1)
	report = strings.Replace(report, `"incident_commune_code": "00004"`, `"incident_commune_code": "００００４"`, 1)
	code, body := restCall(t, ts, "POST", "/v1/reports", report)
	if code != http.StatusOK || body["incident_commune_code"] != "00004" {
		t.Fatalf("REST: a report with a full-width phone and commune code: %d %v", code, body)
	}
	refused := strings.Replace(report, "+84 (0) ９１２ ３４５ ６７８", "gọi cho mẹ", 1)
	if code, body := restCall(t, ts, "POST", "/v1/reports", refused); code != http.StatusBadRequest || !strings.Contains(body["message"].(string), "report.caregivers[0].phone") {
		t.Errorf("REST: a phone that is a word: %d %v; want 400 naming report.caregivers[0].phone", code, body)
	}
}

// A retry that types the phone otherwise stores the same number, so it is
// the same request: it answers the first result (the fingerprint is taken
// of the number in E.164, as it is stored). Another number is another
// request.
func TestRetryTypingThePhoneOtherwiseIsTheSameRequest(t *testing.T) {
	ts := startServer(t, "")
	op := ts.as(t, operatorID)
	r := validReport()
	r.Caregivers[0].Phone = "0987 111 222"
	create := &pb.CreateReportRequest{Report: r, RequestId: "phone-call-1"}
	first, err := ts.reports().CreateReport(op, create)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"0987.111.222", "+84 (0) 987 111 222", "０９８７１１１２２２"} {
		retry := proto.Clone(create).(*pb.CreateReportRequest)
		retry.Report.Caregivers[0].Phone = typed
		if got, err := ts.reports().CreateReport(op, retry); err != nil || got.GetName() != first.GetName() {
			t.Errorf("the retry typing the phone %q: %q, %v; want the first answer %q", typed, got.GetName(), err, first.GetName())
		}
	}
	other := proto.Clone(create).(*pb.CreateReportRequest)
	other.Report.Caregivers[0].Phone = "0987 111 223"
	_, err = ts.reports().CreateReport(op, other)
	wantReused(t, err)
	_ = codes.OK
}

// A case number read out and typed with a Vietnamese input method, in
// full width, names the case, as one typed in ASCII with spaces does.
func TestCaseNumberTypedInFullWidthNamesTheCase(t *testing.T) {
	ts := startServer(t, "")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	typed := "cases/ＨＮ－２０２６－" + strings.Map(func(r rune) rune { return r - '0' + '０' }, name[len(name)-5:])
	if got := getCase(t, ts, operatorID, typed); got.GetName() != name {
		t.Errorf("GetCase %q answers %q; want %s", typed, got.GetName(), name)
	}
}

// TestEveryPhoneOfAReportThatIsNoNumberIsNamed: a report whose reporter's
// and caregiver's phones are both no number was refused naming the
// reporter's alone, so the operator fixed it, sent it again and was
// refused a second time for the caregiver's. Each is named at once, as
// the schema's violations are.
func TestEveryPhoneOfAReportThatIsNoNumberIsNamed(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	r.GetReporter().GetIdentified().Phone = "call me"
	r.Caregivers[0].Phone = "0912"
	_, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	for _, field := range []string{"report.reporter.identified.phone", "report.caregivers[0].phone"} {
		wantField(t, err, field)
	}
}
