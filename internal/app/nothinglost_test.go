package app_test

// "Nothing lost": every creating or state-changing method is idempotent by
// request_id, LinkReport honours the case's etag, and idempotency records
// expire only after their retention.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	validate "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/keys"
)

// wantReused fails unless err is ALREADY_EXISTS with reason
// REQUEST_ID_REUSED.
func wantReused(t *testing.T, err error) {
	t.Helper()
	if st := wantCode(t, err, codes.AlreadyExists); errorReason(st) != "REQUEST_ID_REUSED" {
		t.Errorf("reason = %q, want REQUEST_ID_REUSED", errorReason(st))
	}
}

// Every creating or state-changing admin method: a retry with the same
// request_id returns the first result and changes nothing more; the same
// request_id with another request is ALREADY_EXISTS (REQUEST_ID_REUSED). A
// token's secret is shown once: the retry returns the token without it.
func TestAdminRetriesReturnTheFirstResult(t *testing.T) {
	ts := startServer(t, "")
	adm := ts.admin()
	ctx := ts.as(t, "admin")

	// CreateUser.
	createLan := &pb.CreateUserRequest{
		UserId:    "lan.nguyen",
		User:      &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
		RequestId: "add-lan-1",
	}
	first, err := adm.CreateUser(ctx, createLan)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	secret := first.GetToken().GetSecret()
	if secret == "" {
		t.Fatal("the first CreateUser answer has no secret")
	}
	ts.advance(t, time.Minute)
	retry, err := adm.CreateUser(ctx, createLan)
	if err != nil {
		t.Fatalf("retried CreateUser: %v", err)
	}
	wantFirst := proto.Clone(first).(*pb.CreateUserResponse)
	wantFirst.Token.Secret = ""
	// The set-password link is not kept either: a retry answers none
	// (ResetPassword makes a new one).
	wantFirst.PasswordLinkSecret, wantFirst.PasswordLinkExpireTime = "", nil
	if !proto.Equal(retry, wantFirst) {
		t.Errorf("retried CreateUser = %v, want the first answer without the secret %v", retry, wantFirst)
	}
	toks, err := adm.ListTokens(ctx, &pb.ListTokensRequest{Parent: "users/lan.nguyen"})
	if err != nil || len(toks.GetTokens()) != 1 {
		t.Errorf("tokens after the retry: %v, %v; want the one first token", toks, err)
	}
	if _, err := ts.reports().ListReports(withToken(t.Context(), secret), &pb.ListReportsRequest{}); err != nil {
		t.Errorf("the first token: %v", err)
	}
	other := proto.Clone(createLan).(*pb.CreateUserRequest)
	other.UserId = "minh.tran"
	_, err = adm.CreateUser(ctx, other)
	wantReused(t, err)
	if _, err := adm.GetUser(ctx, &pb.GetUserRequest{Name: "users/minh.tran"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("the refused CreateUser created its user: %v", err)
	}

	// CreateToken.
	createTok := &pb.CreateTokenRequest{Parent: "users/lan.nguyen", Ttl: durationpb.New(time.Hour), RequestId: "tok-lan-2"}
	tok, err := adm.CreateToken(ctx, createTok)
	if err != nil || tok.GetSecret() == "" {
		t.Fatalf("CreateToken = %v, %v", tok, err)
	}
	tokRetry, err := adm.CreateToken(ctx, createTok)
	wantTok := proto.Clone(tok).(*pb.Token)
	wantTok.Secret = ""
	if err != nil || !proto.Equal(tokRetry, wantTok) {
		t.Errorf("retried CreateToken = %v, %v; want %v", tokRetry, err, wantTok)
	}
	_, err = adm.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/lan.nguyen", Ttl: durationpb.New(2 * time.Hour), RequestId: "tok-lan-2"})
	wantReused(t, err)
	if toks, _ := adm.ListTokens(ctx, &pb.ListTokensRequest{Parent: "users/lan.nguyen"}); len(toks.GetTokens()) != 2 {
		t.Errorf("%d tokens, want 2", len(toks.GetTokens()))
	}

	// RevokeToken.
	revoke := &pb.RevokeTokenRequest{Name: tok.GetName(), RequestId: "rv-1"}
	revoked, err := adm.RevokeToken(ctx, revoke)
	if err != nil {
		t.Fatal(err)
	}
	ts.advance(t, time.Minute)
	if again, err := adm.RevokeToken(ctx, revoke); err != nil || !proto.Equal(again, revoked) {
		t.Errorf("retried RevokeToken = %v, %v; want %v", again, err, revoked)
	}
	_, err = adm.RevokeToken(ctx, &pb.RevokeTokenRequest{Name: first.GetToken().GetName(), RequestId: "rv-1"})
	wantReused(t, err)
	if _, err := ts.reports().ListReports(withToken(t.Context(), secret), &pb.ListReportsRequest{}); err != nil {
		t.Errorf("the refused RevokeToken revoked the first token: %v", err)
	}

	// CreatePoliceUnit: a retry is the first answer, not ALREADY_EXISTS.
	createPU := &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-phuong-ba-dinh", PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an phường Ba Đình", Covers: []string{pBaDinh}}, RequestId: "pu-1"}
	pu, err := adm.CreatePoliceUnit(ctx, createPU)
	if err != nil {
		t.Fatal(err)
	}
	ts.advance(t, time.Minute)
	if again, err := adm.CreatePoliceUnit(ctx, createPU); err != nil || !proto.Equal(again, pu) {
		t.Errorf("retried CreatePoliceUnit = %v, %v; want %v", again, err, pu)
	}
	createPU.RequestId = ""
	_, err = adm.CreatePoliceUnit(ctx, createPU)
	wantCode(t, err, codes.AlreadyExists)

	// DisableUser.
	disable := &pb.DisableUserRequest{Name: "users/lan.nguyen", RequestId: "off-lan"}
	disabled, err := adm.DisableUser(ctx, disable)
	if err != nil || disabled.GetDisableTime() == nil {
		t.Fatalf("DisableUser = %v, %v", disabled, err)
	}
	ts.advance(t, time.Minute)
	if again, err := adm.DisableUser(ctx, disable); err != nil || !proto.Equal(again, disabled) {
		t.Errorf("retried DisableUser = %v, %v; want %v", again, err, disabled)
	}
	_, err = adm.DisableUser(ctx, &pb.DisableUserRequest{Name: "users/" + operatorID, RequestId: "off-lan"})
	wantReused(t, err)
	if _, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{}); err != nil {
		t.Errorf("the refused DisableUser disabled its user: %v", err)
	}

	// RotateMasterKey: the retry does not rotate again.
	rot, err := adm.RotateMasterKey(ctx, &pb.RotateMasterKeyRequest{RequestId: "rotate-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := adm.RotateMasterKey(ctx, &pb.RotateMasterKeyRequest{RequestId: "rotate-1"}); err != nil || !proto.Equal(again, rot) {
		t.Errorf("retried RotateMasterKey = %v, %v; want %v", again, err, rot)
	}
	if m, err := keys.LoadMaster(ts.cfg.KeyFile); err != nil || m.ID() != rot.GetMasterKeyId() {
		t.Errorf("after the retry the key file holds %v (%v), want the first rotation's %s", m, err, rot.GetMasterKeyId())
	}
	next, err := adm.RotateMasterKey(ctx, &pb.RotateMasterKeyRequest{RequestId: "rotate-2"})
	if err != nil || next.GetMasterKeyId() == rot.GetMasterKeyId() {
		t.Errorf("a new request_id: %v, %v; want a new rotation", next, err)
	}

	// Request ids are checked like everywhere else.
	_, err = adm.DisableUser(ctx, &pb.DisableUserRequest{Name: "users/" + operatorID, RequestId: "-bad"})
	wantCode(t, err, codes.InvalidArgument)
}

// LinkReport with the case's etag: a stale one is ABORTED and changes
// nothing (the case's revision, reports and timeline, the report); the
// current one links. Without an etag it links as before.
func TestLinkReportStaleEtagIsAborted(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	op := ts.as(t, operatorID)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	counselling := func() *pb.Report {
		r := validReport()
		r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
		created, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
		if err != nil || created.GetCase() != "" {
			t.Fatalf("counselling report: %v, %v", created, err)
		}
		return created
	}
	a, b := counselling(), counselling()

	read := getCase(t, ts, operatorID, name)
	if _, err := ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: a.GetName(), Case: name, Etag: read.GetEtag(), RequestId: "link-a"}); err != nil {
		t.Fatalf("LinkReport with the current etag: %v", err)
	}
	before := getCase(t, ts, operatorID, name)
	if before.GetEtag() == read.GetEtag() {
		t.Fatal("linking did not move the case's etag")
	}
	timeline := caseEvents(t, ts, "bd.worker", name)

	// b, with the etag read before a was linked: stale.
	_, err := ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: b.GetName(), Case: name, Etag: read.GetEtag(), RequestId: "link-b"})
	if st := wantCode(t, err, codes.Aborted); errorReason(st) != "ETAG_MISMATCH" {
		t.Errorf("reason = %q, want ETAG_MISMATCH", errorReason(st))
	}
	after := getCase(t, ts, operatorID, name)
	if after.GetEtag() != before.GetEtag() || !slices.Equal(after.GetReports(), before.GetReports()) || !proto.Equal(after, before) {
		t.Errorf("the aborted link changed the case: etag %s -> %s, reports %v -> %v", before.GetEtag(), after.GetEtag(), before.GetReports(), after.GetReports())
	}
	if got := caseEvents(t, ts, "bd.worker", name); len(got) != len(timeline) {
		t.Errorf("the aborted link changed the timeline: %v -> %v", kinds(timeline), kinds(got))
	}
	if r, err := ts.reports().GetReport(op, &pb.GetReportRequest{Name: b.GetName()}); err != nil || r.GetCase() != "" {
		t.Errorf("the aborted link linked the report: %v, %v", r, err)
	}
	// The aborted request was not remembered: the same request_id with the
	// current etag is a new request, and links.
	linked, err := ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: b.GetName(), Case: name, Etag: before.GetEtag(), RequestId: "link-b"})
	if err != nil || linked.GetCase() != name {
		t.Fatalf("LinkReport with the current etag: %v, %v", linked, err)
	}
	final := getCase(t, ts, operatorID, name)
	if !slices.Equal(final.GetReports(), append(before.GetReports(), b.GetName())) {
		t.Errorf("reports = %v", final.GetReports())
	}
	// A retry of a's link (same request_id, now stale etag) is the first
	// answer; a's link again without a request_id is already done.
	if r, err := ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: a.GetName(), Case: name, Etag: read.GetEtag(), RequestId: "link-a"}); err != nil || r.GetCase() != name {
		t.Errorf("retried link = %v, %v", r, err)
	}
	if r, err := ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: a.GetName(), Case: name, Etag: read.GetEtag()}); err != nil || r.GetCase() != name {
		t.Errorf("link of a report already in the case = %v, %v; want it as it is", r, err)
	}
	// The same request_id with another etag is another request.
	_, err = ts.reports().LinkReport(op, &pb.LinkReportRequest{Name: a.GetName(), Case: name, Etag: final.GetEtag(), RequestId: "link-a"})
	wantReused(t, err)
	if got := getCase(t, ts, operatorID, name); got.GetEtag() != final.GetEtag() {
		t.Errorf("retries moved the etag from %s to %s", final.GetEtag(), got.GetEtag())
	}
}

// Idempotency records are kept for the retention (30 days) and then swept
// by the scheduler: a retry within it returns the first result, after it
// the request_id is free again. A probe tells whether a request_id is still
// remembered without changing anything: the same request_id with a report
// that joins a case that does not exist is REQUEST_ID_REUSED while it is,
// and INVALID_ARGUMENT (rolled back) once it is not.
func TestIdempotencyRecordsExpireAfterRetention(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	op := ts.as(t, operatorID)
	create := func(id string) *pb.Report {
		t.Helper()
		r, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: validReport(), RequestId: id})
		if err != nil {
			t.Fatalf("CreateReport %s: %v", id, err)
		}
		return r
	}
	remembered := func(id string) bool {
		t.Helper()
		probe := validReport()
		probe.Case = "cases/HN-2099-99999"
		_, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: probe, RequestId: id})
		switch grpcstatus.Code(err) {
		case codes.AlreadyExists:
			return true
		case codes.InvalidArgument:
			return false
		}
		t.Fatalf("probe of %s: %v", id, err)
		return false
	}

	old := create("call-old")
	ts.advance(t, 24*24*time.Hour)
	young := create("call-young")
	if !remembered("call-old") {
		t.Fatal("a 24-day-old request_id was forgotten")
	}
	// 30 days and a minute after the first: the scheduler's next sweep
	// forgets it, and keeps the 6-day-old one.
	ts.advance(t, 6*24*time.Hour+time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for remembered("call-old") {
		if time.Now().After(deadline) {
			t.Fatal("the 30-day-old request_id was not swept")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !remembered("call-young") {
		t.Error("a 6-day-old request_id was swept")
	}
	if again := create("call-young"); again.GetName() != young.GetName() {
		t.Errorf("retry within the retention created %s, want the first %s", again.GetName(), young.GetName())
	}
	if again := create("call-old"); again.GetName() == old.GetName() {
		t.Error("a request_id past its retention still answered with the first result")
	}
}

// Every creating or state-changing method (every POST but those that only
// read) takes a request_id, validated like everywhere else.
func TestEveryChangeTakesARequestID(t *testing.T) {
	reads := map[string]bool{
		"childcase.v1.ReportService.DiscloseReporter": true, // a read, audited
		"childcase.v1.AuditService.VerifyAuditLog":    true,
	}
	checked := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule.GetPost() == "" || reads[string(m.FullName())] {
					continue
				}
				checked++
				f := m.Input().Fields().ByName("request_id")
				if f == nil || f.Kind() != protoreflect.StringKind {
					t.Errorf("%s changes state but %s has no request_id", m.FullName(), m.Input().FullName())
					continue
				}
				rules, _ := proto.GetExtension(f.Options(), validate.E_Field).(*validate.FieldRules)
				if s := rules.GetString(); s.GetMaxLen() != 64 || s.GetPattern() != "^$|^[A-Za-z0-9][A-Za-z0-9_.-]*$" {
					t.Errorf("%s.request_id is not validated like the others: %v", m.Input().FullName(), rules)
				}
			}
		}
		return true
	})
	t.Logf("%d state-changing methods take a request_id", checked)
	if checked < 30 {
		t.Errorf("only %d state-changing methods found; the registry walk is broken", checked)
	}
}

// A case name is the same name however it is typed (the README lets a
// number be typed in lower case, with spaces, without "cases/"), so a
// retry that types it otherwise is the same request: it gets the first
// answer and changes nothing more, on a case step, a link and a report
// joining a case. (The fingerprint was taken of the name as typed, and
// such a retry was refused as a reused request_id.)
func TestRetryTypingTheCaseNameOtherwiseIsTheSameRequest(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow, "00004")
	number := strings.TrimPrefix(name, "cases/")
	typings := []string{strings.ToLower(name), " " + strings.ToLower(number) + " ", number}

	bd := ts.as(t, "bd.worker")
	note := &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "note-1", Text: "gọi lại cho mẹ"}
	first, err := ts.process().AddCaseNote(bd, note)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range typings {
		retry := proto.Clone(note).(*pb.AddCaseNoteRequest)
		retry.Name = typed
		again, err := ts.process().AddCaseNote(bd, retry)
		if err != nil || again.GetEtag() != first.GetEtag() {
			t.Errorf("the note's retry naming %q: etag %q, %v; want the first answer (etag %q)", typed, again.GetEtag(), err, first.GetEtag())
		}
	}

	op := ts.as(t, operatorID)
	r := validReport()
	r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	counselling, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	link := &pb.LinkReportRequest{Name: counselling.GetName(), Case: name, RequestId: "link-1"}
	if _, err := ts.reports().LinkReport(op, link); err != nil {
		t.Fatal(err)
	}
	joining := validReport()
	joining.Case = name
	create := &pb.CreateReportRequest{Report: joining, RequestId: "call-1"}
	created, err := ts.reports().CreateReport(op, create)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range typings {
		retry := proto.Clone(link).(*pb.LinkReportRequest)
		retry.Case = typed
		if _, err := ts.reports().LinkReport(op, retry); err != nil {
			t.Errorf("the link's retry naming %q: %v; want the first answer", typed, err)
		}
		again := proto.Clone(create).(*pb.CreateReportRequest)
		again.Report.Case = typed
		if got, err := ts.reports().CreateReport(op, again); err != nil || got.GetName() != created.GetName() {
			t.Errorf("the report's retry naming %q: %q, %v; want the first answer %q", typed, got.GetName(), err, created.GetName())
		}
	}
	if got := len(getCase(t, ts, operatorID, name).GetReports()); got != 3 {
		t.Errorf("the case has %d reports, want 3: the one that opened it, the link and the call", got)
	}
}

// A retry whose free text differs from the first try only as the
// service stores it alike, in surrounding spaces or in its Unicode form
// (NFD from another keyboard), is the same request: it answers the first
// result, over gRPC and REST. The fingerprint was taken before the
// domain trimmed the text, so a client that re-sent a name with a
// trailing space was told REQUEST_ID_REUSED for what it had sent. Text
// that differs in what is stored is still another request.
func TestRetryDifferingOnlyInStoredFormIsTheSameRequest(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	op := ts.as(t, operatorID)

	create := &pb.CreateReportRequest{Report: validReport(), RequestId: "spaced-call"}
	first, err := ts.reports().CreateReport(op, create)
	if err != nil {
		t.Fatal(err)
	}
	spaced := proto.Clone(create).(*pb.CreateReportRequest)
	spaced.Report.Narrative = "  " + spaced.Report.Narrative + "\n"
	spaced.Report.Children[0].FullName = " " + norm.NFD.String(spaced.Report.Children[0].FullName) + " "
	spaced.Report.GetReporter().GetIdentified().Phone += " "
	if got, err := ts.reports().CreateReport(op, spaced); err != nil || got.GetName() != first.GetName() {
		t.Errorf("gRPC: the report's retry with spaces around its text: %q, %v; want the first answer %q", got.GetName(), err, first.GetName())
	}
	other := proto.Clone(create).(*pb.CreateReportRequest)
	other.Report.Narrative += " Lại nữa."
	if _, err := ts.reports().CreateReport(op, other); grpcstatus.Code(err) != codes.AlreadyExists {
		t.Errorf("gRPC: the same id with another narrative: %v; want ALREADY_EXISTS (REQUEST_ID_REUSED)", err)
	}

	name := first.GetCase()
	bd := ts.as(t, "bd.worker")
	note := &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "spaced-note", Text: "gọi lại cho mẹ"}
	noted, err := ts.process().AddCaseNote(bd, note)
	if err != nil {
		t.Fatal(err)
	}
	retry := proto.Clone(note).(*pb.AddCaseNoteRequest)
	retry.Text = "\t" + note.GetText() + "  "
	if again, err := ts.process().AddCaseNote(bd, retry); err != nil || again.GetEtag() != noted.GetEtag() {
		t.Errorf("gRPC: the note's retry with spaces: etag %q, %v; want the first answer (etag %q)", again.GetEtag(), err, noted.GetEtag())
	}

	// Over REST, the same: the body as a client's form would send it. (Its
	// own receive time: the gRPC report's is kept in the clear, and the
	// sealed-text check would take the REST body's for the same text.)
	const path = "/v1/reports?request_id=spaced-rest"
	report := strings.Replace(restReport, "2026-11-28T02:00:00Z", "2026-11-28T02:10:00Z", 1)
	code, body := restCall(t, ts, "POST", path, report)
	if code != http.StatusOK {
		t.Fatalf("REST: %d %v", code, body)
	}
	padded := strings.Replace(report, `"condition": "bỏ đói"`, `"condition": "  bỏ đói "`, 1)
	if padded == report {
		t.Fatal("the REST report has no condition to pad")
	}
	if code, again := restCall(t, ts, "POST", path, padded); code != http.StatusOK || again["name"] != body["name"] {
		t.Errorf("REST: the retry with spaces around the child's condition: %d %v; want the first answer %v", code, again, body["name"])
	}
}

// A field the schema marks OUTPUT_ONLY is ignored when a request sends
// it (TestOutputOnlyFieldsSentAreIgnored), so a retry that differs from
// the first try only there is the same request and answers the first
// result: a client that sends back a report or user as it read it, or
// leaves out on the retry what it sent the first time, means the same.
// The fingerprint was taken with those fields, and such a retry was
// REQUEST_ID_REUSED, its first answer (the case opened, the token)
// lost to the client. A retry that differs in what the service reads is
// still another request.
func TestRetryDifferingOnlyInOutputOnlyFieldsIsTheSameRequest(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	op := ts.as(t, operatorID)
	past := timestamppb.New(testNow.Add(-24 * time.Hour))

	sent := validReport()
	sent.Name, sent.IncidentUnit, sent.CreateTime = "reports/01a222d5-bea0-7bea-bf64-debef56d112a", "units/00070@2025-07-01", past
	sent.Candidates = []*pb.ReportCandidate{{Case: "cases/HN-2026-00042", Score: 9}}
	first, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: sent, RequestId: "output-only-call"})
	if err != nil {
		t.Fatal(err)
	}
	otherwise := validReport()
	otherwise.Name, otherwise.IncidentUnit, otherwise.CreateTime = "reports/x", "units/00091@2025-07-01", timestamppb.New(testNow)
	for _, retry := range []*pb.Report{validReport(), otherwise} {
		got, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: retry, RequestId: "output-only-call"})
		if err != nil || got.GetName() != first.GetName() || got.GetCase() != first.GetCase() {
			t.Errorf("gRPC: the report's retry with other output-only fields: %q in %q, %v; want the first answer %q in %q",
				got.GetName(), got.GetCase(), err, first.GetName(), first.GetCase())
		}
	}
	other := validReport()
	other.Narrative += " Lại nữa."
	_, err = ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: other, RequestId: "output-only-call"})
	wantReused(t, err)

	admin := ts.as(t, "admin")
	user := &pb.User{Name: "users/someone.else", DisplayName: "Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111", CreateTime: past}
	created, err := ts.admin().CreateUser(admin, &pb.CreateUserRequest{UserId: "lan.nguyen", User: user, RequestId: "output-only-user"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ts.admin().CreateUser(admin, &pb.CreateUserRequest{UserId: "lan.nguyen", User: created.GetUser(), RequestId: "output-only-user"})
	if err != nil || again.GetToken().GetName() != created.GetToken().GetName() {
		t.Errorf("gRPC: CreateUser's retry with the user as answered: token %q, %v; want the first answer's %q",
			again.GetToken().GetName(), err, created.GetToken().GetName())
	}

	// Over REST: the first body names the report, the retry does not.
	const path = "/v1/reports?request_id=output-only-rest"
	report := strings.Replace(restReport, "2026-11-28T02:00:00Z", "2026-11-28T02:20:00Z", 1)
	named := strings.Replace(report, "{", `{"name": "reports/01a222d5-bea0-7bea-bf64-debef56d112a", "incident_unit": "units/00070@2025-07-01",`, 1)
	code, body := restCall(t, ts, "POST", path, named)
	if code != http.StatusOK {
		t.Fatalf("REST: %d %v", code, body)
	}
	if code, again := restCall(t, ts, "POST", path, report); code != http.StatusOK || again["name"] != body["name"] {
		t.Errorf("REST: the retry without the output-only fields: %d %v; want the first answer %v", code, again, body["name"])
	}
}

// A retried CreateReport gets the first answer as it was (issue 5: "a
// retry with the same id returns the first result"; the README: "even if
// the resource changed since"), as a retried step does: not the
// candidates a search finds now that a second call about the child opened
// another case, nor the case the report's case was merged into since. A
// link's retry likewise answers the case it linked to.
func TestReportRetriesReturnTheFirstAnswer(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	op := context.Background() // the operator's
	create := &pb.CreateReportRequest{Report: firstCall(), RequestId: "first-call"}
	first, err := ts.reports().CreateReport(op, create)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	info := validReport()
	info.CallType = pb.CallType_CALL_TYPE_INFORMATION
	loose, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: info})
	if err != nil {
		t.Fatal(err)
	}
	link := &pb.LinkReportRequest{Name: loose.GetName(), Case: first.GetCase(), RequestId: "link-loose"}
	linked, err := ts.reports().LinkReport(op, link)
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	second, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: secondCall()})
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if !slices.Contains(candidateCases(second.GetCandidates()), first.GetCase()) {
		t.Fatalf("the second call's candidates %v lack the first case %s", candidateCases(second.GetCandidates()), first.GetCase())
	}
	retry := func(when string) {
		t.Helper()
		if again, err := ts.reports().CreateReport(op, create); err != nil || !proto.Equal(again, first) {
			t.Errorf("the report's retry %s: %v (case %s, candidates %v); want the first answer (case %s, candidates %v)",
				when, err, again.GetCase(), candidateCases(again.GetCandidates()), first.GetCase(), candidateCases(first.GetCandidates()))
		}
		if again, err := ts.reports().LinkReport(op, link); err != nil || !proto.Equal(again, linked) {
			t.Errorf("the link's retry %s: %v (case %s); want the first answer (case %s)", when, err, again.GetCase(), linked.GetCase())
		}
	}
	retry("after a second call about the child")

	city := ts.as(t, "city")
	if _, err := ts.process().MergeCase(city, &pb.MergeCaseRequest{
		Name: second.GetCase(), Etag: etagOf(t, ts, "city", second.GetCase()),
		AbsorbedCase: first.GetCase(), AbsorbedEtag: etagOf(t, ts, "city", first.GetCase()), Reason: "cùng một trẻ",
	}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	retry("after its case was merged into the second")
}
