package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Reads are audited before their data is returned: if the event cannot be
// recorded, the read fails. A read of a record outside the caller's scope
// is recorded too (outcome not_found), because probing is worth knowing
// about.

// GetReport returns one report p may see, its reporter withheld.
func (s *Service) GetReport(ctx context.Context, p access.Principal, name string) (model.Report, error) {
	if !p.May("ReportService/GetReport") {
		return model.Report{}, model.ErrPermissionDenied
	}
	id, err := ParseReportName(name)
	if err != nil {
		return model.Report{}, model.InvalidField("name", "report.name", "%v", err)
	}
	var r model.Report
	var caseNumber string
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		stored, err := s.visibleReport(tx, p, id)
		caseNumber = stored.CaseNumber
		if err != nil {
			return err
		}
		r, err = s.vault.OpenReport(tx, stored)
		return err
	})
	if err := s.recordRead(ctx, p, "report.read", access.ReportResource(id), access.CaseResource(caseNumber), err); err != nil {
		return model.Report{}, err
	}
	return r, err
}

// recordRead audits a read of one record with the outcome of readErr, and
// returns an error if the event could not be recorded.
func (s *Service) recordRead(ctx context.Context, p access.Principal, action, resource, caseName string, readErr error) error {
	return s.audit.Record(ctx, p.Event(s.clock.Now(), action, resource, caseName, auditlog.Outcome(readErr)))
}

// ReportQuery and CaseQuery select the reports and cases a list returns.
// Callers set the filters, cursor and limit; ListReports and ListCases set
// the scope (TakenBy, Scopes, Match) from the principal, overriding what
// the caller set. They are the store's queries, named here so that
// transport need not import the store contract.
type (
	ReportQuery = datastore.ReportQuery
	CaseQuery   = datastore.CaseQuery
)

// ListReports lists the reports p may see, newest first. A list of only
// one's own reports (a hotline operator's) reads them through an index;
// anyone else's but the city's reads the reports of their scope keys
// (access.ReportScope), through another.
func (s *Service) ListReports(ctx context.Context, p access.Principal, q ReportQuery) (reports []model.Report, next string, err error) {
	if !p.May("ReportService/ListReports") {
		return nil, "", model.ErrPermissionDenied
	}
	if s.policy.OnlyOwnReports(p) {
		q.TakenBy = p.UserID
	} else if keys, all := s.policy.ReportScope(p); !all {
		q.Scopes = append([]string{}, keys...) // not nil: no keys, no reports
	}
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		var matchErr error
		q.Match = func(r model.StoredReport) bool {
			c, err := s.caseOf(tx, r)
			if err != nil {
				matchErr = err
				return false
			}
			return s.policy.CanSeeReport(p, r, c)
		}
		stored, cursor, err := tx.ListReports(q)
		if err = errors.Join(err, matchErr); err != nil {
			return err
		}
		next = cursor
		for _, st := range stored {
			r, err := s.vault.OpenReport(tx, st)
			if err != nil {
				return err
			}
			reports = append(reports, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	events := make([]audit.Event, 0, len(reports))
	for _, r := range reports {
		events = append(events, p.Event(now, "report.list", access.ReportResource(r.ID), access.CaseResource(r.CaseNumber), audit.OutcomeOK))
	}
	if err := s.audit.Record(ctx, events...); err != nil {
		return nil, "", err
	}
	return reports, next, nil
}

// GetCase returns one case p may see: the police view for police
// liaisons. For a full view it also returns the case's dossier (the sealed
// content of its steps); for the police view the dossier is nil.
func (s *Service) GetCase(ctx context.Context, p access.Principal, name string) (model.Case, *model.Dossier, error) {
	r, err := s.ReadCase(ctx, p, name)
	return r.Case, r.Dossier, err
}

// CaseRead is one case as GetCase returns it, with the contact of its
// responsible officer.
type CaseRead struct {
	Case    model.Case
	Dossier *model.Dossier // nil for the police view
	// Officer is the case's responsible officer (Case.ResponsibleOfficer
	// as the caller sees it), read in the case's own transaction: only
	// the id, display name and phone; the zero user when the case has
	// none, or the user is not found.
	Officer model.User
}

// ReadCase is GetCase with the responsible officer's contact read in the
// same transaction as the case: a lone read opened a second one for it.
func (s *Service) ReadCase(ctx context.Context, p access.Principal, name string) (CaseRead, error) {
	const method = "CaseService/GetCase"
	if !p.May(method) {
		return CaseRead{}, model.ErrPermissionDenied
	}
	number, err := ParseCaseName(name)
	if err != nil {
		return CaseRead{}, model.InvalidField("name", "case.name", "%v", err)
	}
	var c model.Case
	var dossier *model.Dossier
	var officer model.User
	// The read is on the trail of the case the number stands for today
	// (ResolveCase): an absorbed case's number shows the survivor, so
	// the survivor's trail must name whoever was shown it, or tried.
	onCase := access.CaseResource(number)
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		resolved, err := ResolveCase(tx, number)
		if err != nil {
			return err
		}
		onCase = access.CaseResource(resolved.Number)
		var view access.CaseView
		c, view, err = s.shape(tx, p, method, resolved)
		if err != nil {
			return err
		}
		officer = officerContact(tx, c.ResponsibleOfficer)
		if view != access.ViewFull {
			return nil
		}
		d, err := s.vault.OpenDossier(tx, c.Number, c.Dossier)
		dossier = &d
		return err
	})
	if err := s.recordRead(ctx, p, "case.read", access.CaseResource(number), onCase, err); err != nil {
		return CaseRead{}, err
	}
	if err != nil {
		return CaseRead{}, err
	}
	return CaseRead{Case: c, Dossier: dossier, Officer: officer}, nil
}

// officerContact reads, in tx, the contact of a case's responsible
// officer id: the user's id, display name and phone, nothing of their
// sign-in; the zero user for no id or a user not found (the case is
// answered without the contact, as it was when the officer was read
// apart).
func officerContact(tx datastore.ReadTx, id string) model.User {
	if id == "" {
		return model.User{}
	}
	u, err := tx.User(id)
	if err != nil {
		return model.User{}
	}
	return model.User{ID: u.ID, DisplayName: u.DisplayName, Phone: u.Phone}
}

// shape returns c as p gets it from method (access.Policy.View), its free
// text opened, with the view it is in, or ErrNotFound.
func (s *Service) shape(tx datastore.ReadTx, p access.Principal, method string, c model.Case) (model.Case, access.CaseView, error) {
	view := s.policy.View(p, method, c)
	if view == access.ViewNone {
		return model.Case{}, view, fmt.Errorf("case %s: %w", c.Number, model.ErrNotFound)
	}
	c, err := s.vault.OpenCase(tx, c)
	if err != nil {
		return model.Case{}, view, err
	}
	c, _ = access.Shape(p, view, c)
	return c, view, nil
}

// maxMergeHops bounds the walk of ResolveCase. A merge refuses a case
// already merged on either side, so the pointers never form a cycle; the
// bound only keeps a damaged file from looping.
const maxMergeHops = 64

// ResolveCase returns the case a number stands for today: the case with
// that number, or, when it was merged into another (Case.MergedInto), the
// case that survived it, following a merge of the survivor in turn. An
// old number read out over the phone must still find the child's case.
// The number index maps each number to its own record, which keeps its
// pointer; the walk is by number, through that index.
func ResolveCase(tx datastore.CaseReader, number string) (model.Case, error) {
	c, _, err := MergePath(tx, number)
	return c, err
}

// MergePath is ResolveCase, with the numbers the walk passed: number
// first, each case it was merged into after it, the one it resolves to
// last. What happened to each of them before its merge happened to the
// child's case that number follows (a watch of it).
func MergePath(tx datastore.CaseReader, number string) (model.Case, []string, error) {
	path := []string{number}
	c, err := tx.CaseByNumber(number)
	for hops := 0; err == nil && c.MergedInto != ""; hops++ {
		if hops == maxMergeHops {
			return model.Case{}, nil, fmt.Errorf("case %s: more than %d merges to follow", number, maxMergeHops)
		}
		path = append(path, c.MergedInto)
		c, err = tx.CaseByNumber(c.MergedInto)
	}
	if err != nil {
		return model.Case{}, nil, err
	}
	return c, path, nil
}

// ListCases lists the cases p may see, newest first. Unless p sees every
// case, it reads only the cases of p's scope keys, through an index.
// A case merged into another is left out: the child has one case, the
// survivor, which names it in MergedFrom and which its number opens
// (ResolveCase). Listed too, it showed every role the child twice, the
// police with the referral it kept, as if a second case awaited them.
func (s *Service) ListCases(ctx context.Context, p access.Principal, q CaseQuery) ([]model.Case, string, error) {
	if err := s.checkUnitFilter(q); err != nil {
		return nil, "", err
	}
	q.Filter = notMerged
	return s.listCasesAs(ctx, p, listCasesMethod, "case.list", q)
}

// notMerged says whether c is a case of its own, not one merged into
// another: what a list or a queue shows.
func notMerged(c model.Case) bool { return c.MergedInto == "" }

// checkUnitFilter refuses a responsible_unit that names no unit (a typo of
// its code or date), as statistics refuse such a unit: the list would be
// empty, and taken for a commune without cases. Units are public, so this
// tells nothing of any case.
func (s *Service) checkUnitFilter(q CaseQuery) error {
	if q.ResponsibleUnit.IsZero() {
		return nil
	}
	if _, ok := s.units.Get(q.ResponsibleUnit); !ok {
		return model.InvalidField("responsible_unit", "unit.exists", "no unit %s", q.ResponsibleUnit)
	}
	return nil
}

// listCasesAs is ListCases for method, whose row in the roles table says
// who may call it and what each gets, audited under action.
func (s *Service) listCasesAs(ctx context.Context, p access.Principal, method, action string, q CaseQuery) ([]model.Case, string, error) {
	if !p.May(method) {
		return nil, "", model.ErrPermissionDenied
	}
	if keys, held, all := s.policy.ListScope(p); !all {
		q.Scopes = append([]string{}, keys...) // not nil: no keys, no cases
		q.HeldBy = held
	}
	q.Match = func(c model.Case) bool { return s.policy.View(p, method, c) != access.ViewNone }
	return s.listCases(ctx, p, method, action, func(tx datastore.ReadTx) ([]model.Case, string, error) { return tx.ListCases(q) })
}

// listCasesMethod is the method that lists cases, work queues included.
const listCasesMethod = "CaseService/ListCases"

// exportCasesMethod exports lists of cases as files.
const exportCasesMethod = "CaseService/ExportCases"

// ExportPage is how many cases one page of an export reads, in one short
// read transaction, and audits before they are handed on.
const ExportPage = 500

// ExportCases walks the cases p may export, newest first, filtered as
// ListCases filters them (q's Limit and After are ignored), one page at a
// time through the same index, and hands each page to emit, shaped as the
// export's row of the roles table allows, after auditing every case of the
// page ("case.export"), the export itself first ("cases.export", its
// reason asked: what the caller asked for, in the API's names, since a
// file of cases leaves the service and the trail must say which). emit's
// error ends the export.
func (s *Service) ExportCases(ctx context.Context, p access.Principal, q CaseQuery, asked string, emit func([]model.Case) error) error {
	if !p.May(exportCasesMethod) {
		return model.ErrPermissionDenied
	}
	if err := s.checkUnitFilter(q); err != nil {
		return err
	}
	// The export itself is on the record before its first row, even when
	// it finds no case; each case follows with its page.
	e := p.Event(s.clock.Now(), "cases.export", "cases", "", audit.OutcomeOK)
	e.Reason = asked
	if err := s.audit.Record(ctx, e); err != nil {
		return err
	}
	q.After, q.Limit = "", ExportPage
	for {
		page, next, err := s.listCasesAs(ctx, p, exportCasesMethod, "case.export", q)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		q.After = next
	}
}

// listCases runs a list of cases in a read transaction, shapes each case
// for p as method answers, and audits the page under action.
func (s *Service) listCases(ctx context.Context, p access.Principal, method, action string, list func(datastore.ReadTx) ([]model.Case, string, error)) (cases []model.Case, next string, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		found, cursor, err := list(tx)
		if err != nil {
			return err
		}
		next = cursor
		for _, c := range found {
			shaped, _, err := s.shape(tx, p, method, c)
			if err != nil {
				return err
			}
			cases = append(cases, shaped)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if err := s.recordCaseList(ctx, p, action, cases); err != nil {
		return nil, "", err
	}
	return cases, next, nil
}

// Reasons for a disclosure must say something.
const (
	minReasonLen = 10
	maxReasonLen = 500
)

// readable reports whether a disclosure's reason, normalised, says
// something: minReasonLen to maxReasonLen characters that can be read
// (spaces between words count; zero-width and other invisible characters
// do not), with at least one letter or digit. A reason the auditor cannot
// read, or a row of dots, is no reason.
func readable(reason string) bool {
	n, says := 0, false
	for _, r := range reason {
		if unicode.IsGraphic(r) {
			n++
		}
		says = says || unicode.IsLetter(r) || unicode.IsNumber(r)
	}
	return says && n >= minReasonLen && utf8.RuneCountInString(reason) <= maxReasonLen
}

// DiscloseReporter reveals the identity of a report's reporter to a hotline
// supervisor or a city officer who gives a reason. The disclosure and its
// reason are audited durably before the identity is returned.
func (s *Service) DiscloseReporter(ctx context.Context, p access.Principal, name, reason string) (model.Reporter, error) {
	if !p.MayKnowReporter() {
		return model.Reporter{}, model.ErrPermissionDenied
	}
	id, err := ParseReportName(name)
	if err != nil {
		return model.Reporter{}, model.InvalidField("name", "report.name", "%v", err)
	}
	reason = NormalizeText(reason)
	if !readable(reason) {
		return model.Reporter{}, model.InvalidField("reason", "disclosure.reason", "a disclosure needs a reason of %d to %d characters, with letters or digits", minReasonLen, maxReasonLen)
	}
	now := s.clock.Now()
	var rep model.Reporter
	var caseNumber string
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		stored, err := s.visibleReport(tx, p, id)
		caseNumber = stored.CaseNumber
		if err != nil {
			return err
		}
		if rep, err = s.vault.OpenReporter(tx, stored); err != nil {
			return err
		}
		e := p.Event(now, "reporter.disclose", access.ReportResource(id)+"/reporter", access.CaseResource(stored.CaseNumber), audit.OutcomeOK)
		e.Reason = reason
		if err := s.vault.SealReason(tx, &e); err != nil {
			return err
		}
		_, err = tx.AppendAudit(e)
		return err
	})
	if errors.Is(err, model.ErrNotFound) {
		// The attempt is recorded with its reason, sealed like any other.
		rerr := s.store.Update(ctx, func(tx datastore.Tx) error {
			e := p.Event(now, "reporter.disclose", access.ReportResource(id)+"/reporter", access.CaseResource(caseNumber), audit.OutcomeNotFound)
			e.Reason = reason
			if err := s.vault.SealReason(tx, &e); err != nil {
				return err
			}
			_, err := tx.AppendAudit(e)
			return err
		})
		if rerr != nil {
			return model.Reporter{}, fmt.Errorf("record audit events: %w", rerr)
		}
	}
	if err != nil {
		return model.Reporter{}, err
	}
	s.log.InfoContext(ctx, "reporter disclosed", "report", id, "by", p.UserID)
	return rep, nil
}

// CaseOf names the case ("cases/{number}") of the record a call named
// ("cases/{number}...", "reports/{id}..."), or "" when it names no case or
// a report that belongs to none or does not exist. A case number stands
// for the case it resolves to (ResolveCase), as a read of it does; one
// that does not exist for itself. It looks past every caller's scope: it
// serves the audit trail of calls refused on a record, which only
// auditors read.
func (s *Service) CaseOf(ctx context.Context, resource string) (string, error) {
	kind, rest, _ := strings.Cut(resource, "/")
	id, _, _ := strings.Cut(rest, "/")
	switch kind {
	case "cases":
		number, err := ParseCaseName(id)
		if err != nil {
			return "", nil
		}
		err = s.store.View(ctx, func(tx datastore.ReadTx) error {
			c, err := ResolveCase(tx, number)
			if err == nil {
				number = c.Number
			}
			return err
		})
		if errors.Is(err, model.ErrNotFound) {
			err = nil
		}
		return access.CaseResource(number), err
	case "reports":
		if _, err := ParseReportName("reports/" + id); err != nil {
			return "", nil
		}
		var number string
		err := s.store.View(ctx, func(tx datastore.ReadTx) error {
			r, err := tx.Report(id)
			number = r.CaseNumber
			return err
		})
		if errors.Is(err, model.ErrNotFound) {
			return "", nil
		}
		return access.CaseResource(number), err
	}
	return "", nil
}

// recordCaseList audits a page of listed cases, one event each, so that a
// case's history shows who saw it in a list.
func (s *Service) recordCaseList(ctx context.Context, p access.Principal, action string, cases []model.Case) error {
	now := s.clock.Now()
	events := make([]audit.Event, 0, len(cases))
	for _, c := range cases {
		res := access.CaseResource(c.Number)
		events = append(events, p.Event(now, action, res, res, audit.OutcomeOK))
	}
	return s.audit.Record(ctx, events...)
}
