package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/model"
)

// Password rules. The length is counted in runes of the NFC form, so a
// Vietnamese password typed on any keyboard counts its letters once.
const (
	MinPasswordLen = 12
	// MaxPasswordBytes bounds what a sign-in hashes: argon2 reads all of
	// it, and a megabyte of "password" should cost its sender, not us.
	MaxPasswordBytes = 1024
)

// argon2id parameters: the OWASP minimum (19 MiB, 2 passes, 1 lane),
// about 30 ms a hash on one core. They are written into each hash, so a
// later change leaves the stored hashes verifiable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// dummyHash is checked when a user id is unknown or has no password, so
// that the answer takes as long as for a wrong password: the time of a
// refusal does not tell whether the account exists.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// CheckPassword applies the password policy to a new password of userID.
// Its error names the field "password" and the rule broken.
func CheckPassword(userID, password string) error {
	pw := norm.NFC.String(password)
	switch {
	case len(pw) > MaxPasswordBytes:
		return model.InvalidField("password", "password.max_length", "a password is at most %d bytes", MaxPasswordBytes)
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return model.InvalidField("password", "password.min_length", "a password is at least %d characters", MinPasswordLen)
	case isUserID(pw, userID):
		return model.InvalidField("password", "password.not_user_id", "a password must not be the user id, in any case, with spaces around it or in full width")
	}
	return nil
}

// isUserID reports whether a password is the user id as a guesser would
// try it: in any case, with spaces around it (the one to twelve more
// characters that let " lan.nguyen " pass the length rule), or typed in
// full width by a Vietnamese input method (NFKC folds it to ASCII).
func isUserID(password, userID string) bool {
	return strings.EqualFold(strings.TrimSpace(norm.NFKC.String(password)), userID)
}

// hashPassword returns the PHC string of an argon2id hash of password
// (in NFC) under a new random salt.
func hashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(norm.NFC.String(password)), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC string phc. A
// string it cannot read matches nothing. A password longer than
// MaxPasswordBytes is hashed only up to that length: it cannot match,
// since no such password was accepted, and it costs no more than one that
// could.
func verifyPassword(phc, password string) bool {
	var version int
	var m uint32
	var t uint32
	var p uint8
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 10 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	pw := norm.NFC.String(password)
	tooLong := len(pw) > MaxPasswordBytes
	if tooLong {
		pw = pw[:MaxPasswordBytes]
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && !tooLong
}
