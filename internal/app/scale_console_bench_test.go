package app_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
)

// The console's pages at scale (issue 14: "pages stay fast with 1M
// cases"): each page as the HTTP round trip of a signed-in browser through
// the real service, sampled alternately with its floor, the API calls the
// page makes alone over gRPC, and with the same page of the base size's
// database. The ratio to the API says what the console adds; the ratio to
// the base says whether the page grows with the database.

// consoleAs signs a user (of a fixture, or added by the test) in to the console of ts the way a person
// gets there: the admin resets the user's password through the API, the
// one-time link's page sets a new one, and the sign-in form signs in. The
// fixture's users have API tokens only; the token book's "admin" resets.
func consoleAs(b *testing.B, ts *testServer, user string) *browser {
	b.Helper()
	reset, err := ts.admin().ResetPassword(ts.as(b, "admin"), &pb.ResetPasswordRequest{Name: "users/" + user})
	if err != nil {
		b.Fatalf("reset the password of %s: %v", user, err)
	}
	br := newBrowser(b, ts)
	link := "/password/" + reset.GetPasswordLinkSecret()
	resp, page := br.get(link)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("the password link of %s: %s", user, resp.Status)
	}
	password := "scale " + rand.Text()
	set := url.Values{"csrf": {csrfOf(b, page)}, "password": {password}, "confirm": {password}}
	if resp, page := br.post(link, set); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("set the password of %s: %s\n%s", user, resp.Status, page)
	}
	if resp, page := br.signInForm(user, password, ""); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in as %s: %s\n%s", user, resp.Status, page)
	}
	return br
}

// consolePage is one measured page: its path on each server and the API
// calls it makes, alone.
type consolePage struct {
	here, there string // the path on the measured server and on the base one
	want        string // a text the page must hold, so that a refusal is not timed as a page
	api         func()
}

// consoleBrowsers signs label in to the console of the measured server
// and of the base one: one browser when they are the same server, as a
// new password ends the user's sessions.
func consoleBrowsers(b *testing.B, at, base *testServer, m, baseM app.LoadManifest, label string) (here, there *browser) {
	here = consoleAs(b, at, m.Users[label].ID)
	if at == base {
		return here, here
	}
	return here, consoleAs(b, base, baseM.Users[label].ID)
}

// benchConsolePage times the page on the measured server, its API calls
// alone, and the page on the base server, alternately.
func benchConsolePage(b *testing.B, here, there *browser, p consolePage) {
	get := func(br *browser, path string) {
		resp, page := br.get(path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, p.want) {
			b.Fatalf("GET %s: %s, without %q", path, resp.Status, p.want)
		}
	}
	var pages, apis, bases samples
	for b.Loop() {
		pages.time(func() { get(here, p.here) })
		apis.time(p.api)
		bases.time(func() { get(there, p.there) })
	}
	b.ReportMetric(micros(pages.p50()), "page-µs")
	b.ReportMetric(micros(apis.p50()), "api-µs")
	b.ReportMetric(float64(pages.p50())/float64(apis.p50()), "ratio-to-api")
	b.ReportMetric(micros(bases.p50()), "base-page-µs")
	b.ReportMetric(float64(pages.p50())/float64(bases.p50()), "ratio-to-base")
}

// runScaleConsoleRows measures the console's pages on the server at and
// on the base server (see runScaleRows).
func runScaleConsoleRows(b *testing.B, m app.LoadManifest, at, base *testServer, baseM app.LoadManifest) {
	queues := []struct {
		name, label, path string
		req               *pb.ListCasesRequest
	}{
		// The queues page opens on the open queue of the person's unit; a
		// quiet commune's open queue may be empty, so its row is the page
		// of all its cases (the list row of runScaleRows).
		{"row=console-queue-page", "busy.worker", "/queues", &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN}},
		{"row=console-quiet-page", "quiet.worker", "/queues?tab=all", &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_UNSPECIFIED}},
	}
	for _, q := range queues {
		b.Run(q.name, func(b *testing.B) {
			req := &pb.ListCasesRequest{Queue: q.req.GetQueue(), PageSize: consoleQueuePageSize}
			here, there := consoleBrowsers(b, at, base, m, baseM, q.label)
			benchConsolePage(b, here, there, consolePage{
				here: q.path, there: q.path, want: "HN-",
				api: func() { listPage(b, at, q.label, req) },
			})
		})
	}
	b.Run("row=console-case-page", func(b *testing.B) {
		number, events := eventfulCase(b, at)
		baseNumber, _ := eventfulCase(b, base)
		ctx := at.as(b, "busy.worker")
		here, there := consoleBrowsers(b, at, base, m, baseM, "busy.worker")
		benchConsolePage(b, here, there, consolePage{
			here: "/cases/" + number, there: "/cases/" + baseNumber, want: `id="timeline"`,
			api: func() {
				if _, err := at.cases().GetCase(ctx, &pb.GetCaseRequest{Name: "cases/" + number}); err != nil {
					b.Fatal(err)
				}
				// The page's newest 50 timeline entries (web.timelineShown).
				req := &pb.ListCaseEventsRequest{Parent: "cases/" + number, PageSize: 50, OrderBy: "seq desc"}
				if _, err := at.process().ListCaseEvents(ctx, req); err != nil {
					b.Fatal(err)
				}
			},
		})
		b.ReportMetric(float64(events), "events")
	})
	b.Run("row=console-intake-form", func(b *testing.B) {
		ctx := at.as(b, "operator")
		req := &pb.ListUnitsRequest{
			Level: pb.UnitLevel_UNIT_LEVEL_COMMUNE, PageSize: 1000,
			AsOfDate: m.EndTime.In(hanoi).Format(time.DateOnly),
		}
		here, there := consoleBrowsers(b, at, base, m, baseM, "operator")
		benchConsolePage(b, here, there, consolePage{
			here: "/reports/new", there: "/reports/new", want: `name="request_id"`,
			api: func() {
				if resp, err := at.units().ListUnits(ctx, req); err != nil || len(resp.GetUnits()) == 0 {
					b.Fatalf("the communes of the intake form: %d, %v", len(resp.GetUnits()), err)
				}
			},
		})
	})
}

// consoleQueuePageSize is the queues page's page size (web.queuePageSize).
const consoleQueuePageSize = 50

// eventfulCase is the case with the longest timeline among the first
// hundred of the busy commune's worker, and its events: the costliest
// case page found cheaply.
func eventfulCase(b *testing.B, ts *testServer) (number string, events int) {
	b.Helper()
	resp, err := ts.cases().ListCases(ts.as(b, "busy.worker"), &pb.ListCasesRequest{PageSize: 100})
	if err != nil || len(resp.GetCases()) == 0 {
		b.Fatalf("the busy commune's cases: %d, %v", len(resp.GetCases()), err)
	}
	for _, cs := range resp.GetCases() {
		if n := timelineLength(b, ts, "busy.worker", cs.GetName()); n > events {
			number, events = cs.GetCaseNumber(), n
		}
	}
	return number, events
}

// timelineLength reads a case's whole timeline oldest first in pages of
// 1000 as user and counts its events.
func timelineLength(b *testing.B, ts *testServer, user, name string) int {
	n, token := 0, ""
	for {
		resp, err := ts.process().ListCaseEvents(ts.as(b, user), &pb.ListCaseEventsRequest{Parent: name, PageSize: 1000, PageToken: token})
		if err != nil {
			b.Fatalf("the timeline of %s: %v", name, err)
		}
		n += len(resp.GetEvents())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

// BenchmarkConsoleCasePageTimeline measures the case page of one case as
// its timeline grows (notes added through the API), beside the API calls
// it makes: GetCase, whose dossier holds every note, and the newest 50
// entries of the timeline, read newest first (one page however long the
// timeline); and, for comparison, the whole timeline read oldest first in
// pages of 1000, as the page read it before the API could page newest
// first.
//
//	GOTOOLCHAIN=go1.27.3 go test -run '^$' -bench '^BenchmarkConsoleCasePageTimeline$' -benchtime 10x ./internal/app/
func BenchmarkConsoleCasePageTimeline(b *testing.B) {
	ts := startServer(b, "")
	const worker = "worker.ba-dinh"
	ts.addUser(b, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	created, err := ts.reports().CreateReport(ts.as(b, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		b.Fatal(err)
	}
	name := created.GetCase()
	ctx := ts.as(b, worker)
	cs, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: name})
	if err != nil {
		b.Fatal(err)
	}
	etag, events := cs.GetEtag(), timelineLength(b, ts, worker, name)
	br := consoleAs(b, ts, worker)
	for _, size := range []int{50, 1000, 5000} {
		for ; events < size; events++ {
			if cs, err = ts.process().AddCaseNote(ctx, &pb.AddCaseNoteRequest{Name: name, Etag: etag, Text: "Gọi điện cho mẹ của trẻ."}); err != nil {
				b.Fatal(err)
			}
			etag = cs.GetEtag()
		}
		events = timelineLength(b, ts, worker, name)
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			var pages, gets, newest, whole samples
			for b.Loop() {
				pages.time(func() {
					if resp, _ := br.get("/" + name); resp.StatusCode != http.StatusOK {
						b.Fatalf("the case page: %s", resp.Status)
					}
				})
				gets.time(func() {
					if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: name}); err != nil {
						b.Fatal(err)
					}
				})
				newest.time(func() {
					req := &pb.ListCaseEventsRequest{Parent: name, PageSize: 51, OrderBy: "seq desc"}
					if _, err := ts.process().ListCaseEvents(ctx, req); err != nil {
						b.Fatal(err)
					}
				})
				whole.time(func() { timelineLength(b, ts, worker, name) })
			}
			b.ReportMetric(micros(pages.p50()), "page-µs")
			b.ReportMetric(micros(gets.p50()), "getcase-µs")
			b.ReportMetric(micros(newest.p50()), "newest-51-µs")
			b.ReportMetric(micros(whole.p50()), "whole-timeline-µs")
			b.ReportMetric(float64(events), "events")
		})
	}
}
