package etcdstore

import (
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/model"
)

// TestPauseStaysInBounds: every attempt Update may make gets a positive
// pause no longer than maxPause (a shift that overflowed once panicked
// after 43 attempts).
func TestPauseStaysInBounds(t *testing.T) {
	for attempt := range maxAttempts {
		if p := pause(attempt); p <= 0 || p > maxPause {
			t.Fatalf("pause(%d) = %v, want in (0, %v]", attempt, p, maxPause)
		}
	}
}

// TestMapErrTellsPassingFailuresFromRefusals: etcd's leader changes and
// timeouts are model.ErrUnavailable (UNAVAILABLE: retry), a full quota is
// model.ErrFull, and anything else is passed on as it is.
func TestMapErrTellsPassingFailuresFromRefusals(t *testing.T) {
	for _, tt := range []struct {
		name              string
		err               error
		unavailable, full bool
	}{
		{"leader changed", rpctypes.ErrLeaderChanged, true, false},
		{"leader changed, as gRPC sends it", rpctypes.ErrGRPCLeaderChanged, true, false},
		{"no leader", rpctypes.ErrNoLeader, true, false},
		{"timed out after a leader failed", rpctypes.ErrTimeoutDueToLeaderFail, true, false},
		{"no member reachable", status.Error(codes.Unavailable, "connection refused"), true, false},
		{"quota", rpctypes.ErrNoSpace, false, true},
		{"compacted", rpctypes.ErrCompacted, false, false},
		{"something else", errors.New("disk on fire"), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr(fmt.Errorf("etcd commit: %w", tt.err))
			if errors.Is(got, model.ErrUnavailable) != tt.unavailable || errors.Is(got, model.ErrFull) != tt.full {
				t.Errorf("mapErr(%v) = %v: unavailable %v, full %v; want %v, %v", tt.err, got,
					errors.Is(got, model.ErrUnavailable), errors.Is(got, model.ErrFull), tt.unavailable, tt.full)
			}
		})
	}
}
