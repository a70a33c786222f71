package boltstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// A backup of a database whose data keys are under two master keys (a
// rotation cut short by a kill or a full disk) is refused, hot or from
// the stopped file, naming the cause and the fix: the copy would open
// with neither the key file nor the retired one the operator keeps, each
// of which holds one master. It copied such a file without a word.
func TestBackupOfDataKeysUnderTwoMastersIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	writeHealthy(t, path) // its data keys are under the master "mk1"
	s := open(t, path)
	if _, err := s.WriteBackup(ctx, io.Discard); err != nil {
		t.Fatalf("a backup under one master: %v", err)
	}

	// Half way through a rotation to "mk2": one data key re-wrapped.
	if err := s.Update(ctx, func(tx datastore.Tx) error {
		return tx.PutDataKey("cases/HN-2026-00001", keys.WrappedKey{MasterID: "mk2", Sealed: []byte{4, 5, 6}})
	}); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		var pre *model.PreconditionError
		if !errors.As(err, &pre) || pre.Reason != "ROTATION_UNFINISHED" {
			t.Fatalf("%s of a database under two masters: %v; want it refused with reason ROTATION_UNFINISHED", what, err)
		}
		for _, want := range []string{"mk1, mk2", "rotation is unfinished", "RotateMasterKey again", "start it once on this file"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s refused with %q; want it to say %q", what, err, want)
			}
		}
	}
	var copied strings.Builder
	_, err := s.WriteBackup(ctx, &copied)
	refused("WriteBackup", err)
	if copied.Len() != 0 {
		t.Errorf("the refused backup wrote %d bytes", copied.Len())
	}
	snap, _, err := s.Snapshot(ctx)
	if err == nil {
		snap.Close()
	}
	refused("Snapshot", err)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the refused snapshot left files beside the database: %v", ents)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.WriteBackup(ctx, io.Discard)
	refused("the stopped file's WriteBackup", err)
}
