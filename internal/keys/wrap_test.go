package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustWrap(t testing.TB, m MasterKey, dataKey, aad []byte) WrappedKey {
	t.Helper()
	w, err := m.Wrap(dataKey, aad)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	return w
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	m := mustMaster(t)
	for _, aad := range [][]byte{nil, []byte("reports/1"), []byte("cases/HN-2026-00123")} {
		dk := mustDataKey(t)
		w := mustWrap(t, m, dk, aad)
		if w.MasterID != m.ID() {
			t.Errorf("MasterID = %q, want %q", w.MasterID, m.ID())
		}
		if bytes.Contains(w.Sealed, dk[:8]) {
			t.Error("wrapped key contains the data key")
		}
		got, err := m.Unwrap(w, aad)
		if err != nil {
			t.Fatalf("Unwrap: %v", err)
		}
		if !bytes.Equal(got, dk) {
			t.Fatalf("Unwrap = %x, want %x", got, dk)
		}
		// The unwrapped key really is the data key: it opens a record.
		sealed := mustSeal(t, dk, []byte("record"), aad)
		if _, err := Open(got, sealed, aad); err != nil {
			t.Fatalf("Open with unwrapped key: %v", err)
		}
	}
}

func TestUnwrapFailures(t *testing.T) {
	m, other := mustMaster(t), mustMaster(t)
	dk := mustDataKey(t)
	aad := []byte("reports/1")
	w := mustWrap(t, m, dk, aad)

	tamperedSealed := func() WrappedKey {
		c := WrappedKey{MasterID: w.MasterID, Sealed: bytes.Clone(w.Sealed)}
		c.Sealed[len(c.Sealed)/2] ^= 1
		return c
	}
	tests := []struct {
		name       string
		master     MasterKey
		w          WrappedKey
		aad        []byte
		wantDecErr bool // authentication failed, so ErrDecrypt too
	}{
		{"another master", other, w, aad, false},
		{"zero master", MasterKey{}, w, aad, false},
		{"forged MasterID", other, WrappedKey{MasterID: other.ID(), Sealed: w.Sealed}, aad, true},
		{"wrong aad", m, w, []byte("reports/2"), true},
		{"tampered", m, tamperedSealed(), aad, true},
		{"truncated", m, WrappedKey{MasterID: w.MasterID, Sealed: w.Sealed[:20]}, aad, true},
		{"empty MasterID", m, WrappedKey{Sealed: w.Sealed}, aad, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.master.Unwrap(tc.w, tc.aad)
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("Unwrap error = %v, want ErrWrongKey", err)
			}
			if errors.Is(err, ErrDecrypt) != tc.wantDecErr {
				t.Errorf("errors.Is(err, ErrDecrypt) = %v, want %v (err %v)", !tc.wantDecErr, tc.wantDecErr, err)
			}
			if got != nil {
				t.Errorf("Unwrap returned a key with an error")
			}
		})
	}
	if _, err := m.Unwrap(w, aad); err != nil {
		t.Fatalf("control Unwrap: %v", err)
	}
}

func TestWrapRejects(t *testing.T) {
	m := mustMaster(t)
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := m.Wrap(make([]byte, n), nil); err == nil {
			t.Errorf("Wrap of a %d-byte data key: no error", n)
		}
	}
	if _, err := (MasterKey{}).Wrap(mustDataKey(t), nil); err == nil {
		t.Error("Wrap under the zero MasterKey: no error")
	}
}

// TestUnwrapRejectsNonDataKey covers a value that authenticates under the
// master key but is not a 32-byte data key: it must not be handed out as one.
func TestUnwrapRejectsNonDataKey(t *testing.T) {
	m := mustMaster(t)
	sealed := mustSeal(t, m.key[:], []byte("sixteen byte key"), nil)
	got, err := m.Unwrap(WrappedKey{MasterID: m.ID(), Sealed: sealed}, nil)
	if err == nil {
		t.Fatalf("Unwrap returned %q", got)
	}
}

func TestRewrap(t *testing.T) {
	oldM, newM := mustMaster(t), mustMaster(t)
	dk := mustDataKey(t)
	aad := []byte("reports/1")
	w := mustWrap(t, oldM, dk, aad)

	nw, err := Rewrap(oldM, newM, w, aad)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if nw.MasterID != newM.ID() {
		t.Errorf("rewrapped MasterID = %q, want %q", nw.MasterID, newM.ID())
	}
	got, err := newM.Unwrap(nw, aad)
	if err != nil {
		t.Fatalf("Unwrap rewrapped key with the new master: %v", err)
	}
	if !bytes.Equal(got, dk) {
		t.Fatalf("rewrapped data key = %x, want %x", got, dk)
	}
	if _, err := oldM.Unwrap(nw, aad); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old master on the new wrapping: error = %v, want ErrWrongKey", err)
	}
	// Even with the MasterID changed to the old id, the old key cannot
	// authenticate the new wrapping.
	forged := WrappedKey{MasterID: oldM.ID(), Sealed: nw.Sealed}
	if _, err := oldM.Unwrap(forged, aad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old master on the new wrapping relabelled: error = %v, want ErrDecrypt", err)
	}
	// The input was not modified: the old wrapping still opens.
	if got, err := oldM.Unwrap(w, aad); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("old wrapping after Rewrap: %x, %v", got, err)
	}

	t.Run("already rewrapped", func(t *testing.T) {
		again, err := Rewrap(oldM, newM, nw, aad)
		if err != nil {
			t.Fatalf("second Rewrap: %v", err)
		}
		if again.MasterID != nw.MasterID || !bytes.Equal(again.Sealed, nw.Sealed) {
			t.Fatal("second Rewrap changed an already rewrapped key")
		}
	})
	t.Run("already rewrapped but damaged", func(t *testing.T) {
		bad := WrappedKey{MasterID: nw.MasterID, Sealed: bytes.Clone(nw.Sealed)}
		bad.Sealed[5] ^= 1
		if _, err := Rewrap(oldM, newM, bad, aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error = %v, want ErrDecrypt", err)
		}
	})
	t.Run("wrong old master", func(t *testing.T) {
		_, err := Rewrap(mustMaster(t), newM, w, aad)
		if !errors.Is(err, ErrWrongKey) {
			t.Fatalf("error = %v, want ErrWrongKey", err)
		}
	})
	t.Run("wrong aad", func(t *testing.T) {
		_, err := Rewrap(oldM, newM, w, []byte("reports/2"))
		if !errors.Is(err, ErrWrongKey) {
			t.Fatalf("error = %v, want ErrWrongKey", err)
		}
	})
	t.Run("zero new master", func(t *testing.T) {
		if _, err := Rewrap(oldM, MasterKey{}, w, aad); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestKeyring(t *testing.T) {
	oldM, newM, stranger := mustMaster(t), mustMaster(t), mustMaster(t)
	aad := []byte("reports/1")
	dkOld, dkNew := mustDataKey(t), mustDataKey(t)
	wOld := mustWrap(t, oldM, dkOld, aad)
	wNew := mustWrap(t, newM, dkNew, aad)

	kr := NewKeyring(newM, oldM)
	if kr.Current() != newM {
		t.Fatalf("Current() = %v, want %v", kr.Current(), newM)
	}
	for _, tc := range []struct {
		name string
		w    WrappedKey
		want []byte
	}{
		{"old wrapping", wOld, dkOld},
		{"new wrapping", wNew, dkNew},
	} {
		got, err := kr.Unwrap(tc.w, aad)
		if err != nil {
			t.Fatalf("%s: Unwrap: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: Unwrap = %x, want %x", tc.name, got, tc.want)
		}
	}

	t.Run("unknown master", func(t *testing.T) {
		w := mustWrap(t, stranger, mustDataKey(t), aad)
		_, err := kr.Unwrap(w, aad)
		if !errors.Is(err, ErrWrongKey) {
			t.Fatalf("error = %v, want ErrWrongKey", err)
		}
		for _, id := range []string{stranger.ID(), oldM.ID(), newM.ID()} {
			if !strings.Contains(err.Error(), id) {
				t.Errorf("error %q does not name id %s", err, id)
			}
		}
	})
	t.Run("wrong aad", func(t *testing.T) {
		if _, err := kr.Unwrap(wOld, []byte("reports/2")); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("error = %v, want ErrDecrypt", err)
		}
	})
	t.Run("after rotation ends", func(t *testing.T) {
		only := NewKeyring(newM)
		if _, err := only.Unwrap(wOld, aad); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("old wrapping without the old master: error = %v, want ErrWrongKey", err)
		}
		if _, err := only.Unwrap(wNew, aad); err != nil {
			t.Fatalf("new wrapping: %v", err)
		}
	})
	t.Run("rotation with Rewrap", func(t *testing.T) {
		// The sequence a rotation runs: re-wrap under Current, then drop the
		// old master; the data key must survive.
		nw, err := Rewrap(oldM, kr.Current(), wOld, aad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewKeyring(newM).Unwrap(nw, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, dkOld) {
			t.Fatalf("data key after rotation = %x, want %x", got, dkOld)
		}
	})
	t.Run("zero and duplicate keys ignored", func(t *testing.T) {
		k := NewKeyring(newM, MasterKey{}, newM, oldM, oldM)
		if _, err := k.Unwrap(wOld, aad); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Unwrap(WrappedKey{Sealed: wOld.Sealed}, aad); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("empty MasterID: error = %v, want ErrWrongKey", err)
		}
	})
}

// A keyring makes each master's cipher once: wrapping and unwrapping a data
// key, done for nearly every request, allocate only the wrapped key or the
// data key and the additional data, not an AES key schedule and a GCM each.
func TestKeyringMakesEachCipherOnce(t *testing.T) {
	m := mustMaster(t)
	kr := NewKeyring(m)
	aad := []byte("reports/1")
	dk := mustDataKey(t)
	w, err := kr.Wrap(dk, aad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kr.Unwrap(w, aad); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("Unwrap of Wrap = %x, %v; want %x", got, err, dk)
	}
	if w.MasterID != m.ID() {
		t.Fatalf("wrapped under %s, want the current master %s", w.MasterID, m.ID())
	}
	wraps := testing.AllocsPerRun(100, func() {
		if _, err := kr.Wrap(dk, aad); err != nil {
			t.Fatal(err)
		}
	})
	unwraps := testing.AllocsPerRun(100, func() {
		if _, err := kr.Unwrap(w, aad); err != nil {
			t.Fatal(err)
		}
	})
	// Wrap: the sealed bytes and the additional data; Unwrap: the data
	// key and the additional data.
	if wraps > 2 || unwraps > 2 {
		t.Errorf("Wrap allocates %v times, Unwrap %v; want at most 2 each (no cipher made per call)", wraps, unwraps)
	}
}

func BenchmarkKeyringUnwrap(b *testing.B) {
	kr := NewKeyring(mustMaster(b))
	aad := []byte("cases/HN-2026-00001")
	w, err := kr.Current().Wrap(mustDataKey(b), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Unwrap(w, aad); err != nil {
			b.Fatal(err)
		}
	}
}
