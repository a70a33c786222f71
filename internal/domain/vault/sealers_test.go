package vault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A data key opened again is neither unwrapped nor given a new cipher: a
// report's search entry opens what its write has just sealed, and the
// audit log's keys seal something for every search. The vault answers
// with the Sealer it made the first time, which a new vault does not
// have. (Counting allocations said so too, but not under the race
// detector, which CI runs: its sync.Pool drops items at random, and the
// counts of an open moved by more than the unwrap.)
func TestADataKeyOpenedAgainIsNotUnwrappedAgain(t *testing.T) {
	s := newStore(t)
	ring := keys.NewKeyring(master(t))
	st := seal(t, s, vault.New(ring), sampleReport(""))
	warm := vault.New(ring)
	if _, err := openReporter(s, warm, st.ID); err != nil {
		t.Fatal(err)
	}
	sealerOf := func(v *vault.Vault) *keys.Sealer {
		t.Helper()
		var sl *keys.Sealer
		if err := s.View(ctx, func(tx datastore.ReadTx) error {
			var err error
			sl, err = v.SealerOf(tx, st.Reporter.KeyID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return sl
	}
	first := sealerOf(warm)
	if again := sealerOf(warm); again != first {
		t.Errorf("the reporter's data key opened again got another Sealer: it was unwrapped again")
	}
	if other := sealerOf(vault.New(ring)); other == first {
		t.Errorf("a new vault opened the reporter's data key with another vault's Sealer")
	}
	if _, err := openReporter(s, warm, st.ID); err != nil {
		t.Fatal(err)
	}
	if again := sealerOf(warm); again != first {
		t.Errorf("after another open of the reporter its data key has another Sealer: it was unwrapped again")
	}
}

// A Sealer is used only for the wrapped key as stored now, under the
// keyring it was unwrapped with: a rotation that retires a master leaves no
// data key of it openable, and a data key replaced in storage is not
// answered by the one it replaced.
func TestCachedDataKeysFollowTheStoreAndTheKeyring(t *testing.T) {
	t.Run("retired master", func(t *testing.T) {
		s := newStore(t)
		old := master(t)
		v := vault.New(keys.NewKeyring(old))
		st := seal(t, s, v, sampleReport(""))
		if _, err := openReport(s, v, st.ID); err != nil {
			t.Fatal(err)
		}
		v.SetKeyring(keys.NewKeyring(master(t)))
		if v.CachedSealers() != 0 {
			t.Errorf("after SetKeyring the vault keeps %d Sealers, want none", v.CachedSealers())
		}
		if _, err := openReport(s, v, st.ID); !errors.Is(err, keys.ErrWrongKey) {
			t.Errorf("open after the old master was retired: %v, want ErrWrongKey", err)
		}
	})
	t.Run("replaced key", func(t *testing.T) {
		s := newStore(t)
		ring := keys.NewKeyring(master(t))
		v := vault.New(ring)
		st := seal(t, s, v, sampleReport(""))
		if _, err := openReporter(s, v, st.ID); err != nil {
			t.Fatal(err)
		}
		dk, err := keys.NewDataKey()
		if err != nil {
			t.Fatal(err)
		}
		id := st.Reporter.KeyID
		w, err := ring.Wrap(dk, []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.PutDataKey(id, w) }); err != nil {
			t.Fatal(err)
		}
		if _, err := openReporter(s, v, st.ID); !errors.Is(err, keys.ErrDecrypt) {
			t.Errorf("open after its data key was replaced: %v, want ErrDecrypt (the old key's Sealer was used)", err)
		}
	})
}

// The Sealers kept are bounded, however many data keys a vault meets.
func TestCachedSealersAreBounded(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	for i := range vault.MaxSealers/2 + 10 { // two keys a report of no case
		r := sampleReport("")
		r.ID = fmt.Sprintf("%s%04x", r.ID[:len(r.ID)-4], i)
		seal(t, s, v, r)
	}
	if n := v.CachedSealers(); n == 0 || n > vault.MaxSealers {
		t.Errorf("the vault keeps %d Sealers after %d new data keys, want 1 to %d", n, vault.MaxSealers+20, vault.MaxSealers)
	}
}

func BenchmarkOpenReport(b *testing.B) {
	s := memstore.New()
	defer s.Close()
	m, err := keys.GenerateMaster()
	if err != nil {
		b.Fatal(err)
	}
	v := vault.New(keys.NewKeyring(m))
	r := sampleReport("HN-2026-00001")
	var id string
	if err := s.Update(ctx, func(tx datastore.Tx) error {
		st, err := v.SealReport(tx, r)
		id = st.ID
		if err != nil {
			return err
		}
		return tx.CreateReport(st)
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openReport(s, v, id); err != nil {
			b.Fatal(err)
		}
		if _, err := openReporter(s, v, id); err != nil {
			b.Fatal(err)
		}
	}
}
