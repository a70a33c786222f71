package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A case closes on TURNED_16 once every child its reports name is 16 (a
// child is under 16: Child Law Art. 1): by the date of birth, or by the
// age estimated when the report was received and the years since. A child
// whose age no report records does not hold it back (the chair's reason
// says why). TURNED_18 stays a ground of its own, not held to an age.
func TestClosureOnTurned16(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	chair := principal("chair.badinh")
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, vntime.Location()) }
	birth, _ := vntime.ParseDate("2010-06-15")
	fifteen := int32(15)
	// open records a report received on 2 Mar 2026 (a Monday) naming
	// children, and returns its case.
	open := func(children ...model.Child) model.Case {
		t.Helper()
		receive := day(2026, 3, 2)
		w.clk.Set(receive)
		out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
			Report: model.Report{
				Channel: 1, ReceiveTime: receive, CallType: model.CallIntervention, Children: children,
				Narrative: "trẻ bị bỏ mặc", SuspectedAbuse: []model.AbuseForm{model.AbuseNeglect}, Reporter: model.Reporter{Anonymous: true},
			},
			IncidentCommuneCode: "00004",
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := stored(t, w.store, out.CaseNumber)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	closeOn := func(c model.Case, at time.Time, ground model.ClosureGround) (model.Case, error) {
		w.clk.Set(at)
		return w.eng.ApproveClosure(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()},
			process.Closure{Ground: ground, Reason: "trẻ đã đủ 16 tuổi, không còn là trẻ em theo Luật Trẻ em"})
	}
	under16 := func(what string, err error) {
		t.Helper()
		var pre *model.PreconditionError
		if !errors.As(err, &pre) || pre.Reason != "CHILD_UNDER_16" {
			t.Fatalf("%s: %v, want CHILD_UNDER_16", what, err)
		}
	}
	closed := func(what string, c model.Case, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if c.Status != model.StatusClosed {
			t.Fatalf("%s: status %d, want closed", what, c.Status)
		}
	}

	// By the date of birth: 16 on 15 June 2026, not the day before.
	c := open(model.Child{FullName: "Nguyễn Văn An", BirthDate: birth, Sex: 1})
	_, err := closeOn(c, day(2026, 6, 14), model.ClosureTurned16)
	under16("born 2010-06-15, closed on 2026-06-14", err)
	got, err := closeOn(c, day(2026, 6, 15), model.ClosureTurned16)
	closed("born 2010-06-15, closed on 2026-06-15", got, err)

	// By an age estimated at 15 when the report was received on 2 Mar
	// 2026: 16 a year later. A younger sibling named beside holds it back.
	c = open(model.Child{FullName: "Trần Thị Bình", EstimatedAge: &fifteen, Sex: 2})
	_, err = closeOn(c, day(2027, 3, 1), model.ClosureTurned16)
	under16("estimated 15 on 2026-03-02, closed on 2027-03-01", err)
	got, err = closeOn(c, day(2027, 3, 2), model.ClosureTurned16)
	closed("estimated 15 on 2026-03-02, closed on 2027-03-02", got, err)
	nine := int32(9)
	c = open(model.Child{EstimatedAge: &fifteen, Sex: 2}, model.Child{EstimatedAge: &nine, Sex: 1})
	_, err = closeOn(c, day(2027, 3, 2), model.ClosureTurned16)
	under16("a sibling of 10", err)

	// No age recorded: the chair's reason stands for it.
	c = open(model.Child{FullName: "Lê Văn Cường", Sex: 1})
	got, err = closeOn(c, day(2026, 3, 3), model.ClosureTurned16)
	closed("no age recorded", got, err)

	// TURNED_18, a lawful ground of its own, is not held to a recorded age
	// (the reason says why), as before TURNED_16 existed.
	c = open(model.Child{FullName: "Phạm Thị Dung", BirthDate: birth, Sex: 2})
	got, err = closeOn(c, day(2026, 7, 1), model.ClosureTurned18)
	closed("born 2010-06-15, closed on TURNED_18", got, err)
}
