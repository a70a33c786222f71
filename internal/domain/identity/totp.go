package identity

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/childcase/childcase/internal/domain/model"
)

// TOTP as authenticator apps expect it: SHA-1, 6 digits, 30-second steps;
// a code of the step before or after now is accepted too, for clocks
// that drift.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpIssuer = "childcase"
	// minTOTPSecretBytes is the shortest secret accepted at enrolment:
	// RFC 4226 asks for 128 bits, NewTOTPKey makes 160.
	minTOTPSecretBytes = 16
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPKey is a new TOTP secret for a person to enrol in an authenticator
// app: the base32 secret to type, the otpauth:// URL, and a QR code (PNG)
// of the URL to scan.
type TOTPKey struct {
	Secret string
	URL    string
	QRPNG  []byte
}

// NewTOTPKey makes a TOTP secret for userID. It is not stored: the person
// proves the app holds it with a code (SetPassword), and only then is it
// sealed and kept.
func NewTOTPKey(userID string) (TOTPKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: userID, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPKey{}, fmt.Errorf("new TOTP key for %s: %w", userID, err)
	}
	qr, err := qrCode(k)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("QR code of the TOTP key for %s: %w", userID, err)
	}
	return TOTPKey{Secret: k.Secret(), URL: k.URL(), QRPNG: qr}, nil
}

// TOTPQRCode draws again the QR code of a secret NewTOTPKey made, for a
// person whose first code was refused: the enrolment goes on with the same
// secret, so an app that scanned it need not start over.
func TOTPQRCode(userID, secret string) ([]byte, error) {
	s, err := checkTOTPSecret(secret)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + userID, RawQuery: url.Values{
		"secret": {s}, "issuer": {totpIssuer}, "period": {strconv.Itoa(totpPeriod)}, "digits": {"6"}, "algorithm": {"SHA1"},
	}.Encode()}
	k, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("QR code of the TOTP key for %s: %w", userID, err)
	}
	return qrCode(k)
}

// qrCode draws a key's otpauth:// URL as a PNG QR code.
func qrCode(k *otp.Key) ([]byte, error) {
	img, err := k.Image(256, 256)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrNotATOTPSecret is TOTPCode's refusal of a secret that is not base32,
// in words a person who mistyped it can act on (the library says only
// "Decoding of secret as base32 failed.").
var ErrNotATOTPSecret = errors.New("not a base32 secret: letters A to Z and digits 2 to 7, as serve --demo prints it (spaces and lower case are read alike)")

// TOTPCode returns the code of secret at t, for the demo's "childcase
// totp" (a newcomer without an authenticator app).
func TOTPCode(secret string, t time.Time) (string, error) {
	s := normalizeTOTPSecret(secret)
	if b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s); err != nil || len(b) == 0 {
		return "", ErrNotATOTPSecret
	}
	c, err := totp.GenerateCodeCustom(s, t, totpOpts)
	if err != nil {
		return "", fmt.Errorf("TOTP code: %w", err)
	}
	return c, nil
}

// normalizeTOTPSecret accepts a secret as people copy it: lower case, in
// groups separated by spaces, with or without padding.
func normalizeTOTPSecret(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	return strings.TrimRight(s, "=")
}

// checkTOTPSecret checks a secret offered at enrolment; the error names
// the field.
func checkTOTPSecret(secret string) (string, error) {
	s := normalizeTOTPSecret(secret)
	if s == "" {
		return "", model.InvalidField("totp_secret", "required", "this role signs in with a second factor: totp_secret is required")
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(b) < minTOTPSecretBytes {
		return "", model.InvalidField("totp_secret", "totp.secret", "totp_secret is a base32 secret of at least %d bytes, as NewTOTPKey makes", minTOTPSecretBytes)
	}
	return s, nil
}

// totpStep returns the step whose code is code, among the steps around
// now later than after, and false when there is none: a code already used
// (its step is not later than the last accepted) is refused, so a code
// seen over a shoulder cannot be replayed.
func totpStep(secret, code string, now time.Time, after int64) (int64, bool) {
	if len(code) != otp.DigitsSix.Length() {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		if step <= after {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}
