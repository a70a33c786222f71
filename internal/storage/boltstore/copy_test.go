package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// bucketDump is every bucket of the layout: its sequence, then its keys
// and values in order.
type bucketDump map[string][]string

// dumpLayout reads every bucket of the layout on e, in one transaction.
func dumpLayout(t *testing.T, e kv.Engine) bucketDump {
	t.Helper()
	out := bucketDump{}
	err := e.View(context.Background(), func(tx kv.Tx) error {
		for _, name := range boltstore.Buckets() {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return fmt.Errorf("bucket %s is missing", name)
			}
			entries := []string{fmt.Sprintf("sequence %d", b.Sequence())}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				entries = append(entries, fmt.Sprintf("%x=%x", k, v))
			}
			out[name] = entries
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameLayout reports the buckets of got that differ from want.
func sameLayout(t *testing.T, got, want bucketDump) {
	t.Helper()
	for _, name := range boltstore.Buckets() {
		g, w := got[name], want[name]
		if strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("bucket %s: %d entries, want %d (first %q, want %q)", name, len(g), len(w), g[:min(2, len(g))], w[:min(2, len(w))])
		}
	}
}

// filledEngineStore is a store over the bbolt engine holding reports,
// cases, timelines, notifications and audit events.
func filledEngineStore(t *testing.T, path string) (kv.Engine, *boltstore.EngineStore) {
	t.Helper()
	e := openBoltEngine(t, path)
	s := openEngineStore(t, e)
	fillWorkload(t, s, 40)
	return e, s
}

// filledFile writes n cases of fillWorkload into a closed bbolt file at
// path, and returns path.
func filledFile(t *testing.T, path string, n int) string {
	t.Helper()
	s := open(t, path)
	fillWorkload(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWriteFileCopiesTheLayout: the file WriteFile makes from a store over
// an engine passes Check and holds the same buckets, keys, values and
// sequences; an existing path is refused and left as it was.
func TestWriteFileCopiesTheLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, _ := filledEngineStore(t, filepath.Join(dir, "source.db"))
	want := dumpLayout(t, e)
	if len(want["reports"]) < 41 || len(want["audit"]) < 2 || len(want["cases"]) < 41 {
		t.Fatalf("the workload wrote %d reports, %d cases, %d audit events", len(want["reports"])-1, len(want["cases"])-1, len(want["audit"])-1)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := e.View(ctx, func(tx kv.Tx) error { return boltstore.WriteFile(ctx, copyPath, tx) }); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	res, err := boltstore.CheckWith(ctx, copyPath, boltstore.CheckOptions{})
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("Check of the copy: %v, %+v", err, res.Problems)
	}
	ce := openBoltEngine(t, copyPath)
	sameLayout(t, dumpLayout(t, ce), want)
	if err := ce.Close(); err != nil {
		t.Fatal(err)
	}

	before, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	err = e.View(ctx, func(tx kv.Tx) error { return boltstore.WriteFile(ctx, copyPath, tx) })
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteFile over an existing file = %v, want it refused", err)
	}
	if after, _ := os.ReadFile(copyPath); !bytes.Equal(after, before) {
		t.Errorf("WriteFile over an existing file changed it")
	}
}

// TestCopyIntoEngine: a bbolt file copied into an empty engine in small
// transactions opens with OpenEngine and has the same buckets, sequences
// included, and the store goes on from them; a store that is not empty is
// refused, and a file at an older schema version too.
func TestCopyIntoEngine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath := filledFile(t, filepath.Join(dir, "source.db"), 40)
	se := openBoltEngine(t, srcPath)
	want := dumpLayout(t, se)
	if err := se.Close(); err != nil {
		t.Fatal(err)
	}

	dst := &tooLargeEngine{Engine: openBoltEngine(t, filepath.Join(dir, "copy.db")), max: 50}
	var progress []int
	err := boltstore.CopyIntoEngine(ctx, srcPath, dst, boltstore.CopyLimits{MaxKeys: 50, MaxBytes: 16 << 10},
		func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatalf("CopyIntoEngine: %v", err)
	}
	if len(dst.committed) < 3 || len(progress) < 2 || progress[len(progress)-1] < 400 {
		t.Errorf("%d transactions, progress %v: want the copy in many small transactions", len(dst.committed), progress)
	}
	s := openEngineStore(t, dst)
	sameLayout(t, dumpLayout(t, dst), want)
	// The case sequence carried over: the next case id follows the last.
	err = s.Update(ctx, func(tx datastore.Tx) error {
		_, err := tx.NextCaseSequence(2026)
		return err
	})
	if err != nil {
		t.Fatalf("an Update on the copy: %v", err)
	}

	err = boltstore.CopyIntoEngine(ctx, srcPath, dst, boltstore.CopyLimits{}, nil)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("CopyIntoEngine into a store that is not empty = %v, want it refused", err)
	}

	writeSchemaVersion(t, srcPath, boltstore.SchemaVersion-1)
	empty := openBoltEngine(t, filepath.Join(dir, "empty.db"))
	defer empty.Close()
	err = boltstore.CopyIntoEngine(ctx, srcPath, empty, boltstore.CopyLimits{}, nil)
	if err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("CopyIntoEngine of a file at an older version = %v, want it refused", err)
	}
}

// TestOpenEngineRefusesAnUnfinishedCopy: a copy cut short (the engine
// refuses its transactions past the first) leaves the store marked, and
// OpenEngine refuses it.
func TestOpenEngineRefusesAnUnfinishedCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath := filledFile(t, filepath.Join(dir, "source.db"), 5)
	dst := &tooLargeEngine{Engine: openBoltEngine(t, filepath.Join(dir, "copy.db")), max: 30}
	defer dst.Close()
	err := boltstore.CopyIntoEngine(ctx, srcPath, dst, boltstore.CopyLimits{MaxKeys: 1000}, nil)
	if !errors.Is(err, kv.ErrTooLarge) {
		t.Fatalf("CopyIntoEngine with transactions over the engine's limit = %v, want kv.ErrTooLarge", err)
	}
	if _, err := boltstore.OpenEngine(ctx, dst, boltstore.EngineOptions{}); err == nil || !strings.Contains(err.Error(), "migrate-store") {
		t.Errorf("OpenEngine on a copy cut short = %v, want it refused", err)
	}
}
