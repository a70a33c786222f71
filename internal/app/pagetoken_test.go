package app_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Page tokens carry a MAC under a key that never leaves the server: a
// client that rewrites the cursor inside a token it was given (keeping
// the rest of the token as it was) is refused with INVALID_ARGUMENT naming
// page_token, over gRPC and REST. The key is derived from the master
// key, so a token stays good across a restart and on every instance that
// has the same key file.
func TestPageTokenIsAuthenticated(t *testing.T) {
	ts := startServer(t, "")
	for range 3 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	token := first.GetNextPageToken()
	if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: token}); err != nil {
		t.Fatalf("the token as issued: %v", err)
	}

	// The token's text is "version.filters.cursor..."; rewrite the
	// cursor's first character, as a client guessing cursors would.
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("page token %q: %v", token, err)
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		t.Fatalf("page token %q has no cursor part", raw)
	}
	cursor := []byte(parts[2])
	cursor[0] ^= 1
	forged := base64.RawURLEncoding.EncodeToString([]byte(parts[0] + "." + parts[1] + "." + string(cursor)))

	refused := func(what, tok string) {
		t.Helper()
		_, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: tok})
		st := wantCode(t, err, codes.InvalidArgument)
		if got := badFields(st); len(got) != 1 || got[0] != "page_token" {
			t.Errorf("%s over gRPC: fields %v, want page_token (%v)", what, got, st.Message())
		}
		code, body := restCall(t, ts, "GET", "/v1/reports?page_size=1&page_token="+url.QueryEscape(tok), "")
		if code != http.StatusBadRequest || !strings.Contains(body["message"].(string), "page_token") {
			t.Errorf("%s over REST: %d %v", what, code, body)
		}
	}
	refused("a rewritten cursor", forged)

	// The key is derived from the master key, so a restarted server, and
	// a second instance with the same key file, accept the token; the
	// rewritten one they refuse all the same.
	dbPath := ts.cfg.DBPath
	ts.stop()
	otherPath := filepath.Join(t.TempDir(), "childcase.db")
	for _, suffix := range []string{"", ".key", ".tokens.json"} {
		copyFile(t, dbPath+suffix, otherPath+suffix)
	}
	for _, path := range []string{dbPath, otherPath} {
		ts = startServer(t, path)
		if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: token}); err != nil {
			t.Errorf("the token on the server at %s after the restart: %v", path, err)
		}
		refused("a rewritten cursor after the restart", forged)
		ts.stop()
	}
}

// After a master key rotation, a restarted instance refuses the page
// tokens issued under the old master as it refuses forged ones (the key
// that authenticates them is derived from the master), and the listing
// starts again without a token, as the README's Limits say.
func TestPageTokenOfTheOldMasterRefusedAfterRotation(t *testing.T) {
	ts := startServer(t, "")
	for range 2 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	if _, err := ts.admin().RotateMasterKey(ts.as(t, "admin"), &pb.RotateMasterKeyRequest{}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	ts = startServer(t, ts.cfg.DBPath)
	_, err = ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: first.GetNextPageToken()})
	st := wantCode(t, err, codes.InvalidArgument)
	if got := badFields(st); len(got) != 1 || got[0] != "page_token" {
		t.Errorf("an old master's token after the restart: fields %v, want page_token (%v)", got, st.Message())
	}
	again, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || len(again.GetReports()) != 1 || again.GetNextPageToken() == "" {
		t.Fatalf("listing again without a token: %v, %v", again, err)
	}
	if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: again.GetNextPageToken()}); err != nil {
		t.Errorf("a token of the new master: %v", err)
	}
}

// A work queue's page token is a cursor, not a position: when a case on
// an earlier page leaves the list before the next page is read, the next
// page still starts right after the last case seen. (With an offset, the
// next page skipped a case the worker had not seen.)
func TestQueuePageTokenIsACursor(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	var names []string
	for range 3 {
		// Each case's acknowledgement is due a day after it was opened,
		// an hour after the one before.
		names = append(names, openCase(t, ts, testNow, "00004"))
		ts.advance(t, time.Hour)
	}
	bd := ts.as(t, "bd.worker")
	req := &pb.ListCasesRequest{DueBefore: timestamppb.New(testNow.Add(30 * 24 * time.Hour)), PageSize: 1}
	first, err := ts.cases().ListCases(bd, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := caseNames(first.GetCases()); !slices.Equal(got, names[:1]) || first.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, token %q; want [%s] and a token", got, first.GetNextPageToken(), names[0])
	}
	// Acknowledging the first case meets its only deadline: it leaves the
	// list of cases with an open deadline.
	if _, err := ts.process().AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: names[0], Etag: etagOf(t, ts, "bd.worker", names[0])}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	req.PageToken = first.GetNextPageToken()
	second, err := ts.cases().ListCases(bd, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := caseNames(second.GetCases()); !slices.Equal(got, names[1:2]) {
		t.Errorf("second page = %v, want [%s]: the case after the last one seen", got, names[1])
	}
}

// A page token is bound to the caller who was given it, on every paged
// list, not only to the list's filters: replayed by another user (of
// another unit, or of the same role and scope) it is refused with
// INVALID_ARGUMENT naming page_token, as a forged one is, and never
// continues a list of that user's. The users' and the audit events'
// tokens were bound to their filters alone, so one admin's or auditor's
// cursor went on for another.
func TestPageTokenIsBoundToTheCaller(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "operator2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "admin2", pb.Role_ROLE_ADMIN, "orgs/system")
	ts.addUser(t, "auditor1", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "auditor2", pb.Role_ROLE_AUDITOR, "orgs/system")
	var bd string
	for range 2 {
		bd = openCase(t, ts, testNow, "00004")
		openCase(t, ts, testNow, "00070")
	}
	ctx := func(user string) context.Context { return ts.as(t, user) }
	lists := []struct {
		name      string
		owner     string
		others    []string
		firstPage func(user, token string) (string, error)
	}{
		{"reports", operatorID, []string{"operator2"}, func(user, token string) (string, error) {
			r, err := ts.reports().ListReports(ctx(user), &pb.ListReportsRequest{PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"cases", "bd.worker", []string{"hk.worker", "bd.worker2"}, func(user, token string) (string, error) {
			r, err := ts.cases().ListCases(ctx(user), &pb.ListCasesRequest{PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"a work queue", "bd.worker", []string{"hk.worker", "bd.worker2"}, func(user, token string) (string, error) {
			r, err := ts.cases().ListCases(ctx(user), &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN, PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"a case's events", "bd.worker", []string{"bd.worker2"}, func(user, token string) (string, error) {
			r, err := ts.process().ListCaseEvents(ctx(user), &pb.ListCaseEventsRequest{Parent: bd, PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"users", "admin", []string{"admin2"}, func(user, token string) (string, error) {
			r, err := ts.admin().ListUsers(ctx(user), &pb.ListUsersRequest{PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"audit events", "auditor1", []string{"auditor2"}, func(user, token string) (string, error) {
			r, err := ts.audit().ListAuditEvents(ctx(user), &pb.ListAuditEventsRequest{PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
		{"units", "bd.worker", []string{"hk.worker"}, func(user, token string) (string, error) {
			r, err := ts.units().ListUnits(ctx(user), &pb.ListUnitsRequest{PageSize: 1, PageToken: token})
			return r.GetNextPageToken(), err
		}},
	}
	for _, list := range lists {
		token, err := list.firstPage(list.owner, "")
		if err != nil || token == "" {
			t.Fatalf("%s: the first page of %s: token %q, %v", list.name, list.owner, token, err)
		}
		if _, err := list.firstPage(list.owner, token); err != nil {
			t.Errorf("%s: %s's own token: %v", list.name, list.owner, err)
		}
		for _, other := range list.others {
			_, err := list.firstPage(other, token)
			if err == nil {
				t.Errorf("%s: %s's page token accepted from %s", list.name, list.owner, other)
				continue
			}
			st := wantCode(t, err, codes.InvalidArgument)
			if got := badFields(st); len(got) != 1 || got[0] != "page_token" {
				t.Errorf("%s: %s's token from %s: fields %v, want page_token (%v)", list.name, list.owner, other, got, st.Message())
			}
		}
	}
}

// A case's events are one list however its name is typed (the README
// lets a number be typed in lower case, with spaces, without "cases/"):
// a page token made with one typing goes on with another, as the filters
// of the other lists are compared as names, not as typed.
func TestCaseEventsTokenTakesTheNameTypedOtherwise(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow, "00004")
	bd := ts.as(t, "bd.worker")
	first, err := ts.process().ListCaseEvents(bd, &pb.ListCaseEventsRequest{Parent: name, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	for _, typed := range []string{strings.ToLower(name), " " + strings.TrimPrefix(name, "cases/") + " "} {
		next, err := ts.process().ListCaseEvents(bd, &pb.ListCaseEventsRequest{Parent: typed, PageSize: 1, PageToken: first.GetNextPageToken()})
		if err != nil || len(next.GetEvents()) != 1 || next.GetEvents()[0].GetSeq() != first.GetEvents()[0].GetSeq()+1 {
			t.Errorf("the second page naming %q: %v, %v; want the event after seq %d", typed, next.GetEvents(), err, first.GetEvents()[0].GetSeq())
		}
	}
}

// The units' page token is a cursor too (issue 10: "the page token is a
// cursor, never an offset"): the cursor a client can read in it (it is
// signed, not sealed) is the last unit of the page, and the next page
// starts right after that unit. It was the offset of the next page.
func TestUnitsPageTokenIsACursor(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	whole, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{PageSize: 6})
	if err != nil || len(whole.GetUnits()) != 6 {
		t.Fatalf("ListUnits of 6 = %v, %v", whole.GetUnits(), err)
	}
	first, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{PageSize: 3})
	if err != nil || len(first.GetUnits()) != 3 {
		t.Fatalf("ListUnits of 3 = %v, %v", first.GetUnits(), err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(first.GetNextPageToken())
	if err != nil {
		t.Fatalf("the page token %q is not base64url: %v", first.GetNextPageToken(), err)
	}
	// version.filters.cursor.mac
	signed := string(raw[:strings.LastIndexByte(string(raw), '.')])
	parts := strings.SplitN(signed, ".", 3)
	if last := strings.TrimPrefix(first.GetUnits()[2].GetName(), "units/"); len(parts) != 3 || parts[2] != last {
		t.Errorf("the cursor in the page token is %q, want the page's last unit %s", parts[len(parts)-1], last)
	}
	second, err := ts.units().ListUnits(ctx, &pb.ListUnitsRequest{PageSize: 3, PageToken: first.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, u := range append(first.GetUnits(), second.GetUnits()...) {
		got = append(got, u.GetName())
	}
	for _, u := range whole.GetUnits() {
		want = append(want, u.GetName())
	}
	if !slices.Equal(got, want) {
		t.Errorf("two pages of 3 = %v, want the page of 6 %v", got, want)
	}
}
