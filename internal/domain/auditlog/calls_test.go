package auditlog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A tracked store tells a call whether an event of its caller was
// committed while it was served: the transport writes one for the calls
// that wrote none, and must not write a second for those that did.
func TestTrackedStoreNotesTheCallersCommittedEvents(t *testing.T) {
	own := audit.Event{Time: t0, Actor: "users/op", Action: "case.read", Resource: "cases/HN-2026-00001", Outcome: audit.OutcomeOK}
	other := own
	other.Actor = "users/system"
	failed := errors.New("the step failed after its event")
	tests := []struct {
		name  string
		write func(ctx context.Context, s datastore.Store) error
		want  bool
	}{
		{"nothing written", func(context.Context, datastore.Store) error { return nil }, false},
		{"its caller's event, through the log", func(ctx context.Context, s datastore.Store) error {
			return auditlog.New(s).Record(ctx, own)
		}, true},
		{"its caller's event, in an update", func(ctx context.Context, s datastore.Store) error {
			return s.Update(ctx, func(tx datastore.Tx) error { _, err := tx.AppendAudit(other, own); return err })
		}, true},
		{"another actor's event", func(ctx context.Context, s datastore.Store) error {
			return auditlog.New(s).Record(ctx, other)
		}, false},
		{"an update that failed", func(ctx context.Context, s datastore.Store) error {
			err := s.Update(ctx, func(tx datastore.Tx) error {
				if _, err := tx.AppendAudit(own); err != nil {
					return err
				}
				return failed
			})
			if !errors.Is(err, failed) {
				return err
			}
			return nil
		}, false},
		{"written on an untracked context", func(ctx context.Context, s datastore.Store) error {
			return auditlog.New(s).Record(auditlog.Untracked(ctx), own)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memstore.New()
			defer m.Close()
			ctx, call := auditlog.Track(t.Context(), "users/op")
			if err := tt.write(ctx, auditlog.Tracked(m)); err != nil {
				t.Fatal(err)
			}
			if call.Recorded() != tt.want {
				t.Errorf("Recorded = %t, want %t", call.Recorded(), tt.want)
			}
		})
	}
}
