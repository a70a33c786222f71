package auditlog

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// An event of refused sign-ins stays under 1 KiB however many reasons,
// and however long, its refusals had; its count comes first.
func TestRefusalEventIsBounded(t *testing.T) {
	var r refusals
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	for i := range 1000 {
		why := fmt.Sprintf("user %s is disabled", strings.Repeat(string(rune('a'+i%26)), 63))
		r.add(now, "/childcase.v1."+strings.Repeat("m", 100), why, strings.Repeat("r", 64))
	}
	e := r.event("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
	if !strings.HasPrefix(e.Reason, "refused sign-ins: 1000 from 2001:db8:") {
		t.Errorf("reason %q", e.Reason)
	}
	e.Seq, e.PrevHash = 1<<40, make([]byte, audit.HashSize)
	e.Hash = e.ComputeHash()
	enc, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) > 1024 {
		t.Errorf("an event of %d bytes: %q", len(enc), e.Reason)
	}
}

// The event of a window's refused sign-ins is dated when they began, not
// when the window's end wrote it a minute or more later: an auditor who
// lists the log for the minute of an attack finds it there.
func TestRefusalEventIsDatedAtTheFirstRefusal(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	t0 := time.Date(2026, 11, 28, 3, 0, 59, 0, time.UTC)
	clk := clock.NewFake(t0)
	l := NewRefusals(New(s), clk, slog.New(slog.DiscardHandler), "other addresses")
	l.Add(ctx, "203.0.113.7", "/childcase.v1.CaseService/GetCase", "unknown token", "r1")
	clk.Advance(20 * time.Second)
	l.Add(ctx, "203.0.113.7", "/childcase.v1.CaseService/GetCase", "unknown token", "r2")
	clk.Advance(90 * time.Second)
	l.Flush(ctx, false)

	events, _, err := New(s).List(ctx, access.Principal{UserID: "auditor", Role: model.RoleAuditor}, clk.Now(),
		Query{From: t0, To: t0.Add(time.Minute), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "auth.fail" || !events[0].Time.Equal(t0) {
		t.Fatalf("the log between %s and a minute later holds %+v; want the auth.fail event, dated %s", t0, events, t0)
	}
}

// TestRefusalEventNamesItsTimesInHanoi: the reason of a window's event
// names its first and last refusal as every time the service shows is
// shown, in Asia/Ho_Chi_Minh with its offset, not in UTC: an auditor on
// the console, whose times are Vietnam's, read "between 03:00:59Z and
// ..." beside an event the page dated 10:00.
func TestRefusalEventNamesItsTimesInHanoi(t *testing.T) {
	var r refusals
	first := time.Date(2026, 11, 28, 3, 0, 59, 0, time.UTC)
	r.add(first, "/childcase.v1.CaseService/GetCase", "unknown token", "r1")
	r.add(first.Add(20*time.Second), "/childcase.v1.CaseService/GetCase", "unknown token", "r2")
	e := r.event("203.0.113.7")
	if want := "between 2026-11-28T10:00:59+07:00 and 2026-11-28T10:01:19+07:00: "; !strings.Contains(e.Reason, want) {
		t.Errorf("reason %q, want it to say %q", e.Reason, want)
	}
}
