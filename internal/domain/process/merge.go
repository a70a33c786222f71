package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
)

// Merge names the case a merge absorbs into the one the request names.
type Merge struct {
	Absorbed     string // "cases/{number}"
	AbsorbedEtag string // the absorbed case's current etag
	Reason       string
}

// mergeEventsPage is how many timeline events a merge copies per read.
const mergeEventsPage = 500

// MergeCase merges two cases of the same child: the case the request
// names survives, the absorbed one closes with a pointer to it
// (Case.MergedInto), and its number resolves to the survivor from then on
// (intake.ResolveCase). The survivor takes the absorbed case's reports
// (re-sealed under its key), its timeline (copied, each line marked with
// the old number), its police referrals and its open deadlines: a
// deadline of a kind and ref the survivor also runs keeps the earlier
// legal start and its due; the absorbed case's acknowledgement is met by
// the merge when the survivor was acknowledged already; a police unit
// referred on both keeps the referral further along the police track (of
// two as far along, the earlier) and that referral's clocks.
// The absorbed case's clocks close and their timers go, so nothing fires
// twice. Both cases must be open, unmerged, without a pending transfer,
// and fully in the caller's scope; each gets a MERGED line on its
// timeline, the reason in its dossier and one audit event.
func (e *Engine) MergeCase(ctx context.Context, p access.Principal, req Request, in Merge) (model.Case, error) {
	reason, err := required("reason", in.Reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	absorbedNumber, err := intake.ParseCaseName(in.Absorbed)
	if err != nil {
		return model.Case{}, model.InvalidField("absorbed_case", "case.name", "%v", err)
	}
	if in.AbsorbedEtag == "" {
		return model.Case{}, model.InvalidField("absorbed_etag", "required", "absorbed_etag is required: read the absorbed case and send its etag")
	}
	if number, err := intake.ParseCaseName(req.Case); err == nil && number == absorbedNumber {
		return model.Case{}, model.InvalidField("absorbed_case", "case.merge_self", "a case cannot be merged with itself: name another case in absorbed_case")
	}
	return e.do(ctx, p, req, step{name: "merge", exact: true, apply: func(s *stepCtx) error {
		// Its gate's Ready found the case the request names mergeable.
		a, err := e.loadCase(s.tx, absorbedNumber, false)
		if errors.Is(err, model.ErrNotFound) {
			return otherCaseNotFound{absorbedNumber}
		}
		if err != nil {
			return fmt.Errorf("absorbed case %s: %w", absorbedNumber, err)
		}
		// Both cases must be the caller's: an absorbed case out of scope
		// looks absent, as the survivor does, and the attempt is on its
		// trail.
		if e.access.CaseView(s.p, a) != access.ViewFull {
			return otherCaseNotFound{absorbedNumber}
		}
		if err := requireMergeable("absorbed_case", &a); err != nil {
			return err
		}
		if a.Etag() != in.AbsorbedEtag {
			return fmt.Errorf("absorbed case %s has etag %s, the request carries %q: %w", a.Number, a.Etag(), in.AbsorbedEtag, model.ErrConflict)
		}
		as := &stepCtx{e: e, tx: s.tx, p: s.p, now: s.now, asked: s.asked, c: &a, oldFires: map[int]time.Time{}}
		for _, d := range a.Deadlines {
			as.oldFires[d.ID] = d.NextFire
		}
		// What the absorbed case's steps recorded goes into the
		// survivor's dossier before the merge closes it: its number now
		// answers the survivor, so that is where it must be read.
		ad, err := as.open()
		if err != nil {
			return err
		}
		kept := model.MergedDossier{Case: a.Number, Dossier: *ad, Services: slices.Clone(a.Services)}
		if err := s.edit(func(d *model.Dossier) { d.Merged = append(d.Merged, kept) }); err != nil {
			return err
		}
		if err := s.absorb(as); err != nil {
			return err
		}
		if err := s.note("MERGE", reason); err != nil {
			return err
		}
		if err := as.note("MERGE", reason); err != nil {
			return err
		}
		// The survivor is found by what both cases' reports say; the
		// absorbed case, which has no report left, by nothing.
		if e.search != nil {
			if err := e.search.IndexCase(s.tx, *s.c); err != nil {
				return err
			}
			if err := e.search.IndexCase(s.tx, a); err != nil {
				return err
			}
		}
		// Each case's merge event names the other, so that the auditor
		// can follow the child's case from either trail to the other.
		s.auditReason = "absorbed " + access.CaseResource(a.Number)
		as.auditReason = "merged into " + access.CaseResource(s.c.Number)
		_, err = as.commit("case.merge")
		return err
	}})
}

// requireMergeable refuses a case a merge cannot take, naming the field
// of the request that named it.
func requireMergeable(field string, c *model.Case) error {
	switch {
	case c.MergedInto != "":
		return model.Precondition("ALREADY_MERGED", "%s: case %s was merged into %s already", field, c.Number, c.MergedInto)
	case c.Status == model.StatusClosed:
		return model.Precondition("CASE_CLOSED", "%s: case %s is closed; reopen it first", field, c.Number)
	case c.PendingTransfer() != nil:
		return model.Precondition("TRANSFER_PENDING", "%s: a transfer of case %s awaits a decision; it must be accepted or declined first", field, c.Number)
	}
	return nil
}

// absorb moves what the absorbed case a holds into the survivor s.c and
// closes a.
func (s *stepCtx) absorb(a *stepCtx) error {
	sc, ac := s.c, a.c
	if err := s.takeReports(ac); err != nil {
		return err
	}
	if err := s.copyTimeline(ac); err != nil {
		return err
	}
	// Who may see the child's case: everyone who could see either.
	for _, h := range ac.Handlers {
		if !containsKey(sc.Handlers, h) {
			sc.Handlers = append(sc.Handlers, h)
		}
	}
	sc.IntakeUsers = appendNew(sc.IntakeUsers, ac.IntakeUsers...)
	sc.PoliceAlerted = appendNew(sc.PoliceAlerted, ac.PoliceAlerted...)
	sc.IntakeUnits = appendNew(sc.IntakeUnits, ac.IntakeUnits...)
	sc.Children = append(sc.Children, ac.Children...)
	for _, f := range ac.SuspectedAbuse {
		if !slices.Contains(sc.SuspectedAbuse, f) {
			sc.SuspectedAbuse = append(sc.SuspectedAbuse, f)
		}
	}
	for _, g := range ac.SpecialCircumstances {
		if !slices.Contains(sc.SpecialCircumstances, g) {
			sc.SpecialCircumstances = append(sc.SpecialCircumstances, g)
		}
	}
	sc.ImmediateDanger = sc.ImmediateDanger || ac.ImmediateDanger
	if ac.ReceiveTime.Before(sc.ReceiveTime) {
		sc.ReceiveTime = ac.ReceiveTime // the legal clocks count from the first information
	}
	if ac.Emergency && !sc.Emergency {
		sc.Emergency, sc.EmergencyReason = true, ac.EmergencyReason
	}
	ac.Status, ac.CloseTime, ac.ClosureProposed = model.StatusClosed, s.now, false
	ac.MergedInto = sc.Number
	sc.MergedFrom = append(sc.MergedFrom, ac.Number)
	survivor, absorbed := access.UnitName(sc.ResponsibleUnit), access.UnitName(ac.ResponsibleUnit)
	s.event("MERGED", fmt.Sprintf("case %s merged into this case", ac.Number), 0, survivor, absorbed)
	s.takeDeadlines(a, s.takeReferrals(ac))
	if sc.Emergency {
		// The clock kept by its start may be an ordinary case's: an
		// emergency's is acknowledge_emergency, as when a joining report
		// makes a case one (EmergencyReported), and cannot be paused.
		s.acknowledgeAsEmergency()
		s.waivePlanClocks()
	}
	// The absorbed case's timeline, which its old number still shows,
	// ends with where the case went: after its clocks closed.
	a.event("MERGED", fmt.Sprintf("merged into case %s, which its number now resolves to", sc.Number), 0)
	return nil
}

// takeReports moves the absorbed case's reports to the survivor: their
// case number, and their private part re-sealed under the survivor's key.
func (s *stepCtx) takeReports(ac *model.Case) error {
	for _, id := range ac.ReportIDs {
		r, err := s.tx.Report(id)
		if err != nil {
			return fmt.Errorf("report %s of case %s: %w", id, ac.Number, err)
		}
		r.CaseNumber = s.c.Number
		if r, err = s.e.vault.MoveToCase(s.tx, r); err != nil {
			return err
		}
		if err := s.tx.UpdateReport(r); err != nil {
			return err
		}
		s.c.ReportIDs = append(s.c.ReportIDs, id)
	}
	// A case lists only the reports that name it; it keeps the one that
	// opened it, whose call it still counts under in the statistics.
	if ac.FirstReportID == "" && len(ac.ReportIDs) > 0 {
		ac.FirstReportID = ac.ReportIDs[0]
	}
	ac.ReportIDs = nil
	return nil
}

// copyTimeline copies the absorbed case's timeline onto the survivor's,
// each line marked with the old number and at its own time. The lines
// name no deadline: the absorbed case's deadline ids mean nothing on the
// survivor.
func (s *stepCtx) copyTimeline(ac *model.Case) error {
	var after uint64
	for {
		page, err := s.tx.CaseEvents(ac.ID, after, mergeEventsPage)
		if err != nil {
			return err
		}
		for _, ev := range page {
			ev.Seq, ev.DeadlineID = 0, 0
			ev.Detail = strings.TrimSpace(fmt.Sprintf("[%s] %s", ac.Number, ev.Detail))
			s.events = append(s.events, ev)
		}
		if len(page) < mergeEventsPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// takeReferrals carries the absorbed case's police track over: a police
// unit referred only on the absorbed case brings its referral; one
// referred on both keeps the referral further along the police track
// (the one the police worked on: their reference number, forwarding,
// decisions and outcome must not give way to a referral they never
// touched), and of two as far along the earlier. It returns the police
// units whose referral came from the absorbed case.
func (s *stepCtx) takeReferrals(ac *model.Case) map[string]bool {
	fromAbsorbed := map[string]bool{}
	for _, r := range ac.PoliceReferrals {
		i := slices.IndexFunc(s.c.PoliceReferrals, func(x model.PoliceReferral) bool { return x.PoliceUnit == r.PoliceUnit })
		if i < 0 {
			s.c.PoliceReferrals = append(s.c.PoliceReferrals, r)
			fromAbsorbed[r.PoliceUnit] = true
			continue
		}
		own := s.c.PoliceReferrals[i]
		theirs, ours := policeStageOf(r.State), policeStageOf(own.State)
		if theirs < ours || theirs == ours && !r.ReferTime.Before(own.ReferTime) {
			continue
		}
		s.c.PoliceReferrals[i] = r
		fromAbsorbed[r.PoliceUnit] = true
	}
	return fromAbsorbed
}

// takeDeadlines combines the open deadlines. The survivor's steps meet a
// deadline by kind and ref, so each kind and ref stays open once, with the
// earliest legal start and its due. Police clocks follow the referral
// kept (takeReferrals). Every deadline of the absorbed case closes; its
// timers go with the next sync.
func (s *stepCtx) takeDeadlines(a *stepCtx, policeFromAbsorbed map[string]bool) {
	sc, ac := s.c, a.c
	survivorUnit := access.UnitName(sc.ResponsibleUnit)
	for unit := range policeFromAbsorbed {
		// The survivor's referral gives way, and with it its clocks.
		for i := range sc.Deadlines {
			if d := &sc.Deadlines[i]; d.Open() && d.Unit == unit {
				s.cancel(d.Kind, d.Ref, "merged: the referral from case "+ac.Number+" counts")
			}
		}
	}
	for i := range ac.Deadlines {
		d := ac.Deadlines[i]
		if !d.Open() {
			continue
		}
		police := strings.HasPrefix(d.Unit, "policeUnits/")
		switch {
		case police && !policeFromAbsorbed[d.Unit]:
			a.cancel(d.Kind, d.Ref, "merged into "+sc.Number+", whose referral counts")
			continue
		case d.Kind == model.DeadlineAcknowledge && sc.Status != model.StatusAwaitingAcknowledgement:
			// The survivor's unit has the child's case in hand: the merge
			// is its acknowledgement of this one.
			a.meet(d.Kind, d.Ref)
			continue
		}
		carried := d
		if !police {
			carried.Unit = survivorUnit
		}
		if own := sc.OpenDeadline(d.Kind, d.Ref); own != nil {
			first := d.Start.Before(own.Start)
			if d.Kind == model.DeadlineAcknowledge && sc.Emergency {
				// An emergency is acknowledged by the sooner of the two
				// times, not the one that started first.
				first = d.Due.Before(own.Due)
			}
			if !first {
				a.cancel(d.Kind, d.Ref, fmt.Sprintf("merged into %s, whose deadline started first", sc.Number))
				continue
			}
			carried.ID, carried.NextFire = own.ID, own.NextFire
			*own = carried
			s.event("DEADLINE_MERGED", fmt.Sprintf("%s now counts from %s (case %s), due %s", d.Kind, hanoi(d.Start), ac.Number, hanoi(d.Due)), own.ID)
		} else {
			carried.ID = 1
			for _, x := range sc.Deadlines {
				carried.ID = max(carried.ID, x.ID+1)
			}
			carried.NextFire = time.Time{}
			sc.Deadlines = append(sc.Deadlines, carried)
			s.event("DEADLINE_MERGED", fmt.Sprintf("%s from case %s, started %s, due %s", d.Kind, ac.Number, hanoi(d.Start), hanoi(d.Due)), carried.ID)
		}
		a.cancel(d.Kind, d.Ref, "merged into "+sc.Number)
	}
}

// appendNew appends the values xs lacks.
func appendNew(xs []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(xs, v) {
			xs = append(xs, v)
		}
	}
	return xs
}
