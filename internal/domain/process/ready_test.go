package process_test

import (
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

var baDinh, _ = units.ParseKey("00004@2025-07-01")

// StepsAllowed offers a step only when the case and the caller let it be
// taken now, not by the case's status alone: for each step with a
// precondition of its own, a case where it is offered and one (or more)
// where that precondition fails and it is not. TestOfferedStepsAreTaken
// takes the offered steps on a real case; TestPropertyProcess checks that
// no offered step is refused for its precondition.
func TestStepsAllowedByPrecondition(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	now := w.clk.Now()
	worker, chair, city := principal("worker.badinh"), principal("chair.badinh"), principal("city")
	otherWorker, otherChair, police := principal("worker.other"), principal("chair.other"), principal("police.badinh")

	open := func(status model.CaseStatus, change func(c *model.Case)) model.Case {
		c := model.Case{Number: "HN-2026-00001", Status: status, ResponsibleUnit: baDinh, Handlers: []units.Key{baDinh}, ReceiveTime: now.Add(-time.Hour)}
		if change != nil {
			change(&c)
		}
		return c
	}
	impl := func(change func(c *model.Case)) model.Case { return open(model.StatusImplementation, change) }
	deadline := func(id int, kind model.DeadlineKind, ref, unit string, change func(d *model.Deadline)) model.Deadline {
		d := model.Deadline{ID: id, Kind: kind, Ref: ref, Unit: unit, State: model.DeadlineOpen, Start: now.Add(-time.Hour), Due: now.Add(72 * time.Hour), Pausable: true}
		if change != nil {
			change(&d)
		}
		return d
	}
	separated := func(c *model.Case) {
		c.SeparationStart = now.Add(-time.Hour)
		c.Deadlines = append(c.Deadlines, deadline(1, model.DeadlineSeparationReview, "", unitBaDinh, func(d *model.Deadline) { d.Days, d.Pausable = 15, false }))
	}
	petitioned := &model.Dossier{Separation: &model.Separation{Court: &model.CourtPetition{Court: "TAND", PetitionTime: now}}}
	petitionedCase := func(c *model.Case) {
		separated(c)
		c.Deadlines[0].State = model.DeadlineMet // the petition met D4
	}
	pending := func(to string) func(c *model.Case) {
		return func(c *model.Case) {
			c.Transfers = []model.Transfer{{ID: 1, From: unitBaDinh, To: to, State: model.TransferProposed}}
			c.Deadlines = append(c.Deadlines, deadline(9, model.DeadlineTransferAccept, "transfer-1", to, func(d *model.Deadline) { d.Pausable = false }))
		}
	}
	escalated := func(c *model.Case) {
		pending(unitOther)(c)
		d := &c.Deadlines[len(c.Deadlines)-1]
		d.Breached, d.Due = true, now.Add(-time.Hour)
		d.Escalations = []model.Escalation{{To: unitCity, Time: now.Add(-time.Hour)}}
	}
	forwarded := func(change func(d *model.Deadline), decisions ...model.PoliceDecision) func(c *model.Case) {
		return func(c *model.Case) {
			c.PoliceReferrals = []model.PoliceReferral{{PoliceUnit: policeLocal, State: model.PoliceForwarded, Decisions: decisions}}
			c.Deadlines = append(c.Deadlines, deadline(5, model.DeadlineProsecutionDecision, policeLocal, policeLocal, func(d *model.Deadline) {
				d.Pausable = false
				if change != nil {
					change(d)
				}
			}))
		}
	}
	suspended := func(d *model.Deadline) { d.PausedAt = now.Add(-time.Minute) }
	extension := model.PoliceDecision{Kind: model.PoliceExtension}
	d6 := func(change func(d *model.Deadline)) func(c *model.Case) {
		return func(c *model.Case) {
			c.Deadlines = append(c.Deadlines, deadline(3, model.DeadlinePlanDraft, "plan-1", unitBaDinh, change))
		}
	}
	service := func(end time.Time) func(c *model.Case) {
		return func(c *model.Case) {
			c.PlanState = model.PlanSubmitted
			c.Services = []model.PlanService{{ID: 1, StartDate: "2026-01-01", ExpectedEndDate: end.In(time.UTC).Format(time.DateOnly)}}
		}
	}

	type when struct {
		what    string
		p       access.Principal
		c       model.Case
		dossier *model.Dossier
	}
	for _, tc := range []struct {
		step    string
		offered when
		not     []when
	}{
		{"acknowledge", when{"the responsible unit's worker", worker, open(model.StatusAwaitingAcknowledgement, nil), nil},
			[]when{{"another commune's worker", otherWorker, open(model.StatusAwaitingAcknowledgement, nil), nil}}},
		{"recordEmergencyMeasures", when{"an emergency", chair, impl(func(c *model.Case) { c.Emergency = true }), nil},
			[]when{{"no emergency", chair, impl(nil), nil}}},
		{"startSeparation", when{"a child at home", chair, impl(nil), nil},
			[]when{{"a child separated", chair, impl(separated), nil}}},
		{"endSeparation", when{"a child separated", chair, impl(separated), nil},
			[]when{{"a child at home", chair, impl(nil), nil}, {"a petition awaiting the court", chair, impl(petitionedCase), petitioned}}},
		{"extendSeparation", when{"a separation within its 15 days", chair, impl(separated), nil},
			[]when{
				{"a child at home", chair, impl(nil), nil},
				{"a separation past its limit", chair, impl(func(c *model.Case) { separated(c); c.Deadlines[0].Breached = true }), nil},
				{"a separation extended by all it may be", chair, impl(func(c *model.Case) { separated(c); c.Deadlines[0].Days = 30 }), nil},
				{"a petition awaiting the court", chair, impl(petitionedCase), petitioned},
			}},
		{"petitionCourt", when{"a child separated", chair, impl(separated), nil},
			[]when{{"a child at home", chair, impl(nil), nil}, {"a petition awaiting the court", chair, impl(petitionedCase), petitioned}}},
		{"recordCourtDecision", when{"a petition awaiting the court", chair, impl(petitionedCase), petitioned},
			[]when{{"no petition", chair, impl(separated), nil}}},
		{"recordCareFollowUp", when{"a follow-up due", worker, impl(func(c *model.Case) {
			c.Deadlines = []model.Deadline{deadline(2, model.DeadlineCareFollowUp, "follow-up-1", unitBaDinh, nil)}
		}), nil}, []when{{"no placement in alternative care", worker, impl(nil), nil}}},
		{"approvePlan", when{"services ending ahead", chair, open(model.StatusPlanning, service(now.AddDate(0, 0, 30))), nil},
			[]when{{"a service that was to end before today", chair, open(model.StatusPlanning, service(now.AddDate(0, 0, -2))), nil}}},
		{"recordReview", when{"a review", worker, open(model.StatusReview, nil), nil},
			[]when{{"a closure proposal awaiting the chair", worker, open(model.StatusReview, func(c *model.Case) { c.ClosureProposed = true }), nil}}},
		{"approveClosure", when{"any step", chair, impl(nil), nil},
			[]when{{"a child separated", chair, impl(separated), nil}, {"a transfer pending", chair, impl(pending(unitOther)), nil}}},
		{"reopen", when{"the chair of its unit", chair, open(model.StatusClosed, nil), nil},
			[]when{{"the chair of another commune", otherChair, open(model.StatusClosed, nil), nil}}},
		{"proposeTransfer", when{"no transfer pending", worker, impl(nil), nil},
			[]when{{"a transfer pending", worker, impl(pending(unitOther)), nil}, {"another commune's worker", otherWorker, impl(nil), nil}}},
		{"acceptTransfer", when{"a transfer to the caller's commune", otherWorker, impl(pending(unitOther)), nil},
			[]when{{"no transfer pending", otherWorker, impl(nil), nil}, {"the sender", worker, impl(pending(unitOther)), nil}}},
		{"declineTransfer", when{"a transfer to the caller's commune", otherWorker, impl(pending(unitOther)), nil},
			[]when{{"no transfer pending", otherWorker, impl(nil), nil}, {"the sender", worker, impl(pending(unitOther)), nil},
				{"the city before the receiver's time ran out", city, impl(pending(unitOther)), nil}}},
		{"declineTransfer", when{"the city the overdue acceptance escalated to", city, impl(escalated), nil}, nil},
		{"reassign", when{"the city, no transfer pending", city, impl(nil), nil},
			[]when{{"a transfer pending", city, impl(pending(unitOther)), nil}}},
		{"assign", when{"the chair of its unit", chair, impl(nil), nil},
			[]when{{"the chair of another commune", otherChair, impl(nil), nil}}},
		{"merge", when{"no transfer pending", chair, impl(nil), nil},
			[]when{{"a transfer pending", chair, impl(pending(unitOther)), nil}}},
		{"extendPoliceDeadline", when{"D16 running", police, impl(forwarded(nil)), nil},
			[]when{
				{"D16 suspended", police, impl(forwarded(suspended)), nil},
				{"D16 overdue", police, impl(forwarded(func(d *model.Deadline) { d.Due = now.Add(-time.Minute) })), nil},
				{"D16 extended twice", police, impl(forwarded(nil, extension, extension)), nil},
			}},
		{"suspendPoliceDeadline", when{"D16 running", police, impl(forwarded(nil)), nil},
			[]when{{"D16 suspended", police, impl(forwarded(suspended)), nil}, {"D16 overdue", police, impl(forwarded(func(d *model.Deadline) { d.Breached = true })), nil}}},
		{"resumePoliceDeadline", when{"D16 suspended", police, impl(forwarded(suspended)), nil},
			[]when{{"D16 running", police, impl(forwarded(nil)), nil}}},
		{"pauseDeadline", when{"the unit's D6 running", worker, open(model.StatusPlanning, d6(nil)), nil},
			[]when{
				{"no deadline open", worker, open(model.StatusPlanning, nil), nil},
				{"D6 paused already", worker, open(model.StatusPlanning, d6(suspended)), nil},
				{"D6 overdue", worker, open(model.StatusPlanning, d6(func(d *model.Deadline) { d.Due = now.Add(-time.Minute) })), nil},
				{"only clocks that cannot be paused", worker, impl(separated), nil},
				{"another commune's worker", otherWorker, open(model.StatusPlanning, d6(nil)), nil},
			}},
		{"resumeDeadline", when{"the unit's D6 paused", worker, open(model.StatusPlanning, d6(suspended)), nil},
			[]when{{"D6 running", worker, open(model.StatusPlanning, d6(nil)), nil}, {"D16 suspended, the police's", worker, impl(forwarded(suspended)), nil}}},
	} {
		if got := w.eng.StepsAllowed(tc.offered.p, tc.offered.c, tc.offered.dossier); !slices.Contains(got, tc.step) {
			t.Errorf("%s, %s (%s): StepsAllowed = %v, want %s offered", tc.step, tc.offered.what, tc.offered.p.UserID, got, tc.step)
		}
		for _, n := range tc.not {
			if got := w.eng.StepsAllowed(n.p, n.c, n.dossier); slices.Contains(got, tc.step) {
				t.Errorf("%s, %s (%s): StepsAllowed = %v, want %s not offered", tc.step, n.what, n.p.UserID, got, tc.step)
			}
		}
	}
}

// The steps the property test does not take (the separation's court,
// alternative care, a merge), each offered on a real case and taken, and
// no longer offered once its precondition fails.
func TestOfferedStepsAreTaken(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseNeglect)
	offered := func(p access.Principal, c model.Case, want bool, steps ...string) {
		t.Helper()
		got := w.eng.StepsAllowed(p, c, w.dossierOf(t, c))
		for _, s := range steps {
			if slices.Contains(got, s) != want {
				t.Errorf("case at %s, %s: StepsAllowed = %v, want %s offered %v", process.StatusName(c.Status), p.UserID, got, s, want)
			}
		}
	}
	req := func(c model.Case) process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	reread := func(c model.Case) model.Case {
		t.Helper()
		c, err := stored(t, w.store, c.Number)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	offered(chair, c, false, "endSeparation", "extendSeparation", "petitionCourt", "recordCourtDecision")
	offered(worker, c, false, "recordCareFollowUp")
	offered(chair, c, true, "startSeparation")
	step(w.eng.StartSeparation(w.ctx, chair, req(c), process.Separation{Start: w.clk.Now(), Place: "nhà tạm lánh", Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "12/QĐ-UBND"}))
	c = reread(c)
	offered(chair, c, false, "startSeparation", "recordCourtDecision", "approveClosure")
	offered(chair, c, true, "endSeparation", "extendSeparation", "petitionCourt")
	step(w.eng.ExtendSeparation(w.ctx, chair, req(c), 15, "trẻ chưa thể về nhà", "13/QĐ-UBND"))
	c = reread(c)
	offered(chair, c, false, "extendSeparation") // all 15 days added
	offered(chair, c, true, "petitionCourt")
	step(w.eng.PetitionCourt(w.ctx, chair, req(c), "TAND quận Ba Đình", ""))
	c = reread(c)
	offered(chair, c, false, "endSeparation", "petitionCourt", "extendSeparation", "startSeparation")
	offered(chair, c, true, "recordCourtDecision")
	step(w.eng.RecordCourtDecision(w.ctx, chair, req(c), "5/QĐ-TA", vntime.DateOf(w.clk.Now()).String(), process.SeparationAlternativeCare))
	c = reread(c)
	offered(chair, c, false, "recordCourtDecision", "endSeparation")
	offered(worker, c, true, "recordCareFollowUp")
	step(w.eng.RecordCareFollowUp(w.ctx, worker, req(c), "trẻ ổn định ở gia đình thay thế"))

	// A merge: offered while no transfer is pending on the case.
	other := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseNeglect)
	c = reread(c)
	offered(chair, c, true, "merge")
	step(w.eng.ProposeTransfer(w.ctx, worker, req(c), unitOther, "trẻ chuyển nhà"))
	c = reread(c)
	offered(chair, c, false, "merge", "approveClosure", "proposeTransfer")
	offered(worker, c, false, "acceptTransfer", "declineTransfer")
	offered(principal("worker.other"), c, true, "acceptTransfer", "declineTransfer")
	step(w.eng.DeclineTransfer(w.ctx, principal("worker.other"), req(c), "không đủ nguồn lực"))
	c = reread(c)
	offered(chair, c, true, "merge")
	step(w.eng.MergeCase(w.ctx, chair, req(c), process.Merge{Absorbed: "cases/" + other.Number, AbsorbedEtag: other.Etag(), Reason: "cùng một trẻ"}))
	w.cases = append(w.cases, c.Number, other.Number)
	w.checkInvariants(t, w.refresh(t), false)
}
