package app_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// addNotes adds n notes to a case as user, numbered from 1.
func addNotes(t *testing.T, ts *testServer, user, name string, n int) {
	t.Helper()
	ctx := ts.as(t, user)
	etag := etagOf(t, ts, user, name)
	for i := range n {
		cs, err := ts.process().AddCaseNote(ctx, &pb.AddCaseNoteRequest{Name: name, Etag: etag, Text: fmt.Sprintf("ghi chú số %d", i+1)})
		if err != nil {
			t.Fatalf("note %d: %v", i+1, err)
		}
		etag = cs.GetEtag()
	}
}

// TestListCaseEventsNewestFirst: order_by "seq desc" pages the timeline
// backwards, and its page tokens keep their order.
func TestListCaseEventsNewestFirst(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	addNotes(t, ts, "bd.worker", name, 6)
	forward := caseEvents(t, ts, "bd.worker", name)

	ctx := ts.as(t, "bd.worker")
	var backward []*pb.CaseEvent
	req := &pb.ListCaseEventsRequest{Parent: name, PageSize: 4, OrderBy: "seq desc"}
	for {
		resp, err := ts.process().ListCaseEvents(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		backward = append(backward, resp.GetEvents()...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
		if len(backward) == 4 {
			// The other order's page token is refused, not misread.
			_, err := ts.process().ListCaseEvents(ctx, &pb.ListCaseEventsRequest{Parent: name, PageSize: 4, PageToken: req.PageToken})
			if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "page_token") {
				t.Errorf("a newest-first token used oldest first: fields %v, want page_token", badFields(st))
			}
		}
	}
	var want []uint64
	for _, e := range slices.Backward(forward) {
		want = append(want, e.GetSeq())
	}
	var got []uint64
	for _, e := range backward {
		got = append(got, e.GetSeq())
	}
	if len(want) < 7 || !slices.Equal(got, want) {
		t.Errorf("newest first: seqs %v, want %v", got, want)
	}
	_, err := ts.process().ListCaseEvents(ctx, &pb.ListCaseEventsRequest{Parent: name, OrderBy: "time desc"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "order_by") {
		t.Errorf("order_by \"time desc\": fields %v, want order_by", badFields(st))
	}
}

// TestConsoleCasePageReadsOnlyTheNewestEvents: the case page of a case
// with a long timeline reads one page of the newest entries (one
// ListCaseEvents call, audited), not the whole timeline to find them.
func TestConsoleCasePageReadsOnlyTheNewestEvents(t *testing.T) {
	accts := &bookAccounts{}
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), ConsoleAccounts: accts, NoSync: true})
	accts.server.Store(ts)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	addNotes(t, ts, "bd.worker", name, 1000)
	ts.advance(t, time.Minute)
	addNotes(t, ts, "bd.worker", name, 1) // the newest, a minute later: more than a page of 1000 in all
	number := strings.TrimPrefix(name, "cases/")

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	before := countAudited(t, ts, "case.events.read")
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the case page: %s", resp.Status)
	}
	if reads := countAudited(t, ts, "case.events.read") - before; reads != 1 {
		t.Errorf("the case page read the timeline in %d calls, want 1", reads)
	}
	body, _, _ := strings.Cut(page[strings.Index(page, `id="timeline"`)+1:], "</tbody>")
	if rows := strings.Count(body, "<tr><td>"); rows != 50 {
		t.Errorf("the timeline shows %d entries, want the newest 50", rows)
	}
	newest := `datetime="` + ts.clock.Now().UTC().Format(time.RFC3339) + `"`
	if first := rowTime.FindString(body); first != newest || strings.Count(body, newest) != 1 {
		t.Errorf("the timeline's first entry has %s, want the newest note's %s once", first, newest)
	}
	if !strings.Contains(page, "timeline=all") {
		t.Error("the case page has no link to the older entries")
	}
}

var rowTime = regexp.MustCompile(`datetime="[^"]+"`)

// countAudited counts the audit log's events of an action.
func countAudited(t *testing.T, ts *testServer, action string) int {
	t.Helper()
	n, token := 0, ""
	for {
		resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEvents() {
			if e.GetAction() == action {
				n++
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}
