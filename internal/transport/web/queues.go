package web

import (
	"net/http"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
)

// queueTabs are the lists of the queues page, in the order shown: the
// API's work queues of the person's unit, and every case of their scope.
var queueTabs = []struct {
	ID    string
	Queue pb.CaseQueue
}{
	{"open", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN},
	{"overdue", pb.CaseQueue_CASE_QUEUE_OVERDUE},
	{"accept", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE},
	{"successor", pb.CaseQueue_CASE_QUEUE_AWAITING_SUCCESSOR},
	{"all", pb.CaseQueue_CASE_QUEUE_UNSPECIFIED},
}

// queuePage is the data of the queues page.
type queuePage struct {
	Tab      string
	Tabs     []string
	Rows     []queueRow
	Page     string // this page's token ("" for the first), so a live refresh stays on it
	Next     string // the next page's token, or ""
	PageSize int
}

// Caption is the catalog key of the list's caption.
func (p queuePage) Caption() string { return "queues.tab." + p.Tab }

// queueRow is one case of a queue, with the clock that matters most: its
// nearest open deadline.
type queueRow struct {
	Case    *pb.Case
	Nearest *pb.Deadline // nil: no open deadline
	WarnAt  time.Time    // when its countdown turns amber
}

const queuePageSize = 50

func (c *Console) queues(w http.ResponseWriter, r *http.Request, s *session) {
	tab := r.URL.Query().Get("tab")
	if tab == "" && !access.WorksUnitQueues(s.user.Role) {
		// A hotline operator's unit is responsible for no case: their
		// list is their scope, the cases of their own reports.
		tab = "all"
	}
	q := queueTabs[0]
	for _, t := range queueTabs {
		if t.ID == tab {
			q = t
		}
	}
	page := queuePage{Tab: q.ID, Page: r.URL.Query().Get("page"), PageSize: queuePageSize}
	for _, t := range queueTabs {
		page.Tabs = append(page.Tabs, t.ID)
	}
	resp, err := c.api.cases.ListCases(c.apiContext(r, s), &pb.ListCasesRequest{
		Queue: q.Queue, PageSize: queuePageSize, PageToken: r.URL.Query().Get("page"),
	})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page.Rows = c.caseRows(resp.GetCases())
	page.Next = resp.GetNextPageToken()
	c.render(w, r, http.StatusOK, "queues", view{User: &s.user, CSRF: s.csrf, Title: "queues.title", Data: page})
}

// caseRows are the rows of a list of cases, each with its nearest open
// deadline.
func (c *Console) caseRows(cases []*pb.Case) []queueRow {
	var rows []queueRow
	for _, cs := range cases {
		row := queueRow{Case: cs, Nearest: nearestOpen(cs.GetDeadlines())}
		if row.Nearest != nil {
			row.WarnAt = c.warnAt(row.Nearest)
		}
		rows = append(rows, row)
	}
	return rows
}

// nearestOpen is the open deadline due first, or nil.
func nearestOpen(ds []*pb.Deadline) *pb.Deadline {
	var best *pb.Deadline
	for _, d := range ds {
		if d.GetState() != "OPEN" || d.GetPaused() {
			continue
		}
		if best == nil || d.GetDueTime().AsTime().Before(best.GetDueTime().AsTime()) {
			best = d
		}
	}
	return best
}

// warnAt is when a deadline reaches the policy's first warning point,
// the same moment the scheduler sends its first warning.
func (c *Console) warnAt(d *pb.Deadline) time.Time {
	start, due := d.GetStartTime().AsTime(), d.GetDueTime().AsTime()
	if len(c.cfg.Warnings) == 0 || !due.After(start) {
		return due
	}
	return start.Add(time.Duration(float64(due.Sub(start)) * c.cfg.Warnings[0]))
}
