package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/browsertest"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

// startConsoleAt is startConsole with the clock at now and a scheduler
// that looks at it every few milliseconds, for deadlines that fall due.
func startConsoleAt(t *testing.T, now time.Time) *testServer {
	t.Helper()
	accts := &bookAccounts{}
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(now), ConsoleAccounts: accts,
		NoSync: true, SchedulerPoll: 5 * time.Millisecond, WatchPoll: time.Hour})
	accts.server.Store(ts)
	return ts
}

// signInTo signs a browser in as user, whatever their first page is (an
// auditor or an admin may not list cases, so their queues page is
// refused).
func (b *browser) signInTo(user string) {
	b.t.Helper()
	_, page := b.get("/signin")
	resp, _ := b.post("/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "user": {user}, "password": {"pw-" + user}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %s", user, resp.Status)
	}
}

// dashScenario: in November 2026 two cases of two communes are not
// acknowledged in time and escalate to the city; a third is acknowledged
// at once. The city officer "city" sees all three.
func dashScenario(t *testing.T) (ts *testServer, late, lateHK, onTime string) {
	t.Helper()
	ts = startConsoleAt(t, hn(2026, 11, 2, 9, 0)) // Monday
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	late = openCase(t, ts, hn(2026, 11, 2, 8, 0), "00004")
	lateHK = openCase(t, ts, hn(2026, 11, 2, 8, 30), "00070")
	onTime = openCase(t, ts, hn(2026, 11, 2, 8, 45), "00004")
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{
		Name: onTime, Etag: etagOf(t, ts, "bd.worker", onTime)}); err != nil {
		t.Fatal(err)
	}
	ts.setClock(t, hn(2026, 11, 4, 10, 0))
	waitEvents(t, ts, "city", late, "ESCALATED", 0, 1)
	waitEvents(t, ts, "city", lateHK, "ESCALATED", 0, 1)
	return ts, late, lateHK, onTime
}

var headline = regexp.MustCompile(`id="n-([a-z]+)"[^>]*>(\d+)<`)

// headlineOf reads the dashboard's headline numbers.
func headlineOf(page string) map[string]int {
	out := map[string]int{}
	for _, m := range headline.FindAllStringSubmatch(page, -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// TestConsoleDashboardMatchesStatistics: the dashboard's numbers are the
// API's for the same user and period; its charts have a bar per month and
// per deadline kind done, each with a title and a table beside; the unit
// table and the overdue list show the late cases; the reports download
// as files.
func TestConsoleDashboardMatchesStatistics(t *testing.T) {
	ts, late, lateHK, onTime := dashScenario(t)
	b := newBrowser(t, ts)
	home := b.signIn("city")
	if !strings.Contains(home, `href="/dashboard"`) {
		t.Error("the city officer's navigation has no dashboard")
	}

	resp, page := b.get("/dashboard?period=custom&from=2026-10-01&to=2026-11-04")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %s\n%s", resp.Status, page)
	}
	stats, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ts.as(t, "city"),
		&pb.GetStatisticsRequest{StartDate: "2026-10-01", EndDate: "2026-11-04"})
	if err != nil {
		t.Fatal(err)
	}
	g := stats.GetGroups()[0]
	var overdue, escalated int32
	for _, d := range g.GetDeadlines() {
		overdue += d.GetOverdueNow()
	}
	for _, n := range g.GetEscalations() {
		escalated += n
	}
	want := map[string]int{
		"reports": int(g.GetReports()), "opened": int(g.GetCasesOpened()), "closed": int(g.GetCasesClosed()),
		"stillopen": int(g.GetCasesStillOpen()), "overdue": int(overdue), "escalations": int(escalated),
	}
	if got := headlineOf(page); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("headline numbers %v, want GetStatistics' %v", got, want)
	}
	if want["opened"] != 3 || want["overdue"] != 2 || want["escalations"] != 2 {
		t.Errorf("the scenario's statistics are %v, want 3 opened, 2 overdue, 2 escalations", want)
	}

	// October and November, a bar each; the acknowledgement done in time.
	if n := strings.Count(page, `class="bar bar-opened"`); n != 2 {
		t.Errorf("%d bars of cases opened for October and November, want 2", n)
	}
	if !strings.Contains(page, "<title>11/2026, Hồ sơ mở: 3</title>") || !strings.Contains(page, "<title>10/2026, Hồ sơ mở: 0</title>") {
		t.Error("the bars of cases opened have no titles saying their month and count")
	}
	if !strings.Contains(page, `class="bar bar-met"><title>Tiếp nhận hồ sơ, Đúng hạn: 1</title>`) {
		t.Error("no bar of the acknowledgement done in time")
	}
	if n := strings.Count(page, `<table class="list chart-data">`); n != 2 {
		t.Errorf("%d data tables beside the charts, want 2", n)
	}
	for _, unit := range []string{"Phường Ba Đình <small>units/00004@2025-07-01</small>", "Phường Hoàn Kiếm <small>units/00070@2025-07-01</small>"} {
		if !regexp.MustCompile(`<th scope="row">[^<]*` + unit + `</th>\s*<td class="num red">(<span[^<]*</span>)?1</td>\s*<td class="num amber">(<span[^<]*</span>)?1</td>`).MatchString(page) {
			t.Errorf("the unit table has no line of %s with one overdue and one escalation", unit)
		}
	}

	resp, list := b.get("/dashboard/overdue")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overdue list: %s", resp.Status)
	}
	for name, want := range map[string]bool{late: true, lateHK: true, onTime: false} {
		if got := strings.Contains(list, strings.TrimPrefix(name, "cases/")); got != want {
			t.Errorf("the overdue list shows %s: %v, want %v", name, got, want)
		}
	}

	// A wrong custom date is the API's refusal, on the dashboard's form.
	resp, page = b.get("/dashboard?period=custom&from=2026-02-30&to=2026-11-04")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "Ngày bắt đầu") || strings.Contains(page, "start_date:") {
		t.Errorf("a wrong date: %s, want 400 naming the start date in words (Ngày bắt đầu), not as start_date", resp.Status)
	}

	resp, _ = b.get("/dashboard/reports/periodic?period=custom&from=2026-11-01&to=2026-11-04&format=csv")
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != http.StatusOK ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(cd, `attachment; filename="bao-cao-dinh-ky-2026-11-01-2026-11-04.csv"`) {
		t.Errorf("periodic report: %s, %q, %q", resp.Status, resp.Header.Get("Content-Type"), cd)
	}
	resp, _ = b.get("/dashboard/reports/action-month?year=2026")
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != http.StatusOK || !strings.Contains(cd, `filename="thang-hanh-dong-2026.xlsx"`) {
		t.Errorf("action month report: %s, %q", resp.Status, cd)
	}
	if resp, _ := b.get("/dashboard/reports/action-month?year=soon"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("action month report of year \"soon\": %s, want 400", resp.Status)
	}

	// Ba Đình's chair sees Ba Đình only, as the API answers.
	chair := newBrowser(t, ts)
	chair.signIn("bd.chair")
	_, page = chair.get("/dashboard?period=custom&from=2026-10-01&to=2026-11-04")
	if strings.Contains(page, "units/00070") || headlineOf(page)["opened"] != 2 {
		t.Errorf("Ba Đình's chair: headline %v, Hoàn Kiếm shown: %v", headlineOf(page), strings.Contains(page, "units/00070"))
	}
	if _, list := chair.get("/dashboard/overdue"); strings.Contains(list, strings.TrimPrefix(lateHK, "cases/")) {
		t.Error("Ba Đình's chair's overdue list shows Hoàn Kiếm's case")
	}
}

// consoleRoute is a route of the dashboard, the audit log or admin, and
// the API method it calls.
type consoleRoute struct {
	method, path, api string
}

var dashRoutes = []consoleRoute{
	{"GET", "/dashboard", "StatisticsService/GetStatistics"},
	// The overdue cases are the dashboard's page: a role the dashboard
	// refuses gets them no more than the dashboard.
	{"GET", "/dashboard/overdue", "StatisticsService/GetStatistics"},
	{"GET", "/dashboard/reports/periodic?period=month", "StatisticsService/GetPeriodicReport"},
	{"GET", "/dashboard/reports/action-month?year=2026", "StatisticsService/GetActionMonthReport"},
	{"GET", "/audit", "AuditService/ListAuditEvents"},
	{"POST", "/audit/verify", "AuditService/VerifyAuditLog"},
	{"GET", "/admin", "AdminService/ListUsers"},
	{"POST", "/admin/users", "AdminService/CreateUser"},
	{"GET", "/admin/users/operator", "AdminService/GetUser"},
	{"GET", "/admin/users/operator/disable", "AdminService/GetUser"},
	{"POST", "/admin/users/operator/disable", "AdminService/DisableUser"},
	{"POST", "/admin/users/operator/tokens", "AdminService/CreateToken"},
	{"POST", "/admin/users/operator/reset-password", "AdminService/ResetPassword"},
	{"POST", "/admin/users/operator/tokens/0123456789abcdef/revoke", "AdminService/RevokeToken"},
	{"GET", "/admin/police", "AdminService/CreatePoliceUnit"},
	{"POST", "/admin/police", "AdminService/CreatePoliceUnit"},
}

// addUserOfEachRole adds a user of every role the demo users do not
// cover, in Phường Ba Đình, its district, the city or the ward police
// "ca-ba-dinh" (added here), and returns each role's user id (the
// operator's and the admin's among them).
func addUserOfEachRole(t *testing.T, ts *testServer) map[model.Role]string {
	t.Helper()
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	users := map[model.Role]string{model.RoleHotlineOperator: operatorID, model.RoleAdmin: "admin"}
	for role, unit := range map[model.Role]string{
		model.RoleHotlineSupervisor: "orgs/hotline-111", model.RoleCommuneWorker: pBaDinh, model.RoleCommuneChair: pBaDinh,
		model.RoleDistrictOfficer: pDistrictBD, model.RoleCityOfficer: pCity, model.RolePoliceLiaison: "policeUnits/ca-ba-dinh",
		model.RoleAuditor: "orgs/system",
	} {
		id := strings.ToLower(strings.ReplaceAll(role.String(), "_", "-"))
		users[role] = id
		if role == model.RoleDistrictOfficer {
			// Quận Ba Đình ended on 2025-06-30: its officer is from before.
			ts.addFormerUser(t, id, pb.Role(role), unit)
			continue
		}
		ts.addUser(t, id, pb.Role(role), unit)
	}
	return users
}

// TestConsoleDashAccessMatrix: for every route of the dashboard, the audit
// log and admin, each role the roles table refuses its API method gets no
// content (403 or 404) and no link to it; an out-of-scope or absent record
// is not found.
func TestConsoleDashAccessMatrix(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	users := addUserOfEachRole(t, ts)
	nav := map[string]string{"/dashboard": "StatisticsService/GetStatistics", "/audit": "AuditService/ListAuditEvents", "/admin": "AdminService/ListUsers"}
	for _, role := range model.Roles {
		b := newBrowser(t, ts)
		b.signInTo(users[role])
		p := access.Principal{UserID: users[role], Role: role}
		_, home := b.get("/queues")
		for path, method := range nav {
			if got := strings.Contains(home, `href="`+path+`"`); got != p.May(method) {
				t.Errorf("%s: link to %s shown %v, want %v", role, path, got, p.May(method))
			}
		}
		token := csrfOf(t, home) // the sign-out form's, on any page
		for _, r := range dashRoutes {
			if p.May(r.api) {
				continue
			}
			var resp *http.Response
			var body string
			if r.method == "GET" {
				resp, body = b.get(r.path)
			} else {
				resp, body = b.post(r.path, url.Values{"csrf": {token}, "user_id": {"x.y"}, "role": {"ADMIN"}, "unit": {"orgs/system"},
					"display_name": {"X"}, "police_unit_id": {"ca-x"}})
			}
			if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s %s: %s, want 403 or 404", role, r.method, r.path, resp.Status)
			}
			for _, marker := range []string{`id="n-opened"`, `id="events"`, `id="users"`, `id="tokens"`, `id="secret"`, `id="overdue"`, `id="confirm-disable"`, `id="police"`} {
				if strings.Contains(body, marker) {
					t.Errorf("%s %s %s: the page has %s", role, r.method, r.path, marker)
				}
			}
		}
	}
	// Nothing the refused calls asked for happened.
	if _, err := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/x.y"}); err == nil {
		t.Error("a refused role created a user")
	}
	if u, _ := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/" + operatorID}); u.GetDisableTime() != nil {
		t.Error("a refused role disabled the operator")
	}

	// An absent user is not found, for the admin too.
	b := newBrowser(t, ts)
	b.signInTo("admin")
	for _, path := range []string{"/admin/users/nobody", "/admin/users/nobody/disable"} {
		if resp, _ := b.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("admin GET %s: %s, want 404", path, resp.Status)
		}
	}
}

var eventSeq = regexp.MustCompile(`<tr>\s*<td>(\d+)</td>`)

// seqsOf reads the seqs of the audit page's events, in order.
func seqsOf(page string) []uint64 {
	var out []uint64
	for _, m := range eventSeq.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// TestConsoleAuditLog: the auditor's page lists the events the API lists,
// newest first, a page at a time, filtered by user; verification says the
// chain is intact with the numbers checked; only auditors open it, and
// verification needs the page's CSRF token.
func TestConsoleAuditLog(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	stats := pb.NewStatisticsServiceClient(ts.conn)
	for range 110 { // audited reads: more than a page of events
		if _, err := stats.GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: "2026-11-01", EndDate: "2026-11-28"}); err != nil {
			t.Fatal(err)
		}
	}
	openCase(t, ts, testNow.Add(-time.Hour), "00004")

	b := newBrowser(t, ts)
	b.signInTo("auditor")
	resp, page := b.get("/audit")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit: %s\n%s", resp.Status, page)
	}
	got := seqsOf(page)
	// The API's list from the page's newest event on: reading the log may
	// itself be audited after the page was made.
	api, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range api.GetEvents() {
		if len(got) > 0 && e.GetSeq() <= got[0] && len(want) < 100 {
			want = append(want, e.GetSeq())
		}
	}
	if len(got) != 100 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the page's events %v, want the API's %v", got, want)
	}
	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			t.Fatalf("events not newest first: %v", got)
		}
	}
	next := regexp.MustCompile(`<a href="(/audit\?page=[^"]+)">`).FindStringSubmatch(page)
	if next == nil {
		t.Fatal("no link to the next page of events")
	}
	_, older := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if o := seqsOf(older); len(o) == 0 || o[0] >= got[len(got)-1] {
		t.Errorf("the next page's events %v do not follow %d", o, got[len(got)-1])
	}

	_, page = b.get("/audit?actor=" + operatorID)
	if n := strings.Count(page, "<td>users/"+operatorID); n == 0 || n != len(seqsOf(page)) {
		t.Errorf("filtered by the operator: %d of %d events are the operator's", n, len(seqsOf(page)))
	}
	if resp, page := b.get("/audit?from=2026-13-01"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) {
		t.Errorf("a wrong date: %s, want 400 with an alert", resp.Status)
	}

	if resp, _ := b.post("/audit/verify", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("verify with a forged token: %s, want 403", resp.Status)
	}
	resp, page = b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}})
	m := regexp.MustCompile(`Nhật ký nguyên vẹn: đã kiểm tra (\d+) sự kiện, đến sự kiện cuối số (\d+)\.`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("verify: %s, no intact message\n%s", resp.Status, page)
	}
	if m[1] != m[2] || m[1] == "0" {
		t.Errorf("verified %s events up to %s, want all of them", m[1], m[2])
	}
	// The page shows the head to note (README, "Audit"), and checks the
	// log against a head noted earlier: this one holds, one with another
	// hash does not, and half a head is the auditor's mistake, named.
	head := regexp.MustCompile(`<code id="verify-head">(\d+:[0-9a-f]{64})</code>`).FindStringSubmatch(page)
	if head == nil || !strings.HasPrefix(head[1], m[2]+":") {
		t.Fatalf("verify: the page shows no head seq %s and hash to note\n%s", m[2], page)
	}
	if resp, page = b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}, "noted": {head[1]}}); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Nhật ký nguyên vẹn") {
		t.Errorf("verify against the head just shown: %s\n%s", resp.Status, page)
	}
	forged := m[2] + ":" + strings.Repeat("0", 64)
	if resp, page = b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}, "noted": {forged}}); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page, "Nhật ký bị hỏng tại sự kiện số "+m[2]+":") {
		t.Errorf("verify against a head the log never had: %s\n%s", resp.Status, page)
	}
	if resp, page := b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}, "noted": {m[2]}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) {
		t.Errorf("verify against a seq without its hash: %s, want 400 with an alert\n%s", resp.Status, page)
	}

	// Others do not get the log.
	city := newBrowser(t, ts)
	home := city.signIn("city")
	if strings.Contains(home, `href="/audit"`) {
		t.Error("the city officer's navigation links the audit log")
	}
	if resp, page := city.get("/audit"); resp.StatusCode != http.StatusForbidden || strings.Contains(page, `id="events"`) {
		t.Errorf("the city officer opens the audit log: %s", resp.Status)
	}
}

// TestConsoleAdminUsersAndTokens: the admin creates a user through the
// form (which needs its CSRF token), and the user exists through the API
// with the role and unit chosen; the first token's secret is shown once,
// and works; the admin issues and revokes tokens, disables the user after
// confirming, and registers a police unit.
func TestConsoleAdminUsersAndTokens(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	b := newBrowser(t, ts)
	b.signInTo("admin")
	resp, page := b.get("/admin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `href="/admin/users/`+operatorID+`"`) {
		t.Fatalf("admin: %s, operator listed: %v", resp.Status, strings.Contains(page, operatorID))
	}
	if !strings.Contains(page, `<option value="`+pBaDinh+`"`) || !strings.Contains(page, `<option value="COMMUNE_WORKER"`) {
		t.Fatal("the create form offers no unit or role to choose")
	}
	rid := regexp.MustCompile(`name="request_id" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if rid == nil {
		t.Fatal("the create form has no request id")
	}
	form := url.Values{"csrf": {csrfOf(t, page)}, "request_id": {rid[1]}, "user_id": {"lan.nguyen"}, "display_name": {"Nguyễn Thị Lan"},
		"role": {"COMMUNE_WORKER"}, "unit": {pBaDinh}, "phone": {"024 3823 0000"}}

	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	forged.Set("csrf", "forged")
	if resp, _ := b.post("/admin/users", forged); resp.StatusCode != http.StatusForbidden {
		t.Errorf("create with a forged CSRF token: %s, want 403", resp.Status)
	}
	_, err := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/lan.nguyen"})
	wantCode(t, err, codes.NotFound)

	resp, page = b.post("/admin/users", form)
	secret := tokenPattern.FindString(page)
	if resp.StatusCode != http.StatusOK || secret == "" || !strings.Contains(page, `role="alert"`) {
		t.Fatalf("create: %s, secret shown: %v\n%s", resp.Status, secret != "", page)
	}
	u, err := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/lan.nguyen"})
	if err != nil || u.GetRole() != pb.Role_ROLE_COMMUNE_WORKER || u.GetUnit() != pBaDinh || u.GetDisplayName() != "Nguyễn Thị Lan" {
		t.Fatalf("the user through the API: %v, %v", u, err)
	}
	if _, err := ts.cases().ListCases(withToken(t.Context(), secret), &pb.ListCasesRequest{}); err != nil {
		t.Errorf("the secret shown does not work: %v", err)
	}
	// The same form again (a reload) makes nothing new and shows no secret.
	resp, page = b.post("/admin/users", form)
	if resp.StatusCode != http.StatusOK || tokenPattern.MatchString(page) || !strings.Contains(page, `id="secret-gone"`) {
		t.Errorf("the form posted again: %s, a secret shown: %v", resp.Status, tokenPattern.MatchString(page))
	}
	_, page = b.get("/admin/users/lan.nguyen")
	if tokenPattern.MatchString(page) || strings.Count(page, "/revoke\"") != 1 {
		t.Fatalf("the user's page: a secret shown %v, %d tokens to revoke, want one", tokenPattern.MatchString(page), strings.Count(page, "/revoke\""))
	}

	// Another token, shown once; then revoked.
	rid = regexp.MustCompile(`action="/admin/users/lan.nguyen/tokens">\s*<input type="hidden" name="csrf" value="[^"]+">\s*<input type="hidden" name="request_id" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if rid == nil {
		t.Fatal("no form to create a token")
	}
	_, shown := b.post("/admin/users/lan.nguyen/tokens", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {rid[1]}})
	second := tokenPattern.FindString(shown)
	if second == "" || second == secret {
		t.Fatal("the new token's secret is not shown")
	}
	_, page = b.get("/admin/users/lan.nguyen")
	revoke := regexp.MustCompile(`action="(/admin/users/lan.nguyen/tokens/[0-9a-f]+/revoke)"`).FindStringSubmatch(page)
	if revoke == nil || strings.Count(page, "/revoke\"") != 2 {
		t.Fatal("the user's page does not list two tokens to revoke")
	}
	if resp, _ := b.post(revoke[1], url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", resp.Status)
	}
	toks, err := ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/lan.nguyen"})
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, tok := range toks.GetTokens() {
		if tok.GetRevokeTime() != nil {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d tokens revoked, want 1", revoked)
	}

	// A password reset shows the new one-time link once; it opens the
	// set-password page of that user.
	if !strings.Contains(page, `action="/admin/users/lan.nguyen/reset-password"`) {
		t.Fatal("the user's page offers no password reset")
	}
	resp, shownLink := b.post("/admin/users/lan.nguyen/reset-password", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {"reset-1"}})
	link := regexp.MustCompile(`id="link" readonly value="(http://[^"]+/password/pw_[^"]+)"`).FindStringSubmatch(shownLink)
	if resp.StatusCode != http.StatusOK || link == nil {
		t.Fatalf("reset the password: %s, no link shown:\n%s", resp.Status, shownLink)
	}
	if r, setPage := b.get(strings.TrimPrefix(link[1], b.base)); r.StatusCode != http.StatusOK || !strings.Contains(setPage, "lan.nguyen") {
		t.Fatalf("the reset link: %s", r.Status)
	}
	if _, again := b.post("/admin/users/lan.nguyen/reset-password", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {"reset-1"}}); !strings.Contains(again, `id="link-gone"`) {
		t.Error("a retried reset shows the link again")
	}

	// A refused form comes back with the API's words and what was typed.

	bad := url.Values{"csrf": {csrfOf(t, page)}, "user_id": {"Bad Name"}, "display_name": {"Trần Văn B"}, "role": {"AUDITOR"}, "unit": {"orgs/system"}}
	resp, page = b.post("/admin/users", bad)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "user_id") || !strings.Contains(page, `value="Trần Văn B"`) {
		t.Errorf("a bad user id: %s, want 400 naming user_id with the form kept", resp.Status)
	}
	// A name typed that names no one is told so, not that it is missing.
	bad = url.Values{"csrf": {csrfOf(t, page)}, "user_id": {"tran.b"}, "display_name": {"-- ."}, "role": {"AUDITOR"}, "unit": {"orgs/system"}}
	if resp, page = b.post("/admin/users", bad); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Tên cần có ít nhất một chữ cái hoặc chữ số.") {
		t.Errorf("a display name of punctuation: %s, want 400 saying a name needs a letter or digit\n%.2000s", resp.Status, page)
	}

	// Disabling asks first.
	resp, page = b.get("/admin/users/lan.nguyen/disable")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="confirm-disable"`) {
		t.Fatalf("disable confirmation: %s", resp.Status)
	}
	if u, _ := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/lan.nguyen"}); u.GetDisableTime() != nil {
		t.Fatal("the user was disabled before confirming")
	}
	rid = regexp.MustCompile(`name="request_id" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if resp, _ := b.post("/admin/users/lan.nguyen/disable", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {rid[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s", resp.Status)
	}
	if u, _ := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/lan.nguyen"}); u.GetDisableTime() == nil {
		t.Error("the user is not disabled")
	}

	// A police unit, covering a commune.
	_, page = b.get("/admin/police")
	resp, _ = b.post("/admin/police", url.Values{"csrf": {csrfOf(t, page)}, "police_unit_id": {"ca-phuong-ba-dinh"},
		"display_name": {"Công an phường Ba Đình"}, "covers": {pBaDinh}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create police unit: %s", resp.Status)
	}
	pu, err := pb.NewPoliceUnitServiceClient(ts.conn).GetPoliceUnit(ts.as(t, "admin"), &pb.GetPoliceUnitRequest{Name: "policeUnits/ca-phuong-ba-dinh"})
	if err != nil || len(pu.GetCovers()) != 1 || pu.GetCovers()[0] != pBaDinh {
		t.Errorf("the police unit through the API: %v, %v", pu, err)
	}
	if _, page := b.get("/admin/police"); !strings.Contains(page, "Công an phường Ba Đình") {
		t.Error("the police units page does not list the new unit")
	}
}

// TestBrowserSupervisorDashboard: a city officer signs in, opens the
// dashboard from the navigation, and sees the month's numbers, the charts
// drawn (bars of some height, each with its table) and the table of
// overdue and escalated cases by unit.
func TestBrowserSupervisorDashboard(t *testing.T) {
	ts, _, _, _ := dashScenario(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "city", "pw-city")
	browsertest.ClickAndWait(t, ctx, `header nav a[href="/dashboard"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("svg.bars"))); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "Bảng theo dõi của giám sát" {
		t.Errorf("h1 %q, want the dashboard's", h1)
	}
	if n := text(t, ctx, "#n-opened"); n != "3" {
		t.Errorf("cases opened this month: %q, want 3", n)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll("svg.bars rect.bar")].filter(r => r.getBBox().height > 0 && r.getBBox().width > 0).length`))
	if err != nil {
		t.Fatal(err)
	}
	if drawn < 2 { // November's cases opened, and the acknowledgement met
		t.Errorf("%d bars drawn, want at least 2", drawn)
	}
	units := text(t, ctx, "#units tbody")
	if !strings.Contains(units, "units/00004@2025-07-01") || !strings.Contains(units, "units/00070@2025-07-01") {
		t.Errorf("the table by unit: %q, want both communes", units)
	}
	saveScreenshot(t, ctx, "dashboard")
	browsertest.ClickAndWait(t, ctx, `a[href="/dashboard/overdue"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("overdue"))); err != nil {
		t.Fatalf("open the overdue list: %v", err)
	}
	if rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#overdue tbody tr").length`)); err != nil || rows != 2 {
		t.Errorf("the overdue list has %d rows (%v), want the 2 late cases", rows, err)
	}
}

// TestBrowserAuditorVerifies: an auditor signs in, opens the audit log
// from the navigation, sees its events and verifies the chain.
func TestBrowserAuditorVerifies(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "auditor", "pw-auditor")
	// The audit log is the auditor's start page, so the link reloads the
	// page the browser is on: a wait for #events alone could find it on
	// the page being left, and the click on #verify below then hit a node
	// of a document the browser replaced ("Could not find node with given
	// id"). Each click that leaves the page waits for the next one.
	browsertest.ClickAndWait(t, ctx, `header nav a[href="/audit"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("events"))); err != nil {
		t.Fatalf("open the audit log: %v", err)
	}
	if rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#events tbody tr").length`)); err != nil || rows == 0 {
		t.Fatalf("the audit log lists %d events (%v)", rows, err)
	}
	browsertest.ClickAndWait(t, ctx, "#verify")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("verify-result"))); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got := text(t, ctx, "#verify-result"); !strings.HasPrefix(got, "Nhật ký nguyên vẹn") {
		t.Errorf("verification says %q, want intact", got)
	}
	saveScreenshot(t, ctx, "audit")
}

// A noted head pasted without its seq (the hash alone, as the listing
// shows it) or in no SEQ:HASH form at all is the auditor's mistake: the
// page refuses it, never verifies as though no head were noted, which
// would answer "intact" without the check the auditor asked for.
func TestConsoleAuditVerifyRefusesANotedHeadNotSeqHash(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	_, page := b.get("/audit")
	for _, noted := range []string{strings.Repeat("ab", 32), "not a head", ":", "0:"} {
		resp, got := b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}, "noted": {noted}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, `role="alert"`) || strings.Contains(got, "Nhật ký nguyên vẹn") {
			t.Errorf("verify against the noted head %q: %s, want 400 with an alert, not intact\n%s", noted, resp.Status, got)
		}
	}
}

// The head to note is shown only with an intact answer, as `audit verify`
// prints it: under a broken one (here, against a head the log does not
// hold) it would have the auditor note the log as it is now, and the
// next verification given it would answer intact over the cut.
func TestConsoleAuditVerifyShowsNoHeadToNoteWhenBroken(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	_, page := b.get("/audit")
	forged := "1:" + strings.Repeat("0", 64)
	resp, page := b.post("/audit/verify", url.Values{"csrf": {csrfOf(t, page)}, "noted": {forged}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="verify-result"`) || strings.Contains(page, "Nhật ký nguyên vẹn") {
		t.Fatalf("verify against a head the log never had: %s, want it broken\n%s", resp.Status, page)
	}
	if strings.Contains(page, `id="verify-head"`) {
		t.Errorf("a broken verification shows a head to note:\n%s", page)
	}
}
