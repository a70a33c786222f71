package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// The browser tests of this package use browsertest under short names.
var (
	newTab         = browsertest.NewTab
	saveScreenshot = browsertest.SaveScreenshot
	browserSignIn  = browsertest.SignIn
	text           = browsertest.Text
)

// addTheOtherRoles adds, beside a console's commune worker, a user of
// each role with pages of its own: the Ba Đình ward police's liaison
// (police.bd) with a case referred to it, whose number it returns for the
// police view, a city officer (city.test), an auditor (auditor.test) and
// an admin (admin.test).
func addTheOtherRoles(t *testing.T, ts *testServer) string {
	t.Helper()
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	referred := openCaseIn(t, ts, "00004")
	policeCase(t, ts, referred)
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	ts.addUser(t, "auditor.test", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	return referred
}

// TestBrowserConsoleSignInAndLanguage: in a real browser, the console
// opens in Vietnamese, signs a person in, shows their queue with live
// countdowns, switches to English with one click and back, and runs no
// inline script (the CSP would refuse it; a refusal shows on the console).
func TestBrowserConsoleSignInAndLanguage(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Đăng nhập") {
		t.Fatalf("the start page's title is %q, want the Vietnamese sign-in page", title)
	}
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	h1 := text(t, ctx, "h1")
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if err != nil {
		t.Fatal(err)
	}
	if h1 != "Hàng việc của tôi" || lang.Value != "vi" {
		t.Fatalf("after sign-in: h1 %q, lang %q; want the queues page in Vietnamese", h1, lang.Value)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.lang")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "My queues" {
		t.Fatalf("after the switch: h1 %q, want My queues", h1)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.lang")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="vi"]`)),
	); err != nil {
		t.Fatalf("switch back to Vietnamese: %v", err)
	}
}
