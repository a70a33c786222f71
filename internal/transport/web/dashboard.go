package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// dashRoutes are the supervisor's and the auditor's screens, and the
// admin's: one line in Handler for the three.
func (c *Console) dashRoutes(mux *http.ServeMux) {
	c.dashboardRoutes(mux)
	c.auditRoutes(mux)
	c.adminRoutes(mux)
}

// dashboardRoutes are the supervisor's dashboard: the statistics of the
// caller's scope for a period, as numbers, charts and a table by unit; the
// overdue cases; and the reports units file, as downloads.
func (c *Console) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboard", c.signed(c.dashboard))
	mux.HandleFunc("GET /dashboard/overdue", c.signed(c.dashboardOverdue))
	mux.HandleFunc("GET /dashboard/reports/action-month", c.signed(c.actionMonthReport))
	mux.HandleFunc("GET /dashboard/reports/periodic", c.signed(c.periodicReport))
}

// period is the dashboard's period: this month or this year so far, or
// the days a person chose, both included (Vietnam dates, as the API takes
// them).
type period struct {
	Kind     string // "month", "year" or "custom"
	From, To string // YYYY-MM-DD
}

// periodOf reads the period of a request; today is the clock's date in
// Vietnam. Custom dates are passed to the API as typed: it is the API
// that says which are wrong.
func periodOf(r *http.Request, today vntime.Date) period {
	q := r.URL.Query()
	switch q.Get("period") {
	case "year":
		return period{Kind: "year", From: vntime.Date{Year: today.Year, Month: time.January, Day: 1}.String(), To: today.String()}
	case "custom":
		return period{Kind: "custom", From: q.Get("from"), To: q.Get("to")}
	default:
		return period{Kind: "month", From: vntime.Date{Year: today.Year, Month: today.Month, Day: 1}.String(), To: today.String()}
	}
}

// dashboardPage is the data of the dashboard.
type dashboardPage struct {
	Period    period
	Periods   []string
	AsOf      time.Time
	Total     *pb.StatisticsGroup // the whole period, ungrouped
	Overdue   int32               // open deadlines due in the period and past due now
	Escalated int32               // escalations in the period
	Opened    chart               // cases opened per month
	Deadlines chart               // deadlines met and missed, by kind
	Units     []unitRow
	Year      int // the year of the Action Month report offered
	// YearMin and YearMax bound the year field: the years the report is
	// made for, so that the browser refuses another before it is sent.
	YearMin, YearMax int
	// OverdueQueue: the person's role has the queue of their unit's
	// overdue and escalated cases (tabsFor), which the page links to. A
	// role whose unit is an organisation has none.
	OverdueQueue bool
}

// unitRow is a unit's line of "overdue and escalated cases by unit".
type unitRow struct {
	Unit      string // "units/{code}@{valid_from}"
	Name      string // its display name, e.g. "Phường Ba Đình"
	Overdue   int32
	Escalated int32
	Opened    int32
	StillOpen int32
}

var dashboardPeriods = []string{"month", "year", "custom"}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	now := c.cfg.Clock.Now()
	page := dashboardPage{Period: periodOf(r, vntime.DateOf(now)), Periods: dashboardPeriods, Year: vntime.DateOf(now).Year,
		YearMin: stats.FirstActionMonthYear, YearMax: stats.LastActionMonthYear,
		OverdueQueue: slices.Contains(tabsFor(s.user.Role), "overdue")}
	ctx := c.apiContext(r, s)
	ask := func(groupBy ...string) (*pb.GetStatisticsResponse, error) {
		return c.api.stats.GetStatistics(ctx, &pb.GetStatisticsRequest{StartDate: page.Period.From, EndDate: page.Period.To, GroupBy: groupBy})
	}
	total, err := ask()
	if err == nil {
		var byMonth, byUnit *pb.GetStatisticsResponse
		if byMonth, err = ask("month"); err == nil {
			if byUnit, err = ask("unit"); err == nil {
				page.fill(total, byMonth, byUnit, now, func(k string) string { return c.catalogs.text(c.language(r), k) })
			}
		}
	}
	if err == nil {
		c.nameUnits(r, s, page.Units)
	}
	// A wrong custom date: the form again, with the API's words.
	if c.failed(w, r, s, err, func(msg string) {
		c.render(w, r, http.StatusBadRequest, "dashboard", view{User: &s.user, CSRF: s.csrf, Title: "dash.title", Error: msg, Data: page})
	}) {
		return
	}
	c.render(w, r, http.StatusOK, "dashboard", view{User: &s.user, CSRF: s.csrf, Title: "dash.title", Data: page})
}

// fill makes the page of the API's three answers for the same period: the
// totals, the months and the units. text names a catalog key in the
// page's language, for the charts' titles.
func (p *dashboardPage) fill(total, byMonth, byUnit *pb.GetStatisticsResponse, now time.Time, text func(string) string) {
	p.AsOf = total.GetAsOf().AsTime()
	p.Total = &pb.StatisticsGroup{}
	if g := total.GetGroups(); len(g) > 0 {
		p.Total = g[0]
	}
	p.Overdue, p.Escalated = overdueNow(p.Total), escalations(p.Total)

	opened := map[string]int32{}
	for _, g := range byMonth.GetGroups() {
		opened[g.GetKey()[0].GetValue()] = g.GetCasesOpened()
	}
	var bars []bar
	if from, err := vntime.ParseDate(p.Period.From); err == nil {
		to, _ := vntime.ParseDate(p.Period.To)
		first, last := openedMonths(from, to, now, opened)
		for m := first; !m.After(last); m = m.AddMonths(1) {
			key := fmt.Sprintf("%04d-%02d", m.Year, m.Month)
			bars = append(bars, bar{Label: fmt.Sprintf("%02d/%04d", m.Month, m.Year), Values: []int32{opened[key]}})
		}
	}
	p.Opened = newChart(text("dash.chart.opened"), []string{"bar-opened"}, []string{text("dash.opened")}, bars)
	p.Opened.Head, p.Opened.Empty = text("dash.month"), text("dash.chart.empty")

	bars = nil
	for _, d := range p.Total.GetDeadlines() {
		if d.GetMet() == 0 && d.GetMissed() == 0 {
			continue
		}
		bars = append(bars, bar{Label: text("deadline." + d.GetKind()), Values: []int32{d.GetMet(), d.GetMissed()}})
	}
	p.Deadlines = newRowChart(text("dash.chart.deadlines"), []string{"bar-met", "bar-missed"},
		[]string{text("dash.met"), text("dash.missed")}, bars)
	p.Deadlines.Head, p.Deadlines.Empty = text("dash.kind"), text("dash.chart.empty")

	for _, g := range byUnit.GetGroups() {
		row := unitRow{Overdue: overdueNow(g), Escalated: escalations(g), Opened: g.GetCasesOpened(), StillOpen: g.GetCasesStillOpen()}
		if v := g.GetKey()[0].GetValue(); v != "" {
			row.Unit = "units/" + v
		}
		p.Units = append(p.Units, row)
	}
}

// openedMonths are the first days of the first and the last month the
// chart of cases opened shows for the period from to to: its months in
// which a case can have been opened, from the month of the earliest date
// a report may have (intake.EarliestReportDate) to the month a report
// received now may name (its clock a little fast), and any month the API
// counted a case in. Any dates may be asked for, 0001-01-01 to 9999-12-31
// too: a bar for each month they name would be 120,000 bars, a page of
// tens of megabytes from one request. first is after last when the period
// holds no such month.
func openedMonths(from, to vntime.Date, now time.Time, opened map[string]int32) (first, last vntime.Date) {
	month := func(d vntime.Date) vntime.Date { return vntime.Date{Year: d.Year, Month: d.Month, Day: 1} }
	first, last = month(intake.EarliestReportDate), month(vntime.DateOf(now.Add(intake.ClockSkew)))
	for key, n := range opened {
		if d, err := vntime.ParseDate(key + "-01"); err == nil && n > 0 {
			if d.Before(first) {
				first = d
			}
			if d.After(last) {
				last = d
			}
		}
	}
	if f := month(from); f.After(first) {
		first = f
	}
	if t := month(to); t.Before(last) {
		last = t
	}
	return first, last
}

// nameUnits gives the rows their units' names, as the API has them; a
// unit it does not name keeps its code.
func (c *Console) nameUnits(r *http.Request, s *session, rows []unitRow) {
	ctx := c.apiContext(r, s)
	for i := range rows {
		if rows[i].Unit == "" {
			continue
		}
		if u, err := c.api.units.GetUnit(ctx, &pb.GetUnitRequest{Name: rows[i].Unit}); err == nil {
			rows[i].Name = unitLabel(u)
		}
	}
}

// overdueNow counts a group's open deadlines past due at the time of
// asking, of every kind.
func overdueNow(g *pb.StatisticsGroup) int32 {
	var n int32
	for _, d := range g.GetDeadlines() {
		n += d.GetOverdueNow()
	}
	return n
}

// escalations counts a group's escalations, to every level.
func escalations(g *pb.StatisticsGroup) int32 {
	var n int32
	for _, v := range g.GetEscalations() {
		n += v
	}
	return n
}

// overduePage is the list of the cases of the caller's scope with an open
// deadline past due, nearest first, one page at a time.
type overduePage struct {
	Rows []queueRow
	At   time.Time // the instant the list is of, kept across its pages
	Next string
}

// Caption is the catalog key of the list's caption.
func (overduePage) Caption() string { return "dash.overdue.title" }

func (c *Console) dashboardOverdue(w http.ResponseWriter, r *http.Request, s *session) {
	if !mayUse(s, overdueMethod) {
		// The API would list the cases of the role's scope, but this page
		// is the dashboard's: a role the dashboard refuses is refused here
		// too, by the API, which audits the refusal (auth.denied).
		_, err := c.api.stats.GetStatistics(c.apiContext(r, s), &pb.GetStatisticsRequest{})
		c.refused(w, r, s, err)
		return
	}
	// The list is of one instant, so that its pages follow each other.
	before := c.cfg.Clock.Now()
	if t, err := time.Parse(time.RFC3339, r.URL.Query().Get("before")); err == nil {
		before = t
	}
	resp, err := readOn(r.URL.Query().Get("page"), func(token string) (*pb.ListCasesResponse, error) {
		return c.api.cases.ListCases(c.apiContext(r, s), &pb.ListCasesRequest{
			DueBefore: timestamppb.New(before), PageSize: queuePageSize, PageToken: token,
		})
	})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page := overduePage{At: before, Next: resp.GetNextPageToken(), Rows: c.caseRows(resp.GetCases())}
	c.render(w, r, http.StatusOK, "overdue", view{User: &s.user, CSRF: s.csrf, Title: "dash.overdue.title", Data: page})
}

// reportFormats are the formats the report methods offer, with the
// extension of their files.
var reportFormats = map[string]string{"xlsx": "xlsx", "csv": "csv", "html": "html"}

func (c *Console) actionMonthReport(w http.ResponseWriter, r *http.Request, s *session) {
	format := reportFormat(r)
	// No year is this year's; a year that is not a number is 0, which
	// the API refuses naming the field.
	year := int64(vntime.DateOf(c.cfg.Clock.Now()).Year)
	if y := r.URL.Query().Get("year"); y != "" {
		year, _ = strconv.ParseInt(y, 10, 32)
	}
	body, err := c.api.stats.GetActionMonthReport(c.apiContext(r, s), &pb.GetActionMonthReportRequest{
		Year: int32(year), Format: format, External: r.URL.Query().Get("external") == "on",
	})
	c.sendFile(w, r, s, body, err, fmt.Sprintf("thang-hanh-dong-%d.%s", year, format))
}

func (c *Console) periodicReport(w http.ResponseWriter, r *http.Request, s *session) {
	format := reportFormat(r)
	p := periodOf(r, vntime.DateOf(c.cfg.Clock.Now()))
	body, err := c.api.stats.GetPeriodicReport(c.apiContext(r, s), &pb.GetPeriodicReportRequest{
		StartDate: p.From, EndDate: p.To, Format: format, External: r.URL.Query().Get("external") == "on",
	})
	c.sendFile(w, r, s, body, err, fmt.Sprintf("bao-cao-dinh-ky-%s-%s.%s", p.From, p.To, format))
}

// reportFormat is the file format asked for; the API's default otherwise.
func reportFormat(r *http.Request) string {
	if f, ok := reportFormats[r.URL.Query().Get("format")]; ok {
		return f
	}
	return "xlsx"
}

// httpBody is the API's answer of a file.
type httpBody interface {
	GetContentType() string
	GetData() []byte
}

// sendFile answers an API's file as a download, with its content type and
// a file name; a refused call is a page like any other.
func (c *Console) sendFile(w http.ResponseWriter, r *http.Request, s *session, body httpBody, err error, name string) {
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", body.GetContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Content-Length", strconv.Itoa(len(body.GetData())))
	_, _ = w.Write(body.GetData())
}
