package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// Each user's refused calls are bounded on their own: one user's flood
// does not take another's events, the refusals beyond the bound are
// counted, per user, in one event dated at the first of them, and a
// shutdown writes what is still counted.
func TestCallRefusalsAreBoundedPerUser(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	defer s.Close()
	t0 := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	l := NewCallRefusals(New(s), clk, slog.New(slog.DiscardHandler))
	refuse := func(actor, resource, caseName string, i int) {
		e := audit.Event{Time: clk.Now(), Actor: actor, Role: "HOTLINE_OPERATOR", Action: "report.create", Resource: resource,
			Case: caseName, RequestID: fmt.Sprintf("%s-%d", actor, i), Outcome: audit.OutcomeRefused, Reason: "report.children required"}
		if err := l.Record(ctx, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range RefusedCallsPerUser + 10 {
		refuse("users/a", "/childcase.v1.ReportService/CreateReport", "cases/HN-2026-00001", i)
		clk.Advance(100 * time.Millisecond)
	}
	refuse("users/b", "/childcase.v1.ReportService/CreateReport", "", 0)
	if n := count(t, s); n != RefusedCallsPerUser+1 {
		t.Fatalf("%d events, want %d of users/a's and one of users/b's", n, RefusedCallsPerUser+1)
	}
	l.Flush(ctx, true)
	events := all(t, s)
	last := events[len(events)-1]
	if len(events) != RefusedCallsPerUser+2 || last.Action != RefusedCallsAction || last.Actor != "users/a" ||
		last.Case != "cases/HN-2026-00001" || last.RequestID != fmt.Sprintf("users/a-%d", RefusedCallsPerUser) ||
		!last.Time.Equal(t0.Add(RefusedCallsPerUser*100*time.Millisecond)) ||
		!strings.HasPrefix(last.Reason, fmt.Sprintf("refused calls beyond %d a window: 10 between", RefusedCallsPerUser)) ||
		!strings.HasSuffix(last.Reason, ": report.create refused report.children required ×10") {
		t.Errorf("%d events, the last %+v", len(events), last)
	}
}

func all(t *testing.T, s *memstore.Store) []audit.Event {
	t.Helper()
	var out []audit.Event
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, s *memstore.Store) int { t.Helper(); return len(all(t, s)) }

// failingStore refuses every write, as a store that lost its disk or its
// cluster does.
type failingStore struct{ datastore.Store }

func (failingStore) Batch(context.Context, func(datastore.Tx) error) error {
	return errors.New("disk gone")
}

// A refused call whose event cannot be written is still answered (the
// refusal stands), and the operator's log says the event was lost: a
// refusal for the role (auth.denied) and a REST path no route takes
// (http.no_route) went through the bound unlogged, and their loss left
// no trace anywhere.
func TestARefusedCallsEventThatCannotBeWrittenIsLogged(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	var logged bytes.Buffer
	l := NewCallRefusals(New(failingStore{s}), clock.NewFake(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)),
		slog.New(slog.NewJSONHandler(&logged, nil)))
	e := audit.Event{Actor: "users/a", Action: "auth.denied", Resource: "cases/HN-2026-00001", Outcome: audit.OutcomeDenied}
	if err := l.Record(t.Context(), e, nil); err == nil {
		t.Fatal("Record on a store that refuses every write: no error")
	}
	line := logged.String()
	for _, want := range []string{`"level":"ERROR"`, "could not be audited", `"actor":"users/a"`, `"action":"auth.denied"`, `"outcome":"denied"`, "disk gone"} {
		if !strings.Contains(line, want) {
			t.Errorf("the log of a refused call's lost event: %q, want %s in it", line, want)
		}
	}
}
