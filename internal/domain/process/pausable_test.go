package process_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// The API's pausable is true exactly when :pauseDeadline would pause the
// deadline, for the unit that must meet it: for every kind of deadline in
// the process's table, in every state (running, paused, overdue, past due
// before the scheduler saw it, met, missed, cancelled, closed while
// paused, on a closed case, and stored pausable or not), process.Pausable
// says what the worker of that unit gets when they try. The deadline is
// written straight into the store as Phường Ba Đình's, so that who asks
// is never the reason: a police clock, D16 among them, must be refused by
// its kind.
func TestPausableIsWhatPauseDeadlineDoes(t *testing.T) {
	e := loadEnv(t)
	now := start.Add(2 * time.Hour)
	closeAt := func(st model.DeadlineState) func(*model.Deadline) {
		return func(d *model.Deadline) { d.State, d.DoneTime = st, now.Add(-time.Minute) }
	}
	variants := []struct {
		name       string
		change     func(*model.Deadline)
		caseClosed bool
	}{
		{"running", func(*model.Deadline) {}, false},
		{"stored not pausable", func(d *model.Deadline) { d.Pausable = false }, false},
		{"paused", func(d *model.Deadline) { d.PausedAt = now.Add(-time.Hour) }, false},
		{"overdue", func(d *model.Deadline) { d.Due, d.Breached = now.Add(-time.Minute), true }, false},
		{"due now, not yet breached", func(d *model.Deadline) { d.Due = now }, false},
		{"met", closeAt(model.DeadlineMet), false},
		{"missed", closeAt(model.DeadlineMissed), false},
		{"cancelled", closeAt(model.DeadlineCancelled), false},
		{"cancelled while paused", func(d *model.Deadline) { d.PausedAt = now.Add(-time.Hour); closeAt(model.DeadlineCancelled)(d) }, false},
		{"on a closed case", func(*model.Deadline) {}, true},
	}
	pausableKinds := 0
	for _, kind := range process.DeadlineKinds() {
		for _, v := range variants {
			t.Run(string(kind)+"/"+v.name, func(t *testing.T) {
				w := newWorld(t, e)
				defer w.close()
				w.clk.Set(now)
				c := w.caseWithDeadline(t, kind, v.change, v.caseClosed)
				d := *c.Deadline(99)
				want := process.Pausable(c, d, now)
				if want && v.name == "running" {
					pausableKinds++
				}
				_, err := w.eng.PauseDeadline(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, 99, "không liên lạc được với trẻ")
				if (err == nil) != want {
					t.Errorf("%s %s: pausable %v, but :pauseDeadline answered %v", kind, v.name, want, err)
				}
				var pre *model.PreconditionError
				if err != nil && !(errors.As(err, &pre) && slices.Contains(pauseReasons, pre.Reason)) {
					t.Errorf("%s %s: refused for another reason than the deadline's state: %v", kind, v.name, err)
				}
			})
		}
	}
	// Some kinds pause, and not every one: the table is not all one way.
	if pausableKinds == 0 || pausableKinds == len(process.DeadlineKinds()) {
		t.Errorf("%d of %d kinds pause when running", pausableKinds, len(process.DeadlineKinds()))
	}
	for _, kind := range []model.DeadlineKind{model.DeadlineProsecutionDecision, model.DeadlineEmergencyMeasures, model.DeadlinePoliceForward} {
		w := newWorld(t, e)
		w.clk.Set(now)
		c := w.caseWithDeadline(t, kind, func(*model.Deadline) {}, false)
		if process.Pausable(c, *c.Deadline(99), now) {
			t.Errorf("a running %s, stored pausable, shows pausable", kind)
		}
		w.close()
	}
}

// caseWithDeadline opens an ordinary case in Phường Ba Đình and adds to it,
// in the store, deadline 99 of kind: running, stored pausable, due in two
// days, as change leaves it; closed says the case is closed too.
func (w *world) caseWithDeadline(t *testing.T, kind model.DeadlineKind, change func(*model.Deadline), closed bool) model.Case {
	t.Helper()
	opened := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseNeglect)
	var c model.Case
	err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		c = opened // a store may run the body again: each run starts afresh
		c.Deadlines = slices.Clone(opened.Deadlines)
		d := model.Deadline{
			ID: 99, Kind: kind, Ref: "test", Clock: model.ClockHours, Length: 72 * time.Hour, Unit: unitBaDinh,
			Start: w.clk.Now().Add(-24 * time.Hour), Due: w.clk.Now().Add(48 * time.Hour), Pausable: true, State: model.DeadlineOpen,
		}
		change(&d)
		c.Deadlines = append(c.Deadlines, d)
		if closed {
			c.Status, c.CloseTime = model.StatusClosed, w.clk.Now().Add(-time.Minute)
		}
		c.Revision++
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The table of deadline kinds names every kind the model declares: a new
// kind without a row there would be shown and paused by no rule.
func TestDeadlineKindsTableIsWhole(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../model/process.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []model.DeadlineKind
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "DeadlineKind" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					declared = append(declared, model.DeadlineKind(lit.Value[1:len(lit.Value)-1]))
				}
			}
		}
	}
	table := process.DeadlineKinds()
	if len(declared) < 12 {
		t.Fatalf("found %d declared kinds in model/process.go, want 12 or more: %v", len(declared), declared)
	}
	for _, k := range declared {
		if !slices.Contains(table, k) {
			t.Errorf("deadline kind %s has no row in the process's table of kinds", k)
		}
	}
	if len(table) != len(declared) {
		t.Errorf("the table has %d kinds, the model declares %d", len(table), len(declared))
	}
}
