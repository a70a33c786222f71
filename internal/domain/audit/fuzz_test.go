package audit_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
)

// FuzzAuditDecode decodes arbitrary bytes as a stored audit event. Decode
// must never panic, and what it accepts must be what Encode can write back:
// Encode(Decode(x)) succeeds and decodes to the same event, so an event
// read from the log can be hashed, shown and copied without change.
func FuzzAuditDecode(f *testing.F) {
	for _, e := range sealed(f, 2) {
		b, err := audit.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	anonymous, err := audit.Encode(audit.Event{Time: t0, Action: "auth.fail", Outcome: audit.OutcomeDenied})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(anonymous)
	f.Add([]byte(storedV1)) // as releases before schema version 11 stored events
	for _, s := range []string{
		"", "\x01", "\x02{}", "\x01null", "\x01[]", "\x01{}",
		"\x01{\"seq\":1,\"extra\":\"x\"}",
		"\x01{\"seq\":1}{\"seq\":2}",
		"\x01{\"hash\":\"!!!\"}",
		"\x01{\"actor\":\"\xff\\ud800\"}",
		// Within the years 0 to 9999 as written, outside them in UTC.
		"\x01{\"time\":\"0000-01-01T00:00:00+01:00\"}",
		"\x01{\"time\":\"9999-12-31T23:00:00-02:00\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := audit.Decode(raw)
		if err != nil {
			return
		}
		if e.Time.Location() != time.UTC {
			t.Errorf("decoded time %v is not in UTC", e.Time)
		}
		b, err := audit.Encode(e)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, which Encode refuses: %v", raw, e, err)
		}
		d, err := audit.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))): %v", raw, err)
		}
		if !sameEvent(e, d) {
			t.Fatalf("round trip of %q changed the event:\n got %+v\nwant %+v", raw, d, e)
		}
	})
}
