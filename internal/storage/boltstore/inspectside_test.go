package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/keys"
)

// TestInspectSideBySideSaysWhatOneGoroutineSays: the deep walk of the
// pages on several goroutines lets a sound file through, finds a damaged
// one damaged whenever the walk on one goroutine does, and then says what
// that walk says, the first problem in its order, not the problem one of
// its goroutines happened to meet first. Each file here has two pages
// damaged at random, so that the two walks could meet different ones.
func TestInspectSideBySideSaysWhatOneGoroutineSays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pages.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	// Enough records for a tree of several levels, of more subtrees
	// than walkSideBySide reads before sharing them out.
	for batch := range 10 {
		err = s.Update(context.Background(), func(tx datastore.Tx) error {
			for i := range 2000 {
				if err := tx.PutDataKey(fmt.Sprintf("cases/HN-2026-%02d-%05d", batch, i), keys.WrappedKey{MasterID: "mk1", Sealed: make([]byte, 200)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sound, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{2, 4} {
		if err := inspectOn(bytes.NewReader(sound), int64(len(sound)), true, workers); err != nil {
			t.Fatalf("the sound file on %d goroutines: %v", workers, err)
		}
	}
	m, err := chooseMeta(bytes.NewReader(sound), int64(len(sound)))
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	damagedFiles := 0
	for trial := range 200 {
		data := bytes.Clone(sound)
		for range 2 {
			page := 2 + rnd.Uint64N(m.hwm-2)
			at := int64(page)*int64(m.pageSize) + pageHeaderSize + rnd.Int64N(4*elemSize)
			data[at] ^= byte(1 + rnd.IntN(255))
		}
		r, size := bytes.NewReader(data), int64(len(data))
		want := inspectOn(r, size, true, 1)
		if want != nil {
			damagedFiles++
		}
		for _, workers := range []int{2, 4} {
			if got := inspectOn(r, size, true, workers); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("trial %d on %d goroutines: %v\nwant, as on one: %v", trial, workers, got, want)
			}
		}
	}
	if damagedFiles < 50 {
		t.Errorf("only %d of 200 files found damaged: the damage misses the pages walked", damagedFiles)
	}
}
