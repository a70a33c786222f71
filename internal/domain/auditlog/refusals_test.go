package auditlog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
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
	e := r.event(now, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
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
