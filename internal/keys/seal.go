package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// Sizes of keys and of the sealed format.
const (
	// keySize is the size of data keys and master keys: AES-256.
	keySize = 32
	// sealVersion is the first byte of every sealed value so the format can
	// change later without guessing what old bytes mean.
	sealVersion byte = 0x01
	nonceSize        = 12 // the GCM standard nonce
	tagSize          = 16 // the GCM standard tag
	headerSize       = 1 + nonceSize
	// sealOverhead is how much longer a sealed value is than its plaintext.
	sealOverhead = headerSize + tagSize
)

// NewDataKey returns a fresh random 32-byte AES-256 key for one record. Each
// record gets its own so that a random 96-bit nonce is safe (the GCM limit of
// about 2^32 messages per key is far beyond what one record is ever
// re-sealed), and so that master key rotation only re-wraps keys.
func NewDataKey() ([]byte, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("new data key: %w", err)
	}
	return k, nil
}

// Seal encrypts and authenticates plaintext with AES-256-GCM under dataKey,
// which must be 32 bytes. The result is
//
//	0x01 (format version) | 12-byte random nonce | ciphertext | 16-byte tag
//
// The version byte is authenticated together with aad, so it cannot be
// changed to make the data be read as another format. Sealing the same
// plaintext twice gives different output because the nonce is random.
func Seal(dataKey, plaintext, aad []byte) ([]byte, error) {
	s, err := NewSealer(dataKey)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.Seal(plaintext, aad)
}

// Open checks and decrypts a value made by Seal with the same dataKey and aad.
// Any tampering, a wrong key or aad, truncation or an unknown version gives an
// error wrapping ErrDecrypt and no plaintext. Only a dataKey that is not 32
// bytes long gives another error, since that is a bug in the caller rather
// than a property of the data.
func Open(dataKey, sealed, aad []byte) ([]byte, error) {
	s, err := NewSealer(dataKey)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return s.Open(sealed, aad)
}

// A Sealer is Seal and Open under one key, with the key's cipher made once:
// making an AES-GCM cipher (its key schedule and tables) costs about as much
// as sealing a short record, and a master key seals or opens a data key for
// nearly every request. It is safe for concurrent use. It holds the key's
// schedule, so it must be dropped with the key.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns the Sealer of a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal is the package's Seal under s's key.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize, sealOverhead+len(plaintext))
	out[0] = sealVersion
	nonce := out[1:headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, nonce, plaintext, additionalData(sealVersion, aad)), nil
}

// Open is the package's Open under s's key.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("open: %d bytes is shorter than the %d-byte minimum: %w",
			len(sealed), sealOverhead, ErrDecrypt)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("open: unknown format version 0x%02x: %w", sealed[0], ErrDecrypt)
	}
	nonce, ciphertext := sealed[1:headerSize], sealed[headerSize:]
	plaintext, err := s.aead.Open(nil, nonce, ciphertext, additionalData(sealed[0], aad))
	if err != nil {
		// The GCM error carries nothing more useful than "authentication
		// failed"; ErrDecrypt says that in the package's own terms.
		return nil, fmt.Errorf("open: %w", ErrDecrypt)
	}
	return plaintext, nil
}

// newGCM returns AES-256-GCM under key. It refuses AES-128 and AES-192 key
// sizes, which aes.NewCipher would accept, so a truncated key cannot silently
// weaken the encryption.
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// additionalData is what GCM authenticates besides the ciphertext: the format
// version, then the caller's aad. The version has a fixed length, so the
// concatenation is unambiguous.
func additionalData(version byte, aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	ad = append(ad, version)
	return append(ad, aad...)
}
