package process_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A case's free text (its dossier of notes and records, the reasons of its
// transfers, its police referrals' texts) is stored with the case,
// written again by every step and answered whole by GetCase, whose answer
// is at most 16 MiB (--max-send-msg-size). Nothing bounded it: one worker
// adding the longest notes in a loop made the case unreadable to everyone
// after about 800 notes, and transfers proposed and declined over and
// over grew it too, as did progress notes on a service, a deadline
// paused and resumed, and D16 suspended and resumed. A note, a transfer proposed, a progress note or
// a pause or a suspension that would make it larger than
// process.MaxCaseTextBytes (a quarter of that answer) is refused with
// CASE_FULL and records nothing. The case is still worked: a transfer
// pending when it filled is declined with its reason, a service is
// completed with its last note, and steps that add no text go through.
// The test runs on a small bound, so that it writes a few texts, not the
// hundreds the default takes.
func TestACaseStopsGrowingBeforeItCannotBeRead(t *testing.T) {
	if process.MaxCaseTextBytes > (16<<20)/4 {
		t.Errorf("process.MaxCaseTextBytes is %d, more than a quarter of the 16 MiB GetCase can answer", process.MaxCaseTextBytes)
	}
	const limit = 200_000
	const answerSlack = 10_000        // a decline's reason, 6,000 bytes, sealed
	long := strings.Repeat("ệ", 2000) // a reason of 2,000 characters, 6,000 bytes
	worker, other := principal("worker.badinh"), principal("worker.other")
	var ackID int // the case's acknowledgement, which its commune may pause
	for _, tc := range []struct {
		name string
		// grow takes a step that adds text to the case and returns its
		// etag after it (the etag it was given when it was refused).
		grow func(eng *process.Engine, w *world, number, etag string) (string, error)
		// pending: a transfer awaits its decision while the case fills.
		pending bool
	}{
		{"notes", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			c, err := eng.AddNote(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, long+long+long+long)
			return cmpOr(c.Etag(), err, etag), err
		}, true},
		{"transfers proposed and declined", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			c, err := eng.ProposeTransfer(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, unitOther, long)
			if err != nil {
				return etag, err
			}
			c, err = eng.DeclineTransfer(w.ctx, other, process.Request{Case: "cases/" + number, Etag: c.Etag()}, long)
			if err != nil {
				t.Fatalf("declining a transfer: %v", err)
			}
			return c.Etag(), nil
		}, false},
		{"service progress", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			c, err := eng.RecordServiceProgress(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, 1, process.ServiceInProgress, long+long+long+long)
			return cmpOr(c.Etag(), err, etag), err
		}, false},
		{"care follow-ups", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			c, err := eng.RecordCareFollowUp(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, long+long+long+long)
			return cmpOr(c.Etag(), err, etag), err
		}, false},
		{"D16 suspended and resumed", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			police := principal("police.badinh")
			c, err := eng.SuspendPoliceDeadline(w.ctx, police, process.Request{Case: "cases/" + number, Etag: etag}, process.PoliceDecision{Number: "1/QĐ-CSĐT", Reason: long})
			if err != nil {
				return etag, err
			}
			c, err = eng.ResumePoliceDeadline(w.ctx, police, process.Request{Case: "cases/" + number, Etag: c.Etag()}, process.PoliceDecision{Number: "2/QĐ-CSĐT", Reason: long})
			if err != nil {
				t.Fatalf("resuming D16: %v", err)
			}
			return c.Etag(), nil
		}, false},
		// A pause takes a reason into the dossier, and the commune may
		// pause and resume its clock again and again, alone.
		{"deadline paused and resumed", func(eng *process.Engine, w *world, number, etag string) (string, error) {
			c, err := eng.PauseDeadline(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, ackID, strings.Repeat("ệ", 1000))
			if err != nil {
				return etag, err
			}
			c, err = eng.ResumeDeadline(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: c.Etag()}, ackID)
			if err != nil {
				t.Fatalf("resuming the deadline: %v", err)
			}
			return c.Etag(), nil
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadEnv(t)
			w := newWorld(t, e)
			defer w.close()
			eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log,
				MaxCaseTextBytes: limit})
			c := w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
			number, etag := c.Number, c.Etag()
			req := func() process.Request { return process.Request{Case: "cases/" + number, Etag: etag} }
			switch tc.name {
			case "service progress":
				etag = toApprovedPlan(t, w, number, etag)
			case "D16 suspended and resumed":
				etag = toPoliceForwarding(t, w, number, etag)
			case "care follow-ups":
				etag = toAlternativeCare(t, w, number, etag)
			case "deadline paused and resumed":
				ack := c.OpenDeadline(model.DeadlineAcknowledge, "")
				if ack == nil {
					t.Fatal("the case has no open acknowledgement to pause")
				}
				ackID = ack.ID
			}
			if tc.pending {
				proposed, err := eng.ProposeTransfer(w.ctx, worker, req(), unitOther, long)
				if err != nil {
					t.Fatal(err)
				}
				etag = proposed.Etag()
			}
			for i := 0; ; i++ {
				next, err := tc.grow(eng, w, number, etag)
				var pe *model.PreconditionError
				if errors.As(err, &pe) && pe.Reason == "CASE_FULL" {
					break
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				etag = next
				// A decline's reason may take the case past the bound, by
				// that reason: the proposal after it is refused.
				if size := sealedText(t, w, number); size > limit+answerSlack {
					t.Fatalf("after %d steps the case holds %d bytes of sealed text, over the bound of %d, and still grows", i+1, size, limit)
				}
			}
			// The refusal wrote nothing (the etag is the same), and the
			// case goes on.
			if tc.pending {
				declined, err := eng.DeclineTransfer(w.ctx, other, req(), long)
				if err != nil {
					t.Fatalf("declining the transfer pending when the case filled: %v", err)
				}
				etag = declined.Etag()
			}
			switch tc.name {
			case "service progress":
				// Completing the service, with its last note, answers the
				// process and goes through.
				if _, err := eng.RecordServiceProgress(w.ctx, worker, req(), 1, process.ServiceCompleted, long); err != nil {
					t.Errorf("completing the service of the full case: %v", err)
				}
			case "D16 suspended and resumed":
				if _, err := eng.RecordPoliceOutcome(w.ctx, principal("police.badinh"), req(), process.PoliceProsecuted); err != nil {
					t.Errorf("the police's outcome on the full case: %v", err)
				}
			default:
				if _, err := eng.Acknowledge(w.ctx, worker, req()); err != nil {
					t.Errorf("acknowledging the full case: %v", err)
				}
			}
		})
	}
}

// toAlternativeCare separates the child and ends the separation in
// alternative care, which opens the first follow-up; it returns the etag.
func toAlternativeCare(t *testing.T, w *world, number, etag string) string {
	t.Helper()
	chair := principal("chair.badinh")
	at := w.clk.Now().Add(-time.Hour)
	c, err := w.eng.StartSeparation(w.ctx, chair, process.Request{Case: "cases/" + number, Etag: etag},
		process.Separation{Start: at, Place: "nhà tạm lánh", Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "12/QĐ-UBND"})
	if err != nil {
		t.Fatalf("start the separation: %v", err)
	}
	if c, err = w.eng.EndSeparation(w.ctx, chair, process.Request{Case: "cases/" + number, Etag: c.Etag()}, process.SeparationAlternativeCare, ""); err != nil {
		t.Fatalf("end the separation in alternative care: %v", err)
	}
	return c.Etag()
}

// toApprovedPlan takes the case from intake to an approved plan of one
// service, and returns its etag.
func toApprovedPlan(t *testing.T, w *world, number, etag string) string {
	t.Helper()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	today := vntime.DateOf(w.clk.Now())
	steps := []func(process.Request) (model.Case, error){
		func(r process.Request) (model.Case, error) { return w.eng.Acknowledge(w.ctx, worker, r) },
		func(r process.Request) (model.Case, error) {
			return w.eng.RecordInitialAssessment(w.ctx, worker, r, process.InitialAssessment{HarmSeverity: 1, AbuserAccess: 1, SafetyObstacles: 1})
		},
		func(r process.Request) (model.Case, error) {
			return w.eng.RecordSpecificAssessment(w.ctx, worker, r, process.SpecificAssessment{Needs: "an toàn", ChildViews: "muốn ở nhà", MeetingRecord: "họp",
				MeetingTime: w.clk.Now(), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND"}})
		},
		func(r process.Request) (model.Case, error) {
			return w.eng.SubmitPlan(w.ctx, worker, r, []process.Service{{Name: "tư vấn", Owner: "hội phụ nữ", CommuneAssignee: "cán bộ BVTE",
				StartDate: today.String(), ExpectedEndDate: today.AddDays(30).String(), CostEstimateVND: 100000}})
		},
		func(r process.Request) (model.Case, error) {
			return w.eng.ApprovePlan(w.ctx, chair, r, process.Approval{DecisionNumber: "1/QĐ-UBND", DecisionDate: today.String()})
		},
	}
	for i, step := range steps {
		c, err := step(process.Request{Case: "cases/" + number, Etag: etag})
		if err != nil {
			t.Fatalf("step %d to an approved plan: %v", i, err)
		}
		etag = c.Etag()
	}
	return etag
}

// toPoliceForwarding refers the case to the ward police, who acknowledge
// it and forward it to the investigators, which starts D16; it returns
// the etag of the police view.
func toPoliceForwarding(t *testing.T, w *world, number, etag string) string {
	t.Helper()
	worker, police := principal("worker.badinh"), principal("police.badinh")
	c, err := w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, policeLocal, "Điều 140")
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	if c, err = w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: "cases/" + number, Etag: c.Etag()}, "12/CA"); err != nil {
		t.Fatalf("acknowledge the referral: %v", err)
	}
	if c, err = w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: "cases/" + number, Etag: c.Etag()}, "Cơ quan CSĐT", w.clk.Now()); err != nil {
		t.Fatalf("forward: %v", err)
	}
	return c.Etag()
}

// cmpOr is the etag a step answered, or, when it was refused, the one it
// was sent with.
func cmpOr(answered string, err error, sent string) string {
	if err != nil {
		return sent
	}
	return answered
}

// sealedText is the size of a case's sealed free text as stored.
func sealedText(t *testing.T, w *world, number string) int {
	t.Helper()
	var size int
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		c, err := tx.CaseByNumber(number)
		size = len(c.Dossier.Data) + len(c.Texts.Data)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return size
}

// A step sent with a request_id is remembered with its answer, for 30 days.
// The answer never shows the dossier (GetCase reads it), yet the case was
// remembered with it: every note on a long case kept another copy of all
// the notes before it, so a case's notes cost their square in the store
// (170 notes to a full case: some 350 MB of remembered answers). What is
// remembered for a step does not grow with the dossier, and a retry still
// gets the first answer.
func TestARememberedStepDoesNotKeepTheDossier(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	worker := principal("worker.badinh")
	c := w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
	etag := c.Etag()
	note := strings.Repeat("ệ", 8000)
	var last model.Case
	for i := range 6 {
		req := process.Request{Case: "cases/" + c.Number, Etag: etag, RequestID: fmt.Sprintf("note-%d", i), Fingerprint: []byte{byte(i)}}
		var err error
		if last, err = w.eng.AddNote(w.ctx, worker, req, note); err != nil {
			t.Fatal(err)
		}
		etag = last.Etag()
	}
	var rec model.IdempotencyRecord
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		rec, err = tx.Idempotency(idempotency.Key(worker, "case.addNote", "note-5"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Result) > 2*len(note) {
		t.Errorf("the sixth note's remembered answer is %d bytes: it holds the notes before it", len(rec.Result))
	}
	retried, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: "cases/" + c.Number, Etag: model.Case{Number: c.Number, Revision: 1}.Etag(), RequestID: "note-5", Fingerprint: []byte{5}}, note)
	if err != nil || retried.Etag() != last.Etag() {
		t.Errorf("the retry answers etag %s (%v), the first answer %s", retried.Etag(), err, last.Etag())
	}
}
