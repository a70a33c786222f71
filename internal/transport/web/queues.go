package web

import (
	"net/http"
	"slices"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// queueTab is a list of the queues page: a unit's work queue, numbered as
// the API's CaseQueue, or QueueNone for the whole scope.
type queueTab struct {
	ID    string
	Queue access.Queue
}

// queueTabs are the lists of the queues page, in the order shown: the
// API's work queues of the person's unit, and every case of their scope.
var queueTabs = []queueTab{
	{"open", access.QueueMyUnitOpen},
	{"overdue", access.QueueOverdue},
	{"accept", access.QueueAwaitingMyAccept},
	{"successor", access.QueueAwaitingSuccessor},
	{"all", access.QueueNone},
}

// tabsFor are the ids of the tabs a role is offered: the work queues it
// can ever have a case in (access.HasQueue), then its whole scope. An
// operator's only list is the last: the cases of their own reports.
func tabsFor(role model.Role) []string {
	var out []string
	for _, t := range queueTabs {
		if t.Queue == access.QueueNone || access.HasQueue(role, t.Queue) {
			out = append(out, t.ID)
		}
	}
	return out
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

// listReadsPerPage bounds the API's pages one page of the console reads
// on through while they hold nothing (readOn, and the audit page): some
// 10,000 entries passed over. A page still empty then says that only part
// of the list was read, and links to the next.
const listReadsPerPage = 10

func (c *Console) queues(w http.ResponseWriter, r *http.Request, s *session) {
	tabs := tabsFor(s.user.Role)
	// A tab the role is not offered (an old link, a typed address) shows
	// its first, as an unknown tab does.
	tab := tabs[0]
	if asked := r.URL.Query().Get("tab"); slices.Contains(tabs, asked) {
		tab = asked
	}
	q := queueTabs[slices.IndexFunc(queueTabs, func(t queueTab) bool { return t.ID == tab })]
	page := queuePage{Tab: q.ID, Tabs: tabs, Page: r.URL.Query().Get("page"), PageSize: queuePageSize}
	resp, err := readOn(page.Page, func(token string) (*pb.ListCasesResponse, error) {
		return c.api.cases.ListCases(c.apiContext(r, s), &pb.ListCasesRequest{
			Queue: pb.CaseQueue(q.Queue), PageSize: queuePageSize, PageToken: token,
		})
	})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page.Rows = c.caseRows(resp.GetCases())
	page.Next = resp.GetNextPageToken()
	c.render(w, r, http.StatusOK, "queues", view{User: &s.user, CSRF: s.csrf, Title: "queues.title", Data: page})
}

// readOn reads a page of a list of cases from token, and, while the API
// answers pages with no case but a token to go on (a list filtered within
// its index passes over at most 1,000 entries a page), reads on, up to
// listReadsPerPage pages, so that a page does not say "no cases" above a
// next page that has some. The answer's token is where the next page
// goes on from.
func readOn(token string, list func(token string) (*pb.ListCasesResponse, error)) (*pb.ListCasesResponse, error) {
	for reads := 1; ; reads++ {
		resp, err := list(token)
		if err != nil || len(resp.GetCases()) > 0 || resp.GetNextPageToken() == "" || reads == listReadsPerPage {
			return resp, err
		}
		token = resp.GetNextPageToken()
	}
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

// warnAt is when a deadline's countdown turns amber: its own first
// warning time, the moment the scheduler sends its first warning (on a
// working day, for a working-day clock), not a fraction of its span from
// the running policy, which a restart with another policy would change
// under a deadline started before; its due time when it has no warning.
func (c *Console) warnAt(d *pb.Deadline) time.Time {
	if w := d.GetWarningTimes(); len(w) > 0 {
		return w[0].AsTime()
	}
	return d.GetDueTime().AsTime()
}
