package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestStartPassesOverACaseItCannotSealAndTriesItHourly: the start's
// sealing of the free text older versions kept in the clear passes over a
// case whose sealing panics, seals the others, logs the case at ERROR and
// goes on; the leader's duty tries it again an hour later, not at every
// round (each try fails and logs for as long as the code is not mended),
// and once it can be sealed, seals it and is done. The panic stopped the
// sealing at that case, leaving every case after it in the clear, and
// the start with it.
func TestStartPassesOverACaseItCannotSealAndTriesItHourly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "childcase.db")
	for src, dst := range map[string]string{"bolt": db, "masterkey": db + ".key"} {
		raw, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", fmt.Sprintf("schema2.%s.golden", src)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := boltstore.Open(db, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	master, err := keys.LoadMaster(db + ".key")
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(keys.NewKeyring(master))
	const bad, good = "HN-2026-00001", "HN-2026-00003" // the golden file's cases in the clear
	if got := inTheClear(t, s); !equalSets(got, []string{bad, good}) {
		t.Fatalf("the golden file's cases in the clear: %v, want %s and %s", got, bad, good)
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	clk := clock.NewFake(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	panicking := &panickingCase{Store: s, number: bad, on: true}
	later, retryAt, err := sealClearTextAtStart(ctx, v, panicking, clk, log)
	if err != nil || !later || !retryAt.Equal(clk.Now().Add(sealRetryEvery)) {
		t.Fatalf("the start's sealing with %s panicking: %v, left for later %v at %v; want nil, true, an hour later", bad, err, later, retryAt)
	}
	if got := inTheClear(t, s); !equalSets(got, []string{bad}) {
		t.Errorf("after the start with %s panicking, in the clear: %v, want %s only", bad, got, bad)
	}
	if line := logs.String(); !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, bad) || strings.Contains(line, "sealing went wrong") {
		t.Errorf("the start logged %q, want an ERROR naming %s, without the panic's value", line, bad)
	}

	// The leader's rounds: not before the hour is up; then, the case
	// still panicking, tried, logged and held another hour.
	round := sealClearTextRound(v, panicking, clk, log, retryAt)
	logs.Reset()
	clk.Advance(sealRetryEvery - time.Minute)
	if round(ctx) || logs.Len() != 0 {
		t.Errorf("a round within the hour of the start tried the passed-over case again: %s", logs.String())
	}
	clk.Advance(time.Minute)
	if round(ctx) || !strings.Contains(logs.String(), bad) {
		t.Errorf("the round an hour after the start, %s panicking, is done or does not log it: %s", bad, logs.String())
	}

	// Mended, but within the hour: not tried again.
	panicking.on = false
	clk.Advance(sealRetryEvery - time.Minute)
	if round(ctx) || !equalSets(inTheClear(t, s), []string{bad}) {
		t.Errorf("a round within the hour tried the passed-over case again: in the clear %v", inTheClear(t, s))
	}
	clk.Advance(time.Minute)
	if !round(ctx) {
		t.Error("a round an hour later, the case mended, is not done")
	}
	if got := inTheClear(t, s); len(got) != 0 {
		t.Errorf("an hour later, the case mended: in the clear %v, want none", got)
	}
}

// panickingCase is a store whose write transactions panic when they read
// case number, while on.
type panickingCase struct {
	datastore.Store
	number string
	on     bool
}

func (s *panickingCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(panickingCaseTx{Tx: tx, s: s}) })
}

type panickingCaseTx struct {
	datastore.Tx
	s *panickingCase
}

func (t panickingCaseTx) CaseByNumber(number string) (model.Case, error) {
	if t.s.on && number == t.s.number {
		panic("sealing went wrong " + number)
	}
	return t.Tx.CaseByNumber(number)
}

// inTheClear are the numbers of the cases of s whose free text is in the
// clear.
func inTheClear(t *testing.T, s datastore.Store) []string {
	t.Helper()
	var numbers []string
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 1000, Match: vault.InClear})
		for _, c := range cs {
			numbers = append(numbers, c.Number)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return numbers
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
