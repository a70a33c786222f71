package process_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Settle returns once the scheduler has finished a pass begun after the
// call: a test that moved the clock reads what the firings due by then
// changed without racing them. The scheduler polls only every hour here,
// so only Settle's wake-up makes it look at the moved clock in time; and
// after each Settle no timer is left due, which a Settle that returned on
// a pass begun before the move would leave now and then.
func TestSettleWaitsForAPassBegunAfterTheClockMoved(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	for range 3 {
		for _, danger := range []bool{false, true} {
			w.cases = append(w.cases, w.openCaseAt(t, w.clk.Now(), danger, model.AbuseNeglect).Number)
		}
		w.clk.Advance(17 * time.Minute)
	}

	settle := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
		defer cancel()
		if err := w.eng.Settle(ctx); err != nil {
			t.Fatalf("Settle at %s: %v", w.clk.Now(), err)
		}
	}
	// Without Run, no pass ends: Settle gives up when its context does.
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Millisecond)
	if err := w.eng.Settle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Settle with no scheduler running: %v, want the context's deadline", err)
	}
	cancel()

	runCtx, stop := context.WithCancel(w.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.eng.Run(runCtx, time.Hour); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer func() {
		stop()
		wg.Wait()
	}()

	// Warnings, breaches and escalations over four days, an hour at a time.
	fired := 0
	for range 4 * 24 {
		w.clk.Advance(time.Hour)
		settle()
		var due []model.Timer
		err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
			var err error
			due, err = tx.DueTimers(w.clk.Now(), 1)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(due) > 0 {
			t.Fatalf("after Settle at %s a timer is still due: %+v", w.clk.Now(), due[0])
		}
		s := w.refresh(t)
		n := 0
		for _, events := range s.events {
			for _, ev := range events {
				switch ev.Kind {
				case "DEADLINE_WARNING", "DEADLINE_BREACHED", "ESCALATED":
					n++
				}
			}
		}
		if n < fired {
			t.Fatalf("%d deadline events at %s, fewer than the %d before", n, w.clk.Now(), fired)
		}
		fired = n
	}
	if fired == 0 {
		t.Fatal("no deadline fired in four days: the test proves nothing")
	}
}
