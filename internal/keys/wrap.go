package keys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// WrappedKey is a data key encrypted under a master key. Callers store it next
// to the record the data key encrypts; it is not secret.
type WrappedKey struct {
	// MasterID is the ID of the master key that wrapped the data key, so the
	// right master can be picked while two are in use during a rotation, and
	// so a rotation job can tell which records still need re-wrapping.
	MasterID string
	// Sealed is the data key sealed under the master key with AES-256-GCM in
	// the Seal format (version byte, then the random nonce, then ciphertext
	// and tag).
	Sealed []byte
}

// Wrap encrypts a 32-byte data key under m. Pass the same aad as for the
// record (its identity), so a wrapped key copied onto another record does
// not unwrap there.
func (m MasterKey) Wrap(dataKey, aad []byte) (WrappedKey, error) {
	if m.isZero() {
		return WrappedKey{}, errors.New("wrap data key: the zero MasterKey holds no key")
	}
	return m.wrapWith(nil, dataKey, aad)
}

// wrapWith is Wrap with m's Sealer, made here when s is nil.
func (m MasterKey) wrapWith(s *Sealer, dataKey, aad []byte) (WrappedKey, error) {
	if len(dataKey) != keySize {
		return WrappedKey{}, fmt.Errorf("wrap data key: data key is %d bytes, want %d", len(dataKey), keySize)
	}
	s, err := m.sealer(s)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("wrap data key under master %s: %w", m.id, err)
	}
	sealed, err := s.Seal(dataKey, aad)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("wrap data key under master %s: %w", m.id, err)
	}
	return WrappedKey{MasterID: m.id, Sealed: sealed}, nil
}

// sealer returns s, or m's Sealer made now when s is nil.
func (m MasterKey) sealer(s *Sealer) (*Sealer, error) {
	if s != nil {
		return s, nil
	}
	return NewSealer(m.key[:])
}

// Unwrap decrypts a data key wrapped by Wrap. If w was wrapped under another
// master (w.MasterID != m.ID()) it fails without trying, with an error
// wrapping ErrWrongKey. If the ids match but w fails authentication (w was
// changed, the aad differs, or the MasterID was forged) the error wraps both
// ErrWrongKey and ErrDecrypt.
func (m MasterKey) Unwrap(w WrappedKey, aad []byte) ([]byte, error) {
	if m.isZero() {
		return nil, fmt.Errorf("unwrap data key: the zero MasterKey holds no key: %w", ErrWrongKey)
	}
	if w.MasterID != m.id {
		return nil, fmt.Errorf("unwrap data key: wrapped under master %q, have master %q: %w",
			w.MasterID, m.id, ErrWrongKey)
	}
	return m.unwrapWith(nil, w, aad)
}

// unwrapWith is Unwrap, once w is known to be wrapped under m, with m's
// Sealer, made here when s is nil.
func (m MasterKey) unwrapWith(s *Sealer, w WrappedKey, aad []byte) ([]byte, error) {
	s, err := m.sealer(s)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key under master %s: %w", m.id, err)
	}
	dataKey, err := s.Open(w.Sealed, aad)
	if err != nil {
		// Open's only non-ErrDecrypt error is a bad key size, impossible for
		// a master key, so this is always an authentication failure.
		return nil, fmt.Errorf("unwrap data key under master %s: %w: %w", m.id, ErrWrongKey, err)
	}
	if len(dataKey) != keySize {
		// Authentic, so made with this key, but not by Wrap.
		clear(dataKey)
		return nil, fmt.Errorf("unwrap data key under master %s: unwrapped key is %d bytes, want %d",
			m.id, len(dataKey), keySize)
	}
	return dataKey, nil
}

// Rewrap re-wraps a data key from the old master to the new one without
// exposing it to the caller: used by key rotation. The plaintext data key is
// cleared from memory (best effort) before Rewrap returns. If w is already
// wrapped under newMaster, it is checked with newMaster and returned as is,
// so a rotation job that was interrupted can simply be run again.
func Rewrap(oldMaster, newMaster MasterKey, w WrappedKey, aad []byte) (WrappedKey, error) {
	if !newMaster.isZero() && w.MasterID == newMaster.id {
		dataKey, err := newMaster.Unwrap(w, aad)
		if err != nil {
			return WrappedKey{}, fmt.Errorf("rewrap: %w", err)
		}
		clear(dataKey)
		return w, nil
	}
	dataKey, err := oldMaster.Unwrap(w, aad)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("rewrap: %w", err)
	}
	defer clear(dataKey)
	nw, err := newMaster.Wrap(dataKey, aad)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("rewrap: %w", err)
	}
	return nw, nil
}

// Keyring holds the current master key and, during a rotation, the previous
// one, so reads keep working while data keys are re-wrapped. New data keys
// are wrapped under Current only. A Keyring cannot change once built, so it
// is safe for concurrent use; a rotation builds a new one.
type Keyring struct {
	current MasterKey
	byID    map[string]MasterKey
	// sealers holds each master's Sealer, made once with the keyring
	// rather than for every data key wrapped or unwrapped; a rotation's new
	// keyring drops the retired master's with it.
	sealers map[string]*Sealer
}

// NewKeyring returns a keyring that wraps under current and unwraps under
// current or any of previous. Zero MasterKeys in previous and duplicates of
// one key are ignored.
func NewKeyring(current MasterKey, previous ...MasterKey) *Keyring {
	k := &Keyring{current: current, byID: make(map[string]MasterKey, 1+len(previous))}
	for _, m := range append([]MasterKey{current}, previous...) {
		if m.isZero() {
			continue
		}
		if _, ok := k.byID[m.id]; !ok {
			k.byID[m.id] = m
		}
	}
	k.sealers = make(map[string]*Sealer, len(k.byID))
	for id, m := range k.byID {
		// A master's key is always 32 bytes, so this cannot fail; were it
		// to, Wrap and Unwrap would make the Sealer and report the error.
		if s, err := NewSealer(m.key[:]); err == nil {
			k.sealers[id] = s
		}
	}
	return k
}

// Wrap wraps dataKey under the current master, as Current().Wrap does.
func (k *Keyring) Wrap(dataKey, aad []byte) (WrappedKey, error) {
	if k.current.isZero() {
		return k.current.Wrap(dataKey, aad)
	}
	return k.current.wrapWith(k.sealers[k.current.id], dataKey, aad)
}

// Current returns the master key that new data keys are wrapped under.
func (k *Keyring) Current() MasterKey { return k.current }

// Masters returns the keyring's master keys, the current one first, then
// the others in order of id: a search looks its tokens up under each, so
// that an index half rebuilt during a rotation still finds every case.
func (k *Keyring) Masters() []MasterKey {
	out := []MasterKey{k.current}
	ids := make([]string, 0, len(k.byID))
	for id := range k.byID {
		if id != k.current.id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, k.byID[id])
	}
	return out
}

// Unwrap unwraps w with the master key whose id is w.MasterID. If the keyring
// has no such master, the error wraps ErrWrongKey and names the ids it does
// have (ids are not secret), which tells an operator which key file is
// missing.
func (k *Keyring) Unwrap(w WrappedKey, aad []byte) ([]byte, error) {
	m, ok := k.byID[w.MasterID]
	if !ok {
		ids := make([]string, 0, len(k.byID))
		for id := range k.byID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return nil, fmt.Errorf("unwrap data key: wrapped under master %q, keyring has [%s]: %w",
			w.MasterID, strings.Join(ids, " "), ErrWrongKey)
	}
	return m.unwrapWith(k.sealers[m.id], w, aad)
}
