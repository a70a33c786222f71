// Package intake takes reports (form Mẫu 01) and opens or joins the cases
// they belong to: the first step of the Decree 56 process. It checks what
// the schema cannot (units in force on the report's date, dates against the
// clock), normalises text, numbers cases and makes creates idempotent. It
// must not know about protobuf, gRPC or bbolt.
package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage"
)

// The earliest date the unit reference data covers; reports before it cannot
// be placed in a commune.
var earliestReportDate = vntime.Date{Year: 2020, Month: time.January, Day: 1}

// clockSkew is how far in the future a receive time may lie, to allow for
// clients whose clocks run a little fast.
const clockSkew = 5 * time.Minute

// Service runs intake.
type Service struct {
	store storage.Store
	units *units.Registry
	clock clock.Clock
	log   *slog.Logger
}

// New returns an intake service.
func New(store storage.Store, reg *units.Registry, clk clock.Clock, log *slog.Logger) *Service {
	return &Service{store: store, units: reg, clock: clk, log: log}
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
}

// CreateReport stores a report. A report that needs intervention opens a
// case, or joins the one named in the input.
func (s *Service) CreateReport(ctx context.Context, in CreateReportInput) (model.Report, error) {
	now := s.clock.Now()
	r := in.Report
	normalizeReport(&r)
	if err := s.checkReport(&r, in.IncidentCommuneCode, now); err != nil {
		return model.Report{}, err
	}
	var caseNumber string
	if in.CaseName != "" {
		n, err := ParseCaseName(in.CaseName)
		if err != nil {
			return model.Report{}, model.InvalidField("report.case", "case.name", "%v", err)
		}
		caseNumber = n
	}
	id, err := uuid.NewV7()
	if err != nil {
		return model.Report{}, fmt.Errorf("new report id: %w", err)
	}
	r.ID = id.String()
	r.CreateTime = now

	var out model.Report
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		prior, replayed, err := claimRequest(tx, "CreateReport", in.RequestID, in.Fingerprint, r.ID, now)
		if err != nil {
			return err
		}
		if replayed {
			out, err = tx.Report(prior)
			return err
		}
		switch {
		case caseNumber != "":
			c, err := tx.CaseByNumber(caseNumber)
			if err != nil {
				return notFoundField(err, "report.case", "case %s does not exist", caseNumber)
			}
			r.CaseNumber = c.Number
			if err := addReportToCase(tx, &c, r, now); err != nil {
				return err
			}
		case r.CallType == model.CallIntervention:
			c, err := openCase(tx, r, now)
			if err != nil {
				return err
			}
			r.CaseNumber = c.Number
		}
		if err := tx.CreateReport(r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return model.Report{}, err
	}
	s.log.InfoContext(ctx, "report created", "report", out.ID, "case", out.CaseNumber, "call_type", int(out.CallType))
	return out, nil
}

// openCase opens a new case for a report, numbered in the year it is opened
// (Vietnam time), responsible: the commune where it happened.
func openCase(tx storage.Tx, r model.Report, now time.Time) (model.Case, error) {
	year := vntime.DateOf(now).Year
	seq, err := tx.NextCaseSequence(year)
	if err != nil {
		return model.Case{}, err
	}
	c := model.Case{
		Number:          FormatCaseNumber(year, seq),
		Status:          model.StatusAwaitingAcknowledgement,
		ResponsibleUnit: r.IncidentUnit,
		IncidentUnit:    r.IncidentUnit,
		ReportIDs:       []string{r.ID},
		ReceiveTime:     r.ReceiveTime,
		ImmediateDanger: r.ImmediateDanger,
		CreateTime:      now,
		UpdateTime:      now,
		Revision:        1,
	}
	if err := tx.CreateCase(&c); err != nil {
		return model.Case{}, err
	}
	return c, nil
}

// addReportToCase adds a report to a case: the case keeps the earliest
// receive time, since the legal clocks start when information first came in.
func addReportToCase(tx storage.Tx, c *model.Case, r model.Report, now time.Time) error {
	if c.Status == model.StatusClosed {
		return model.Precondition("CASE_CLOSED", "case %s is closed; reopen it before adding reports", c.Number)
	}
	c.ReportIDs = append(c.ReportIDs, r.ID)
	if r.ReceiveTime.Before(c.ReceiveTime) {
		c.ReceiveTime = r.ReceiveTime
	}
	c.ImmediateDanger = c.ImmediateDanger || r.ImmediateDanger
	c.UpdateTime = now
	c.Revision++
	return tx.UpdateCase(*c)
}

// LinkReport attaches a report that belongs to no case to an existing case.
func (s *Service) LinkReport(ctx context.Context, reportName, caseName, requestID string, fingerprint []byte) (model.Report, error) {
	reportID, err := ParseReportName(reportName)
	if err != nil {
		return model.Report{}, model.InvalidField("name", "report.name", "%v", err)
	}
	caseNumber, err := ParseCaseName(caseName)
	if err != nil {
		return model.Report{}, model.InvalidField("case", "case.name", "%v", err)
	}
	now := s.clock.Now()
	var out model.Report
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		_, replayed, err := claimRequest(tx, "LinkReport", requestID, fingerprint, reportID, now)
		if err != nil {
			return err
		}
		if replayed {
			out, err = tx.Report(reportID)
			return err
		}
		r, err := tx.Report(reportID)
		if err != nil {
			return err
		}
		if r.CaseNumber != "" {
			if r.CaseNumber == caseNumber {
				out = r // already done: linking is idempotent by nature
				return nil
			}
			return model.Precondition("REPORT_ALREADY_LINKED", "report %s already belongs to case %s", reportID, r.CaseNumber)
		}
		c, err := tx.CaseByNumber(caseNumber)
		if err != nil {
			return notFoundField(err, "case", "case %s does not exist", caseNumber)
		}
		if err := addReportToCase(tx, &c, r, now); err != nil {
			return err
		}
		r.CaseNumber = c.Number
		if err := tx.UpdateReport(r); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// GetReport returns one report by its resource name.
func (s *Service) GetReport(ctx context.Context, name string) (model.Report, error) {
	id, err := ParseReportName(name)
	if err != nil {
		return model.Report{}, model.InvalidField("name", "report.name", "%v", err)
	}
	var r model.Report
	err = s.store.View(ctx, func(tx storage.ReadTx) error {
		r, err = tx.Report(id)
		return err
	})
	return r, err
}

// GetCase returns one case by its resource name.
func (s *Service) GetCase(ctx context.Context, name string) (model.Case, error) {
	number, err := ParseCaseName(name)
	if err != nil {
		return model.Case{}, model.InvalidField("name", "case.name", "%v", err)
	}
	var c model.Case
	err = s.store.View(ctx, func(tx storage.ReadTx) error {
		c, err = tx.CaseByNumber(number)
		return err
	})
	return c, err
}

// ListReports lists reports, newest first.
func (s *Service) ListReports(ctx context.Context, q storage.ReportQuery) (reports []model.Report, next string, err error) {
	err = s.store.View(ctx, func(tx storage.ReadTx) error {
		reports, next, err = tx.ListReports(q)
		return err
	})
	return reports, next, err
}

// ListCases lists cases, newest first.
func (s *Service) ListCases(ctx context.Context, q storage.CaseQuery) (cases []model.Case, next string, err error) {
	err = s.store.View(ctx, func(tx storage.ReadTx) error {
		cases, next, err = tx.ListCases(q)
		return err
	})
	return cases, next, err
}

// claimRequest makes a request with a request_id idempotent. If an earlier
// request used the id, it returns the id of the resource that request
// produced and replayed=true (or ErrIdempotencyMismatch if the request
// differs); otherwise it records, in the caller's transaction, that this
// request produces resource. Without a request_id it does nothing.
func claimRequest(tx storage.Tx, method, requestID string, fingerprint []byte, resource string, now time.Time) (prior string, replayed bool, err error) {
	if requestID == "" {
		return "", false, nil
	}
	key := method + ":" + requestID
	rec, err := tx.Idempotency(key)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return "", false, tx.PutIdempotency(model.IdempotencyRecord{
			Key: key, Fingerprint: fingerprint, Resource: resource, CreateTime: now,
		})
	case err != nil:
		return "", false, err
	case !bytes.Equal(rec.Fingerprint, fingerprint):
		return "", false, fmt.Errorf("request_id %q was first used for a different request: %w", requestID, model.ErrIdempotencyMismatch)
	}
	return rec.Resource, true, nil
}

// notFoundField turns a missing referenced record into a field error: the
// request named something that does not exist.
func notFoundField(err error, field, format string, args ...any) error {
	if errors.Is(err, model.ErrNotFound) {
		return model.InvalidField(field, "reference.exists", format, args...)
	}
	return err
}

// checkReport checks what the schema cannot and resolves the commune.
func (s *Service) checkReport(r *model.Report, communeCode string, now time.Time) error {
	if r.ReceiveTime.After(now.Add(clockSkew)) {
		return model.InvalidField("report.receive_time", "time.not_future", "receive_time %s lies in the future", r.ReceiveTime.Format(time.RFC3339))
	}
	day := vntime.DateOf(r.ReceiveTime)
	if day.Before(earliestReportDate) {
		return model.InvalidField("report.receive_time", "time.covered", "receive_time must be on or after %s (Vietnam time)", earliestReportDate)
	}
	unit, ok := s.units.InForce(communeCode, day)
	if !ok {
		return model.InvalidField("report.incident_commune_code", "unit.in_force", "no unit with code %q was in force on %s", communeCode, day)
	}
	if unit.Level != units.LevelCommune {
		return model.InvalidField("report.incident_commune_code", "unit.commune", "%s is a %s, not a commune", communeCode, unit.Level)
	}
	r.IncidentUnit = unit.Key
	for i, c := range r.Children {
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

// normalizeReport puts all free text into NFC and trims surrounding space, so
// that the same name typed on two keyboards compares equal.
func normalizeReport(r *model.Report) {
	for _, p := range []*string{&r.FamilySituation, &r.ActionsTaken, &r.Narrative,
		&r.Reporter.FullName, &r.Reporter.Phone, &r.Reporter.RelationToChild} {
		*p = nfc(*p)
	}
	for i := range r.Children {
		c := &r.Children[i]
		for _, p := range []*string{&c.FullName, &c.Location, &c.Condition, &c.ExpectedHarm} {
			*p = nfc(*p)
		}
	}
	for i := range r.Caregivers {
		g := &r.Caregivers[i]
		for _, p := range []*string{&g.FullName, &g.Relation, &g.Phone, &g.Address} {
			*p = nfc(*p)
		}
	}
}

func nfc(s string) string { return strings.TrimSpace(norm.NFC.String(s)) }

var caseNumberPattern = regexp.MustCompile(`^HN-([0-9]{4})-([0-9]{5,})$`)

// FormatCaseNumber makes the number of the seq-th case of a year, e.g.
// HN-2026-00123: short to read aloud, digits only after the prefix so it
// cannot be misheard as letters, and distinct from internal keys.
func FormatCaseNumber(year int, seq uint64) string {
	return fmt.Sprintf("HN-%04d-%05d", year, seq)
}

// ParseCaseName accepts "cases/HN-2026-00123" or a bare case number, in any
// case and with surrounding spaces (police type them by hand), and returns
// the canonical case number.
func ParseCaseName(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "cases/")))
	if !caseNumberPattern.MatchString(n) {
		return "", fmt.Errorf("%q is not a case name like cases/HN-2026-00123", name)
	}
	return n, nil
}

// ParseReportName accepts "reports/{uuid}" and returns the id.
func ParseReportName(name string) (string, error) {
	id, ok := strings.CutPrefix(name, "reports/")
	if !ok {
		return "", fmt.Errorf("%q is not a report name like reports/{id}", name)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return "", fmt.Errorf("%q is not a report name like reports/{id}", name)
	}
	return id, nil
}
