package app_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// longWord is text a caller may type with no space in it (a pasted link,
// a phone keyboard's run-on words, a name typed without its spaces): a
// page must wrap it, not widen to hold it.
var longWord = strings.Repeat("Ngườichămsóc", 16)

// TestBrowserLongWordsDoNotWidenThePage: a report, a note, an assessment
// and an officer's display name that each hold a long word without a
// space leave every page that shows them (the report, the case page with
// its dossier and timeline, the queues, admin's users, the audit log and
// the top bar of the officer's own pages)
// as wide as the laptop's or the phone's screen: the word wraps, and the
// rest of the page (the step forms, the sign-out) is not pushed out of
// sight to the side.
func TestBrowserLongWordsDoNotWidenThePage(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor.test", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	long, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: "bd.long", User: &pb.User{DisplayName: longWord, Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pBaDinh, Phone: "024 3825 0009"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens.put(t, "bd.long", long.GetToken().GetSecret())
	rep := validReport()
	rep.Narrative, rep.FamilySituation, rep.ActionsTaken = longWord, longWord, longWord
	rep.Children[0].FullName, rep.Children[0].Condition, rep.Children[0].Location = longWord, longWord, longWord
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetCase()
	number := strings.TrimPrefix(name, "cases/")
	acknowledged(t, ts, number)
	if _, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Text: longWord}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().RecordInitialAssessment(ts.as(t, "bd.worker"), &pb.RecordInitialAssessmentRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Notes: longWord}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Officer: "users/bd.long"}); err != nil {
		t.Fatal(err)
	}

	base := "http://" + ts.HTTPAddr()
	ctx := newTab(t)
	shown := false
	for _, c := range []struct {
		user  string
		pages []string
	}{
		{operatorID, []string{"/" + created.GetName(), "/cases/" + number}},
		{"bd.worker", []string{"/queues?tab=all", "/cases/" + number, "/cases/" + number + "?timeline=all"}},
		{"admin.test", []string{"/admin", "/admin/users/bd.long"}},
		{"auditor.test", []string{"/audit"}},
		{"bd.long", []string{"/queues"}}, // their own name in the top bar
	} {
		browserSignIn(t, ctx, base, c.user, "pw-"+c.user)
		for _, p := range c.pages {
			for _, size := range []struct {
				name string
				w, h int64
			}{{"laptop", 1366, 768}, {"phone", 390, 844}} {
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h),
					chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
					t.Fatalf("%s %s on a %s: %v", c.user, p, size.name, err)
				}
				got, err := chromedp.Run(ctx, chromedp.Evaluate[[]int64](`[document.documentElement.scrollWidth, window.innerWidth, document.body.innerText.includes(`+strconv.Quote(longWord)+`) ? 1 : 0]`))
				if err != nil {
					t.Fatalf("%s %s on a %s: %v", c.user, p, size.name, err)
				}
				if got[0] > got[1] {
					t.Errorf("%s %s on a %s: the page is %dpx wide on a %dpx screen", c.user, p, size.name, got[0], got[1])
				}
				shown = shown || got[2] == 1
			}
		}
		keyboardSignOut(t, ctx, base, c.user)
	}
	if !shown {
		t.Error("no page showed the long word: the test proves nothing")
	}
}
