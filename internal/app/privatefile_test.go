package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/idempotency"
)

// TestNextRequestFileIsNeverWrittenThroughASymlink plants the name of a
// rotation's next request file as a symlink to another file. Writing it
// through the link would replace that file's content with the request; the
// name itself is replaced, mode 0600, and the other file is left as it was.
func TestNextRequestFileIsNeverWrittenThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.key")
	victim := filepath.Join(dir, "other")
	if err := os.WriteFile(victim, []byte("someone else's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, nextRequestPath(path)); err != nil {
		t.Fatal(err)
	}
	req := idempotency.Request{ID: "rotate-1", Fingerprint: []byte{1, 2, 3}}
	if err := writeNextRequest(path, access.Principal{UserID: "admin"}, req); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "someone else's\n" {
		t.Errorf("the request was written through the symlink into %s: %q, %v", victim, b, err)
	}
	if fi, err := os.Lstat(nextRequestPath(path)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("the next request file is %v (%v), want a regular file of mode 0600", fi.Mode(), err)
	}
}
