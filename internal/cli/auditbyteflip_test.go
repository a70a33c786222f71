package cli

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAuditVerifyNamesEveryByteFlippedInACopy: issue 3 asks that a
// changed stored event make verification fail at that point. The other
// tamper tests change an event through bbolt, decoded and encoded again;
// this edits the file as bytes, as anyone with a hex editor could: a copy
// of a database, one byte of the stored event at seq 2 changed, for each
// of its bytes in turn. Every copy fails `audit verify` (exit 1) naming
// seq 2, whether the event no longer matches its hash or no longer
// decodes; the untouched copy passes.
func TestAuditVerifyNamesEveryByteFlippedInACopy(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "first.user", "--name", "first.user", "--role", "AUDITOR", "--unit", "orgs/system")
	if out := mgMustRun(t, "audit", "verify", "--db", db); !strings.HasPrefix(out, "OK") {
		t.Fatalf("audit verify on a healthy log: %q", out)
	}
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var event []byte
	err = bdb.View(func(tx *bolt.Tx) error {
		event = bytes.Clone(tx.Bucket([]byte("audit")).Get(binary.BigEndian.AppendUint64(nil, 2)))
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(event) == 0 {
		t.Fatalf("event 2: %q, %v", event, err)
	}
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(raw, event)
	if at < 0 || bytes.Contains(raw[at+1:], event) {
		t.Fatalf("event 2 is not in the file exactly once (at %d)", at)
	}
	copyPath := filepath.Join(dir, "copy.db")
	for i := range event {
		edited := bytes.Clone(raw)
		edited[at+i] ^= 0x01
		if err := os.WriteFile(copyPath, edited, 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := mgRun(t, "audit", "verify", "--db", copyPath)
		if code != 1 || !strings.Contains(stdout+stderr, "seq 2") {
			t.Errorf("byte %d of %d of event 2 changed: exit %d, stdout %q, stderr %q; want 1 naming seq 2", i, len(event), code, stdout, stderr)
		}
	}
}
