package grpcapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// A window's refusals are written when the next one starts, at most
// MaxRefusalEvents events, and they count every refusal.
func TestRefusalWindows(t *testing.T) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	log := auditlog.New(store)
	g := NewSignInGuard(log, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for i := range 500 {
		g.refusals.Add(ctx, fmt.Sprintf("10.0.%d.%d", i/200, i%200), "/m", "unknown token", "")
	}
	if res, _ := log.Verify(ctx); res.HeadSeq != 0 {
		t.Fatalf("%d events written before the window ended", res.HeadSeq)
	}
	clk.Advance(RefusalWindow)
	g.refusals.Add(ctx, "10.9.9.9", "/m", "unknown token", "") // starts the next window
	res, _ := log.Verify(ctx)
	if res.HeadSeq != MaxRefusalEvents {
		t.Fatalf("%d events for 500 addresses, want %d", res.HeadSeq, MaxRefusalEvents)
	}
	g.refusals.Flush(ctx, true) // shutdown
	events, _, err := log.List(ctx, access.Principal{UserID: "auditor", Role: model.RoleAuditor}, clk.Now(), auditlog.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var sum int
	for _, e := range events {
		var n int
		if _, err := fmt.Sscanf(e.Reason, "refused sign-ins: %d from", &n); err != nil {
			t.Fatalf("reason %q: %v", e.Reason, err)
		}
		sum += n
	}
	if len(events) != MaxRefusalEvents+1 || sum != 501 {
		t.Errorf("%d events counting %d refusals, want %d counting 501", len(events), sum, MaxRefusalEvents+1)
	}
}
