package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

func groupUser(id string) model.User {
	return model.User{ID: id, DisplayName: id, Role: model.RoleAuditor, Unit: model.OrgSystem}
}

// TestUpdateGroupCommit: Updates that arrive while a commit is under way
// share the next transaction (and its fsync) instead of taking one each,
// and every one of them is committed.
func TestUpdateGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	const n = 32
	inFirst, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.Update(ctx, func(tx storage.Tx) error {
			close(inFirst)
			<-release
			return tx.CreateUser(groupUser("first"))
		})
	}()
	<-inFirst

	var started, done sync.WaitGroup
	var mu sync.Mutex
	txOf := map[string]int{} // the transaction each call committed in
	errs := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Go(func() {
			id := fmt.Sprintf("user-%02d", i)
			started.Done()
			errs[i] = s.Update(ctx, func(tx storage.Tx) error {
				mu.Lock()
				txOf[id] = boltstore.TxID(tx) // the last run is the one committed
				mu.Unlock()
				return tx.CreateUser(groupUser(id))
			})
		})
	}
	started.Wait()
	for range 1000 {
		runtime.Gosched() // let the callers reach Update while the first commit is held
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("first Update: %v", err)
	}
	done.Wait()

	txs := map[int]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	for _, id := range txOf {
		txs[id] = true
	}
	t.Logf("%d concurrent Updates committed in %d transactions", n, len(txs))
	if len(txs) >= n {
		t.Errorf("%d concurrent Updates took %d transactions: none shared a commit", n, len(txs))
	}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.CountUsers()
		if err == nil && got != n+1 {
			t.Errorf("CountUsers = %d, want %d: a shared commit lost a write", got, n+1)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
