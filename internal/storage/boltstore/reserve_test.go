package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestReserveBelowMaxSize fills a capped store with ordinary writes
// (Update) until they are refused, then appends audit events in Batch,
// from several goroutines at once as reads do: they go on for about the
// reserve's worth of room, ordinary writes stay refused meanwhile, and
// when the reserve is used up Batch is refused too, with nothing broken.
func TestReserveBelowMaxSize(t *testing.T) {
	const maxSize, reserve = 2 << 20, 512 << 10
	path := filepath.Join(t.TempDir(), "cc.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true, MaxSize: maxSize, Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	value := keys.WrappedKey{MasterID: "mk1", Sealed: make([]byte, 2000)}
	update := func(i int) error {
		return s.Update(ctx, func(tx datastore.Tx) error { return tx.PutDataKey(fmt.Sprintf("cases/HN-2026-%05d", i), value) })
	}
	written := 0
	for ; ; written++ {
		err := update(written)
		if errors.Is(err, model.ErrFull) {
			t.Logf("ordinary writes refused after %d: %v", written, err)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	event := audit.Event{Actor: "lan.nguyen", Role: "ROLE_AUDITOR", Action: "report.read", Resource: "reports/0192a5b0-0000-7000-8000-000000000000", Outcome: audit.OutcomeOK, Time: ckT0}
	batch := func() error {
		return s.Batch(ctx, func(tx datastore.Tx) error { _, err := tx.AppendAudit(event); return err })
	}
	var mu sync.Mutex
	recorded, refused := 0, 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				err := batch()
				mu.Lock()
				switch {
				case err == nil:
					recorded++
				case errors.Is(err, model.ErrFull):
					refused++
				default:
					t.Errorf("batch: %v", err)
				}
				done, probe := refused > 0 || err != nil, recorded%200 == 0
				mu.Unlock()
				if done {
					return
				}
				if probe {
					if err := update(written); !errors.Is(err, model.ErrFull) {
						t.Errorf("an ordinary write while the reserve is drawn on: %v, want ErrFull", err)
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d audit events recorded in the reserve of %d bytes", recorded, reserve)
	if recorded < 500 {
		t.Errorf("the reserve of %d bytes held only %d events", reserve, recorded)
	}
	if err := update(written); !errors.Is(err, model.ErrFull) {
		t.Errorf("an ordinary write after the reserve is used up: %v, want ErrFull", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > maxSize {
		t.Errorf("the file: %v, %d bytes, cap %d", err, fi.Size(), maxSize)
	}
	res, err := boltstore.Check(ctx, path)
	if err != nil || res.AuditEvents != recorded {
		t.Errorf("check: %v, %d audit events, want %d", err, res.AuditEvents, recorded)
	}
	for _, p := range res.Problems {
		if p.Bucket != "data_keys" { // keys of no record: this test stores them alone
			t.Errorf("check: %s", p)
		}
	}
}

// The reserve is at most a quarter of --max-db-size, as the README's
// Configuration table promises: a larger --db-reserve is cut to it, on
// the disk too, so that ordinary writes keep three quarters of the cap.
func TestReserveIsAtMostAQuarterOfMaxSize(t *testing.T) {
	const maxSize = 2 << 20
	path := filepath.Join(t.TempDir(), "cc.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true, MaxSize: maxSize, Reserve: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := s.Gauges()
	if err != nil {
		t.Fatal(err)
	}
	if g.ReserveBytes != maxSize/4 || g.ReserveHeldBytes != maxSize/4 {
		t.Errorf("reserve %d, held %d; want a quarter of the cap, %d", g.ReserveBytes, g.ReserveHeldBytes, maxSize/4)
	}
	if fi, err := os.Stat(path + ".reserve"); err != nil || fi.Size() != maxSize/4 {
		t.Errorf("the reserve file: %v, %v; want %d bytes", fi, err, maxSize/4)
	}
}

// TestReserveIsNeverASymlink plants the reserve file's name as a symlink
// to another file, larger than the reserve. The store grows and cuts its
// reserve file (a full disk frees it in slices), so following the link
// would cut that file: the open is refused, naming the reserve file, and
// the file the link points to is left as it was.
func TestReserveIsNeverASymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cc.db")
	victim := filepath.Join(dir, "other.db")
	content := make([]byte, 1<<20)
	for i := range content {
		content[i] = byte(i)
	}
	if err := os.WriteFile(victim, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path+".reserve"); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true, MaxSize: 2 << 20, Reserve: 256 << 10})
	if err == nil {
		s.Close()
		t.Errorf("the store opened with its reserve file a symlink to %s", victim)
	} else if want := path + ".reserve"; !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal does not name %s: %v", want, err)
	}
	if b, err := os.ReadFile(victim); err != nil || !bytes.Equal(b, content) {
		t.Errorf("the file the reserve's name points to was changed: %d bytes, %v", len(b), err)
	}
}
