package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestAuditListsPageByCaseActorAndTime holds the README's listing of the
// audit log ("by case, by actor and by time, newest first, a page at a
// time") to what an auditor reads through the API: for each filter, and
// for filters together, the events read a few at a time, following
// next_page_token, are exactly the events of the whole log that match,
// each once, in the promised order (by case or actor newest seq first; by
// time alone newest time first, the higher seq first within an instant),
// and the last page ends the list.
func TestAuditListsPageByCaseActorAndTime(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)

	// Reads of two cases by two users at several instants, some shared.
	start := ts.clock.Now()
	a := openCase(t, ts, start.Add(-time.Hour), "00004")
	b := openCase(t, ts, start.Add(-time.Hour), "00070")
	var at []time.Time // the instants events were written at
	for i := range 6 {
		ts.setClock(t, start.Add(time.Duration(i+1)*time.Minute))
		at = append(at, ts.clock.Now())
		getCase(t, ts, "bd.worker", a)
		getCase(t, ts, "city", a)
		getCase(t, ts, "city", b)
		if i%2 == 0 {
			getCase(t, ts, "bd.worker", a)
		}
	}
	// The auditor's own listings come later, after every range below.
	ts.setClock(t, start.Add(time.Hour))

	checkAuditPaging(t, ts, []*pb.ListAuditEventsRequest{
		{Case: a},
		{Actor: "users/city"},
		{StartTime: timestamppb.New(at[2])},
		{EndTime: timestamppb.New(at[3])},
		{StartTime: timestamppb.New(at[1]), EndTime: timestamppb.New(at[4])},
		{Case: a, Actor: "users/bd.worker"},
		{Case: b, StartTime: timestamppb.New(at[3])},
		{Actor: "users/city", StartTime: timestamppb.New(at[1]), EndTime: timestamppb.New(at[3])},
	})
}

// checkAuditPaging lists, as "auditor", the events of each query two at a
// time and compares them with the whole log filtered by the query, in the
// README's order. Events of "auditor" (the listings) are left out.
func checkAuditPaging(t *testing.T, ts *testServer, queries []*pb.ListAuditEventsRequest) {
	t.Helper()
	whole := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{})
	for _, q := range queries {
		t.Run(describeAuditQuery(q), func(t *testing.T) {
			var want []*pb.AuditEvent
			for _, e := range whole {
				if auditQueryMatches(q, e) {
					want = append(want, e)
				}
			}
			timeOnly := q.GetCase() == "" && q.GetActor() == ""
			slices.SortStableFunc(want, func(x, y *pb.AuditEvent) int {
				if timeOnly {
					if c := y.GetTime().AsTime().Compare(x.GetTime().AsTime()); c != 0 {
						return c
					}
				}
				return int(y.GetSeq()) - int(x.GetSeq())
			})
			if len(want) < 3 {
				t.Fatalf("only %d events match: the test needs pages", len(want))
			}
			var got []uint64
			pages := 0
			for token := ""; ; {
				req := &pb.ListAuditEventsRequest{Case: q.GetCase(), Actor: q.GetActor(), StartTime: q.GetStartTime(), EndTime: q.GetEndTime(), PageSize: 2, PageToken: token}
				resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), req)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, e := range resp.GetEvents() {
					if e.GetActor() == "users/auditor" {
						continue // this test's own listings, on the case listed
					}
					got = append(got, e.GetSeq())
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
				if pages > 100 {
					t.Fatal("the list does not end")
				}
			}
			var wantSeqs []uint64
			for _, e := range want {
				wantSeqs = append(wantSeqs, e.GetSeq())
			}
			if !slices.Equal(got, wantSeqs) {
				t.Errorf("paged by 2: seqs %v\nwant (the whole log, filtered): %v", got, wantSeqs)
			}
		})
	}
}

func auditQueryMatches(q *pb.ListAuditEventsRequest, e *pb.AuditEvent) bool {
	switch {
	case e.GetActor() == "users/auditor":
		return false
	case q.GetCase() != "" && e.GetCase() != q.GetCase():
		return false
	case q.GetActor() != "" && e.GetActor() != q.GetActor():
		return false
	case q.GetStartTime() != nil && e.GetTime().AsTime().Before(q.GetStartTime().AsTime()):
		return false
	case q.GetEndTime() != nil && !e.GetTime().AsTime().Before(q.GetEndTime().AsTime()):
		return false
	}
	return true
}

func describeAuditQuery(q *pb.ListAuditEventsRequest) string {
	s := ""
	if q.GetCase() != "" {
		s += "case=" + q.GetCase() + ";"
	}
	if q.GetActor() != "" {
		s += "actor=" + q.GetActor() + ";"
	}
	if q.GetStartTime() != nil {
		s += fmt.Sprintf("start=%s;", q.GetStartTime().AsTime().Format(time.TimeOnly))
	}
	if q.GetEndTime() != nil {
		s += fmt.Sprintf("end=%s;", q.GetEndTime().AsTime().Format(time.TimeOnly))
	}
	return s
}

// TestAuditListRefusesATimeRangeThatEndsBeforeItStarts: an auditor who
// types the range backwards must not read "no events" as an answer about
// the log. The API refuses a range whose end_time is not after its
// start_time, naming end_time and the rule (as the statistics refuse a
// period that ends before it starts, period.order), and so does the
// console's audit page for days typed backwards.
func TestAuditListRefusesATimeRangeThatEndsBeforeItStarts(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	for _, q := range []*pb.ListAuditEventsRequest{
		{StartTime: timestamppb.New(testNow.Add(time.Hour)), EndTime: timestamppb.New(testNow.Add(-time.Hour))},
		{StartTime: timestamppb.New(testNow), EndTime: timestamppb.New(testNow)},
		{Case: "cases/HN-2026-00001", StartTime: timestamppb.New(testNow.Add(time.Minute)), EndTime: timestamppb.New(testNow)},
	} {
		_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), q)
		st := wantCode(t, err, codes.InvalidArgument)
		if fields := badFields(st); !slices.Equal(fields, []string{"end_time"}) || !strings.Contains(st.Message(), "[period.order]") {
			t.Errorf("%v: %q naming %v, want end_time and its rule period.order", q, st.Message(), fields)
		}
	}
	// Within a range that has room, the same events as ever.
	if resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{
		StartTime: timestamppb.New(testNow), EndTime: timestamppb.New(testNow.Add(time.Nanosecond)),
	}); err != nil || len(resp.GetEvents()) == 0 {
		t.Errorf("a range of one instant: %v, %v", resp, err)
	}

	b := newBrowser(t, ts)
	b.signInTo("auditor")
	if resp, page := b.get("/audit?from=2026-11-29&to=2026-11-27"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Thời điểm kết thúc phải sau thời điểm bắt đầu") || len(seqsOf(page)) != 0 {
		t.Errorf("the audit page of days typed backwards: %s, alert %v, %d events shown", resp.Status, strings.Contains(page, `role="alert"`), len(seqsOf(page)))
	}
	if resp, page := b.get("/audit?from=2026-11-28&to=2026-11-28"); resp.StatusCode != http.StatusOK || len(seqsOf(page)) == 0 {
		t.Errorf("the audit page of one day: %s, %d events", resp.Status, len(seqsOf(page)))
	}
}

// An actor filter that no user id can be (user ids are lower case, as
// CreateUser requires) is refused, naming actor and the rule user.id,
// rather than answered with no events, which an auditor could take for a
// user who did nothing; the service's own actor, users/system, is listed.
func TestAuditListRefusesAnActorNoUserCanBe(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	for _, actor := range []string{"users/" + strings.ToUpper(operatorID), "users/Admin", "users/9lives", "users/a"} {
		_, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: actor})
		st := wantCode(t, err, codes.InvalidArgument)
		if fields := badFields(st); !slices.Equal(fields, []string{"actor"}) || !strings.Contains(st.Message(), "[user.id]") {
			t.Errorf("actor %s: %q naming %v, want actor and its rule user.id", actor, st.Message(), fields)
		}
	}
	for _, actor := range []string{"users/" + operatorID, "users/system"} {
		resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: actor})
		if err != nil || len(resp.GetEvents()) == 0 {
			t.Errorf("actor %s: %d events, %v; want its events", actor, len(resp.GetEvents()), err)
		}
	}
}

// TestAuditListsPageOnEtcdWhereTimesDoNotRiseWithSeq: on etcd the
// instances sharing a store each stamp their own events, so times need
// not rise with seq; the listing by time is still newest time first, the
// higher seq first within an instant, page after page, and by case or
// actor newest seq first. Two instances whose clocks run apart (one
// forward, one back) read the same cases in turn.
func TestAuditListsPageOnEtcdWhereTimesDoNotRiseWithSeq(t *testing.T) {
	cluster, dir, clk, a := etcdWithWorker(t)
	a.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	a.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	start := clk.Now()
	x := openCase(t, a, start.Add(-time.Hour), "00004")
	y := openCase(t, a, start.Add(-time.Hour), "00070")
	other := clock.NewFake(start)
	b := startOnEtcdWith(t, cluster.Endpoints(), dir, other, nil)

	var at []time.Time
	for i := range 6 {
		clk.Set(start.Add(time.Duration(i+1) * time.Minute))   // a: forward
		other.Set(start.Add(time.Duration(6-i) * time.Minute)) // b: back
		at = append(at, clk.Now())
		getCase(t, a, "bd.worker", x)
		getCase(t, b, "city", x)
		getCase(t, a, "city", y)
		getCase(t, b, "bd.worker", x)
	}
	clk.Set(start.Add(time.Hour))
	other.Set(start.Add(time.Hour))
	falls := false // a later seq at an earlier time: what this test is about
	whole := allAuditEvents(t, a, "auditor", &pb.ListAuditEventsRequest{})
	for i := 1; i < len(whole); i++ { // newest seq first
		falls = falls || whole[i-1].GetTime().AsTime().Before(whole[i].GetTime().AsTime())
	}
	if !falls {
		t.Fatal("every event's time rises with its seq: the instances' clocks did not run apart")
	}

	checkAuditPaging(t, a, []*pb.ListAuditEventsRequest{
		{Case: x},
		{Actor: "users/city"},
		{StartTime: timestamppb.New(at[2])},
		{EndTime: timestamppb.New(at[3])},
		{StartTime: timestamppb.New(at[1]), EndTime: timestamppb.New(at[4])},
		{Case: x, Actor: "users/bd.worker"},
		{Actor: "users/bd.worker", StartTime: timestamppb.New(at[1]), EndTime: timestamppb.New(at[4])},
	})
}

// TestConsoleAuditPageDoesNotSayNoEventsWhenThereAreSome: a listing
// filtered within its index (a user's events on some days) passes over at
// most 1,000 events the filter leaves out per page, so the API may answer
// a page with no events and a token to go on. The auditor's page must not
// read "No events" then: the auditor who filters a worker's events of
// yesterday, after the worker read more than a thousand times today, was
// told that the worker did nothing yesterday, above a link to a next page
// that showed yesterday's read.
func TestConsoleAuditPageDoesNotSayNoEventsWhenThereAreSome(t *testing.T) {
	yesterday := testNow.Add(-24 * time.Hour)
	ts := startConsoleAt(t, yesterday)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, yesterday.Add(-time.Hour), "00004")
	if _, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	ts.setClock(t, testNow)
	for i := 0; i < 1100; i++ {
		if _, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	day := yesterday.In(time.FixedZone("ICT", 7*3600)).Format("2006-01-02")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	resp, page := b.get("/audit?actor=bd.worker&from=" + day + "&to=" + day)
	if resp.StatusCode != 200 {
		t.Fatalf("the audit page: %s\n%s", resp.Status, page)
	}
	rows := strings.Count(page, "<code>case.read</code>")
	if rows != 1 || strings.Contains(page, "Không có sự kiện nào.") {
		t.Errorf("the audit page of bd.worker on %s shows %d case.read rows (no-events message shown: %v), want yesterday's one read\n%s",
			day, rows, strings.Contains(page, "Không có sự kiện nào."), page[max(0, len(page)-1500):])
	}
}
