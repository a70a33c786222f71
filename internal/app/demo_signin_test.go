package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// Every demo user signs in to the console with the printed password, the
// roles that need it with a code of the printed TOTP secret; a new start
// prints a new password and the same secret.
func TestDemoPasswordsSignIn(t *testing.T) {
	ctx := context.Background()
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	clk := clock.NewFake(time.Date(2026, 9, 2, 8, 0, 10, 0, time.UTC)) // Quốc khánh: the demo runs on holidays too
	ids := identity.New(store, reg, clk, slog.New(slog.DiscardHandler)).WithVault(vault.New(keys.NewKeyring(master)))
	sys := access.System("test")
	if _, err := ids.CreatePoliceUnit(ctx, sys, model.PoliceUnit{ID: "ca-phuong-ba-dinh", DisplayName: "CA", Covers: []units.Key{demoBaDinh}}, idempotency.Request{}); err != nil {
		t.Fatal(err)
	}
	for _, du := range demoUsers {
		// Seeded as the demo seeds them: its district's officer belongs
		// to a unit the reform ended.
		if _, _, _, err := ids.SeedUser(ctx, sys, model.User{ID: du.id, DisplayName: du.name, Role: du.role, Unit: du.unit, Phone: du.phone}, 0); err != nil {
			t.Fatal(err)
		}
	}
	password, secret, err := setDemoPasswords(ctx, ids, clk)
	if err != nil {
		t.Fatal(err)
	}
	signInAll := func(password, secret string) {
		t.Helper()
		code, err := identity.TOTPCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, du := range demoUsers {
			in := identity.PasswordSignIn{UserID: du.id, Password: password, Client: "127.0.0.1"}
			_, err := ids.SignInWithPassword(ctx, in)
			if identity.NeedsSecondFactor(du.role) {
				if !errors.Is(err, identity.ErrSecondFactorNeeded) {
					t.Fatalf("%s without a code: %v, want ErrSecondFactorNeeded", du.id, err)
				}
				in.TOTPCode = code
				_, err = ids.SignInWithPassword(ctx, in)
			}
			if err != nil {
				t.Errorf("%s signs in with the printed password: %v", du.id, err)
			}
		}
	}
	// Right after the start, with the code the newcomer reads now.
	signInAll(password, secret)

	clk.Advance(time.Hour)
	password2, secret2, err := setDemoPasswords(ctx, ids, clk)
	if err != nil {
		t.Fatal(err)
	}
	if password2 == password || secret2 != secret || !strings.HasPrefix(password2, "demo-") {
		t.Errorf("second start: password %q (first %q), secret %q (first %q); want a new password, the same secret", password2, password, secret2, secret)
	}
	signInAll(password2, secret2)
}
