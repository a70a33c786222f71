package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// restErrorInfo returns the reason and domain of the ErrorInfo in a REST
// error answer ("" when it has none).
func restErrorInfo(t *testing.T, raw []byte) (reason, domain string) {
	t.Helper()
	var answer struct {
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"details"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("answer is not JSON (%v): %.300q", err, raw)
	}
	for _, d := range answer.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			return d.Reason, d.Domain
		}
	}
	return "", ""
}

// Every error, REST and gRPC alike, carries an ErrorInfo with a reason a
// client can switch on and the service's domain: the routing refusals
// the gateway makes before any call, and a method the server does not
// have, as much as the refusals of the methods themselves.
func TestEveryErrorCarriesErrorInfo(t *testing.T) {
	ts := startServer(t, "")
	operator := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID), "Content-Type": "application/json"}
	rest := []struct {
		name, method, path string
		headers            map[string]string
		wantStatus         int
		wantReason         string
	}{
		{"no such path", "GET", "/v1/nothing-here", operator, http.StatusNotFound, grpcapi.ReasonNotFound},
		{"no such path under a collection", "GET", "/v1/reports/a/b/c", operator, http.StatusNotFound, grpcapi.ReasonNotFound},
		{"method the path does not take", "DELETE", "/v1/reports", operator, http.StatusMethodNotAllowed, grpcapi.ReasonMethodNotAllowed},
		{"no token", "GET", "/v1/reports", nil, http.StatusUnauthorized, grpcapi.ReasonUnauthenticated},
		{"no such case", "GET", "/v1/cases/HN-2026-99999", operator, http.StatusNotFound, grpcapi.ReasonNotFound},
	}
	for _, tt := range rest {
		t.Run("REST "+tt.name, func(t *testing.T) {
			code, raw := restRaw(t, ts, tt.method, tt.path, "", tt.headers)
			if code != tt.wantStatus {
				t.Errorf("%s %s: %d %.300s, want %d", tt.method, tt.path, code, raw, tt.wantStatus)
			}
			reason, domain := restErrorInfo(t, raw)
			if reason != tt.wantReason || domain != grpcapi.ErrorDomain {
				t.Errorf("%s %s: ErrorInfo reason %q domain %q, want %q %q: %.300s", tt.method, tt.path, reason, domain, tt.wantReason, grpcapi.ErrorDomain, raw)
			}
		})
	}

	grpcCalls := []struct {
		name, method string
		wantReason   string
	}{
		{"no such method", "/childcase.v1.CaseService/Nothing", grpcapi.ReasonUnimplemented},
		{"no such service", "/childcase.v1.NoService/Nothing", grpcapi.ReasonUnimplemented},
	}
	for _, tt := range grpcCalls {
		t.Run("gRPC "+tt.name, func(t *testing.T) {
			err := ts.conn.Invoke(ts.as(t, operatorID), tt.method, &emptypb.Empty{}, &emptypb.Empty{})
			st := status.Convert(err)
			if info, _ := errorInfo(st); info.GetReason() != tt.wantReason || info.GetDomain() != grpcapi.ErrorDomain {
				t.Errorf("%s: %v: ErrorInfo %v, want reason %q domain %q", tt.method, err, info, tt.wantReason, grpcapi.ErrorDomain)
			}
		})
	}
}

// An INVALID_ARGUMENT's ErrorInfo names, in its metadata, the field and
// the rule of its first violation (the BadRequest detail lists them all),
// so that a client switching on the ErrorInfo alone, as it does for every
// other error, learns which field to fix: a body's rule, a query's parse
// and the REST refusal of an unread query parameter alike.
func TestInvalidArgumentErrorInfoNamesTheField(t *testing.T) {
	ts := startServer(t, "")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	worker := map[string]string{"Authorization": "Bearer " + ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh), "Content-Type": "application/json"}
	for _, tt := range []struct {
		method, path, body string
		field, rule        string
	}{
		{"POST", "/v1/" + name + ":acknowledge", `{}`, "etag", "string.min_len"},
		{"GET", "/v1/reports?page_size=-1", "", "page_size", "int32.gte_lte"},
		{"GET", "/v1/reports?page_size=100000", "", "page_size", "int32.gte_lte"},
		{"GET", "/v1/reports?page_size=lots", "", "page_size", "query.parse"},
		{"POST", "/v1/" + name + ":acknowledge?request_id=x", `{"etag": "1"}`, "request_id", "query.unexpected"},
	} {
		code, raw := restRaw(t, ts, tt.method, tt.path, tt.body, worker)
		var answer struct {
			Details []struct {
				Type     string            `json:"@type"`
				Reason   string            `json:"reason"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil || code != http.StatusBadRequest {
			t.Fatalf("%s %s: %d %.300s (%v), want 400", tt.method, tt.path, code, raw, err)
		}
		var found bool
		for _, d := range answer.Details {
			if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
				found = true
				if d.Reason != grpcapi.ReasonInvalidField || d.Metadata["field"] != tt.field || d.Metadata["rule"] != tt.rule {
					t.Errorf("%s %s: ErrorInfo %s %v, want %s with field %q and rule %q", tt.method, tt.path, d.Reason, d.Metadata, grpcapi.ReasonInvalidField, tt.field, tt.rule)
				}
			}
		}
		if !found {
			t.Errorf("%s %s: no ErrorInfo: %.300s", tt.method, tt.path, raw)
		}
	}
}

// A field the schema marks OUTPUT_ONLY is the server's: sent in a
// request, it is ignored (AIP-203), never taken for the client's word,
// and the answer gives the server's value; only a reporter sent as
// withheld is refused, since it would leave the report without one.
func TestOutputOnlyFieldsSentAreIgnored(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	past := timestamppb.New(testNow.Add(-24 * 365 * time.Hour))
	r.Name, r.IncidentUnit, r.CreateTime = "reports/01a222d5-bea0-7bea-bf64-debef56d112a", "units/00070@2025-07-01", past
	r.Candidates = []*pb.ReportCandidate{{Case: "cases/HN-2026-00042", Score: 99}}
	got, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() == r.Name || got.GetIncidentUnit() != pBaDinh || got.GetCreateTime().AsTime().Equal(past.AsTime()) || len(got.GetCandidates()) != 0 {
		t.Errorf("CreateReport took output-only fields from the request: name %s, incident_unit %s, create_time %v, candidates %v",
			got.GetName(), got.GetIncidentUnit(), got.GetCreateTime().AsTime(), got.GetCandidates())
	}
	user, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{UserId: "bd.worker", User: &pb.User{
		Name: "users/someone.else", DisplayName: "Test", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pBaDinh,
		CreateTime: past, DisableTime: past,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u := user.GetUser(); u.GetName() != "users/bd.worker" || u.GetDisableTime() != nil || u.GetCreateTime().AsTime().Equal(past.AsTime()) {
		t.Errorf("CreateUser took output-only fields from the request: %v", u)
	}
	if _, err := ts.cases().ListCases(withToken(context.Background(), user.GetToken().GetSecret()), &pb.ListCasesRequest{}); err != nil {
		t.Errorf("a user created with disable_time set cannot call: %v", err)
	}
}

// The refusals the transports make before any of the service's code sees
// the request carry their library's words, not an ErrorInfo, as the README
// says: a gRPC message over --max-recv-msg-size (RESOURCE_EXHAUSTED), a
// REST path Go's HTTP server cannot read (a plain 400) and a request line
// too long for it (a plain 431). None does anything.
func TestTransportRefusalsBeforeTheService(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	r.Narrative = strings.Repeat("x", app.DefaultMaxRecvMsgSize+1)
	_, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if st := wantCode(t, err, codes.ResourceExhausted); !strings.Contains(st.Message(), "larger than max") {
		t.Errorf("an oversized message: %q, want gRPC's own refusal", st.Message())
	}
	conn, err := net.Dial("tcp", ts.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /v1/reports%%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 2\r\n\r\n{}", ts.tokens.get(operatorID)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a path with a bad %% escape: %d, want 400", resp.StatusCode)
	}
	// A request line and headers over the HTTP server's 64 KiB together (a URL
	// that long) are Go's too: 431, in plain text.
	long := "/v1/reports?request_id=" + strings.Repeat("a", 70<<10)
	resp, raw := requestAsWritten(t, ts.HTTPAddr(), "POST", long, "Bearer "+ts.tokens.get(operatorID))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("a 70 KiB URL: %s %s %.100s, want Go's plain-text 431", resp.Status, resp.Header.Get("Content-Type"), raw)
	}
	if n := countReports(t, ts); n != 0 {
		t.Errorf("%d reports after the refusals, want none", n)
	}
}

// Every INVALID_ARGUMENT, whatever refused it (the schema's rules, a
// handler, the REST gateway's reading of a query or a body, its limit on
// a body's size or encoding), carries a google.rpc.BadRequest naming a
// field, as well as its ErrorInfo: a client that shows the violations
// shows something for each. A refusal of the whole body names "body".
func TestEveryInvalidArgumentNamesAField(t *testing.T) {
	ts := startServer(t, "")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	operator := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID), "Content-Type": "application/json"}
	for _, tt := range []struct {
		method, path, body string
		headers            map[string]string
		wantStatus         int
		wantReason, field  string
	}{
		{"POST", "/v1/reports", "{", operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "body"},
		{"POST", "/v1/reports", `{"nope":1}`, operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "report.nope"},
		{"POST", "/v1/reports", `{}`, operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "report.channel"},
		{"GET", "/v1/cases?page_token=zzz", "", operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "page_token"},
		{"GET", "/v1/cases?status=NOPE", "", operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "status"},
		{"GET", "/v1/cases:search?child_name=", "", operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "query"},
		{"GET", "/v1/" + name + "/events?order_by=time", "", operator, http.StatusBadRequest, grpcapi.ReasonInvalidField, "order_by"},
		{"POST", "/v1/reports", `{"narrative":"` + strings.Repeat("x", 2<<20) + `"}`, operator, http.StatusRequestEntityTooLarge, grpcapi.ReasonBodyTooLarge, "body"},
		{"POST", "/v1/reports", "{}", map[string]string{"Authorization": operator["Authorization"], "Content-Type": "application/json", "Content-Encoding": "gzip"},
			http.StatusUnsupportedMediaType, grpcapi.ReasonUnsupportedContentEncoding, "body"},
	} {
		code, raw := restRaw(t, ts, tt.method, tt.path, tt.body, tt.headers)
		var answer struct {
			Code    codes.Code `json:"code"`
			Details []struct {
				Type       string `json:"@type"`
				Reason     string `json:"reason"`
				Violations []struct {
					Field, Reason string
				} `json:"field_violations"`
			} `json:"details"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil || code != tt.wantStatus || answer.Code != codes.InvalidArgument {
			t.Errorf("%s %s: %d %.300s (%v), want %d with code 3", tt.method, tt.path, code, raw, err, tt.wantStatus)
			continue
		}
		reason, fields := "", []string{}
		for _, d := range answer.Details {
			switch d.Type {
			case "type.googleapis.com/google.rpc.ErrorInfo":
				reason = d.Reason
			case "type.googleapis.com/google.rpc.BadRequest":
				for _, v := range d.Violations {
					if v.Reason == "" {
						t.Errorf("%s %s: violation of %s names no rule", tt.method, tt.path, v.Field)
					}
					fields = append(fields, v.Field)
				}
			}
		}
		if reason != tt.wantReason || !slices.Contains(fields, tt.field) {
			t.Errorf("%s %s: ErrorInfo %q, BadRequest fields %v; want %s and %s: %.300s", tt.method, tt.path, reason, fields, tt.wantReason, tt.field, raw)
		}
	}
	// Over gRPC, the handlers' and the validator's refusals alike.
	for _, err := range []error{
		func() error {
			_, err := ts.cases().GetCase(context.Background(), &pb.GetCaseRequest{Name: "garbage"})
			return err
		}(),
		func() error {
			_, err := ts.cases().ListCases(context.Background(), &pb.ListCasesRequest{PageSize: -1})
			return err
		}(),
		func() error {
			_, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: &pb.Report{}})
			return err
		}(),
	} {
		if st := wantCode(t, err, codes.InvalidArgument); len(badFields(st)) == 0 {
			t.Errorf("%v: no BadRequest field", err)
		}
	}
}
