package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A case out of the caller's scope answers every request that names it
// exactly as a case that does not exist: the status, the body (the
// number aside) and the headers (the date and request id aside), for
// reads, steps with its current etag or a wrong one, a merge naming it on
// either side, a link or a report joining it, and a watch of it. A
// difference anywhere would tell a commune's staff which numbers exist in
// another commune, and a current etag accepted differently would confirm
// a guess of it.
func TestOutOfScopeAnswersAsAbsentEverywhere(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, confHoanKiem)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, confHoanKiem)
	ctx := context.Background()
	other, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: other.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	r := validReport()
	r.IncidentCommuneCode = "00070" // Hoàn Kiếm: the callers' own case
	own, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: own.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	const exists, absent = "HN-2026-00001", "HN-2026-09999" // {} below
	if theirs.GetCaseNumber() != exists {
		t.Fatalf("the other commune's case is %s, want %s", theirs.GetCaseNumber(), exists)
	}
	etag, ownEtag := theirs.GetEtag(), ours.GetEtag()
	requests := []struct{ method, path, body string }{
		{"GET", "/v1/cases/{}", ""},
		{"GET", "/v1/cases/{}/events?page_size=1", ""},
		{"GET", "/v1/cases/{}/events?order_by=seq%20desc", ""},
		{"POST", "/v1/cases/{}:addNote", `{"etag":"` + etag + `","text":"x"}`},
		{"POST", "/v1/cases/{}:addNote", `{"etag":"1.aaaaaa","text":"x","request_id":"r1"}`},
		{"POST", "/v1/cases/{}:acknowledge", `{"etag":"` + etag + `"}`},
		{"POST", "/v1/cases/{}:proposeTransfer", `{"etag":"` + etag + `","to_unit":"` + confHoanKiem + `","reason":"r"}`},
		{"POST", "/v1/cases/{}:merge", `{"etag":"` + etag + `","absorbed_case":"` + own.GetCase() + `","absorbed_etag":"` + ownEtag + `","reason":"r"}`},
		{"POST", "/v1/" + own.GetCase() + ":merge", `{"etag":"` + ownEtag + `","absorbed_case":"cases/{}","absorbed_etag":"` + etag + `","reason":"r"}`},
		{"POST", "/v1/" + own.GetCase() + ":merge", `{"etag":"` + ownEtag + `","absorbed_case":"cases/{}","absorbed_etag":"1.aaaaaa","reason":"r"}`},
		{"POST", "/v1/" + own.GetName() + ":link", `{"case":"cases/{}"}`},
		{"POST", "/v1/reports?validate_only=true", strings.Replace(restReport, `"reporter"`, `"case":"cases/{}","reporter"`, 1)},
		{"GET", "/v1/notifications:watch?case=cases/{}", ""},
	}
	for _, user := range []string{"hk.worker", "hk.chair"} {
		for _, rq := range requests {
			call := func(number string) (int, http.Header, string) {
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a bound: a watch let through would not end
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, rq.method, "http://"+ts.HTTPAddr()+strings.ReplaceAll(rq.path, "{}", number),
					strings.NewReader(strings.ReplaceAll(rq.body, "{}", number)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+ts.tokens.get(user))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s as %s: %v", rq.method, rq.path, user, err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("%s %s as %s: %v", rq.method, rq.path, user, err)
				}
				resp.Header.Del("Date")
				resp.Header.Del("X-Request-Id")
				return resp.StatusCode, resp.Header, strings.ReplaceAll(string(body), number, "{}")
			}
			code1, head1, body1 := call(exists)
			code2, head2, body2 := call(absent)
			if code1 == http.StatusOK {
				t.Errorf("%s %s as %s: the other commune's case answered %d %s", rq.method, rq.path, user, code1, body1)
			}
			if code1 != code2 || body1 != body2 || len(head1) != len(head2) {
				t.Errorf("%s %s as %s: out of scope %d %v %s\nbut absent %d %v %s", rq.method, rq.path, user, code1, head1, body1, code2, head2, body2)
				continue
			}
			for k := range head1 {
				if head1.Get(k) != head2.Get(k) {
					t.Errorf("%s %s as %s: header %s is %q out of scope, %q absent", rq.method, rq.path, user, k, head1.Get(k), head2.Get(k))
				}
			}
		}
	}
}
