package grpcapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
)

// NoRouteAction is the audit action of a REST request that no route
// takes (404) or whose path does not take its method (405).
const NoRouteAction = "http.no_route"

// RouteRefusal is a REST request the gateway answered 404 or 405 for its
// path and method, before any call of the server: what its event names.
type RouteRefusal struct {
	Authorization []string // the request's Authorization headers
	Client        string   // its client's address, as the throttle names it
	RequestID     string   // the answer's
	Method        string   // the HTTP method, as sent
	Path          string   // the escaped path, without the query
	Status        int      // http.StatusNotFound or http.StatusMethodNotAllowed
}

// RouteAudit puts the REST requests no route takes on the trail: no
// handler, and so no interceptor, sees them, yet a client holding a
// stolen token could otherwise probe the API's paths unseen. A request
// with a valid token is an event of its user's (NoRouteAction), on the
// path, through the user's bound of refused calls
// (auditlog.CallRefusals); any other is counted as a refused sign-in of
// its address (auditlog.Refusals), but not toward the throttle: the
// answer is 404 or 405 whoever sends it, so it tells a guesser nothing
// of the token. It is safe for concurrent use.
type RouteAudit struct {
	identity *identity.Service
	guard    *SignInGuard
	cases    CaseResolver // nil: events without their case
	clock    clock.Clock
}

// NewRouteAudit returns the audit of the REST requests no route takes,
// through the guard the servers share; an event of a path under a case
// or a report (/v1/cases/HN-2026-00007/secrets) is on its case's trail,
// named through cases, as a refused call's is.
func NewRouteAudit(ids *identity.Service, guard *SignInGuard, cases CaseResolver, clk clock.Clock) *RouteAudit {
	return &RouteAudit{identity: ids, guard: guard, cases: cases, clock: clk}
}

// Record audits r. The answer stands whatever happens here: an event
// that cannot be written is the bound's to report.
func (a *RouteAudit) Record(ctx context.Context, r RouteRefusal) {
	// The client may have gone; its request still goes on the trail.
	ctx = context.WithoutCancel(ctx)
	path := auditedPath(r.Path)
	method := auditedMethod(r.Method)
	token, why := bearerOf(r.Authorization)
	if why == "" {
		u, t, err := a.identity.Authenticate(ctx, token)
		switch {
		case errors.Is(err, identity.ErrUnauthenticated):
			why = strings.TrimPrefix(err.Error(), identity.ErrUnauthenticated.Error()+": ")
		case err != nil:
			why = "authentication unavailable"
		default:
			p := identity.TokenPrincipal(u, t, r.RequestID)
			outcome, reason := audit.OutcomeNotFound, method
			if r.Status == http.StatusMethodNotAllowed {
				outcome, reason = audit.OutcomeRefused, method+" "+ReasonMethodNotAllowed
			}
			e := p.Event(a.clock.Now(), NoRouteAction, path, "", outcome)
			e.Reason = reason
			var caseOf auditlog.CaseLookup
			if record := routedRecord(path); record != "" {
				caseOf = caseLookup(a.cases, record)
			}
			_ = a.guard.calls.Record(ctx, e, caseOf)
			return
		}
	}
	a.guard.refusals.Add(ctx, r.Client, path, why+" ("+method+" on no route)", r.RequestID)
}

// routedRecord is the record an audited path names under /v1/ (a case or
// a report, by its name without a ":verb"), or "": an auditor listing a
// case's events sees the paths a token tried under it.
func routedRecord(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return ""
	}
	kind, rest, _ := strings.Cut(rest, "/")
	id, _, _ := strings.Cut(rest, "/")
	id, _, _ = strings.Cut(id, ":")
	if (kind != "cases" && kind != "reports") || id == "" || id == "*" {
		return ""
	}
	return kind + "/" + id
}

// auditedMethod is an HTTP method as its event names it: a client may
// send any token as one, so one that is no word of ours is "other".
func auditedMethod(m string) string {
	if len(m) > 16 || !refusalRule.MatchString(m) {
		return "other"
	}
	return m
}

// auditedPath is an escaped path as its event names it: at most
// maxAuditedName bytes, cut with "…", with what can be no record's name
// masked (LoggedPath); escaped, it holds no control character, no space
// and nothing that is not ASCII.
func auditedPath(p string) string {
	p = LoggedPath(p)
	if len(p) <= maxAuditedName {
		return p
	}
	return p[:maxAuditedName] + "…"
}

// LoggedPath is an escaped request path as the log and the audit trail
// name it: each segment that holds more than ASCII letters, digits and
// "._-@:~" (a space, a letter with a diacritic, any escape) is written
// "*", unless it reads as a case's number (loggedCaseSegment). A path is
// where a client puts a case's number, and one that put there what the
// caller said (/v1/cases/Nguyễn%20Văn%20An, or a path that routes
// nowhere) would leave a child's name in the log, or in the audit trail,
// which is in the clear; an API path of record names keeps every
// segment.
func LoggedPath(escaped string) string {
	segments := strings.Split(escaped, "/")
	for i, s := range segments {
		if strings.ContainsFunc(s, notPathWord) {
			segments[i] = loggedCaseSegment(s)
		}
	}
	return strings.Join(segments, "/")
}

// notPathWord reports whether r is more than a path segment of record
// names holds.
func notPathWord(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-@:~", r))
}

// loggedCaseSegment is an escaped path segment that holds more than
// record names do, as LoggedPath writes it: the case's number when it
// reads as one, as the API reads it (HN–2026–5 or "HN 2026 5", with an
// en dash or spaces, is HN-2026-00005), with its ":verb"; "*" otherwise.
// The auditor reading what a token probed, and the operator reading the
// log, so still see which case it was.
func loggedCaseSegment(escaped string) string {
	s, err := url.PathUnescape(escaped)
	if err != nil {
		return "*"
	}
	head, verb := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		head, verb = s[:i], s[i:]
	}
	number, err := intake.ParseCaseName(head)
	if err != nil || strings.HasPrefix(strings.TrimSpace(head), "cases/") || strings.ContainsFunc(verb, notPathWord) {
		return "*"
	}
	return number + verb
}
