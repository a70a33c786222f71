package model

import (
	"errors"
	"fmt"
	"unicode"
)

// FieldError says that a request field breaks a rule. The transport maps it
// to INVALID_ARGUMENT naming the field.
type FieldError struct {
	Field       string // path in the request, e.g. "report.incident_commune_code"
	Rule        string // a stable id of the rule, e.g. "unit.in_force"
	Description string // for people
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Description)
}

// InvalidField returns a FieldError.
func InvalidField(field, rule, format string, args ...any) error {
	return &FieldError{Field: field, Rule: rule, Description: fmt.Sprintf(format, args...)}
}

// PreconditionError says that the request is valid but the resource is not
// in a state that allows it. The transport maps it to FAILED_PRECONDITION.
type PreconditionError struct {
	Reason      string // a stable reason a client can switch on, e.g. "REPORT_ALREADY_LINKED"
	Description string // what must happen first
}

func (e *PreconditionError) Error() string { return e.Description }

// Precondition returns a PreconditionError.
func Precondition(reason, format string, args ...any) error {
	return &PreconditionError{Reason: reason, Description: fmt.Sprintf(format, args...)}
}

// The stable reasons of ErrConflict and ErrIdempotencyMismatch, as the
// API's ErrorInfo and a refused step's audit event give them.
const (
	ReasonEtagMismatch    = "ETAG_MISMATCH"
	ReasonRequestIDReused = "REQUEST_ID_REUSED"
)

// Errors shared by the domain and storage layers. Storage returns them
// wrapped; callers test with errors.Is.
var (
	// ErrNotFound: the record does not exist (or the caller may not see it).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a record with that key exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the record changed since the caller read it (stale etag).
	ErrConflict = errors.New("conflict")
	// ErrIdempotencyMismatch: a request_id was reused with a different request.
	ErrIdempotencyMismatch = errors.New("request_id reused with a different request")
	// ErrPermissionDenied: the caller's role may not call the method at
	// all. (A record outside the caller's scope is ErrNotFound instead.)
	ErrPermissionDenied = errors.New("permission denied")
	// ErrBadCursor: a list was given a page token (cursor) the store did
	// not issue for the same filters.
	ErrBadCursor = errors.New("malformed list cursor")
	// ErrFull: a write cannot be committed for lack of space (the
	// database reached its maximum size, or the disk or quota is full).
	// Nothing of the write is kept, what was committed stays readable,
	// and writes work again once there is room. It lives here rather than
	// with the store so that transport can map it without naming storage.
	ErrFull = errors.New("the database is full")
	// ErrTooLarge: one write holds more than the store commits at once
	// (etcd's request and transaction-op limits, --etcd-max-request-bytes
	// and --etcd-max-txn-ops). Nothing of it is kept; the same write is
	// refused until an operator raises the limits. It lives here for the
	// reason ErrFull does.
	ErrTooLarge = errors.New("the write is larger than the store commits at once")
	// ErrUnavailable: the store could not be reached for a moment (a
	// replicated store electing a new leader, a member lost). A read may
	// simply be retried; a write may or may not have been committed, so it
	// is retried with the same request_id, which applies it at most once.
	ErrUnavailable = errors.New("the store is unavailable for a moment")
	// ErrOutcomeUnknown: a write was sent to the store and no answer came
	// (it wraps ErrUnavailable too): it may or may not have been
	// committed. Only a retry with the same request_id is safe.
	ErrOutcomeUnknown = errors.New("the write may or may not have been committed")
	// ErrDamaged: the stored data could not be read because the database
	// file is damaged where the request read it (a page overwritten by a
	// disk or file-system fault). Nothing the request wrote itself was
	// committed (its refusal may still be audited), and what lies
	// elsewhere in the file is read and written as before; only
	// an operator can mend it (childcase check names the damage, and a
	// backup replaces the file).
	ErrDamaged = errors.New("the database file is damaged")
)

// MissingReference turns a referenced record that does not exist (err
// wraps ErrNotFound) into a field error: the request named something that
// is not there. Other errors pass through.
func MissingReference(err error, field, format string, args ...any) error {
	if errors.Is(err, ErrNotFound) {
		return InvalidField(field, "reference.exists", format, args...)
	}
	return err
}

// IsRefusedControl reports whether r is a character no string of a request
// may hold (rule string.no_control): a control character other than tab
// and the line breaks of pasted text (line feed, carriage return, vertical
// tab, form feed), or a bidirectional embedding, override or isolate
// (U+202A to U+202E, U+2066 to U+2069). The API's validation refuses it in
// every request; the domain, for the paths that do not pass the API
// (`users add`).
func IsRefusedControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
		return false
	case unicode.IsControl(r):
		return true
	}
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
}

// MaxStackedMarks is the most combining marks a string of a request may
// stack on one character (rule string.stacked_marks): Vietnamese,
// decomposed, needs two ("ặ": a dot below and a breve), and the scripts
// of names a hotline hears need few more.
const MaxStackedMarks = 4

// StacksMarks reports whether s stacks more than MaxStackedMarks
// combining marks on one character ("Zalgo" text, which draws over the
// lines around it wherever it is shown). The API's validation refuses it
// in every request; the domain, for the paths that do not pass the API
// (`users add`), as IsRefusedControl.
func StacksMarks(s string) bool {
	run := 0
	for _, r := range s {
		switch {
		case r >= 0x300 && unicode.In(r, unicode.Mn, unicode.Me):
			// No combining mark comes before U+0300.
			if run++; run > MaxStackedMarks {
				return true
			}
		case run > 0 && (r == '\u00ad' || r >= 0x300 && unicode.Is(unicode.Cf, r)):
			// A character that draws nothing (a zero-width space or
			// non-joiner, a soft hyphen, a direction mark) does not end
			// the tower: the marks after it are drawn on the same letter,
			// so a run of marks split by one of them is one run. (Out of
			// a run, the default below does the same, at no look-up.)
		default:
			run = 0
		}
	}
	return false
}
