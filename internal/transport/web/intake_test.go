package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
)

// flaky answers a method's calls with the errors it is given, one per
// call, then with success; it keeps every request.
type flaky[Req any] struct {
	mu       sync.Mutex
	errs     []error
	requests []Req
}

// call records req and returns the next error, or nil once they are spent.
func (f *flaky[Req]) call(req Req) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

// flakyReports answers CreateReport as flaky says, with a saved report.
type flakyReports struct {
	pb.UnimplementedReportServiceServer
	flaky[*pb.CreateReportRequest]
}

func (f *flakyReports) CreateReport(_ context.Context, req *pb.CreateReportRequest) (*pb.Report, error) {
	if err := f.call(req); err != nil {
		return nil, err
	}
	return &pb.Report{Name: "reports/r1", Case: "cases/HN-2026-00001"}, nil
}

type oneCommune struct {
	pb.UnimplementedUnitServiceServer
}

func (oneCommune) ListUnits(context.Context, *pb.ListUnitsRequest) (*pb.ListUnitsResponse, error) {
	return &pb.ListUnitsResponse{Units: []*pb.Unit{{Name: "units/00004@2025-07-01", Code: "00004", FullName: "Phường Ba Đình"}}}, nil
}

type anyoneAccounts struct{}

func (anyoneAccounts) SignIn(_ context.Context, c Credentials) (Account, error) {
	return Account{User: model.User{ID: c.UserID, Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, Bearer: "t", TokenID: "t"}, nil
}
func (anyoneAccounts) SignOut(context.Context, string, string) error { return nil }

// consoleOver serves the console over a gRPC API of fakes and returns a
// client signed in to it that does not follow redirects.
func consoleOver(t *testing.T, reports pb.ReportServiceServer) (*http.Client, string) {
	t.Helper()
	return consoleWith(t, anyoneAccounts{}, func(srv *grpc.Server) {
		pb.RegisterReportServiceServer(srv, reports)
		pb.RegisterUnitServiceServer(srv, oneCommune{})
	})
}

// consoleWith is consoleOver over the fakes register puts on the server,
// signed in by accts.
func consoleWith(t *testing.T, accts Accounts, register func(*grpc.Server)) (*http.Client, string) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///fake", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ts, client := serveConsole(t, conn, accts)
	page := fetch(t, client, ts.URL+"/signin", nil)
	if resp := send(t, client, ts.URL+"/signin", url.Values{"csrf": {formValue(t, page, "csrf")}, "user": {"op"}, "password": {"x"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	return client, ts.URL
}

func fetch(t *testing.T, c *http.Client, u string, wantStatus *int) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if wantStatus != nil {
		*wantStatus = resp.StatusCode
	}
	return string(b)
}

func send(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func formValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", name, page)
	}
	return m[1]
}

// typedCall opens a blank form and returns it typed, to send with a
// button ("check" or "save").
func typedCall(t *testing.T, client *http.Client, base, button string) url.Values {
	t.Helper()
	blank := fetch(t, client, base+"/reports/new", nil)
	return url.Values{
		"csrf": {formValue(t, blank, "csrf")}, "request_id": {formValue(t, blank, "request_id")},
		"children_count": {"1"}, "caregivers_count": {"1"}, "do": {button},
		"channel": {"CHANNEL_HOTLINE_111"}, "call_type": {"CALL_TYPE_INTERVENTION"}, "receive_time": {"2026-11-28T09:00"},
		"incident_commune_code": {"00004"}, "reporter.kind": {"anonymous"},
		"children[0].age": {"9"}, "children[0].sex": {"SEX_FEMALE"}, "narrative": {"Trẻ bị đánh mỗi tối."},
	}
}

// A check that fails for the service's reasons, and a save whose request
// id already went with other content, keep the form and say what
// happened: the check is not an error page, and the reused id does not
// claim "not saved", since the first content may have been saved.
func TestIntakeFailuresKeepTheForm(t *testing.T) {
	for _, tc := range []struct {
		button string
		err    error
		code   int
		says   string
	}{
		{"check", status.Error(codes.Unavailable, "connection closed"), http.StatusServiceUnavailable, "Chưa kiểm tra được phiếu"},
		{"save", status.Error(codes.AlreadyExists, "request_id was already used"), http.StatusConflict, "CHƯA LƯU THAY ĐỔI"},
	} {
		client, base := consoleOver(t, &flakyReports{flaky: flaky[*pb.CreateReportRequest]{errs: []error{tc.err}}})
		form := typedCall(t, client, base, tc.button)
		resp := send(t, client, base+"/reports/new", form)
		b, _ := io.ReadAll(resp.Body)
		page := string(b)
		if resp.StatusCode != tc.code || !strings.Contains(page, tc.says) || !strings.Contains(page, "Trẻ bị đánh mỗi tối.") {
			t.Errorf("%s answering %v: %s, want %d saying %q with the form kept", tc.button, tc.err, resp.Status, tc.code, tc.says)
		}
	}
}

// A save the API does not confirm (the connection dropped, the server
// failed, the database is full) says plainly "CHƯA LƯU", keeps everything
// typed and the same request id, and offers Save again; saving again
// sends the very same request, so the API answers the first try's report
// if it was stored after all.
func TestIntakeSaveNotConfirmedSaysNotSaved(t *testing.T) {
	failures := []error{
		status.Error(codes.Unavailable, "connection closed"),
		status.Error(codes.Internal, "internal error"),
		status.Error(codes.DeadlineExceeded, "the request took too long"),
		status.Error(codes.ResourceExhausted, "the database is full"),
	}
	reports := &flakyReports{flaky: flaky[*pb.CreateReportRequest]{errs: failures}}
	client, base := consoleOver(t, reports)
	form := typedCall(t, client, base, "save")
	for _, failure := range failures {
		resp := send(t, client, base+"/reports/new", form)
		b, _ := io.ReadAll(resp.Body)
		page := string(b)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "CHƯA LƯU") || strings.Contains(page, "Đã lưu") {
			t.Errorf("%v: %s, want 503 saying CHƯA LƯU", failure, resp.Status)
		}
		if got := formValue(t, page, "request_id"); got != form.Get("request_id") {
			t.Errorf("%v: request_id %q after the failure, want the form's %q", failure, got, form.Get("request_id"))
		}
		if !strings.Contains(page, "Trẻ bị đánh mỗi tối.") || !strings.Contains(page, `value="save"`) {
			t.Errorf("%v: the page lost the narrative or offers no Save", failure)
		}
	}
	resp := send(t, client, base+"/reports/new", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/reports/saved/") {
		t.Fatalf("save after the failures: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if len(reports.requests) != len(failures)+1 {
		t.Fatalf("%d CreateReport calls, want %d", len(reports.requests), len(failures)+1)
	}
	for i, req := range reports.requests[1:] {
		if !proto.Equal(req, reports.requests[0]) {
			t.Errorf("try %d sent %v, want the first try's %v", i+2, req, reports.requests[0])
		}
	}
}

// The district's and the city's officers take reports at their
// labour/social-affairs office (Decree 56 Art. 25(1)): the form starts
// with that channel.
func TestDefaultChannelOfAnOffice(t *testing.T) {
	for _, role := range []model.Role{model.RoleDistrictOfficer, model.RoleCityOfficer} {
		if got, _ := defaultChannel(model.User{Role: role, Unit: "units/01@2020-01-01"}); got != pb.Channel_CHANNEL_SOCIAL_AFFAIRS_OFFICE.String() {
			t.Errorf("%s: default channel %q", role, got)
		}
	}
}

// A refusal of a field the intake form has no input for is listed above
// the form naming the field in the page's language, not by the API's
// path ("request_id: ...").
func TestIntakeRefusalOfAFieldWithoutAnInputIsNamed(t *testing.T) {
	cats := testCatalogs(t)
	st, err := status.New(codes.InvalidArgument, "invalid").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "request_id", Description: "value must be a valid UUID", Reason: "string.pattern"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range languages {
		f := &intakeForm{Values: map[string]string{}, Errors: map[string]string{}}
		if !f.apiErrors(st.Err(), cats, lang) || len(f.extraErrors) != 1 {
			t.Fatalf("%s: the refusal is listed as %v", lang, f.extraErrors)
		}
		if got, want := f.extraErrors[0], cats.fieldName(lang, "request_id")+": "; !strings.HasPrefix(got, want) {
			t.Errorf("%s: the refusal reads %q, want it to start with %q", lang, got, want)
		}
	}
}

// An age typed in full-width digits, as a Vietnamese input method types
// them, is the age: the form refused it as no number.
func TestIntakeAgeInFullWidthDigits(t *testing.T) {
	form := url.Values{"children_count": {"1"}, "children[0].age": {"１２"}, "children[0].sex": {"SEX_FEMALE"}}
	f := readIntakeForm(form)
	rep := f.report(testCatalogs(t), "vi")
	if got := rep.GetChildren()[0].GetEstimatedAgeYears(); got != 12 || len(f.Errors) != 0 {
		t.Errorf("the age typed １２: %d, errors %v; want 12 and none", got, f.Errors)
	}
}
