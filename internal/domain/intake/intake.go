// Package intake takes reports (form Mẫu 01) and opens or joins the cases
// they belong to: the first step of the Decree 56 process. It checks what
// the schema cannot (units in force on the report's date, dates against the
// clock), normalises text, numbers cases, makes creates idempotent, seals
// private data through the vault, applies the access rules to every read
// and list, and audits every read and write. It must not know about
// protobuf, gRPC or bbolt.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// EarliestReportDate is the earliest date the unit reference data covers;
// reports before it cannot be placed in a commune, so no case counts as
// opened before it.
var EarliestReportDate = vntime.Date{Year: 2020, Month: time.January, Day: 1}

// ClockSkew is how far in the future a client's time (a receive time, when
// a measure was applied) may lie, to allow for clients whose clocks run a
// little fast.
const ClockSkew = 5 * time.Minute

// Service runs intake.
type Service struct {
	store  datastore.Store
	units  *units.Registry
	policy *access.Policy
	vault  *vault.Vault
	audit  *auditlog.Log
	clock  clock.Clock
	log    *slog.Logger
	cases  CaseStarter
	search *search.Service
}

// Deps are what the service needs.
type Deps struct {
	Store datastore.Store
	Units *units.Registry
	Vault *vault.Vault
	Clock clock.Clock
	Log   *slog.Logger
	// Cases starts the process on a new case (the deadline for the
	// commune to acknowledge it, and D3 for an emergency) and on a case
	// that a joining report makes an emergency; nil starts none.
	Cases CaseStarter
	// Search keeps the blind index of every case a report opens or
	// joins (marked in the report's transaction, indexed after its
	// commit, before the answer), and finds a new report's candidates;
	// nil indexes nothing and finds none.
	Search *search.Service
}

// CaseStarter starts the process on a case that intake opens, inside the
// transaction that opens it: Prepare before the case is stored, Activate
// after (when it has its id).
type CaseStarter interface {
	// PrepareNewCase returns what to do once the transaction that opens
	// the case is committed (log what only a committed case may say: a
	// body may run more than once, datastore.Store).
	PrepareNewCase(tx datastore.ReadTx, c *model.Case, now time.Time) (committed func(context.Context))
	ActivateNewCase(tx datastore.Tx, c model.Case, now time.Time) error
	// EmergencyReported makes an open case an emergency when a report
	// that joins it says the child is in danger, before the case is
	// stored; p is who recorded the report.
	EmergencyReported(tx datastore.Tx, p access.Principal, c *model.Case, reason model.EmergencyReason, receive, now time.Time) error
	// Notify is called after the commit, to wake what waits for new
	// notifications and timers.
	Notify()
}

// New returns an intake service.
func New(d Deps) *Service {
	return &Service{
		store: d.Store, units: d.Units, policy: access.New(d.Units), vault: d.Vault,
		audit: auditlog.New(d.Store), clock: d.Clock, log: d.Log, cases: d.Cases, search: d.Search,
	}
}

// CreateReportInput is a report to record.
type CreateReportInput struct {
	Report model.Report
	// IncidentCommuneCode is the GSO code of the commune where it happened.
	IncidentCommuneCode string
	// CaseName, if set ("cases/{number}"), joins an existing case instead of
	// opening a new one.
	CaseName string
	// RequestID makes the create idempotent; Fingerprint identifies the
	// request's content so a reused id with another request is refused.
	RequestID   string
	Fingerprint []byte
	// EarlierFingerprint, if set, is the fingerprint an earlier version
	// took of the same request (of its phones as sent, before a retry's
	// phones were read in E.164): a request it remembered is matched by
	// either.
	EarlierFingerprint []byte
}

// CreateReport stores a report taken by p. A report that needs
// intervention opens a case, or joins the one named in the input, which p
// must be able to see.
func (s *Service) CreateReport(ctx context.Context, p access.Principal, in CreateReportInput) (model.Report, error) {
	r, _, err := s.CreateReportWithCandidates(ctx, p, in)
	return r, err
}

// ValidateReport checks a report as CreateReport would and returns the
// cases it may be about (search.Service.CandidatesOf), storing nothing but
// the audit event of that search: the operator looks before opening a
// duplicate.
func (s *Service) ValidateReport(ctx context.Context, p access.Principal, in CreateReportInput) ([]search.Candidate, error) {
	if !p.May("ReportService/CreateReport") {
		return nil, model.ErrPermissionDenied
	}
	now := s.clock.Now()
	r := in.Report
	normalizeReport(&r)
	if err := s.checkReport(&r, in.IncidentCommuneCode, now); err != nil {
		return nil, err
	}
	caseNumber, err := joinedCaseNumber(in.CaseName)
	if err != nil {
		return nil, err
	}
	searches := s.search != nil && p.May(search.Method)
	var found []search.Candidate
	var refused []audit.Event
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		// The case the report would join is checked as the create checks
		// it, and left out of the candidates as the create leaves it.
		if caseNumber != "" {
			c, err := s.joinableCase(tx, p, caseNumber)
			if err != nil {
				refused = s.refusedCase(p, now, err, caseNumber, c)
				return model.MissingReference(err, "report.case", "case %s does not exist", caseNumber)
			}
			r.CaseNumber = c.Number
		}
		if !searches {
			return nil
		}
		var err error
		found, err = s.search.CandidatesOf(tx, p, r)
		return err
	})
	if err != nil {
		if rerr := s.audit.Record(ctx, refused...); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	if !searches {
		return nil, nil
	}
	if err := s.search.Audit(ctx, p, search.QueryOfReport(r), found); err != nil {
		return nil, err
	}
	return found, nil
}

// CreateReportWithCandidates is CreateReport that also returns the cases
// other than its own the report may be about, best first (at most
// search.IntakeCandidates), as p may see them: the operator joins the
// existing case instead of working a duplicate. The search is audited
// with the create. A retried create answers the first answer's report and
// candidates as they were (firstReportAnswer), the candidates' search
// audited again, since the retry shows them again.
func (s *Service) CreateReportWithCandidates(ctx context.Context, p access.Principal, in CreateReportInput) (model.Report, []search.Candidate, error) {
	if !p.May("ReportService/CreateReport") {
		return model.Report{}, nil, model.ErrPermissionDenied
	}
	now := s.clock.Now()
	r := in.Report
	normalizeReport(&r)
	if err := s.checkReport(&r, in.IncidentCommuneCode, now); err != nil {
		return model.Report{}, nil, err
	}
	caseNumber, err := joinedCaseNumber(in.CaseName)
	if err != nil {
		return model.Report{}, nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return model.Report{}, nil, fmt.Errorf("new report id: %w", err)
	}
	r.ID = id.String()
	r.CreateTime = now
	r.TakenBy, r.TakerUnit = p.UserID, p.Unit
	r.Reporter.Withheld = false

	// The candidates are found before the write, in a read transaction
	// of their own: a search reads many pages of the index, and inside the
	// write it would hold back every other write of its group commit. The
	// case the report joins is left out, as the one it opens is (it does
	// not exist yet).
	// What that search could not see (the cases other writes of the
	// moment open) is looked at in the write (search.LateCandidates).
	var early []search.Candidate
	var earlyQuery search.Query
	var since search.Since
	if s.search != nil && p.May(search.Method) {
		err := s.store.View(ctx, func(tx datastore.ReadTx) error {
			mine := r
			if caseNumber != "" {
				if c, err := ResolveCase(tx, caseNumber); err == nil {
					mine.CaseNumber = c.Number
				}
			}
			var err error
			if since, err = s.search.SinceOf(tx, p, mine); err != nil {
				return err
			}
			early, earlyQuery, err = s.candidates(tx, p, mine, model.StoredReport{})
			return err
		})
		if err != nil {
			return model.Report{}, nil, err
		}
	}
	if s.search != nil && caseNumber == "" && r.CallType == model.CallIntervention {
		// The case this report opens, scored by the writes of the same
		// moment before its entry is written.
		defer s.search.Opening(r)()
	}

	var out model.Report
	var found []search.Candidate
	var query search.Query
	var refused []audit.Event        // of a case out of scope or absent, audited once the write is undone
	var toIndex uint64               // the case whose index entry follows the commit
	var opened func(context.Context) // the process's word on the case opened, once committed
	var openedID uint64              // the id of the case opened, told to the search once committed
	entry := s.beginEntryWrite()
	defer entry.End()
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		// The body may run again (datastore.Store): each run starts from
		// the request as it came, and only the last run's refusal counts.
		r := r
		refused, found, query, toIndex, opened, openedID = nil, nil, search.Query{}, 0, nil, 0
		prior, replayed, err := idempotency.Replay(tx, p, "CreateReport", in.RequestID, in.Fingerprint, in.EarlierFingerprint)
		if err != nil {
			return err
		}
		if replayed {
			stored, err := tx.Report(prior.Resource)
			if err != nil {
				return err
			}
			if out, found, query, err = s.replayCreate(tx, p, prior, stored); err != nil {
				return err
			}
			// The retry shows the report again: a read of it, on the trail
			// of the case it belongs to now (the survivor of a merge).
			retried := idempotency.Retried(p, now, "report.read", access.ReportResource(stored.ID), access.CaseResource(stored.CaseNumber), "report.create")
			if _, err := tx.AppendAudit(retried); err != nil {
				return err
			}
			return s.auditCandidates(tx, p, query, found)
		}
		var events []audit.Event
		var indexed *model.Case // the case to index once the report is stored
		switch {
		case caseNumber != "":
			c, err := s.joinableCase(tx, p, caseNumber)
			if err != nil {
				refused = s.refusedCase(p, now, err, caseNumber, c)
				return model.MissingReference(err, "report.case", "case %s does not exist", caseNumber)
			}
			r.CaseNumber = c.Number
			if err := s.addReportToCase(tx, p, &c, r, now); err != nil {
				return err
			}
			indexed = &c
			events = append(events, p.Event(now, "case.add_report", access.CaseResource(c.Number), access.CaseResource(c.Number), audit.OutcomeOK))
		case r.CallType == model.CallIntervention:
			c, committed, err := s.openCase(tx, r, now)
			if err != nil {
				return err
			}
			opened = committed
			r.CaseNumber = c.Number
			openedID = c.ID
			indexed = &c
			events = append(events, p.Event(now, "case.create", access.CaseResource(c.Number), access.CaseResource(c.Number), audit.OutcomeOK))
		}
		stored, err := s.vault.SealReport(tx, r)
		if err != nil {
			return err
		}
		if err := tx.CreateReport(stored); err != nil {
			return err
		}
		if indexed != nil {
			// The entry's tokens spread over the whole index: unless this
			// write is alone, only a mark here, and the entry is written
			// after the commit in a batch shared with the other writes of
			// the moment (search.Service.Indexed).
			if toIndex, err = entry.follow(tx, indexed.ID); err != nil {
				return err
			}
		}
		events = append([]audit.Event{p.Event(now, "report.create", access.ReportResource(r.ID), access.CaseResource(r.CaseNumber), audit.OutcomeOK)}, events...)
		found, query = early, earlyQuery
		if s.search != nil && p.May(search.Method) {
			var own uint64
			if indexed != nil {
				own = indexed.ID
			}
			if found, err = s.search.LateCandidates(tx, p, since, own, r.CaseNumber, early); err != nil {
				return err
			}
		}
		if err := rememberFirstAnswer(tx, p, "CreateReport", in.RequestID, in.Fingerprint, r.ID, r.CaseNumber, found, now); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(events...); err != nil {
			return err
		}
		if err := s.auditCandidates(tx, p, query, found); err != nil {
			return err
		}
		out = r
		out.Reporter = model.Reporter{Withheld: true}
		return nil
	})
	if err != nil {
		// A refusal that cannot be audited fails as the audit's write
		// does, whether out of scope or absent: the two still look alike.
		if rerr := s.audit.Record(ctx, refused...); rerr != nil {
			return model.Report{}, nil, rerr
		}
		return model.Report{}, nil, err
	}
	if s.search != nil && openedID != 0 {
		// Only now: a body may run more than once, and on etcd ahead of
		// its commit, each run taking an id; told of an undone run's id,
		// the search scored another write's case by this report's tokens.
		s.search.OpeningCase(r.ID, openedID)
	}
	if opened != nil {
		opened(ctx)
	}
	if s.cases != nil && out.CaseNumber != "" {
		s.cases.Notify()
	}
	s.awaitIndex(ctx, toIndex, out.CaseNumber)
	s.log.InfoContext(ctx, "report created", "report", out.ID, "case", out.CaseNumber, "call_type", int(out.CallType), "by", p.UserID, "candidates", len(found))
	if p.Grant("ReportService/CreateReport") == access.Police {
		// The police view of a report is a receipt: they recorded it, but
		// what it says is the commune's to read.
		return access.PoliceReceipt(out), nil, nil
	}
	return out, found, nil
}

// firstReportAnswer is what a CreateReport or a LinkReport with a
// request_id remembers for its retries beside the report: what of its
// answer a later write can change, the case the report belonged to (a
// link or a merge moves it) and the candidates by case number (another
// call about the child makes more), so that a retry gets the first answer
// back as it was, as a retried step does. The report's own content never
// changes once written (a move re-seals it under another key), so the
// report itself is read again rather than kept twice. The candidates'
// numbers are on their cases' audit trails in the clear already (each
// shown case's case.search event beside the report.create).
type firstReportAnswer struct {
	Case       string           `json:",omitempty"`
	Candidates []firstCandidate `json:",omitempty"`
}

type firstCandidate struct {
	Case    string
	Score   float64
	Matched []search.Field
}

// rememberFirstAnswer records, in the write's transaction, the first
// answer to a request of method (CreateReport, LinkReport) that carried a
// request_id and answered report reportID in case caseNumber with the
// candidates found.
func rememberFirstAnswer(tx datastore.Tx, p access.Principal, method, requestID string, fingerprint []byte, reportID, caseNumber string, found []search.Candidate, now time.Time) error {
	if requestID == "" {
		return nil
	}
	first := firstReportAnswer{Case: caseNumber}
	for _, c := range found {
		first.Candidates = append(first.Candidates, firstCandidate{Case: c.Case.Number, Score: c.Score, Matched: c.Matched})
	}
	result, err := json.Marshal(first)
	if err != nil {
		return fmt.Errorf("remember the answer of report %s: %w", reportID, err)
	}
	return idempotency.Remember(tx, p, method, requestID, fingerprint, reportID, result, now)
}

// replayCreate is the answer to a retried CreateReport of the report
// stored: the first answer, and the query its candidates answer (for the
// audit of the search the retry shows again). A record written before
// first answers were kept has none: the report is shown as it is now,
// with the candidates found now.
func (s *Service) replayCreate(tx datastore.ReadTx, p access.Principal, prior model.IdempotencyRecord, stored model.StoredReport) (model.Report, []search.Candidate, search.Query, error) {
	out, err := s.vault.OpenReport(tx, stored)
	if err != nil {
		return model.Report{}, nil, search.Query{}, err
	}
	if len(prior.Result) == 0 {
		found, query, err := s.candidates(tx, p, out, stored)
		return out, found, query, err
	}
	var first firstReportAnswer
	if err := json.Unmarshal(prior.Result, &first); err != nil {
		return model.Report{}, nil, search.Query{}, fmt.Errorf("first answer to report %s: %w", stored.ID, err)
	}
	out.CaseNumber = first.Case
	var found []search.Candidate
	for _, c := range first.Candidates {
		found = append(found, search.Candidate{Case: model.Case{Number: c.Case}, Score: c.Score, Matched: c.Matched})
	}
	if len(found) == 0 {
		return out, nil, search.Query{}, nil
	}
	r, err := s.withReporter(tx, out, stored)
	return out, found, search.QueryOfReport(r), err
}

// entryWrite is a write of a case's search entry (search.EntryWrite),
// or nothing without a search service.
type entryWrite struct{ w *search.EntryWrite }

// beginEntryWrite begins a write that changes a case's search entry,
// before its transaction; its End follows the answer.
func (s *Service) beginEntryWrite() entryWrite {
	if s.search == nil {
		return entryWrite{}
	}
	return entryWrite{w: s.search.BeginWrite()}
}

// follow makes the case's entry follow the write in tx, and returns the
// case id to wait for after the commit (awaitIndex), or 0 when the entry
// is written in tx or there is no index.
func (e entryWrite) follow(tx datastore.Tx, caseID uint64) (uint64, error) {
	if e.w == nil {
		return 0, nil
	}
	pending, err := e.w.Follow(tx, caseID)
	if err != nil || !pending {
		return 0, err
	}
	return caseID, nil
}

// End ends the write.
func (e entryWrite) End() {
	if e.w != nil {
		e.w.End()
	}
}

// awaitIndex waits for the index entry of a case a committed write
// marked (0: none), so that a search after the answer finds the case. A
// failure is logged, not returned: the write stands, and its case stays
// marked until the leader's next catch-up indexes it
// (search.Service.CatchUp, at start and every 30 s after). The
// log names the case by its number, which an operator can look up; its
// internal key is storage's.
func (s *Service) awaitIndex(ctx context.Context, caseID uint64, caseNumber string) {
	if caseID == 0 || s.search == nil {
		return
	}
	err := s.search.Indexed(ctx, caseID)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// The caller is gone; the indexer still writes the entry.
		s.log.WarnContext(ctx, "search index: the call ended before its case's entry was written; the indexer still writes it", "case", caseNumber, "err", err)
	default:
		s.log.ErrorContext(ctx, "search index: the entry of a written case is not written; the next catch-up writes it", "case", caseNumber, "err", err)
	}
}

// auditCandidates audits the search for a report's candidates, when p
// may search: every search is audited, this one with its create.
func (s *Service) auditCandidates(tx datastore.Tx, p access.Principal, q search.Query, found []search.Candidate) error {
	if s.search == nil || !p.May(search.Method) {
		return nil
	}
	events, err := s.search.AuditEvents(tx, p, q, found)
	if err != nil {
		return err
	}
	_, err = tx.AppendAudit(events...)
	return err
}

// candidates returns the cases a report taken by p may also be about, as
// p may see them, and the query that found them: none for a caller who
// may not search (the police). stored is the report as stored: its
// reporter, sealed there, is what the search matches a caller's phone
// against.
func (s *Service) candidates(tx datastore.ReadTx, p access.Principal, r model.Report, stored model.StoredReport) ([]search.Candidate, search.Query, error) {
	if s.search == nil || !p.May(search.Method) {
		return nil, search.Query{}, nil
	}
	r, err := s.withReporter(tx, r, stored)
	if err != nil {
		return nil, search.Query{}, err
	}
	found, err := s.search.CandidatesOf(tx, p, r)
	return found, search.QueryOfReport(r), err
}

// withReporter returns r with its reporter opened from stored, when r
// withholds it: what a search for the report's candidates matches.
func (s *Service) withReporter(tx datastore.ReadTx, r model.Report, stored model.StoredReport) (model.Report, error) {
	if r.Reporter.Withheld {
		rep, err := s.vault.OpenReporter(tx, stored)
		if err != nil {
			return model.Report{}, err
		}
		r.Reporter = rep
	}
	return r, nil
}

// openCase opens a new case for a report, numbered in the year it is opened
// (Vietnam time), responsible: the commune where it happened.
func (s *Service) openCase(tx datastore.Tx, r model.Report, now time.Time) (model.Case, func(context.Context), error) {
	year := vntime.DateOf(now).Year
	seq, err := tx.NextCaseSequence(year)
	if err != nil {
		return model.Case{}, nil, err
	}
	c := model.Case{
		Number:          FormatCaseNumber(year, seq),
		Status:          model.StatusAwaitingAcknowledgement,
		ResponsibleUnit: r.IncidentUnit,
		IncidentUnit:    r.IncidentUnit,
		ReportIDs:       []string{r.ID},
		ReceiveTime:     r.ReceiveTime,
		ImmediateDanger: r.ImmediateDanger,
		Emergency:       r.EmergencyReason() != 0,
		EmergencyReason: r.EmergencyReason(),
		CreateTime:      now,
		UpdateTime:      now,
		Revision:        1,
		Children:        vault.Summaries(r),
		SuspectedAbuse:  slices.Clone(r.SuspectedAbuse),
		Handlers:        []units.Key{r.IncidentUnit},
		IntakeUsers:     []string{r.TakenBy},
		IntakeUnits:     []string{r.TakerUnit},
	}
	addCircumstances(&c, r)
	var committed func(context.Context)
	if s.cases != nil {
		committed = s.cases.PrepareNewCase(tx, &c, now)
	}
	if err := access.StampPoliceViews(&c, nil); err != nil { // the police's own intake
		return model.Case{}, nil, err
	}
	stored, err := s.vault.SealCase(tx, c)
	if err != nil {
		return model.Case{}, nil, err
	}
	if err := tx.CreateCase(&stored); err != nil {
		return model.Case{}, nil, err
	}
	c.ID = stored.ID
	if s.cases != nil {
		if err := s.cases.ActivateNewCase(tx, c, now); err != nil {
			return model.Case{}, nil, err
		}
	}
	return c, committed, nil
}

// addReportToCase adds a report to a case: the case keeps the earliest
// receive time, since the legal clocks start when information first came in,
// its special-circumstance groups gain the report's, and its taker may
// follow the case up. A report that says the child is in danger makes the
// case an emergency. c is the case as stored; the groups are sealed with
// its free text, which is opened to add them and sealed again.
func (s *Service) addReportToCase(tx datastore.Tx, p access.Principal, c *model.Case, r model.Report, now time.Time) error {
	if c.Status == model.StatusClosed {
		return model.Precondition("CASE_CLOSED", "case %s is closed; reopen it before adding reports", c.Number)
	}
	opened, err := s.vault.OpenCase(tx, *c)
	if err != nil {
		return err
	}
	*c = opened
	// The report needs no etag of the case: it is dated after any write
	// that committed on the case since the clock was read.
	now = c.WriteTime(now)
	if reason := r.EmergencyReason(); reason != 0 && s.cases != nil {
		if err := s.cases.EmergencyReported(tx, p, c, reason, r.ReceiveTime, now); err != nil {
			return err
		}
	}
	c.ReportIDs = append(c.ReportIDs, r.ID)
	if r.ReceiveTime.Before(c.ReceiveTime) {
		c.ReceiveTime = r.ReceiveTime
	}
	c.ImmediateDanger = c.ImmediateDanger || r.ImmediateDanger
	c.Children = append(c.Children, vault.Summaries(r)...)
	for _, a := range r.SuspectedAbuse {
		if !slices.Contains(c.SuspectedAbuse, a) {
			c.SuspectedAbuse = append(c.SuspectedAbuse, a)
		}
	}
	if !slices.Contains(c.IntakeUsers, r.TakenBy) {
		c.IntakeUsers = append(c.IntakeUsers, r.TakenBy)
	}
	if !slices.Contains(c.IntakeUnits, r.TakerUnit) {
		c.IntakeUnits = append(c.IntakeUnits, r.TakerUnit)
	}
	addCircumstances(c, r)
	c.UpdateTime = now
	c.Revision++
	err = access.StampPoliceViews(c, func() (model.Case, error) {
		stored, err := tx.CaseByNumber(c.Number)
		if err != nil {
			return model.Case{}, err
		}
		return s.vault.OpenCase(tx, stored)
	})
	if err != nil {
		return err
	}
	stored, err := s.vault.SealCase(tx, *c)
	if err != nil {
		return err
	}
	return tx.UpdateCase(stored)
}

// addCircumstances adds the report's special-circumstance groups (Child
// Law Art. 10) that the case lacks: a group once reported stays until an
// assessment takes it off.
func addCircumstances(c *model.Case, r model.Report) {
	for _, g := range r.SpecialCircumstances {
		if !slices.Contains(c.SpecialCircumstances, g) {
			c.SpecialCircumstances = append(c.SpecialCircumstances, g)
		}
	}
}

// LinkReportInput is a report to attach to a case.
type LinkReportInput struct {
	Report string // "reports/{report}"
	Case   string // "cases/{case_number}"
	// Etag, if set, is the case's etag as the caller read it: the link
	// is refused with model.ErrConflict if the case has changed since.
	Etag string
	// RequestID makes the link idempotent; Fingerprint identifies the
	// request's content so a reused id with another request is refused.
	RequestID   string
	Fingerprint []byte
}

// LinkReport attaches a report that belongs to no case to an existing case.
// p must see both. With an etag, a case that changed since the caller read
// it is not touched (model.ErrConflict); a report already in that case is
// returned as it is, whatever the etag, since nothing changes.
func (s *Service) LinkReport(ctx context.Context, p access.Principal, in LinkReportInput) (model.Report, error) {
	if !p.May("ReportService/LinkReport") {
		return model.Report{}, model.ErrPermissionDenied
	}
	reportID, err := ParseReportName(in.Report)
	if err != nil {
		return model.Report{}, model.InvalidField("name", "report.name", "%v", err)
	}
	caseNumber, err := ParseCaseName(in.Case)
	if err != nil {
		return model.Report{}, model.InvalidField("case", "case.name", "%v", err)
	}
	now := s.clock.Now()
	var out model.Report
	var refused []audit.Event // of a record out of scope or absent, audited once the write is undone
	var toIndex uint64        // the case whose index entry follows the commit
	entry := s.beginEntryWrite()
	defer entry.End()
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		refused, toIndex = nil, 0 // the body may run again (datastore.Store): only the last run's refusal counts
		prior, replayed, err := idempotency.Replay(tx, p, "LinkReport", in.RequestID, in.Fingerprint)
		if err != nil {
			return err
		}
		stored, err := s.visibleReport(tx, p, reportID)
		if errors.Is(err, model.ErrNotFound) {
			// On the report's own case when it has one, as a read of the
			// report is: the attempt was on that case's report, and
			// ?case= of that case must show it; else on the case named.
			on := caseNumber
			if stored.CaseNumber != "" {
				on = stored.CaseNumber
			}
			refused = []audit.Event{p.Event(now, "report.link", access.ReportResource(reportID), access.CaseResource(on), audit.OutcomeNotFound)}
		}
		if err != nil {
			return err
		}
		// The case the number names today: a merged case's old number
		// names its survivor, where a report linked to it before the
		// merge now is, so a link asked again by that number finds the
		// report in it (if the caller may join it) rather than in
		// another case.
		named := caseNumber
		if stored.CaseNumber != "" && stored.CaseNumber != caseNumber {
			c, err := s.joinableCase(tx, p, caseNumber)
			switch {
			case err == nil:
				named = c.Number
			case !errors.Is(err, model.ErrNotFound):
				return err
			}
		}
		switch {
		case replayed || stored.CaseNumber == named:
			// A retry gets the first answer as it was (the case linked
			// to, even if merged since); a link made already (linking is
			// idempotent by nature), or a retry remembered before first
			// answers were kept, shows the report as it is.
			if out, err = s.vault.OpenReport(tx, stored); err != nil {
				return err
			}
			if replayed && len(prior.Result) > 0 {
				var first firstReportAnswer
				if err := json.Unmarshal(prior.Result, &first); err != nil {
					return fmt.Errorf("first answer to the link of report %s: %w", reportID, err)
				}
				out.CaseNumber = first.Case
			}
			if !replayed {
				if err := rememberFirstAnswer(tx, p, "LinkReport", in.RequestID, in.Fingerprint, stored.ID, stored.CaseNumber, nil, now); err != nil {
					return err
				}
			}
			_, err = tx.AppendAudit(idempotency.Retried(p, now, "report.read", access.ReportResource(stored.ID), access.CaseResource(stored.CaseNumber), "report.link"))
			return err
		case stored.CaseNumber != "":
			return model.Precondition("REPORT_ALREADY_LINKED", "report %s already belongs to case %s", reportID, stored.CaseNumber)
		}
		c, err := s.joinableCase(tx, p, caseNumber)
		if err != nil {
			refused = s.refusedCase(p, now, err, caseNumber, c)
			return model.MissingReference(err, "case", "case %s does not exist", caseNumber)
		}
		if in.Etag != "" && in.Etag != c.Etag() {
			return fmt.Errorf("case %s has etag %s, the request carries %q: %w", c.Number, c.Etag(), in.Etag, model.ErrConflict)
		}
		r, err := s.vault.OpenReport(tx, stored)
		if err != nil {
			return err
		}
		letIn := linkLetsIn(p, c, r)
		if err := s.addReportToCase(tx, p, &c, r, now); err != nil {
			return err
		}
		stored.CaseNumber = c.Number
		if stored, err = s.vault.MoveToCase(tx, stored); err != nil {
			return err
		}
		if err := tx.UpdateReport(stored); err != nil {
			return err
		}
		if err := rememberFirstAnswer(tx, p, "LinkReport", in.RequestID, in.Fingerprint, stored.ID, stored.CaseNumber, nil, now); err != nil {
			return err
		}
		if toIndex, err = entry.follow(tx, c.ID); err != nil {
			return err
		}
		caseRes := access.CaseResource(c.Number)
		added := p.Event(now, "case.add_report", caseRes, caseRes, audit.OutcomeOK)
		added.Reason = letIn
		if _, err := tx.AppendAudit(
			p.Event(now, "report.link", access.ReportResource(r.ID), caseRes, audit.OutcomeOK),
			added,
		); err != nil {
			return err
		}
		r.CaseNumber = c.Number
		out = r
		return nil
	})
	if err != nil {
		// A refusal that cannot be audited fails as the audit's write
		// does, whether out of scope or absent: the two still look alike.
		if rerr := s.audit.Record(ctx, refused...); rerr != nil {
			return model.Report{}, rerr
		}
		return model.Report{}, err
	}
	s.awaitIndex(ctx, toIndex, out.CaseNumber)
	return out, nil
}

// linkLetsIn is the reason of the audit event of p's link of r to c: whom
// the link lets into the case besides p. A report's taker follows the
// cases of their reports (a hotline operator sees nothing else), so a
// link of someone else's report lets its taker in, and the auditor, who
// reads no case, learns why they read it next only from the trail, as
// from a step that lets someone in ("to users/{user}").
func linkLetsIn(p access.Principal, c model.Case, r model.Report) string {
	if r.TakenBy == p.UserID || slices.Contains(c.IntakeUsers, r.TakenBy) {
		return ""
	}
	return "to " + model.UserName(r.TakenBy)
}

// joinedCaseNumber reads the number of the case a report names to join
// ("" when it names none).
func joinedCaseNumber(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	n, err := ParseCaseName(name)
	if err != nil {
		return "", model.InvalidField("report.case", "case.name", "%v", err)
	}
	return n, nil
}

// joinableCase returns the case a number resolves to if p may add a
// report to it, else ErrNotFound: out of scope looks like absent.
func (s *Service) joinableCase(tx datastore.ReadTx, p access.Principal, number string) (model.Case, error) {
	c, err := ResolveCase(tx, number)
	if err == nil && !s.mayJoin(p, c) {
		err = fmt.Errorf("case %s: %w", number, model.ErrNotFound)
	}
	return c, err
}

// mayJoin reports whether p may add a report to c: a case p sees whole,
// or one a search shows p in the candidate view (a case of p's hotline
// organisation that another operator took): the operator who takes a
// second call about the same child joins the existing case instead of
// opening a duplicate (issue 12), and from then on follows it like the
// cases of their own reports. The joining is audited like every add.
func (s *Service) mayJoin(p access.Principal, c model.Case) bool {
	if s.policy.CaseView(p, c) == access.ViewFull {
		return true
	}
	return s.search != nil && s.policy.SearchView(p, search.Method, c) == access.ViewCandidate
}

// refusedCase returns the audit event of a report refused a case that is
// out of p's scope or absent (lookupErr wraps ErrNotFound), so that the
// case's trail shows the attempt; none for other errors. The event names
// the case number called, on the trail of the case it resolved to
// (joinableCase), a merge's survivor, when there is one.
func (s *Service) refusedCase(p access.Principal, now time.Time, lookupErr error, caseNumber string, resolved model.Case) []audit.Event {
	if !errors.Is(lookupErr, model.ErrNotFound) {
		return nil
	}
	onCase := caseNumber
	if resolved.Number != "" {
		onCase = resolved.Number
	}
	return []audit.Event{p.Event(now, "case.add_report", access.CaseResource(caseNumber), access.CaseResource(onCase), audit.OutcomeNotFound)}
}

// visibleReport loads a report p may see, or ErrNotFound.
func (s *Service) visibleReport(tx datastore.ReadTx, p access.Principal, id string) (model.StoredReport, error) {
	r, err := tx.Report(id)
	if err != nil {
		return model.StoredReport{}, err
	}
	c, err := s.caseOf(tx, r)
	if err != nil {
		return model.StoredReport{}, err
	}
	if !s.policy.CanSeeReport(p, r, c) {
		// The report comes back with the error only so that the refusal
		// is audited under its case; callers return nothing of it.
		return r, fmt.Errorf("report %s: %w", id, model.ErrNotFound)
	}
	return r, nil
}

// caseOf returns the case a report belongs to, or nil.
func (s *Service) caseOf(tx datastore.ReadTx, r model.StoredReport) (*model.Case, error) {
	if r.CaseNumber == "" {
		return nil, nil
	}
	c, err := tx.CaseByNumber(r.CaseNumber)
	if err != nil {
		return nil, fmt.Errorf("report %s names case %s: %w", r.ID, r.CaseNumber, err)
	}
	return &c, nil
}

// checkReport checks what the schema cannot and resolves the commune.
func (s *Service) checkReport(r *model.Report, communeCode string, now time.Time) error {
	if r.ReceiveTime.After(now.Add(ClockSkew)) {
		return model.InvalidField("report.receive_time", "time.not_future", "receive_time %s lies in the future", r.ReceiveTime.Format(time.RFC3339))
	}
	day := vntime.DateOf(r.ReceiveTime)
	if day.Before(EarliestReportDate) {
		return model.InvalidField("report.receive_time", "time.covered", "receive_time must be on or after %s (Vietnam time)", EarliestReportDate)
	}
	unit, ok := s.units.InForce(communeCode, day)
	if !ok {
		return model.InvalidField("report.incident_commune_code", "unit.in_force", "no unit with code %q was in force on %s%s", communeCode, day, s.endedUnit(communeCode, day))
	}
	if unit.Level != units.LevelCommune {
		return model.InvalidField("report.incident_commune_code", "unit.commune", "%s is a %s, not a commune", communeCode, unit.Level)
	}
	r.IncidentUnit = unit.Key
	if err := normalizePhones(r); err != nil {
		return err
	}
	if rep := r.Reporter; !rep.Anonymous && blank(rep.FullName) && rep.Phone == "" {
		// The schema asks for a name or a phone, but a name of spaces,
		// of characters nobody sees or of punctuation alone passed it:
		// such a reporter was kept as identified, with nothing to call
		// back or disclose.
		return model.InvalidField("report.reporter.identified", "identified_reporter.name_or_phone",
			"full_name or phone: an identified reporter needs a name or a phone number")
	}
	for i, g := range r.Caregivers {
		if blank(g.FullName) && blank(g.Relation) && blank(g.Phone) && blank(g.Address) && !g.SuspectedAbuser {
			// Stored, it showed on the report and its case as a caregiver
			// of whom nothing is known; the console leaves out such a
			// blank block rather than send it.
			return model.InvalidField("report.caregivers["+strconv.Itoa(i)+"]", "caregiver.says_something",
				"a caregiver needs a name, relation, phone or address, or to be the suspected abuser: leave out one of whom nothing is known")
		}
	}
	for i, c := range r.Children {
		if err := s.checkResidence(c.ResidenceUnit, day, "report.children["+strconv.Itoa(i)+"].residence_unit"); err != nil {
			return err
		}
		if c.BirthDate.IsZero() {
			continue
		}
		field := "report.children[" + strconv.Itoa(i) + "].birth_date"
		if c.BirthDate.After(day) {
			// The date itself is the child's private data (Decree 56 Art. 33):
			// messages are logged, so they never repeat it.
			return model.InvalidField(field, "date.not_future", "birth_date lies after the day of the report")
		}
		if !c.BirthDate.After(vntime.Date{Year: day.Year - 18, Month: day.Month, Day: day.Day}) {
			return model.InvalidField(field, "child.under_18", "birth_date makes the child 18 or older on the day of the report")
		}
	}
	return nil
}

// endedUnit says, for a message, which unit a code named before it went
// out of force by day and which communes of the reform took it over (the
// 2025-07 mapping, whole or in part; for a commune of before 2025-01,
// which no data map, that they do not say), so the operator can name the
// one in force: the caller names the commune they know. "" when the code
// named none.
func (s *Service) endedUnit(code string, day vntime.Date) string {
	old, ok := s.units.Ended(code, day)
	if !ok {
		return ""
	}
	msg := fmt.Sprintf(": %s ended on %s", old.FullName(), old.ValidTo)
	var into []string
	for _, k := range s.units.Successors(old.Key) {
		if u, ok := s.units.Get(k); ok {
			into = append(into, fmt.Sprintf("%s (%s)", access.UnitName(k), u.FullName()))
		}
	}
	if len(into) > 0 {
		msg += " and went into " + strings.Join(into, ", ")
	} else {
		// The data map the communes of 2025-01 to those of 2025-07 only:
		// say so, rather than end on the date as if none took it over.
		msg += "; the reference data do not say which communes took it over: name the commune in force where it happened"
	}
	return msg
}

// checkResidence checks a child's commune of residence, when given: a
// commune of the registry in force on the day of the report. Where a child
// lives is private (Decree 56 Art. 33) and messages are logged, so they
// never repeat the unit.
func (s *Service) checkResidence(k units.Key, day vntime.Date, field string) error {
	if k.IsZero() {
		return nil
	}
	u, ok := s.units.Get(k)
	if !ok || !u.InForce(day) {
		return model.InvalidField(field, "unit.in_force", "residence_unit is not a unit in force on the day of the report")
	}
	if u.Level != units.LevelCommune {
		return model.InvalidField(field, "unit.commune", "residence_unit is not a commune")
	}
	return nil
}

// normalizeReport puts all free text into NFC and trims surrounding space, so
// that the same name typed on two keyboards compares equal.
func normalizeReport(r *model.Report) {
	for _, p := range []*string{&r.FamilySituation, &r.ActionsTaken, &r.Narrative,
		&r.Reporter.FullName, &r.Reporter.Phone, &r.Reporter.RelationToChild, &r.Reporter.Address} {
		*p = NormalizeText(*p)
	}
	for i := range r.Children {
		c := &r.Children[i]
		for _, p := range []*string{&c.FullName, &c.Location, &c.Condition, &c.ExpectedHarm} {
			*p = NormalizeText(*p)
		}
	}
	for i := range r.Caregivers {
		g := &r.Caregivers[i]
		for _, p := range []*string{&g.FullName, &g.Relation, &g.Phone, &g.Address} {
			*p = NormalizeText(*p)
		}
	}
}

// normalizePhones checks the report's phones (search.PhoneNumber: any
// usual spelling of a number, "0912.345.678", "+84 (0) 912 345 678",
// full-width digits) and keeps each as the operator typed it, with its
// full-width forms and non-breaking spaces in ASCII (NFKC): the form a
// person reads back to call the number, and the form every report before
// this rule holds, so that a report's phones are never in two forms. The
// index and a search read any spelling alike, in E.164. A phone that is
// no phone number is refused, naming its field; messages are logged, so
// they never repeat the number.
func normalizePhones(r *model.Report) error {
	phones := []struct {
		field string
		phone *string
	}{{"report.reporter.identified.phone", &r.Reporter.Phone}}
	for i := range r.Caregivers {
		phones = append(phones, struct {
			field string
			phone *string
		}{"report.caregivers[" + strconv.Itoa(i) + "].phone", &r.Caregivers[i].Phone})
	}
	// Every phone that is no number is named at once: named one at a
	// time, the operator fixing the reporter's is refused again for a
	// caregiver's.
	var bad []error
	for _, p := range phones {
		if *p.phone == "" {
			continue
		}
		_, ok := search.PhoneNumber(*p.phone)
		if !ok {
			bad = append(bad, model.InvalidField(p.field, "phone.number", "phone is no phone number: digits (9 or 10 after 0 or +84 for a Vietnamese number), "+
				"with spaces, dots, dashes, slashes or parentheses between them and a + before them"))
			continue
		}
		*p.phone = strings.TrimSpace(norm.NFKC.String(*p.phone))
	}
	return errors.Join(bad...)
}

// blank reports whether s says nothing: it has no letter or digit, only
// spaces, punctuation or format characters (a zero-width space, a soft
// hyphen, a byte order mark), which a name pasted from a web page or a
// chat can carry alone. Search drops them (search.Fold), so a caregiver
// of such a name would be one of whom nothing is known, though it looked
// filled in. It is the rule a step's required text follows
// (text.letter_or_digit).
func blank(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) })
}

// NormalizeText puts free text into NFC and trims surrounding space, so that
// the same words typed on two keyboards compare equal.
func NormalizeText(s string) string { return strings.TrimSpace(norm.NFC.String(s)) }
