package app_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/transport/web"
)

// browserTarget is where a browser goes with a Location header: it drops
// tabs and newlines from a URL and reads a backslash as a slash (the
// WHATWG URL parser), then resolves it against the page's address.
func browserTarget(t *testing.T, base, location string) *url.URL {
	t.Helper()
	loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(location)
	b, err := url.Parse(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q does not parse: %v", location, err)
	}
	return b.ResolveReference(u)
}

// raw sends a request with the browser's cookies and answers the
// response as is: unlike http.Client, it does not refuse a Location that
// Go cannot parse but a browser follows.
func (b *browser) raw(method, path string, form url.Values) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	for _, ck := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	readBody(b.t, resp)
	return resp
}

// postCrossSite posts a form as a page of another site would make the
// browser post it.
func (b *browser) postCrossSite(path string, form url.Values) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	readBody(b.t, resp)
	return resp
}

// TestConsoleSecurityRedirectsStayLocal: the language switch's way back
// and the sign-in's next page lead only to this site, whatever a link
// puts in them.
func TestConsoleSecurityRedirectsStayLocal(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	host := ts.HTTPAddr()
	attacks := []string{
		"//evil.example/", "/\\evil.example/", "\\\\evil.example", "/%2F%2Fevil.example", "https:evil.example",
		"https://evil.example", "javascript:alert(1)", "/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example",
		"\t//evil.example", "/\t\\evil.example", " //evil.example", "/%09/evil.example",
	}
	for _, a := range attacks {
		r := b.raw(http.MethodGet, "/lang/en?back="+url.QueryEscape(a), nil)
		if got := browserTarget(t, b.base, r.Header.Get("Location")); got.Host != host || got.Scheme != "http" {
			t.Errorf("language switch back=%q: Location %q leads to %s", a, r.Header.Get("Location"), got)
		}
		_, page := b.get("/signin")
		r = b.raw(http.MethodPost, "/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {operatorID}, "password": {"pw-" + operatorID}, "next": {a}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in with next=%q: %s", a, r.Status)
		}
		if got := browserTarget(t, b.base, r.Header.Get("Location")); got.Host != host || got.Scheme != "http" {
			t.Errorf("sign-in next=%q: Location %q leads to %s", a, r.Header.Get("Location"), got)
		}
	}
}

// TestConsoleSecurityBadInput: bytes that are not UTF-8 in a path, a
// query or a form, a form with thousands of fields, a body past the
// limit and blocks past the form's: a clear refusal, never a 500, and
// nothing saved.
func TestConsoleSecurityBadInput(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	before := etagOf(t, ts, "bd.worker", name)
	worker := newBrowser(t, ts)
	page := worker.signIn("bd.worker")
	csrf := csrfOf(t, page)
	op := newBrowser(t, ts)
	op.signIn(operatorID)
	opCSRF, requestID := op.intakeForm()
	reports := countReportsOf(t, ts, operatorID)

	// The README: a form "with more than 10,000 fields (400)". One of
	// exactly 10,000 is read, and refused only further on, for its
	// stale token; one more field is refused before any handler.
	many := url.Values{"csrf": {csrf}}
	for i := range 10000 {
		many.Add("f"+strconv.Itoa(i), "x")
	}
	atLimit := url.Values{"csrf": {"stale"}}
	for i := range 9999 {
		atLimit.Add("f"+strconv.Itoa(i), "x")
	}
	if r := newBrowser(t, ts).raw(http.MethodPost, "/signin", atLimit); r.StatusCode == http.StatusBadRequest || r.StatusCode >= 500 {
		t.Errorf("a form of 10,000 fields: %s, want it read (and refused for its token)", r.Status)
	}
	huge := url.Values{"csrf": {csrf}, "notes": {strings.Repeat("x", 2<<20)}}
	for _, c := range []struct {
		name string
		do   func() *http.Response
	}{
		{"path", func() *http.Response { r, _ := worker.get("/cases/%FF%FE"); return r }},
		{"step path", func() *http.Response {
			r, _ := worker.post("/cases/%FF/steps/AcknowledgeCase", url.Values{"csrf": {csrf}, "etag": {before}})
			return r
		}},
		{"report path", func() *http.Response { r, _ := worker.get("/reports/%FF"); return r }},
		{"queue page token", func() *http.Response { r, _ := worker.get("/queues?page=%FF"); return r }},
		{"queue tab", func() *http.Response { r, _ := worker.get("/queues?tab=%FF"); return r }},
		{"candidate", func() *http.Response { r, _ := worker.get("/reports/receipt?candidate=%FF"); return r }},
		{"step field", func() *http.Response {
			r, _ := worker.post("/cases/"+number+"/steps/AcknowledgeCase", url.Values{"csrf": {csrf}, "etag": {before}, "note": {"\xff"}})
			return r
		}},
		{"step etag", func() *http.Response {
			r, _ := worker.post("/cases/"+number+"/steps/AcknowledgeCase", url.Values{"csrf": {csrf}, "etag": {"\xff"}})
			return r
		}},
		{"intake narrative", func() *http.Response {
			r, _ := op.post("/reports/new", with(callForm(opCSRF, requestID), "narrative", "Tr\xffẻ", "do", "save"))
			return r
		}},
		{"intake field name", func() *http.Response {
			f := with(callForm(opCSRF, requestID), "do", "save")
			f.Set("narr\xffative", "x")
			r, _ := op.post("/reports/new", f)
			return r
		}},
		{"thousands of fields", func() *http.Response {
			r, _ := worker.post("/cases/"+number+"/steps/AcknowledgeCase", many)
			return r
		}},
		{"body past the limit", func() *http.Response {
			r, _ := worker.post("/cases/"+number+"/steps/AcknowledgeCase", huge)
			return r
		}},
		{"children past the form's blocks", func() *http.Response {
			f := with(callForm(opCSRF, requestID), "do", "save", "children_count", "100000")
			for i := range 200 {
				f.Set("children["+strconv.Itoa(i)+"].full_name", "Trẻ "+strconv.Itoa(i))
			}
			r, _ := op.post("/reports/new", f)
			return r
		}},
	} {
		r := c.do()
		if r.StatusCode >= 500 || r.StatusCode < 400 {
			t.Errorf("%s: %s, want a refusal (4xx)", c.name, r.Status)
		}
		switch c.name {
		case "body past the limit":
			if r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %s, want 413", c.name, r.Status)
			}
		case "children past the form's blocks":
		default: // not UTF-8, or too many fields: 400, as the README says
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %s, want 400", c.name, r.Status)
			}
		}
	}
	if after := etagOf(t, ts, "bd.worker", name); after != before {
		t.Error("a refused request changed the case")
	}
	if n := countReportsOf(t, ts, operatorID); n != reports {
		t.Errorf("refused intake forms saved %d reports", n-reports)
	}
	// The sessions still work.
	if r, _ := worker.get("/cases/" + number); r.StatusCode != http.StatusOK {
		t.Errorf("the case page after the refusals: %s", r.Status)
	}
}

// Script payloads a caller may type into any free text of a report, a
// form or a link.
const (
	xssScript = "<script>alert(1)</script>"
	xssAttr   = `"><img src=x onerror=alert(1)>`
	xssURL    = "javascript:alert(1)"
)

// inert fails when a page has a payload as markup: a script element,
// an element the attribute payload broke out to, or a javascript: link.
func inert(t *testing.T, where, page string) {
	t.Helper()
	for _, raw := range []string{xssScript, xssAttr, "<img src=x", `href="javascript:`, `src="javascript:`, `action="javascript:`} {
		if strings.Contains(page, raw) {
			t.Errorf("%s: the page has %q unescaped", where, raw)
		}
	}
}

// xssCase starts a console whose Ba Đình case comes from a report with a
// payload in every free text, worked on by an officer whose display name
// is one, and returns its number and its report's name.
func xssCase(t *testing.T) (ts *testServer, number, report string) {
	t.Helper()
	ts, _ = startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	evil, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: "bd.evil", User: &pb.User{DisplayName: xssAttr + xssScript, Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pBaDinh, Phone: "024 3825 0009"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens.put(t, "bd.evil", evil.GetToken().GetSecret())

	rep := validReport()
	rep.Narrative, rep.FamilySituation, rep.ActionsTaken = xssScript, xssAttr, xssURL
	ch := rep.Children[0]
	ch.FullName, ch.Condition, ch.Location, ch.ExpectedHarm = xssAttr, xssScript, xssURL, xssScript
	cg := rep.Caregivers[0]
	cg.FullName, cg.Relation, cg.Address = xssScript, xssAttr, xssURL
	id := rep.GetReporter().GetIdentified()
	id.FullName, id.RelationToChild, id.Address = xssAttr, xssScript, xssURL
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetCase()
	number = strings.TrimPrefix(name, "cases/")
	acknowledged(t, ts, number)
	if _, err := ts.process().RecordInitialAssessment(ts.as(t, "bd.worker"), &pb.RecordInitialAssessmentRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Notes: xssAttr + xssScript}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Officer: "users/bd.evil"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.evil"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.evil", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: xssScript}); err != nil {
		t.Fatal(err)
	}

	return ts, number, created.GetName()
}

// TestConsoleSecurityStoredTextIsInert: a report whose every free text is
// a script, an attribute break-out or a javascript: URL, an officer whose
// display name is one, and links and API errors carrying them render as
// text on every page the operator, the worker, the officer and the police
// liaison see.
func TestConsoleSecurityStoredTextIsInert(t *testing.T) {
	ts, number, report := xssCase(t)
	escaped := html.EscapeString(xssScript)
	seen := false
	for _, user := range []string{operatorID, "bd.worker", "bd.evil", "police.bd"} {
		b := newBrowser(t, ts)
		inert(t, user+" queues", b.signIn(user))
		paths := []string{
			"/queues?tab=all", "/cases/" + number, "/cases/" + number + "?timeline=all", "/" + report,
			"/queues?tab=" + url.QueryEscape(xssAttr), "/queues?page=" + url.QueryEscape(xssAttr),
			"/reports/receipt?candidate=" + url.QueryEscape(xssAttr) + "&case=" + url.QueryEscape(xssAttr),
			"/cases/" + url.PathEscape(xssAttr), "/" + url.PathEscape(xssScript), "/signin?next=" + url.QueryEscape("/"+xssAttr),
		}
		for _, p := range paths {
			_, page := b.get(p)
			inert(t, user+" GET "+p, page)
			seen = seen || strings.Contains(page, escaped)
		}
		_, page := b.get("/cases/" + number)
		for _, step := range []string{"AcknowledgeCase", "RecordInitialAssessment", "AcknowledgePoliceReferral", xssURL} {
			_, page := b.post("/cases/"+number+"/steps/"+url.PathEscape(step), url.Values{"csrf": {csrfOf(t, page)}, "etag": {xssAttr}, "request_id": {xssAttr}, "notes": {xssScript}})
			inert(t, user+" POST "+step, page)
		}
	}
	if !seen {
		t.Error("no page showed the stored text at all (escaped): the test proves nothing")
	}
}

// TestConsoleSecurityHeadersOnEveryAnswer: every answer of the console,
// pages, redirects, errors, refusals and static files, carries the strict
// policy, is never framed or sniffed, sends no Referer and stays out of
// the browser's cache; the API's paths keep their own policy.
func TestConsoleSecurityHeadersOnEveryAnswer(t *testing.T) {
	ts, _ := startConsole(t)
	anon := newBrowser(t, ts)
	b := newBrowser(t, ts)
	page := b.signIn(operatorID)
	csrf := csrfOf(t, page)
	answers := map[string]*http.Response{}
	for _, p := range []string{"/", "/signin", "/nope", "/static/console.css", "/static/console.js", "/static/", "/static/nope.js",
		"/lang/en?back=/queues", "/password/unknown", "/cases/%FF"} {
		answers["anonymous GET "+p], _ = anon.get(p)
	}
	for _, p := range []string{"/", "/queues", "/reports/new", "/cases/HN-0000-00000", "/reports/00000000-0000-0000-0000-000000000000", "/nope"} {
		answers["GET "+p], _ = b.get(p)
	}
	answers["POST /signin without a token"], _ = anon.post("/signin", url.Values{"user": {operatorID}})
	answers["POST /queues"], _ = b.post("/queues", url.Values{"csrf": {csrf}})
	answers["POST /signout forged"], _ = b.post("/signout", url.Values{"csrf": {"forged"}})
	answers["cross-site POST /signout"] = b.postCrossSite("/signout", url.Values{"csrf": {csrf}})
	want := map[string]string{
		"Content-Security-Policy": web.ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for what, resp := range answers {
		for h, v := range want {
			if got := resp.Header.Get(h); got != v {
				t.Errorf("%s (%s): %s %q, want %q", what, resp.Status, h, got, v)
			}
		}
	}
	for p, ct := range map[string]string{"/static/console.js": "text/javascript; charset=utf-8", "/static/console.css": "text/css; charset=utf-8"} {
		if r := answers["anonymous GET "+p]; r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %s, %q, want 200 and %q", p, r.Status, r.Header.Get("Content-Type"), ct)
		}
	}
	if r := answers["anonymous GET /static/"]; r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /static/: %s, want not found (no listing)", r.Status)
	}
	if r := answers["cross-site POST /signout"]; r.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site sign-out: %s, want 403", r.Status)
	}
	if r, _ := b.get("/queues"); r.StatusCode != http.StatusOK {
		t.Errorf("the cross-site sign-out ended the session: %s", r.Status)
	}
	for _, p := range []string{"/healthz", "/openapi.json", "/v1/cases"} {
		r, _ := anon.get(p)
		if got := r.Header.Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("API %s: CSP %q, want the API's own", p, got)
		}
	}
}

// tokenAccounts signs a person in to the console with a new API token of
// theirs, made by the admin, and ends it with the admin's RevokeToken:
// the console's sessions then hold real bearers the API checks, and the
// test can read them to call the API as the session did.
type tokenAccounts struct {
	*bookAccounts
	last string // the bearer of the latest sign-in
}

func (a *tokenAccounts) SignIn(ctx context.Context, c web.Credentials) (web.Account, error) {
	acct, err := a.bookAccounts.SignIn(ctx, c)
	if err != nil {
		return acct, err
	}
	ts := a.server.Load()
	tok, err := ts.admin().CreateToken(withToken(ctx, ts.tokens.get("admin")), &pb.CreateTokenRequest{Parent: "users/" + c.UserID})
	if err != nil {
		return web.Account{}, err
	}
	acct.Bearer = tok.GetSecret()
	acct.TokenID, _ = identity.TokenID(acct.Bearer)
	a.mu.Lock()
	a.last = acct.Bearer
	a.mu.Unlock()
	return acct, nil
}

func (a *tokenAccounts) SignOut(ctx context.Context, tokenID, why string) error {
	ts := a.server.Load()
	if ts.conn == nil {
		// The server stops, ending its sessions, and its API with it.
		return a.bookAccounts.SignOut(ctx, tokenID, why)
	}
	for user := range ts.tokens.tokens {
		if _, err := ts.admin().RevokeToken(withToken(ctx, ts.tokens.get("admin")), &pb.RevokeTokenRequest{Name: "users/" + user + "/tokens/" + tokenID}); err == nil {
			return a.bookAccounts.SignOut(ctx, tokenID, why)
		}
	}
	return errors.New("no such token")
}

// lastBearer is the bearer of the latest sign-in.
func (a *tokenAccounts) lastBearer(t *testing.T) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == "" {
		t.Fatal("nobody signed in")
	}
	return a.last
}

// TestConsoleSecuritySessionEndsItsToken: sign-out, the idle timeout and
// a sign-in over an open session end the session on the server and its
// bearer with it: the API refuses the token the session held.
func TestConsoleSecuritySessionEndsItsToken(t *testing.T) {
	accts := &tokenAccounts{bookAccounts: &bookAccounts{}}
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), ConsoleAccounts: accts})
	accts.server.Store(ts)
	call := func(bearer string) error {
		_, err := ts.cases().ListCases(withToken(context.Background(), bearer), &pb.ListCasesRequest{PageSize: 1})
		return err
	}

	b := newBrowser(t, ts)
	page := b.signIn(operatorID)
	bearer := accts.lastBearer(t)
	if err := call(bearer); err != nil {
		t.Fatalf("the session's token before sign-out: %v", err)
	}
	cookie := b.c.Jar.Cookies(mustURL(t, b.base))
	if r, _ := b.post("/signout", url.Values{"csrf": {csrfOf(t, page)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s", r.Status)
	}
	if err := call(bearer); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the session's token after sign-out: %v, want Unauthenticated", err)
	}
	// The old cookie, kept by someone, opens nothing.
	old := newBrowser(t, ts)
	old.c.Jar.SetCookies(mustURL(t, b.base), cookie)
	if r, _ := old.get("/queues"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out session's cookie: %s, want a redirect to sign in", r.Status)
	}

	idle := newBrowser(t, ts)
	idle.signIn(operatorID)
	bearer = accts.lastBearer(t)
	ts.advance(t, web.IdleTimeout)
	if r, _ := idle.get("/queues"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues after %v idle: %s", web.IdleTimeout, r.Status)
	}
	if err := call(bearer); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the idle session's token: %v, want Unauthenticated", err)
	}

	// On a shared computer the next person signs in over a session the
	// last one left open: that session ends, it does not live on unseen.
	ts.addUser(t, "operator2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	shared := newBrowser(t, ts)
	shared.signIn(operatorID)
	first := accts.lastBearer(t)
	shared.signIn("operator2")
	if err := call(first); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the session signed in over: its token %v, want Unauthenticated", err)
	}
	if err := call(accts.lastBearer(t)); err != nil {
		t.Errorf("the new session's token: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConsoleSecurityCookiesUnderTLS: under TLS every cookie of the
// console is Secure, HttpOnly and SameSite=Strict, under the __Host-
// prefix (the language's too, so that no sibling host or plain-HTTP page
// chooses the language the console speaks); the session cookie is
// new at sign-in (an id planted before does not survive it), and
// sign-out with the identity service's own sessions revokes the
// session's token.
func TestConsoleSecurityCookiesUnderTLS(t *testing.T) {
	p := newTestPKI(t)
	cfg := tlsConfig(testConfig(t, ""), p)
	cfg.Demo = true
	var out bytes.Buffer
	srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), Console: &out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	m := demoPasswordLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no demo password printed:\n%s", out.String())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.roots}}
	t.Cleanup(tr.CloseIdleConnections)
	b := &browser{t: t, base: "https://" + srv.HTTPAddr(), c: newBrowserClient()}
	b.c.Transport = tr
	base := mustURL(t, b.base)
	planted := &http.Cookie{Name: "childcase_session", Value: "planted-by-someone-else", Path: "/"}
	b.c.Jar.SetCookies(base, []*http.Cookie{planted})

	var cookies []*http.Cookie
	resp, page := b.get("/signin")
	cookies = append(cookies, resp.Cookies()...)
	resp, _ = b.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {"badinh.worker"}, "password": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	cookies = append(cookies, resp.Cookies()...)
	resp, _ = b.get("/lang/en?back=/queues")
	cookies = append(cookies, resp.Cookies()...)
	names := map[string]bool{}
	for _, ck := range cookies {
		names[ck.Name] = true
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s under TLS: Secure=%v HttpOnly=%v SameSite=%v, want all three", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
		}
		if ck.Name == "__Host-childcase_session" && ck.Value == planted.Value {
			t.Error("sign-in kept the session id planted before it")
		}
		// A __Host- cookie is the origin's own: the browser refuses one
		// set with a Domain or another path, or not Secure.
		if strings.HasPrefix(ck.Name, "__Host-") && (ck.Path != "/" || ck.Domain != "") {
			t.Errorf("cookie %s: Path=%q Domain=%q, want / and none", ck.Name, ck.Path, ck.Domain)
		}
	}
	if !names["__Host-childcase_session"] || !names["__Host-childcase_pre"] || !names["__Host-childcase_lang"] {
		t.Errorf("cookies set: %v, want the pre-session, session and language cookies under the __Host- prefix", names)
	}
	if names["childcase_session"] || names["childcase_pre"] || names["childcase_lang"] {
		t.Errorf("cookies set: %v, the console's cookies also without the __Host- prefix", names)
	}
	// A language cookie planted without the prefix (by a sibling host or
	// a plain-HTTP page) is not the person's choice: the console speaks
	// the language of its own cookie.
	b.c.Jar.SetCookies(base, []*http.Cookie{{Name: "__Host-childcase_lang", Value: "vi", Path: "/", Secure: true}, {Name: "childcase_lang", Value: "en", Path: "/"}})
	if _, page := b.get("/queues"); !strings.Contains(page, `<html lang="vi">`) {
		t.Error("under TLS, a language cookie without the __Host- prefix chose the page's language")
	}
	// The session cookie planted by a sibling host or a plain-HTTP page
	// (it has no prefix) is not the session: the console is signed in
	// on its own cookie, and a request with only the planted one is sent
	// to sign in.
	if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /queues signed in: %s", resp.Status)
	}
	bare := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", b.base+"/queues", nil)
	for _, ck := range b.c.Jar.Cookies(base) {
		if ck.Name == "__Host-childcase_session" {
			req.AddCookie(&http.Cookie{Name: "childcase_session", Value: ck.Value})
		}
	}
	if resp, err := bare.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /queues with the session id under the unprefixed name: %v, %v; want a redirect to sign in", resp, err)
	}

	auditor := regexp.MustCompile(`(?m)^\s*auditor\s.*(` + tokenPattern.String() + `)`).FindStringSubmatch(out.String())
	if auditor == nil {
		t.Fatalf("no auditor token printed:\n%s", out.String())
	}
	conn := dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots}))
	// The identity service audits the end of a session with the session's
	// revocation, in one transaction.
	live := func() int {
		resp, err := pb.NewAuditServiceClient(conn).ListAuditEvents(withToken(context.Background(), auditor[1]), &pb.ListAuditEventsRequest{Actor: "users/badinh.worker", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range resp.GetEvents() {
			switch e.GetAction() {
			case "auth.sign_in":
				n++
			case "auth.sign_out":
				n--
			}
		}
		return n
	}
	before := live()
	_, page = b.get("/queues")
	if r, _ := b.post("/signout", url.Values{"csrf": {csrfOf(t, page)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s", r.Status)
	}
	if after := live(); after != before-1 {
		t.Errorf("sessions of badinh.worker the audit shows live: %d before sign-out, %d after; want the session ended", before, after)
	}
}

// TestConsoleSecurityNoSecretInLogsOrURLs: a person's way through the
// console, from the one-time link to sign-out, with a refused password
// and a wrong one on the way, writes no password, no link secret and no
// bearer token to the log at any level, and no page links to a URL that
// carries one (the link's own page aside, which sends no Referer).
func TestConsoleSecurityNoSecretInLogsOrURLs(t *testing.T) {
	var logs logLines
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), Logger: logger})
	secret := newUserLink(t, ts, "lan.nguyen")
	const password, wrong = "một mật khẩu dài", "mật khẩu sai bét"
	link := "/password/" + secret
	b := newBrowser(t, ts)
	r, page := b.get(link)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET the link: %s", r.Status)
	}
	if r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Error("the link's page may send its URL as a Referer")
	}
	b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "password": {wrong}, "confirm": {wrong + "!"}})
	if r, _ := b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "password": {password}, "confirm": {password}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set the password: %s", r.Status)
	}
	b.signInForm("lan.nguyen", wrong, "")
	if r, _ := b.signInForm("lan.nguyen", password, ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", r.Status)
	}
	var pages []string
	for _, p := range []string{"/queues", "/reports/new", "/cases/HN-0000-00000", "/nope"} {
		_, page := b.get(p)
		pages = append(pages, page)
	}
	b.post("/signout", url.Values{"csrf": {csrfOf(t, pages[0])}})

	out := logs.text()
	if !strings.Contains(out, `"grpc.method":"ListCases"`) {
		t.Fatalf("the log does not show the console's calls; the test reads the wrong log:\n%s", out)
	}
	for what, s := range map[string]string{"the password": password, "the wrong password": wrong, "the link secret": secret} {
		if strings.Contains(out, s) || strings.Contains(out, url.PathEscape(s)) || strings.Contains(out, url.QueryEscape(s)) {
			t.Errorf("the log has %s", what)
		}
		for _, page := range pages {
			if strings.Contains(page, s) || strings.Contains(page, url.PathEscape(s)) {
				t.Errorf("a page of the signed-in person has %s", what)
			}
		}
	}
	if tok := tokenPattern.FindString(out); tok != "" {
		t.Errorf("the log has a bearer token: %s", tok)
	}
	for _, page := range pages {
		if tok := tokenPattern.FindString(page); tok != "" {
			t.Errorf("a page has a bearer token: %s", tok)
		}
	}
}

// TestConsoleSecurityOutOfScopeLooksUnknown: a report, a case receipt or
// a step of a case out of the person's scope answers the same status and
// page as one that does not exist, so the console tells nobody which
// numbers and ids are real.
func TestConsoleSecurityOutOfScopeLooksUnknown(t *testing.T) {
	ts, number := caseConsole(t)
	rep, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || len(rep.GetReports()) == 0 {
		t.Fatalf("the case's report: %v", err)
	}
	report := rep.GetReports()[0].GetName()
	const unknownCase, unknownReport = "HN-2026-99999", "reports/00000000-0000-4000-8000-000000000000"
	for _, user := range []string{"hk.worker", "police.bd"} {
		b := newBrowser(t, ts)
		csrf := csrfOf(t, b.signIn(user))
		same := func(what string, real, unknown func() (*http.Response, string), realID, unknownID string) {
			t.Helper()
			r1, p1 := real()
			r2, p2 := unknown()
			p1, p2 = strings.ReplaceAll(stripCSRF(p1), realID, "ID"), strings.ReplaceAll(stripCSRF(p2), unknownID, "ID")
			if r1.StatusCode != r2.StatusCode || p1 != p2 {
				t.Errorf("%s, %s: out of scope %s, unknown %s; the pages differ: %v", user, what, r1.Status, r2.Status, p1 != p2)
			}
			if r1.StatusCode == http.StatusOK {
				t.Errorf("%s, %s out of scope: 200", user, what)
			}
		}
		get := func(p string) func() (*http.Response, string) {
			return func() (*http.Response, string) { return b.get(p) }
		}
		post := func(p string) func() (*http.Response, string) {
			return func() (*http.Response, string) {
				return b.post(p, url.Values{"csrf": {csrf}, "etag": {"x"}, "request_id": {"web-1"}})
			}
		}
		same("the report", get("/"+report), get("/"+unknownReport), strings.TrimPrefix(report, "reports/"), strings.TrimPrefix(unknownReport, "reports/"))
		same("the receipt", get("/reports/receipt?case="+number), get("/reports/receipt?case="+unknownCase), number, unknownCase)
		if user == "hk.worker" {
			same("the case", get("/cases/"+number), get("/cases/"+unknownCase), number, unknownCase)
			same("a step", post("/cases/"+number+"/steps/AcknowledgeCase"), post("/cases/"+unknownCase+"/steps/AcknowledgeCase"), number, unknownCase)
		}
	}
}

// TestConsoleSecurityAccessMatrix: for every route of the console and
// every role, a role the roles table refuses the route's API method gets
// a refusal (403 or 404) with nothing of the case, and no link to it in
// the navigation.
func TestConsoleSecurityAccessMatrix(t *testing.T) {
	ts, number := caseConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	rep, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || len(rep.GetReports()) == 0 {
		t.Fatalf("the case's report: %v", err)
	}
	report := rep.GetReports()[0].GetName()
	users := map[string]model.Role{"bd.worker": model.RoleCommuneWorker, "bd.chair": model.RoleCommuneChair,
		"police.bd": model.RolePoliceLiaison, operatorID: model.RoleHotlineOperator, "auditor": model.RoleAuditor, "admin": model.RoleAdmin}
	routes := []struct {
		method, path, api string
		nav               string // the navigation's link to it, if any
		do                string // a form's "do", when not "save"
	}{
		{"GET", "/queues?tab=all", "CaseService/ListCases", `href="/queues"`, ""},
		{"GET", "/reports/new", "ReportService/CreateReport", `href="/reports/new"`, ""},
		{"POST", "/reports/new", "ReportService/CreateReport", "", ""},
		{"GET", "/" + report, "ReportService/GetReport", "", ""},
		{method: "POST", path: "/" + report, api: "ReportService/DiscloseReporter", do: "disclose"},
		{"GET", "/reports/receipt?case=" + number, "CaseService/GetCase", "", ""},
		{"GET", "/cases/" + number, "CaseService/GetCase", "", ""},
		{"POST", "/cases/" + number + "/steps/AcknowledgeCase", "CaseProcessService/AcknowledgeCase", "", ""},
	}
	for user, role := range users {
		p := access.Principal{UserID: user, Role: role}
		b := newBrowser(t, ts)
		if resp, _ := b.signInForm(user, "pw-"+user, ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", user, resp.Status)
		}
		_, home := b.get("/reports/receipt") // a page of the layout for every role
		if navOf(home) == "" {
			t.Fatalf("%s: no navigation on the page:\n%s", user, home)
		}
		csrf := csrfOf(t, home)
		for _, rt := range routes {
			if p.May(rt.api) {
				if rt.path == "/cases/"+number && role != model.RolePoliceLiaison { // the case is not referred to the police
					// What a refusal must not show is there for the allowed.
					if _, page := b.get(rt.path); !strings.Contains(page, `id="case-status"`) {
						t.Errorf("%s (%s) may read the case but its page has no status", user, role)
					}
				}
				continue
			}
			var resp *http.Response
			var page string
			if rt.method == "POST" {
				do := cmp.Or(rt.do, "save")
				resp, page = b.post(rt.path, url.Values{"csrf": {csrf}, "etag": {"x"}, "do": {do}})
			} else {
				resp, page = b.get(rt.path)
			}
			if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound || strings.Contains(page, "Nguyễn Thị Lan") || strings.Contains(page, `id="case-status"`) {
				t.Errorf("%s (%s) %s %s without %s: %s, want 403 or 404 and nothing of the case", user, role, rt.method, rt.path, rt.api, resp.Status)
			}
			if rt.nav != "" && strings.Contains(navOf(home), rt.nav) {
				t.Errorf("%s (%s) may not call %s but the navigation links to it", user, role, rt.api)
			}
		}
	}
	if c := getCase(t, ts, "bd.worker", "cases/"+number); c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		t.Errorf("refused forms changed the case: %v", c.GetStatus())
	}
}

// navOf is the navigation of a page, "" for none.
func navOf(page string) string {
	i := strings.Index(page, "<nav")
	j := strings.Index(page, "</nav>")
	if i < 0 || j < i {
		return ""
	}
	return page[i:j]
}

// TestConsoleSecurityFormsNeedTheirToken: every form of the console,
// posted without its token, with another session's, or from another
// site, is refused and changes nothing.
func TestConsoleSecurityFormsNeedTheirToken(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	before := etagOf(t, ts, "bd.worker", name)
	op := newBrowser(t, ts)
	op.signIn(operatorID)
	opCSRF, requestID := op.intakeForm()
	worker := newBrowser(t, ts)
	worker.signIn("bd.worker")
	reports := countReportsOf(t, ts, operatorID)
	link := "/password/" + newUserLink(t, ts, "lan.nguyen")
	stranger := newBrowser(t, ts)
	_, linkPage := stranger.get(link)
	linkCSRF := csrfOf(t, linkPage)

	intake := with(callForm(opCSRF, requestID), "do", "save")
	step := url.Values{"etag": {before}, "request_id": {"web-1"}}
	setPassword := url.Values{"password": {"một mật khẩu dài"}, "confirm": {"một mật khẩu dài"}}
	for _, c := range []struct {
		what string
		b    *browser
		path string
		form url.Values
	}{
		{"intake without a token", op, "/reports/new", with(intake, "csrf", "")},
		{"intake with another session's token", worker, "/reports/new", intake},
		{"step without a token", worker, "/cases/" + number + "/steps/AcknowledgeCase", step},
		{"step with another session's token", worker, "/cases/" + number + "/steps/AcknowledgeCase", with(step, "csrf", opCSRF)},
		{"sign-out with another session's token", worker, "/signout", url.Values{"csrf": {opCSRF}}},
		{"password without the page's token", newBrowser(t, ts), link, with(setPassword, "csrf", linkCSRF)},
		{"sign-in without the page's token", newBrowser(t, ts), "/signin", url.Values{"csrf": {linkCSRF}, "user": {operatorID}, "password": {"pw-" + operatorID}}},
	} {
		if r, _ := c.b.post(c.path, c.form); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", c.what, r.Status)
		}
	}
	// From another site, even with the right token.
	if r := op.postCrossSite("/reports/new", intake); r.StatusCode != http.StatusForbidden {
		t.Errorf("intake from another site: %s, want 403", r.Status)
	}
	if r := stranger.postCrossSite(link, with(setPassword, "csrf", linkCSRF)); r.StatusCode != http.StatusForbidden {
		t.Errorf("set password from another site: %s, want 403", r.Status)
	}
	if etagOf(t, ts, "bd.worker", name) != before {
		t.Error("a refused form changed the case")
	}
	if n := countReportsOf(t, ts, operatorID); n != reports {
		t.Errorf("refused intake forms saved %d reports", n-reports)
	}
	if r, _ := worker.get("/queues"); r.StatusCode != http.StatusOK {
		t.Errorf("a sign-out with another's token ended the session: %s", r.Status)
	}
	if r, _ := stranger.get(link); r.StatusCode != http.StatusOK {
		t.Errorf("refused password forms used the link: %s", r.Status)
	}
}

// newUserLink makes a hotline operator with no password yet and returns
// the secret of their one-time link.
func newUserLink(t *testing.T, ts *testServer, user string) string {
	t.Helper()
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: user, User: &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetPasswordLinkSecret()
}
