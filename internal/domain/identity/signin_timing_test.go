package identity_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// commitCounter is a store that counts the commits (Update and Batch)
// made through it.
type commitCounter struct {
	datastore.Store
	commits atomic.Int64
}

func (s *commitCounter) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	s.commits.Add(1)
	return s.Store.Update(ctx, fn)
}

func (s *commitCounter) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	s.commits.Add(1)
	return s.Store.Batch(ctx, fn)
}

// Every refused sign-in costs the same commits as a wrong password of a
// known account, which counts the failure: a commit waits for its fsync,
// so a refusal that made none (an unknown user id, a locked, disabled or
// password-less account) answered sooner by that fsync, and its time told
// a patient guesser which user ids exist and which accounts are locked.
func TestSignInRefusalsCostTheSameCommits(t *testing.T) {
	s := &commitCounter{Store: memstore.New()}
	t.Cleanup(func() { s.Close() })
	e := withVault(t, newEnvOn(s, ""))
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	e.addPerson(t, "locked.one", model.RoleCommuneWorker, communeUnit, "")
	e.addPerson(t, "gone.one", model.RoleCommuneWorker, communeUnit, "")
	e.createUser(t, "no.password", model.RoleCommuneWorker, communeUnit)
	for range identity.MaxSignInFailures {
		if _, err := e.signIn("locked.one", "wrong password!", ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := e.svc.DisableUser(ctx, e.admin, "gone.one", noRetry); err != nil {
		t.Fatalf("DisableUser: %v", err)
	}
	commitsOf := func(user, password string) int64 {
		t.Helper()
		before := s.commits.Load()
		if _, err := e.signIn(user, password, ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("sign-in of %s: %v, want refused", user, err)
		}
		return s.commits.Load() - before
	}
	want := commitsOf("lan.nguyen", "wrong password!")
	if want == 0 {
		t.Fatal("a wrong password made no commit; the test no longer measures what a failure costs")
	}
	for _, c := range []struct{ what, user, password string }{
		{"an unknown user id", "nobody.here", "wrong password!"},
		{"a locked account, wrong password", "locked.one", "wrong password!"},
		{"a locked account, right password", "locked.one", goodPassword},
		{"a disabled account", "gone.one", goodPassword},
		{"an account with no password yet", "no.password", goodPassword},
	} {
		if got := commitsOf(c.user, c.password); got != want {
			t.Errorf("%s: %d commits, a wrong password of a known account %d", c.what, got, want)
		}
	}
}

// An admin whose password was set before admins needed a second factor
// has none enrolled; their right password is refused "as a wrong one is"
// (README, "Signing in"): at a wrong one's cost, one commit, and counted
// toward the lock-out. Refused without a commit, the right password
// answered sooner than every wrong one, by that commit's fsync, and a
// guesser told it by the time alone.
func TestARightPasswordWithoutTheSecondFactorEnrolledCostsAWrongOnesCommit(t *testing.T) {
	s := &commitCounter{Store: memstore.New()}
	t.Cleanup(func() { s.Close() })
	e := withVault(t, newEnvOn(s, ""))
	e.addUpgradedAdmin(t, "ad.cu")
	commitsOf := func(password string) int64 {
		t.Helper()
		before := s.commits.Load()
		if _, err := e.signIn("ad.cu", password, ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("sign-in: %v, want refused", err)
		}
		return s.commits.Load() - before
	}
	wrong, right := commitsOf("wrong password!"), commitsOf(goodPassword)
	if wrong == 0 || right != wrong {
		t.Errorf("the right password without a second factor enrolled: %d commits, a wrong one %d", right, wrong)
	}
	var failures int32
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		u, err := tx.User("ad.cu")
		failures = u.SignIn.Failures
		return err
	})
	if err != nil || failures != 2 {
		t.Errorf("failures counted: %d, %v; want 2, the wrong password and the right one alone", failures, err)
	}
}

// The console's throttle refuses an unfamiliar account's sign-in
// unchecked with SpendRefusedSignIn: it costs a wrong password's commits,
// as a checked refusal at the same address does, and counts nothing
// against the account, known or not.
func TestRefusalUncheckedCostsAWrongPasswordsCommits(t *testing.T) {
	s := &commitCounter{Store: memstore.New()}
	t.Cleanup(func() { s.Close() })
	e := withVault(t, newEnvOn(s, ""))
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	before := s.commits.Load()
	if _, err := e.signIn("lan.nguyen", "wrong password!", ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	want := s.commits.Load() - before
	for _, user := range []string{"lan.nguyen", "nobody.here"} {
		before := s.commits.Load()
		e.svc.SpendRefusedSignIn(ctx, identity.PasswordSignIn{UserID: user, Password: "wrong password!", Client: "192.0.2.1"})
		if got := s.commits.Load() - before; got != want {
			t.Errorf("an unchecked refusal of %s: %d commits, a wrong password %d", user, got, want)
		}
	}
	// Nothing counted: four more wrong passwords do not lock the account
	// that one failure and two unchecked refusals preceded.
	for range identity.MaxSignInFailures - 2 {
		if _, err := e.signIn("lan.nguyen", "wrong password!", ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Errorf("the right password after %d failures and the unchecked refusals: %v, want signed in", identity.MaxSignInFailures-1, err)
	}
}
