package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
)

// signInBadRequests is how many refused sign-ins the bound tests send: far
// more than the throttle's burst, so most of them are also throttled.
const signInBadRequests = 5000

// The README's bound on refused sign-ins: per minute at most one audit
// event per client address for the first 60 addresses, and one for all
// the others, each event well under 1 KiB.
const (
	signInEventsPerWindow = 61
	signInWindow          = time.Minute
)

var refusedCount = regexp.MustCompile(`^refused sign-ins: ([0-9]+) from `)

// signInAudit returns the audit head and the refused sign-ins the log
// accounts for: the events whose reason counts them, and the sum of their
// counts. The window of the refusals is closed first (the clock moves on),
// and the auditor's own call writes what was aggregated.
func signInAudit(t *testing.T, ts *testServer) (head uint64, events []*pb.AuditEvent, refused int) {
	t.Helper()
	ts.advance(t, signInWindow+time.Second)
	auditor := ts.as(t, "auditor")
	v, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetIntact() {
		t.Fatalf("audit log broken: %v", v)
	}
	var token string
	for {
		resp, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEvents() {
			if e.GetAction() != "auth.fail" {
				continue
			}
			events = append(events, e)
			m := refusedCount.FindStringSubmatch(e.GetReason())
			if m == nil {
				t.Errorf("auth.fail event without a count: %v", e)
				continue
			}
			n, _ := strconv.Atoi(m[1])
			refused += n
		}
		if token = resp.GetNextPageToken(); token == "" {
			return v.GetHeadSeq(), events, refused
		}
	}
}

// sendBadSignIns makes n calls with a token that does not exist, from the
// client addresses addr(i) names in x-forwarded-for (none when addr is
// nil), eight at a time.
func sendBadSignIns(t *testing.T, ts *testServer, n int, addr func(i int) string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				ctx := withToken(context.Background(), confBadToken)
				if addr != nil {
					ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", addr(i))
				}
				_, err := ts.units().GetUnit(ctx, &pb.GetUnitRequest{Name: confBaDinh})
				st, _ := statusOf(err)
				mu.Lock()
				codesSeen[st]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codesSeen[codes.Unauthenticated]+codesSeen[codes.ResourceExhausted] != n {
		t.Fatalf("answers to %d bad sign-ins: %v", n, codesSeen)
	}
}

func statusOf(err error) (codes.Code, string) {
	st, _ := status.FromError(err)
	return st.Code(), st.Message()
}

func dbSize(t *testing.T, ts *testServer) int64 {
	t.Helper()
	fi, err := os.Stat(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Refused sign-ins cannot fill the disk: thousands of them from one
// address are one audit event that counts them all.
func TestSignInRefusalsFromOneAddressAreOneEvent(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	headBefore, _, _ := signInAudit(t, ts)
	sizeBefore := dbSize(t, ts)

	sendBadSignIns(t, ts, signInBadRequests, nil)

	head, events, refused := signInAudit(t, ts)
	// The auditor's own reads add two events (verify, list) per look.
	if grown := head - headBefore; grown > 1+2 {
		t.Errorf("%d bad sign-ins from one address added %d audit events, want 1 (and the auditor's 2)", signInBadRequests, grown)
	}
	if refused != signInBadRequests {
		t.Errorf("the audit log accounts for %d refused sign-ins, want %d: %v", refused, signInBadRequests, events)
	}
	for _, e := range events {
		if e.GetOutcome() != "denied" || e.GetActor() != "" || !strings.Contains(e.GetReason(), "127.0.0.1") {
			t.Errorf("auth.fail event %v", e)
		}
	}
	if grown := dbSize(t, ts) - sizeBefore; grown > 256<<10 {
		t.Errorf("%d bad sign-ins grew the database by %d bytes", signInBadRequests, grown)
	}
}

// From many addresses (through a trusted proxy), the events of a window
// are capped, and still account for every refused sign-in.
func TestSignInRefusalsFromManyAddressesAreCapped(t *testing.T) {
	ts := startServerWith(t, "", func(c *app.Config) { c.TrustedProxies = "127.0.0.0/8" })
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	headBefore, _, _ := signInAudit(t, ts)
	sizeBefore := dbSize(t, ts)

	sendBadSignIns(t, ts, signInBadRequests, func(i int) string { return fmt.Sprintf("10.1.%d.%d", i/250, i%250) })

	head, events, refused := signInAudit(t, ts)
	if grown := head - headBefore; grown > signInEventsPerWindow+2 {
		t.Errorf("%d bad sign-ins from as many addresses added %d audit events, want at most %d (and the auditor's 2)",
			signInBadRequests, grown, signInEventsPerWindow)
	}
	if refused != signInBadRequests {
		t.Errorf("the audit log accounts for %d refused sign-ins, want %d", refused, signInBadRequests)
	}
	for _, e := range events {
		if n := proto.Size(e); n > 1024 {
			t.Errorf("auth.fail event of %d bytes: %v", n, e)
		}
	}
	if grown := dbSize(t, ts) - sizeBefore; grown > 256<<10 {
		t.Errorf("%d bad sign-ins grew the database by %d bytes", signInBadRequests, grown)
	}
}

// Nothing counted is lost when the server stops before the window ends.
func TestSignInRefusalsAreWrittenAtShutdown(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	sendBadSignIns(t, ts, 3, nil)
	dbPath := ts.cfg.DBPath
	ts.stop()

	ts = launch(t, testConfig(t, dbPath), app.Options{Clock: ts.clock})
	t.Cleanup(ts.stop)
	_, events, refused := signInAudit(t, ts)
	if refused != 3 {
		t.Errorf("after a restart the audit log accounts for %d refused sign-ins, want 3: %v", refused, events)
	}
}

// One bad client does not lock the valid tokens of its address out: a
// valid token passes unless its own id is under attack.
func TestSignInValidTokenPassesAThrottledAddress(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	req := &pb.GetUnitRequest{Name: confBaDinh}
	for range 20 {
		_, _ = ts.units().GetUnit(withToken(ctx, confBadToken), req)
	}
	_, err := ts.units().GetUnit(withToken(ctx, confBadToken), req)
	st := wantCode(t, err, codes.ResourceExhausted)
	if retryDelay(st) <= 0 {
		t.Errorf("429 without RetryInfo: %v", st.Details())
	}
	// No token, or a malformed one: the address is throttled.
	_, err = ts.units().GetUnit(withToken(ctx, "not-a-token"), req)
	wantCode(t, err, codes.ResourceExhausted)

	u, err := ts.units().GetUnit(ctx, req) // the operator's valid token
	if err != nil || u.GetDisplayName() != "Ba Đình" {
		t.Fatalf("a valid token from the throttled address: %v, %v", u, err)
	}
}

// A token id under attack is throttled, valid secret or not, wherever the
// guesses come from; other tokens of the same address still pass.
func TestSignInThrottlesAnAttackedTokenID(t *testing.T) {
	ctx := context.Background()
	ts := startServerWith(t, "", func(c *app.Config) { c.TrustedProxies = "127.0.0.1/32" })
	ts.addUser(t, "other", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	req := &pb.GetUnitRequest{Name: confBaDinh}
	opTok := ts.tokens.get(operatorID)
	guessed := opTok[:len(opTok)-43] + "guessedsecretguessedsecretguessedsecretgues"
	for i := range 10 {
		attacker := metadata.AppendToOutgoingContext(withToken(ctx, guessed), "x-forwarded-for", fmt.Sprintf("10.9.9.%d", i))
		_, err := ts.units().GetUnit(attacker, req)
		wantCode(t, err, codes.Unauthenticated)
	}
	fromElsewhere := metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", "10.2.2.2")
	_, err := ts.units().GetUnit(fromElsewhere, req) // the operator's valid token
	st := wantCode(t, err, codes.ResourceExhausted)
	if d := retryDelay(st); d <= 0 || d > time.Minute {
		t.Errorf("RetryInfo delay %v", d)
	}
	if _, err := ts.units().GetUnit(withToken(fromElsewhere, ts.tokens.get("other")), req); err != nil {
		t.Errorf("another token from the same address: %v", err)
	}
	ts.advance(t, time.Minute)
	if _, err := ts.units().GetUnit(fromElsewhere, req); err != nil {
		t.Errorf("after a minute: %v", err)
	}
}

// x-forwarded-for counts only from a trusted proxy: a client that names
// itself differently at every call is still one client.
func TestSignInForwardedForOnlyFromTrustedProxies(t *testing.T) {
	ctx := context.Background()
	req := &pb.GetUnitRequest{Name: confBaDinh}
	// A malformed token: no token id to count, only the address.
	spoofed := func(i int) context.Context {
		return metadata.AppendToOutgoingContext(withToken(ctx, "not-a-token"), "x-forwarded-for", fmt.Sprintf("10.3.3.%d", i))
	}
	for _, trusted := range []bool{false, true} {
		ts := startServerWith(t, "", func(c *app.Config) {
			if trusted {
				c.TrustedProxies = "127.0.0.0/8, ::1/128"
			}
		})
		var last error
		for i := range 15 {
			_, last = ts.units().GetUnit(spoofed(i), req)
		}
		want := codes.ResourceExhausted // untrusted: one client, throttled
		if trusted {
			want = codes.Unauthenticated // fifteen clients, one failure each
		}
		wantCode(t, last, want)
		ts.stop()
	}
}

// Over REST, every 429 says when to retry, and behind a trusted proxy the
// client is the address the proxy saw, not the proxy.
func TestSignInRESTRetryAfterAndForwardedFor(t *testing.T) {
	ts := startServerWith(t, "", func(c *app.Config) { c.TrustedProxies = "127.0.0.1/32" })
	get := func(token, forwardedFor string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+ts.HTTPAddr()+"/v1/"+confBaDinh, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const malformed = "not-a-token" // counted against the address only
	for range 10 {
		if resp := get(malformed, "203.0.113.7"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", resp.StatusCode)
		}
	}
	resp := get(malformed, "203.0.113.7")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th bad token: %d, want 429", resp.StatusCode)
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q on a 429", resp.Header.Get("Retry-After"))
	}
	// Another client behind the same proxy is not throttled; one that
	// names a forged address before the proxy's is the address the proxy
	// saw.
	if resp := get(malformed, "203.0.113.8"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d, want 401", resp.StatusCode)
	}
	if resp := get(malformed, "198.51.100.1, 203.0.113.7"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a forged first hop: %d, want 429", resp.StatusCode)
	}
}

// A refused call on a named record is audited with the record and its
// case, so the case's audit trail shows the attempt; an out-of-scope
// answer stays the answer for a record that does not exist.
func TestRefusedCallsAreAuditedWithTheirRecord(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, confBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, confHoanKiem)
	// Of the other organisation: an operator of hotline 111 may join a
	// case of 111 from its candidate view (issue 12), one of the social
	// work centre may not.
	ts.addUser(t, "op2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	report, caseName := created.GetName(), created.GetCase()
	c, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: caseName})
	if err != nil {
		t.Fatal(err)
	}

	// The role may not disclose: refused before the handler.
	_, err = ts.reports().DiscloseReporter(ts.as(t, "bd.worker"), &pb.DiscloseReporterRequest{
		Name: report, Reason: "muốn biết ai đã gọi điện báo"})
	wantCode(t, err, codes.PermissionDenied)
	// Out of scope: the case and the report of another commune.
	hk := ts.as(t, "hk.worker")
	_, err = ts.cases().GetCase(hk, &pb.GetCaseRequest{Name: caseName})
	wantCode(t, err, codes.NotFound)
	_, err = ts.reports().GetReport(hk, &pb.GetReportRequest{Name: report})
	wantCode(t, err, codes.NotFound)
	_, errScope := ts.process().AcknowledgeCase(hk, &pb.AcknowledgeCaseRequest{Name: caseName, Etag: c.GetEtag()})
	_, errMissing := ts.process().AcknowledgeCase(hk, &pb.AcknowledgeCaseRequest{Name: "cases/HN-2026-99999", Etag: c.GetEtag()})
	scope, missing := wantCode(t, errScope, codes.NotFound), wantCode(t, errMissing, codes.NotFound)
	if !proto.Equal(scope.Proto(), missing.Proto()) {
		t.Errorf("out of scope %v, missing %v: the answers differ", scope.Proto(), missing.Proto())
	}

	// Another organisation's operator's report may not join or be linked
	// to the case, and may not take the first operator's report.
	op2 := ts.as(t, "op2")
	joining := validReport()
	joining.Case = caseName
	_, err = ts.reports().CreateReport(op2, &pb.CreateReportRequest{Report: joining})
	wantCode(t, err, codes.InvalidArgument)
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	own, err := ts.reports().CreateReport(op2, &pb.CreateReportRequest{Report: counselling})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.reports().LinkReport(op2, &pb.LinkReportRequest{Name: own.GetName(), Case: caseName})
	wantCode(t, err, codes.InvalidArgument)
	_, err = ts.reports().LinkReport(op2, &pb.LinkReportRequest{Name: report, Case: caseName})
	wantCode(t, err, codes.NotFound)

	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: caseName, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ actor, resource, outcome, action string }{
		{"users/bd.worker", report, "denied", "auth.denied"},
		{"users/hk.worker", caseName, "not_found", "case.read"},
		{"users/hk.worker", report, "not_found", "report.read"},
		{"users/hk.worker", caseName, "not_found", "case.acknowledge"},
		{"users/op2", caseName, "not_found", "case.add_report"},
		{"users/op2", report, "not_found", "report.link"},
	} {
		if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
			return e.GetActor() == want.actor && e.GetResource() == want.resource && e.GetOutcome() == want.outcome &&
				e.GetAction() == want.action && e.GetCase() == caseName
		}) {
			t.Errorf("the audit trail of %s has no %s of %s by %s (%s): %v", caseName, want.action, want.resource, want.actor, want.outcome, ev.GetEvents())
		}
	}
}

func retryDelay(st interface{ Details() []any }) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			return r.GetRetryDelay().AsDuration()
		}
	}
	return 0
}
