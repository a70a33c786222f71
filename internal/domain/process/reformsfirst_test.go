package process_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// queuesHeld is a store whose reads of a queue wait until release is
// closed: the scan of the reformed units' queues (FollowReforms) is
// thousands of them, each a round trip on etcd.
type queuesHeld struct {
	datastore.Store
	release chan struct{}
	reached atomic.Bool
}

func (s *queuesHeld) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(queueHeldTx{tx, s}) })
}

type queueHeldTx struct {
	datastore.ReadTx
	s *queuesHeld
}

func (t queueHeldTx) QueueCaseIDs(q datastore.QueueQuery) ([]uint64, string, error) {
	t.s.reached.Store(true)
	<-t.s.release
	return t.ReadTx.QueueCaseIDs(q)
}

// A scheduler that starts (a new leader after a failover) fires what is
// due before it follows the unit reforms: the reforms' scan of every
// reformed unit's queue took seconds on etcd, and the deadlines due
// while no instance led waited for it. Firing a timer follows the reform
// of its own case, so what falls due in a reformed unit still goes to its
// successor.
func TestSchedulerFiresBeforeFollowingReforms(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	held := &queuesHeld{Store: w.store, release: make(chan struct{})}
	eng := process.New(process.Deps{Store: held, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	age := int32(9)
	r := model.Report{
		Channel: 1, ReceiveTime: w.clk.Now(), CallType: model.CallIntervention,
		Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
		Narrative: "trẻ bị đánh", SuspectedAbuse: []model.AbuseForm{1},
		Reporter: model.Reporter{Anonymous: true},
	}
	out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{Report: r, IncidentCommuneCode: "00004"})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(48 * time.Hour) // the acknowledgement is overdue

	stop := runScheduler(t, w.ctx, eng)
	defer func() {
		close(held.release)
		stop()
	}()
	breached := func() bool {
		var c model.Case
		err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
			var err error
			c, err = intake.ResolveCase(tx, out.CaseNumber)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(c.Deadlines) > 0 && c.Deadlines[0].Breached
	}
	for start := time.Now(); !breached() || !held.reached.Load(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after 30 s, the overdue acknowledgement breached: %v; the reforms' scan begun: %v (want both: the breach before the scan ends)",
				breached(), held.reached.Load())
		}
	}
}
