// Package keys holds the master key and the envelope encryption that protects
// children's and reporters' data at rest: AES-256-GCM under per-record data
// keys, each wrapped by a master key read from a key file. It does no storage
// and knows nothing of cases.
//
// The envelope works like this. Each record gets its own random data key
// (NewDataKey); the record is encrypted with Seal under that data key, and the
// data key itself is encrypted ("wrapped") under the master key with
// MasterKey.Wrap. The caller stores the sealed record and the WrappedKey side
// by side. Only the master key lives outside the database, in a key file that
// only the service's user may read (LoadMaster). Rotating the master key then
// means re-wrapping 32-byte data keys (Rewrap), not re-encrypting every record,
// and a Keyring keeps both masters readable while that runs.
//
// Every function takes an aad ("additional authenticated data") argument. It
// is not encrypted or stored by this package, but the ciphertext only opens
// with the same aad. Callers should pass the identity of the record (e.g.
// "reports/<uuid>"): that binds a ciphertext to its record, so a sealed
// child's name cannot be copied into another record's field and decrypt
// there. A nil and an empty aad are the same.
//
// All functions and types are safe for concurrent use; a Keyring is immutable
// once built.
package keys

import "errors"

// Errors that callers test for with errors.Is. The messages deliberately say
// nothing about the key or the data.
var (
	// ErrWrongKey: a WrappedKey cannot be unwrapped with the master key given,
	// because it was wrapped under a different master (MasterID differs, or
	// no master in a Keyring has that id) or because it fails authentication.
	// At start-up it usually means the wrong key file was deployed.
	ErrWrongKey = errors.New("wrong master key")
	// ErrDecrypt: sealed data fails authentication: it was changed or
	// truncated, the data key or the aad is wrong, or its format version is
	// unknown. Decryption never returns partial or unauthenticated plaintext.
	ErrDecrypt = errors.New("sealed data cannot be opened: wrong key or aad, or damaged data")
)
