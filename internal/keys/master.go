package keys

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// The key file format, version 1. A key file is text of exactly three lines,
// each ending in "\n":
//
//	childcase-master-key v1
//	<id: 16 lower-case hex digits, see MasterKey.ID>
//	<the 32 key bytes in standard base64 with padding (44 characters)>
//
// For example:
//
//	childcase-master-key v1
//	630dcd2966c43366
//	AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
//
// The header line names the format so a future version can be recognised and
// a wrong file (a TLS key, an empty file) is refused with a clear message.
// The id line lets an operator see which key a file holds without decoding
// it; LoadMaster checks that it matches the key, which catches a file edited
// by hand or damaged. LoadMaster also accepts a file whose final newline is
// missing, since some secret stores strip it; nothing else is tolerated.
const (
	keyFileHeader = "childcase-master-key v1"
	// maxKeyFileSize bounds how much LoadMaster reads: a real key file is 86
	// bytes, and pointing the service at a large file by mistake should give
	// an error, not read it all into memory.
	maxKeyFileSize = 4096
	// keyFileMode lets only the service's own user read or write the key.
	keyFileMode fs.FileMode = 0o600
	// checkValueLabel is the message MAC'd by CheckValue. It must never
	// change: check values are stored in databases.
	checkValueLabel = "childcase key check v1"
	// indexKeyLabel is the message MAC'd by IndexKey. Changing it would
	// make every stored search token unfindable.
	indexKeyLabel = "childcase blind index v1"
	// pageTokenKeyLabel is the message MAC'd by PageTokenKey. Changing it
	// only makes the page tokens clients hold invalid.
	pageTokenKeyLabel = "childcase page tokens v1"
	// enrolKeyLabel is the message MAC'd by EnrolKey. Changing it only
	// makes the set-password pages open at the time show a new secret.
	enrolKeyLabel = "childcase console totp enrol v1"
)

// Reasons LoadMaster refuses a key file; tests tell them apart with errors.Is.
var (
	errMalformed    = errors.New("malformed key file")
	errInsecureMode = errors.New("key file is accessible to group or others")
	errForeignOwner = errors.New("key file is owned by another user")
	errLink         = errors.New("key file is a symbolic link")
)

// MasterKey is a 256-bit key with an id, so data wrapped under an older key
// can be recognised during rotation.
//
// The id is derived from the key rather than chosen at random: it is the
// first 8 bytes of SHA-256(key), hex-encoded. That way the id can never
// disagree with the key (copying the key anywhere copies its id, and a key
// file whose id line was edited is refused), and two files holding the same
// key agree on its id. Publishing 64 bits of a hash of a uniformly random
// 256-bit key reveals nothing usable about the key.
//
// The zero MasterKey holds no key: Wrap, Unwrap and WriteMaster refuse it and
// its ID is "". A MasterKey never prints its key bytes (see Format), so
// logging one by mistake does not leak it.
type MasterKey struct {
	id  string
	key [keySize]byte
}

// GenerateMaster returns a new master key made of 32 random bytes from
// crypto/rand.
func GenerateMaster() (MasterKey, error) {
	var k [keySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return MasterKey{}, fmt.Errorf("generate master key: %w", err)
	}
	return masterFromKey(k), nil
}

// masterFromKey returns the MasterKey for key bytes, deriving its id.
func masterFromKey(key [keySize]byte) MasterKey {
	sum := sha256.Sum256(key[:])
	return MasterKey{id: hex.EncodeToString(sum[:8]), key: key}
}

// ID returns the key's id: 16 hex digits derived from the key (see
// MasterKey). It is stored next to every WrappedKey and is not secret.
func (m MasterKey) ID() string { return m.id }

// ValidMasterID reports whether id has the form of a master key's id (16
// lower-case hex digits), as an id read from a database must before it
// names a file.
func ValidMasterID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isZero reports whether m is the zero MasterKey, which holds no key.
func (m MasterKey) isZero() bool { return m.id == "" }

// String returns "keys.MasterKey(<id>)", never the key bytes.
func (m MasterKey) String() string {
	if m.isZero() {
		return "keys.MasterKey(none)"
	}
	return "keys.MasterKey(" + m.id + ")"
}

// Format makes every fmt verb (%v, %+v, %#v, %x, %d, ...) print String.
// Without it, fmt would print the unexported key array for verbs such as
// %+v or %d, and a careless log line would disclose the master key.
func (m MasterKey) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, m.String())
}

// CheckValue returns HMAC-SHA256(key, "childcase key check v1"). The service
// stores it in the database when the database is first encrypted and compares
// it (with hmac.Equal) at every start, so that a wrong key file fails loudly
// at start instead of the service serving garbage or failing record by
// record. It reveals nothing about the key. The zero MasterKey returns nil.
func (m MasterKey) CheckValue() []byte { return m.derive(checkValueLabel) }

// IndexKey returns HMAC-SHA256(key, "childcase blind index v1"), the key
// of the blind search index: derived rather than stored, so it lives only
// where the master key does and changes with it when the master rotates.
// HMAC under a distinct label keeps it independent of the check value and
// of the wrapping key. The zero MasterKey returns nil.
func (m MasterKey) IndexKey() []byte { return m.derive(indexKeyLabel) }

// PageTokenKey returns HMAC-SHA256(key, "childcase page tokens v1"), the
// key that authenticates page tokens. Derived rather than made at each
// start, so that every instance with the same key file, and the same
// instance after a restart, accept each other's tokens; a rotation of the
// master changes it, which only sends clients holding a token back to
// their listing's first page. The zero MasterKey returns nil.
func (m MasterKey) PageTokenKey() []byte { return m.derive(pageTokenKeyLabel) }

// EnrolKey returns HMAC-SHA256(key, "childcase console totp enrol v1"),
// the key with which the console's set-password page signs the TOTP
// secret it makes. Derived like PageTokenKey, so that a page made by one
// instance (or before a restart) is accepted by another. The zero
// MasterKey returns nil.
func (m MasterKey) EnrolKey() []byte { return m.derive(enrolKeyLabel) }

// derive returns HMAC-SHA256(key, label): a key for one purpose, named by
// its label. The master is 32 uniformly random bytes, so HMAC under a
// distinct label (the one-block case of HKDF's expand step) gives keys
// that are independent of each other and of the wrapping key. The zero
// MasterKey returns nil.
func (m MasterKey) derive(label string) []byte {
	if m.isZero() {
		return nil
	}
	mac := hmac.New(sha256.New, m.key[:])
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// LoadMaster reads the key file at path (format above). It refuses a file
// that group or others may read, write or execute (mode & 0o077 != 0),
// naming the path and the mode, because a readable master key exposes every
// child's and reporter's data; one owned by another user than the process
// runs as (where files have owners), naming its owner, for the same reason
// (as ssh refuses a private key others can reach); anything but a regular
// file; a symbolic link, dangling or not (see refuseLink); and a
// malformed file. A missing file gives an error wrapping fs.ErrNotExist.
func LoadMaster(path string) (MasterKey, error) {
	if err := refuseLink(path); err != nil {
		return MasterKey{}, err
	}
	// Not followed either if a link took the name since it was looked at.
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if errors.Is(err, syscall.ELOOP) {
		err = refuseLink(path)
	}
	if err != nil {
		return MasterKey{}, fmt.Errorf("load master key: %w", err)
	}
	defer f.Close()

	// Stat the open file, not the path, so the file checked is the file read.
	info, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("load master key %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return MasterKey{}, fmt.Errorf("load master key %s: not a regular file (mode %s): %w",
			path, info.Mode(), errMalformed)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("load master key %s: mode %04o (%s) lets group or others access it; "+
			"it must be readable by the service's user only (chmod 600 %s): %w",
			path, perm, info.Mode(), path, errInsecureMode)
	}

	// Owned by another user, it is that user's to read or to replace
	// with a key of their own, whatever its mode says; root, who reads
	// any file, would otherwise take it.
	if owner, ok := fileOwner(info); ok && owner != os.Geteuid() {
		return MasterKey{}, fmt.Errorf("load master key %s: owned by %s, not by %s, whom this process runs as; "+
			"its owner can read the master key or put another in its place: give it to the user that runs the service (chown %s %s), "+
			"or run this as that user: %w",
			path, userName(owner), userName(os.Geteuid()), chownName(os.Geteuid()), path, errForeignOwner)
	}

	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return MasterKey{}, fmt.Errorf("load master key %s: %w", path, err)
	}
	defer clear(data) // best effort: do not leave the encoded key on the heap
	m, err := parseKeyFile(data)
	if err != nil {
		return MasterKey{}, fmt.Errorf("load master key %s: %w", path, err)
	}
	return m, nil
}

// refuseLink refuses a key file that is a symbolic link. A rotation
// renames the next key file (KEYFILE.next) into the key file's place and
// links the key file to KEYFILE.retired-<id>: a link planted at one of
// those names had the data keys re-wrapped under a key read from
// wherever it pointed, and put the link in the key file's place, so that
// the master key of every child's data lived elsewhere (on a disk that
// may be gone, in a folder others write). The mode and owner checked are
// the target's, not the name's. As the snapshot and the reserve beside
// the database, a key file is the file itself.
func refuseLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil // what there is, or is not, is for the open to say
	}
	target, _ := os.Readlink(path)
	return fmt.Errorf("load master key: --key-file: %s is a symbolic link (to %q): a key file, and the KEYFILE.next and KEYFILE.retired-<id> files a rotation keeps beside it, "+
		"must be the file itself, so that no link decides which key the data is under; put the key file there in its place: %w", path, target, errLink)
}

// userName names the user uid as "uid N (name)", or "uid N" when the
// system knows no name for it.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return fmt.Sprintf("uid %d", uid)
}

// chownName is how chown is best told of uid: its name, or its number.
func chownName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// parseKeyFile decodes the key file format. Its errors wrap errMalformed and
// never quote the key line.
func parseKeyFile(data []byte) (MasterKey, error) {
	if len(data) > maxKeyFileSize {
		return MasterKey{}, fmt.Errorf("larger than %d bytes: %w", maxKeyFileSize, errMalformed)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) != 3 {
		return MasterKey{}, fmt.Errorf("%d lines, want 3: %w", len(lines), errMalformed)
	}
	if string(lines[0]) != keyFileHeader {
		return MasterKey{}, fmt.Errorf("first line is not %q: %w", keyFileHeader, errMalformed)
	}
	// Decode into a buffer large enough for any 3-line file so an overlong
	// key is reported as a wrong length, not as a decoder panic or overflow.
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(lines[2])))
	defer clear(buf)
	n, err := base64.StdEncoding.Strict().Decode(buf, lines[2])
	if err != nil {
		return MasterKey{}, fmt.Errorf("third line is not standard base64: %w: %w", errMalformed, err)
	}
	if n != keySize {
		return MasterKey{}, fmt.Errorf("key is %d bytes, want %d: %w", n, keySize, errMalformed)
	}
	var key [keySize]byte
	copy(key[:], buf[:n])
	m := masterFromKey(key)
	if string(lines[1]) != m.id {
		return MasterKey{}, fmt.Errorf("id %q does not match the key (file edited or damaged): %w",
			lines[1], errMalformed)
	}
	return m, nil
}

// encodeKeyFile returns m in the key file format.
func encodeKeyFile(m MasterKey) []byte {
	b := make([]byte, 0, len(keyFileHeader)+len(m.id)+base64.StdEncoding.EncodedLen(keySize)+3)
	b = append(b, keyFileHeader...)
	b = append(b, '\n')
	b = append(b, m.id...)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, m.key[:])
	return append(b, '\n')
}

// WriteMaster writes m to a new key file at path with mode 0600. It never
// replaces an existing file: overwriting a master key would make everything
// encrypted under it unreadable, so if path exists it fails with an error
// wrapping fs.ErrExist.
//
// The file appears atomically, complete and durable, or not at all: the key is
// written to a temporary file in the same directory and fsynced, then
// published under path with a hard link, then the temporary name is removed
// and the directory fsynced. A hard link is used instead of rename because
// link fails if path exists while rename would silently replace it; that
// keeps the no-overwrite promise even when two processes race to create the
// key. The directory must therefore be on a file system that supports hard
// links. A crash between link and cleanup can leave a temporary file
// (".<name>.tmp-*", mode 0600) beside the key file.
func WriteMaster(path string, m MasterKey) error {
	if m.isZero() {
		return fmt.Errorf("write master key %s: the zero MasterKey holds no key", path)
	}
	// Fail fast, before writing anything; the link below is what makes the
	// check race-free.
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("write master key %s: refusing to overwrite an existing key file: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write master key %s: %w", path, err)
	}

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	tmpName := tmp.Name()
	removeTmp := true
	defer func() {
		if removeTmp {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()

	// CreateTemp already uses 0600, but a umask can take owner bits away;
	// set the mode explicitly so the file is exactly 0600.
	if err := tmp.Chmod(keyFileMode); err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	content := encodeKeyFile(m)
	_, err = tmp.Write(content)
	clear(content)
	if err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write master key %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write master key %s: refusing to overwrite an existing key file: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("write master key %s: publish: %w", path, err)
	}
	// path now holds the key; from here on the temporary name is only a
	// second link to it.
	removeTmp = false
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("write master key %s: key written, but removing temporary copy %s: %w", path, tmpName, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write master key %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so a new or removed name in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// LoadOrCreateMaster loads the key file at path, or, if there is none,
// generates a master key, writes it there and reports created = true, so a
// first start needs no setup. Only a missing file leads to a new key: an
// insecure, malformed or unreadable file is an error, because replacing it
// would orphan the data encrypted under the key it held. If another process
// creates the file at the same moment, the one that loses the race loads the
// winner's key, so both use the same key.
func LoadOrCreateMaster(path string) (m MasterKey, created bool, err error) {
	m, err = LoadMaster(path)
	if err == nil {
		return m, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return MasterKey{}, false, err
	}
	m, err = GenerateMaster()
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("create master key %s: %w", path, err)
	}
	if err := WriteMaster(path, m); err != nil {
		if errors.Is(err, fs.ErrExist) {
			m, err = LoadMaster(path)
			return m, false, err
		}
		return MasterKey{}, false, fmt.Errorf("create master key: %w", err)
	}
	return m, true, nil
}
