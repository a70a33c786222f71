package process_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// On several instances, leadership can overlap for a moment: an old
// leader that has not yet noticed it lost still runs its scheduler while
// the new one runs its own. Firing a timer and removing it commit in one
// transaction of a serialisable store, so two engines running Run on the
// same store, over the same due timers, fire each of them exactly once:
// every warning, breach and escalation is on its case's timeline once.
func TestTwoSchedulersFireEachTimerOnce(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	other := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})

	// Cases in two communes, half of them emergencies (a 12-hour clock
	// besides the acknowledgement's), none ever acknowledged: every
	// deadline warns, falls due and escalates to the city.
	age := int32(9)
	for i := range 24 {
		r := model.Report{
			Channel: 1, ReceiveTime: w.clk.Now(), CallType: model.CallIntervention,
			Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
			Narrative: "trẻ bị đánh", SuspectedAbuse: []model.AbuseForm{1}, ImmediateDanger: i%2 == 0,
			Reporter: model.Reporter{Anonymous: true},
		}
		commune := []string{"00004", "00091"}[i%3%2]
		out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{Report: r, IncidentCommuneCode: commune})
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		w.cases = append(w.cases, out.CaseNumber)
		w.clk.Advance(7 * time.Minute)
	}

	ctx, cancel := context.WithCancel(w.ctx)
	var wg sync.WaitGroup
	for _, eng := range []*process.Engine{w.eng, other} {
		wg.Go(func() {
			if err := eng.Run(ctx, time.Millisecond); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	// Three hours at a time over six weeks of March and April 2026
	// (working days and weekends), waiting each time until the engines
	// have left no timer due: they race for the same timers at every step.
	end := w.clk.Now().AddDate(0, 0, 42)
	for w.clk.Now().Before(end) {
		w.clk.Advance(3 * time.Hour)
		w.waitNoneDue(t)
	}
	cancel()
	wg.Wait()

	s := w.refresh(t)
	w.checkInvariants(t, s, true)
	seen := map[string]int{}
	for _, n := range w.cases {
		for _, ev := range s.events[n] {
			switch ev.Kind {
			case "DEADLINE_WARNING", "DEADLINE_BREACHED", "ESCALATED":
				seen[ev.Kind]++
				k := fmt.Sprintf("%s deadline %d %s: %s", n, ev.DeadlineID, ev.Kind, ev.Detail)
				seen[k]++
				if seen[k] > 1 {
					t.Errorf("case %s has %q %d times", n, k, seen[k])
				}
			}
		}
	}
	// Every deadline fell due at its commune and was escalated to the
	// city, the top: one breach and one escalation each. (Without this the
	// test would pass on engines that fire nothing.)
	deadlines := 0
	for _, n := range w.cases {
		deadlines += len(s.cases[n].Deadlines)
	}
	if seen["DEADLINE_WARNING"] == 0 || seen["DEADLINE_BREACHED"] != deadlines || seen["ESCALATED"] != deadlines {
		t.Errorf("fired %d warnings, %d breaches, %d escalations for %d deadlines; want warnings, and one breach and one escalation a deadline",
			seen["DEADLINE_WARNING"], seen["DEADLINE_BREACHED"], seen["ESCALATED"], deadlines)
	}
}

// waitNoneDue waits until no timer is due at the clock's time: the
// engines' Run loops, polling every millisecond, have fired them all.
func (w *world) waitNoneDue(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		var due []model.Timer
		err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
			var err error
			due, err = tx.DueTimers(w.clk.Now(), 1)
			return err
		})
		if err != nil {
			t.Fatalf("due timers: %v", err)
		}
		if len(due) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timers still due at %s after a minute: %+v", w.clk.Now(), due)
		}
		time.Sleep(time.Millisecond)
	}
}
