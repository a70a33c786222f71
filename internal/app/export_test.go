package app

import (
	"context"
	"fmt"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// WriteStats gives the benchmarks what the server's writes have cost the
// disk so far (commits and pages), counts a busy machine does not change.
// The server must run on a bbolt file.
func (s *Server) WriteStats() boltstore.WriteStats { return s.store.file.WriteStats() }

// StoreCounts gives the benchmarks what the server has cost its store so
// far, by unit, counts a busy machine does not change: on a bbolt file its
// commits, page writes and read transactions (views); on etcd its commit Txns (txns), their
// operations and bytes, its read round trips (reads), the bodies re-run
// after another writer committed first (conflicts) and the keys the
// member counted to answer its reads (scanned).
func (s *Server) StoreCounts() map[string]int64 {
	if e := s.store.etcd; e != nil {
		st := e.Stats()
		return map[string]int64{"txns": st.Commits, "ops": st.Ops, "bytes": st.Bytes, "reads": st.Reads,
			"conflicts": st.Conflicts, "scanned": st.Scanned}
	}
	w := s.store.file.WriteStats()
	return map[string]int64{"commits": w.Commits, "pages": w.Pages, "views": s.store.file.Views()}
}

// SettleScheduler waits until the deadline scheduler has finished a whole
// pass begun after the call (process.Engine.Settle): a test that moved the
// fake clock calls it before it reads what the firings due by then change.
// The server must lead (run the scheduler), or it waits until ctx ends.
func (s *Server) SettleScheduler(ctx context.Context) error { return s.engine.Settle(ctx) }

// SeedUser creates a user of a unit that a reform may have ended, as the
// demo seeds its district officer (identity.Service.SeedUser), and returns
// their first token: the tests' staff of before a reform, who keep working
// after it, which no admin may create today. role is a role's name
// (DISTRICT_OFFICER).
func (s *Server) SeedUser(ctx context.Context, id, role, unit string) (string, error) {
	r, ok := model.ParseRole(role)
	if !ok {
		return "", fmt.Errorf("no role %q", role)
	}
	_, tok, _, err := s.ids.SeedUser(ctx, access.System("test"), model.User{
		ID: id, DisplayName: "Test " + id, Role: r, Unit: unit, Phone: "024 0000 0000",
	}, 90*24*time.Hour)
	return tok.Secret, err
}

// HTTPHeaderTimeout and HTTPIdleTimeout are the HTTP servers' bounds on a
// request's headers and on a kept-alive connection with no request, which
// the README states.
const (
	HTTPHeaderTimeout = httpHeaderTimeout
	HTTPIdleTimeout   = httpIdleTimeout
)

// AddNoteUnchecked adds a note to a case through the domain, past the
// API's validation of its text, as userID of role (a role's name) and
// unit: a note an old database holds, stored before a rule the API now
// checks (string.stacked_marks).
func (s *Server) AddNoteUnchecked(ctx context.Context, caseName, etag, userID, role, unit, text string) error {
	r, ok := model.ParseRole(role)
	if !ok {
		return fmt.Errorf("no role %q", role)
	}
	p := access.Principal{UserID: userID, Role: r, Unit: unit, RequestID: "unchecked-note"}
	_, err := s.engine.AddNote(ctx, p, process.Request{Case: caseName, Etag: etag}, text)
	return err
}
