package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log's buffer written by several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A duty that panics (a case the scheduler's pass cannot handle) runs
// again, and the other duties run on: the process, and the API with it,
// stays up. The log says so at ERROR, without the panic's value, which
// may be what a person typed.
func TestADutyThatPanicsRunsAgainAndTheOthersRunOn(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	panicked := make(chan struct{}, 3)
	ranAgain := make(chan struct{})
	runs := 0
	flaky := func(ctx context.Context) {
		runs++
		if runs <= 2 {
			panicked <- struct{}{}
			panic("Nguyễn Thị Hoa")
		}
		close(ranAgain)
		<-ctx.Done()
	}
	steadyStopped := make(chan struct{})
	steady := func(ctx context.Context) {
		<-ctx.Done()
		close(steadyStopped)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		leaderDuties(log, time.Millisecond, flaky, steady)(ctx)
	}()
	<-panicked
	<-panicked
	<-ranAgain
	select {
	case <-steadyStopped:
		t.Fatal("the other duty stopped when one panicked")
	default:
	}
	cancel()
	<-done
	<-steadyStopped

	out := logs.String()
	if n := strings.Count(out, `"level":"ERROR"`); n != 2 {
		t.Errorf("%d ERROR lines for two panics, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, `"panic.type":"string"`) || !strings.Contains(out, "runs again") {
		t.Errorf("the log does not say a duty panicked and runs again:\n%s", out)
	}
	if strings.Contains(out, "Hoa") {
		t.Errorf("the log holds the panic's value, a name:\n%s", out)
	}
}

// A duty that panics at every run waits twice as long before each next
// run, up to maxRestartAfter, and says so in its log line: run again each
// second, it logged an ERROR line with its stack each second for as long
// as the server ran.
func TestADutyThatPanicsInARowWaitsLongerEachTime(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	ranAgain := make(chan struct{})
	faulty := func(ctx context.Context) {
		runs++
		if runs <= 5 {
			panic("Nguyễn Thị Hoa")
		}
		close(ranAgain)
		<-ctx.Done()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		leaderDuties(log, time.Millisecond, faulty)(ctx)
	}()
	<-ranAgain
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{"1ms", "2ms", "4ms", "8ms", "16ms"} {
		if !strings.Contains(out, `"runs_again_in":"`+want+`"`) {
			t.Errorf("the log of five panics in a row does not say the duty runs again in %s:\n%s", want, out)
		}
	}
	if got := restartWait(time.Second, 30); got != maxRestartAfter {
		t.Errorf("after 30 panics in a row the duty waits %s, want at most %s", got, maxRestartAfter)
	}
}
