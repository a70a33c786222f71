package web

import (
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// auditRoutes are the auditor's view of the audit log: its events, newest
// first, filtered as the API filters them, and the verification of its
// hash chain.
func (c *Console) auditRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /audit", c.signed(c.auditLog))
	mux.HandleFunc("POST /audit/verify", c.signed(c.verifyAudit))
	// A verification is answered at its own path; the language switch (or
	// a reload) from there goes back to the log.
	mux.HandleFunc("GET /audit/verify", c.signed(seeOther(func(*http.Request) string { return "/audit" })))
}

const auditPageSize = 100

// auditFilter is what the auditor asked for, as typed: the case, the user,
// the action (who disclosed a reporter, who exported cases) and the days,
// Vietnam dates, both included.
type auditFilter struct {
	Case, Actor, Action, From, To string
}

// auditPage is the data of the audit page.
type auditPage struct {
	Filter auditFilter
	Events []*pb.AuditEvent
	Next   string // the link to the next page, or ""
	Verify *pb.VerifyAuditLogResponse
}

func auditFilterOf(r *http.Request) auditFilter {
	q := r.URL.Query()
	return auditFilter{Case: q.Get("case"), Actor: q.Get("actor"), Action: strings.TrimSpace(q.Get("action")), From: q.Get("from"), To: q.Get("to")}
}

// request is the API's request of a filter. A bare case number or user id
// is given its resource name, as people know them by those; a date that
// is not one is the auditor's mistake, named on the page. The action goes
// as typed: the API refuses one that no action can be, naming the field.
func (f auditFilter) request() (*pb.ListAuditEventsRequest, string) {
	req := &pb.ListAuditEventsRequest{PageSize: auditPageSize, Case: resourceName("cases/", f.Case), Actor: resourceName("users/", f.Actor), Action: f.Action}
	if f.From != "" {
		d, err := vntime.ParseDate(f.From)
		if err != nil {
			return nil, "from"
		}
		req.StartTime = timestamppb.New(d.Start())
	}
	if f.To != "" {
		d, err := vntime.ParseDate(f.To)
		if err != nil {
			return nil, "to"
		}
		req.EndTime = timestamppb.New(d.AddDays(1).Start())
	}
	return req, ""
}

// resourceName prefixes a bare id with its collection.
func resourceName(prefix, s string) string {
	if s == "" || strings.HasPrefix(s, prefix) {
		return s
	}
	return prefix + s
}

func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, s *session) {
	c.showAudit(w, r, s, nil)
}

// showAudit lists a page of events, with a verification's result when
// one was just made.
func (c *Console) showAudit(w http.ResponseWriter, r *http.Request, s *session, verified *pb.VerifyAuditLogResponse) {
	page := auditPage{Filter: auditFilterOf(r), Verify: verified}
	req, bad := page.Filter.request()
	if bad != "" {
		msg := c.catalogs.text(c.language(r), "audit.bad.date", c.catalogs.text(c.language(r), "audit."+bad))
		c.render(w, r, http.StatusBadRequest, "audit", view{User: &s.user, CSRF: s.csrf, Title: "audit.title", Error: msg, Data: page})
		return
	}
	req.PageToken = r.URL.Query().Get("page")
	// A page of the API filtered within its index (a user's events on
	// some days) may hold none, with a token to go on: it passes over at
	// most 1,000 events the filter leaves out. Read on, a few pages at
	// most, so that the page does not say "no events" above events the
	// next page would show.
	var resp *pb.ListAuditEventsResponse
	for reads := 0; ; reads++ {
		var err error
		resp, err = c.api.audit.ListAuditEvents(c.apiContext(r, s), req)
		if c.failed(w, r, s, err, func(msg string) {
			c.render(w, r, http.StatusBadRequest, "audit", view{User: &s.user, CSRF: s.csrf, Title: "audit.title", Error: msg, Data: page})
		}) {
			return
		}
		if len(resp.GetEvents()) > 0 || resp.GetNextPageToken() == "" || reads+1 == listReadsPerPage {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	page.Events = resp.GetEvents()
	if next := resp.GetNextPageToken(); next != "" {
		q := r.URL.Query()
		q.Set("page", next)
		page.Next = "/audit?" + q.Encode()
	}
	c.render(w, r, http.StatusOK, "audit", view{User: &s.user, CSRF: s.csrf, Title: "audit.title", Data: page})
}

// verifyAudit checks the whole chain and shows its answer above the
// first page of the log.
//
// The page shows the head to note, and takes one noted earlier ("noted",
// SEQ:HASH as it was shown), since only a head kept out of the
// database's reach finds events cut from the log's end. The API checks
// it: a seq that is no number is sent as none, and is refused there,
// naming the field, as half a head is; text that is no head at all is
// refused too, never taken for none noted.
func (c *Console) verifyAudit(w http.ResponseWriter, r *http.Request, s *session) {
	req := &pb.VerifyAuditLogRequest{}
	if noted := strings.TrimSpace(r.PostFormValue("noted")); noted != "" {
		seqText, hash, _ := strings.Cut(noted, ":")
		req.NotedHeadSeq, _ = strconv.ParseUint(seqText, 10, 64)
		req.NotedHeadHash = hash
		if req.NotedHeadSeq == 0 && hash == "" {
			// Text that gives neither (the hash pasted alone, no colon)
			// would be sent as no head noted, and the page would say
			// "intact" without the check asked for: it goes whole as
			// the hash, which the API refuses, naming the field.
			req.NotedHeadHash = noted
		}
	}
	resp, err := c.api.audit.VerifyAuditLog(c.apiContext(r, s), req)
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	r.URL.RawQuery = ""
	c.showAudit(w, r, s, resp)
}
