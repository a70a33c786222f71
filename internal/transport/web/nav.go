package web

import (
	"fmt"
	"slices"
	"strings"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// screen is a screen of the console in the navigation. A person sees it
// only when the one roles table lets their role call the API method the
// screen is built on: the console has no access rule of its own.
type screen struct {
	Path   string // its route
	Key    string // the catalog key of its name
	Method string // the API method it needs, as in access.Rules ("CaseService/ListCases")
}

// screens are the console's screens, in the order of the navigation.
var screens = []screen{
	{Path: "/queues", Key: "nav.queues", Method: "CaseService/ListCases"},
	{Path: "/reports/new", Key: "nav.intake", Method: "ReportService/CreateReport"},
	{Path: "/dashboard", Key: "nav.dashboard", Method: "StatisticsService/GetStatistics"},
	{Path: "/audit", Key: "nav.audit", Method: "AuditService/ListAuditEvents"},
	{Path: "/admin", Key: "nav.admin", Method: "AdminService/ListUsers"},
}

// pages are the screens reached from others rather than from the
// navigation, gated the same way. A page that belongs to a screen but
// shows what the API answers more roles (the overdue cases are a list of
// cases; every role may list the police units) is gated on its screen's
// method, or on the method the page is for, so that it is shown to no
// role its screen refuses.
var pages = []screen{
	{Path: "/cases/{number}", Key: "screen.case", Method: "CaseService/GetCase"},
	{Path: "/reports/{id}", Key: "intake.report.title", Method: "ReportService/GetReport"},
	{Path: "/dashboard/overdue", Key: "dash.overdue.title", Method: overdueMethod},
	{Path: "/admin/police", Key: "admin.police.title", Method: policeUnitsMethod},
}

// The methods the pages above are gated on, which their handlers check.
const (
	overdueMethod     = "StatisticsService/GetStatistics"
	policeUnitsMethod = "AdminService/CreatePoliceUnit"
)

// ScreenTable renders the README's table of the console's screens and
// the roles that see each, from the same rows the navigation uses.
func ScreenTable() (string, error) {
	cats, err := loadCatalogs(files)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| screen | path | needs | roles |\n|---|---|---|---|\n")
	for _, sc := range append(slices.Clone(screens), pages...) {
		var roles []string
		for _, r := range model.Roles {
			if (access.Principal{Role: r}).May(sc.Method) {
				roles = append(roles, "`"+r.String()+"`")
			}
		}
		fmt.Fprintf(&b, "| %s (%s) | `%s` | `%s` | %s |\n", cats.text("vi", sc.Key), cats.text("en", sc.Key), sc.Path, sc.Method, strings.Join(roles, ", "))
	}
	return b.String(), nil
}

// navFor returns the screens a user's role may use.
func navFor(u model.User) []screen {
	p := access.Principal{UserID: u.ID, Role: u.Role, Unit: u.Unit}
	var out []screen
	for _, s := range screens {
		if p.May(s.Method) {
			out = append(out, s)
		}
	}
	return out
}

// mayUse reports whether a session's role may call an API method: a
// screen or a form the role may not use is not shown (the API would
// refuse it anyway).
func mayUse(s *session, method string) bool {
	return access.Principal{UserID: s.user.ID, Role: s.user.Role, Unit: s.user.Unit}.May(method)
}

// startPage is the first screen of a user's navigation: their queues for
// most, the audit log for an auditor, admin for an admin.
func startPage(u model.User) string {
	if nav := navFor(u); len(nav) > 0 {
		return nav[0].Path
	}
	return "/signin"
}
