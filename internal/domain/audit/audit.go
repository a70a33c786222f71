// Package audit defines the tamper-evident audit trail: events (who, role,
// unit, action, resource, time, request id, reason, outcome) linked in a
// SHA-256 hash chain, and the verification that finds the first broken link.
// It does no I/O; storage appends and reads events.
//
// Why a hash chain: the audit log of a child-protection service records who
// looked at a child's case and who learned a reporter's identity. Anyone with
// write access to the database (an operator, an intruder, a bug) could edit
// or delete those rows. Chaining each event to the hash of the one before
// makes such an edit detectable: changing, removing, inserting or reordering
// an event breaks a link that [Verify] reports.
//
// What the chain does not do: it is tamper-evident, not tamper-proof. There
// is no secret key, so someone who rewrites an event and then recomputes the
// hashes of every later event, and the stored head, produces a chain that
// verifies. Removing events from the end (truncation) also leaves a whole
// chain. Storage therefore keeps the head (last seq and hash) separately and
// checks it with [VerifyHead]; but whoever cuts the end also sets that head
// back. Detecting that, or a full rewrite, needs a head copied somewhere
// the attacker cannot reach (the service's log at each stop, a backup's
// summary, an auditor's note of a verification's answer): a later
// verification given it checks that the log still holds that event with
// that hash (auditlog.Log.VerifyNoted).
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"
)

// HashSize is the length in bytes of Event.Hash and Event.PrevHash.
const HashSize = sha256.Size

// Outcomes recorded in Event.Outcome. They are plain strings so that the
// stored log stays readable without this package.
const (
	OutcomeOK       = "ok"
	OutcomeDenied   = "denied"
	OutcomeNotFound = "not_found"
	// OutcomeRefused: a step on a record the caller may see, refused for
	// the request (a stale etag, a field, the record's state); nothing
	// changed. The event's reason is the refusal's stable code.
	OutcomeRefused = "refused"
	OutcomeError   = "error"
)

// Event is one audited action. Storage must keep every field exactly as
// sealed: the hash covers all of them except Hash itself, so even a change
// that looks harmless (a trimmed space, a time rounded to microseconds) is
// reported as tampering.
type Event struct {
	Seq       uint64    // 1-based position in the chain, assigned on append
	Time      time.Time // UTC; only the instant (UnixNano) is hashed
	Actor     string    // user id, or "" for anonymous (e.g. a failed authentication)
	Role      string    // the actor's role when acting, since roles change later
	Unit      string    // the actor's unit name, for the same reason
	Action    string    // e.g. "report.create", "case.read", "reporter.disclose", "auth.fail", "user.create"
	Resource  string    // e.g. "cases/HN-2026-00001", "reports/{uuid}"
	Case      string    // the case the resource belongs to, "cases/{number}", or ""
	RequestID string    // joins the event to transport logs
	Reason    string    // given by the actor for disclosures
	Outcome   string    // "ok", "denied", "not_found", "error"
	// Token is the id of the token the actor called with ("" for the
	// service's own work and for refused sign-ins), and TokenCreatedBy the
	// user id of who created it when not the actor ("" otherwise): that
	// user was shown its secret, and the call may have been theirs.
	Token          string
	TokenCreatedBy string
	PrevHash       []byte // Hash of event Seq-1 (32 zero bytes for Seq 1)
	Hash           []byte // SHA-256 over PrevHash and the canonical encoding of every other field
}

// hashTag starts every canonical encoding. It separates audit hashes from
// any other SHA-256 use in the system and names the encoding version, so a
// later change of encoding cannot produce a hash equal to a v1 hash by
// accident.
const hashTag = "childcase.audit.event.v1\x00"

// ComputeHash returns the SHA-256 of the canonical encoding of e. It reads
// every field except e.Hash, so it can both seal an event and check one.
//
// The canonical encoding is the concatenation, in this order, of:
//
//  1. the 25 bytes "childcase.audit.event.v1" followed by one zero byte;
//  2. PrevHash: its length as an 8-byte big-endian unsigned integer, then
//     its bytes (normally 32; a nil PrevHash is length 0, which differs from
//     32 zero bytes);
//  3. Seq as an 8-byte big-endian unsigned integer;
//  4. Time as Time.UnixNano(), an int64 written as 8-byte big-endian two's
//     complement (location and monotonic reading are not part of the
//     instant and are ignored; the instant must lie between the years 1678
//     and 2262, where UnixNano is defined);
//  5. the strings Actor, Role, Unit, Action, Resource, Case, RequestID,
//     Reason, Outcome, in that order, each as its length in bytes as an 8-byte
//     big-endian unsigned integer followed by its bytes as stored (no
//     Unicode normalisation, so storage must not normalise either);
//  6. only when Token or TokenCreatedBy is not empty: the strings Token and
//     TokenCreatedBy, encoded as in 5.
//
// Part 6 came after events were first sealed: an event without a token
// (every event written before tokens were recorded) encodes exactly as
// before, so its stored hash still verifies. The encoding stays one to
// one: after Outcome there is either nothing or both token strings, each
// with its length.
//
// Why this form: every variable-length field carries its length and every
// field has a fixed place, so the encoding can be parsed back into exactly
// one event. Two different events therefore never have the same encoding:
// bytes cannot move from one field to its neighbour ({Actor:"ab", Role:"c"}
// and {Actor:"a", Role:"bc"} encode differently), and a field cannot be
// dropped or duplicated without changing the length. Equal hashes then mean
// equal events, up to a SHA-256 collision.
func (e Event) ComputeHash() []byte {
	sum := e.hashSum()
	return sum[:]
}

// hashSum is ComputeHash, as an array: verify compares it with the stored
// hash in place, where the slice ComputeHash returns was an allocation
// per event of the log.
func (e Event) hashSum() [sha256.Size]byte {
	// The encoding is built in one buffer and hashed at once: writing each
	// field to a hash.Hash copied every string to the heap, and a check
	// hashes every event of the log. 512 bytes hold a usual event without
	// growing the buffer.
	enc := make([]byte, 0, 512)
	enc = append(enc, hashTag...)
	enc = binary.BigEndian.AppendUint64(enc, uint64(len(e.PrevHash)))
	enc = append(enc, e.PrevHash...)
	enc = binary.BigEndian.AppendUint64(enc, e.Seq)
	enc = binary.BigEndian.AppendUint64(enc, uint64(e.Time.UnixNano()))
	fields := e.stringFields()
	hashed := fields[:alwaysHashed]
	if e.Token != "" || e.TokenCreatedBy != "" {
		hashed = fields[:]
	}
	for _, f := range hashed {
		enc = binary.BigEndian.AppendUint64(enc, uint64(len(*f.value)))
		enc = append(enc, *f.value...)
	}
	return sha256.Sum256(enc)
}

// alwaysHashed is how many of stringFields every event's hash covers; the
// token fields after them are hashed only when set (see ComputeHash).
const alwaysHashed = 9

// namedString is one string field of an Event, for code that treats them
// all alike.
type namedString struct {
	name  string
	value *string
}

// stringFields lists the string fields of e in canonical-encoding order.
// Keeping the order in one place means hashing, sealing and encoding cannot
// disagree about which fields exist.
func (e *Event) stringFields() [11]namedString {
	return [11]namedString{
		{"Actor", &e.Actor},
		{"Role", &e.Role},
		{"Unit", &e.Unit},
		{"Action", &e.Action},
		{"Resource", &e.Resource},
		{"Case", &e.Case},
		{"RequestID", &e.RequestID},
		{"Reason", &e.Reason},
		{"Outcome", &e.Outcome},
		{"Token", &e.Token},
		{"TokenCreatedBy", &e.TokenCreatedBy},
	}
}

// zeroHash is the PrevHash of the first event: there is no previous event,
// and a fixed value makes the first link checkable like all the others.
var zeroHash = make([]byte, HashSize)

// Chain seals events in order: it remembers the head (the last seq and hash)
// so that each new event points at the one before.
//
// A Chain is not safe for concurrent use. Storage must call Next inside the
// same write transaction that appends the event and records the new head,
// with one Chain per transaction built from the stored head by [NewChain].
// That way two writers cannot both claim the same seq, and a rolled-back
// transaction leaves no advanced head behind.
type Chain struct {
	seq  uint64
	hash []byte
}

// NewChain returns a chain that continues after the stored head: lastSeq and
// lastHash are the Seq and Hash of the last stored event, or (0, nil) for an
// empty log. When lastSeq is 0, lastHash is ignored and the next event links
// to 32 zero bytes. lastHash is copied, so the caller may reuse its slice.
//
// NewChain does not check lastHash: a damaged head is carried into the next
// event's PrevHash, where [Verify] reports it as a broken link rather than
// this constructor failing an append.
func NewChain(lastSeq uint64, lastHash []byte) *Chain {
	if lastSeq == 0 {
		return &Chain{hash: bytes.Clone(zeroHash)}
	}
	return &Chain{seq: lastSeq, hash: bytes.Clone(lastHash)}
}

// Next seals e as the event after the head and advances the head to it. It
// sets Seq, PrevHash and Hash (overwriting any values the caller set, so a
// caller cannot forge a link) and converts Time to UTC, which drops the
// monotonic clock reading and does not change the instant hashed.
//
// String fields are kept as given, except that each run of bytes that is
// not valid UTF-8 is replaced by U+FFFD. Audit fields can carry attacker
// input (a user name from a failed login, a request id from a header), and
// the stored JSON form holds only valid UTF-8: sealing the replaced text
// makes the event read back exactly as it was hashed, so a hostile byte
// cannot make an honest log look tampered with.
//
// The returned event shares no memory with the chain. Next is not safe for
// concurrent use; see [Chain].
func (c *Chain) Next(e Event) Event {
	e.Seq = c.seq + 1
	e.Time = e.Time.UTC()
	for _, f := range e.stringFields() {
		if !utf8.ValidString(*f.value) {
			*f.value = strings.ToValidUTF8(*f.value, "\uFFFD")
		}
	}
	e.PrevHash = bytes.Clone(c.hash)
	e.Hash = e.ComputeHash()
	c.seq = e.Seq
	c.hash = bytes.Clone(e.Hash)
	return e
}

// Head returns the Seq and Hash of the last event sealed (or given to
// NewChain); storage stores them with the event so that [VerifyHead] can
// later detect truncation. For an empty chain it returns 0 and 32 zero
// bytes. The hash is a copy.
func (c *Chain) Head() (seq uint64, hash []byte) {
	return c.seq, bytes.Clone(c.hash)
}

// NotedProblem says how a log whose stored head is headSeq differs from a
// head noted earlier (notedSeq, notedHash), given found, the hash of the
// log's event notedSeq (nil when it holds none): events cut from its end,
// that event deleted, or rewritten. headSeq is where the log ends: the
// stored head, or the last event stored when that is before it. It is nil
// when the log holds the noted head.
// The chain and the head stored beside it cannot show a tail cut by
// someone who set that head back too; a head kept out of the database's
// reach can. The verification and the check of a file both report it.
func NotedProblem(headSeq, notedSeq uint64, notedHash, found []byte) *Problem {
	switch {
	case headSeq < notedSeq:
		// A copy taken before the head was noted (a backup checked
		// against today's head, a database restored from one) ends
		// there too, and nothing in it tells the two apart: both are
		// said, for whoever knows which the file is.
		return &Problem{Seq: headSeq + 1, Reason: fmt.Sprintf(
			"the log ends at seq %d, before the head noted at seq %d: events were cut from its end, "+
				"or the file is a copy older than that head (a backup taken before it was noted, or a database restored from one)", headSeq, notedSeq)}
	case found == nil:
		// The log goes on past it (or its stored head says so) without
		// the event: deleted, which is not an edit of it. A walk that
		// stopped at a broken link before it has that link to report
		// first.
		return &Problem{Seq: notedSeq, Reason: fmt.Sprintf(
			"the log holds no event seq %d, the head noted (%x): events were deleted from it there or before", notedSeq, notedHash)}
	case !bytes.Equal(found, notedHash):
		return &Problem{Seq: notedSeq, Reason: fmt.Sprintf(
			"event seq %d does not have the hash noted for it (%x): the log was rewritten there or before", notedSeq, notedHash)}
	}
	return nil
}

// Problem is the first broken link found by [Verify] or [VerifyHead]:
// which event and why. Verification stops at the first problem because
// everything after a broken link is unanchored and cannot be trusted either.
type Problem struct {
	Seq    uint64 // the event at which the chain breaks (see Verify for which seq is reported)
	Reason string // human-readable, for the operator who investigates
}

// String returns "seq N: reason", for logs and command-line output.
func (p *Problem) String() string {
	return fmt.Sprintf("seq %d: %s", p.Seq, p.Reason)
}

// Reasons given in Problem.Reason.
const (
	reasonHash       = "hash does not match contents"
	reasonPrev       = "prev_hash does not match the previous event"
	reasonOutOfOrder = "sequence out of order"
)

// Verify walks events in stored order and returns the number of events
// checked and the first broken link, or a nil problem when the chain is
// whole. err is set only when the iterator yields a read error; verification
// then stops, and checked and a nil problem describe the events before it.
//
// Each event is checked in this order, and the first failed check is the
// reason reported, with Problem.Seq set to the Seq stored in that event:
//
//  1. its Hash equals ComputeHash of its contents, otherwise "hash does not
//     match contents" (the event was edited; an edited Seq is also reported
//     here, because Seq is hashed);
//  2. its Seq is the one expected (1 for the first event, then one more than
//     the previous): a larger Seq gives "sequence gap: expected N, found M"
//     (events were deleted), a smaller one "sequence out of order" (events
//     were moved or replayed);
//  3. its PrevHash equals the Hash of the previous event (32 zero bytes for
//     the first), otherwise "prev_hash does not match the previous event"
//     (the event was re-sealed by someone who did not link it correctly, or
//     an earlier event was re-sealed after editing).
//
// Consequences worth knowing: deleting event 3 of 5 is reported at seq 4
// (a gap). Swapping events 2 and 3 is reported at seq 3, as "sequence gap:
// expected 2, found 3", because the walk meets event 3 where 2 belongs and,
// looking at one event at a time, cannot tell a swap from a deletion of
// event 2. Editing event 3 and recomputing its Hash passes event 3 and is
// reported at seq 4, whose PrevHash no longer matches.
//
// checked counts the events that passed every check, so on a problem it is
// the number of good events before the broken one. Verify cannot see events
// removed from the end of the log; use [VerifyHead] with the stored head.
func Verify(events iter.Seq2[Event, error]) (checked uint64, problem *Problem, err error) {
	r := verify(events, 1, zeroHash)
	return r.checked, r.problem, r.err
}

// VerifyHead is [Verify] followed by a comparison of the last event with
// the head storage recorded separately (wantSeq and wantHash, as returned by
// [Chain.Head] when the last event was appended). This catches what the
// chain alone cannot: events removed from the end, and events appended
// without updating the head. Use (0, nil) for a log that should be empty.
//
// Problems found by Verify are returned first. Then, if the log ends before
// wantSeq, the problem is at the first missing seq ("log ends at seq N, but
// the recorded head is seq M"); if it goes past wantSeq, at the first event
// beyond the head; and if the last seq matches but its hash does not, at
// wantSeq ("last event hash does not match the recorded head").
func VerifyHead(events iter.Seq2[Event, error], wantSeq uint64, wantHash []byte) (checked uint64, problem *Problem, err error) {
	return verify(events, 1, zeroHash).againstHead(wantSeq, wantHash)
}

// VerifyTail is [VerifyHead] for the newest events only: events yields the
// stored events from seq from on, and the first of them is taken as the
// anchor (its own hash is checked, its PrevHash cannot be, since the events
// before it are not read). It is cheap enough to run at every start, and
// finds what was done to the newest events; only [VerifyHead] sees a
// change further back. from <= 1 is VerifyHead.
func VerifyTail(events iter.Seq2[Event, error], from, wantSeq uint64, wantHash []byte) (checked uint64, problem *Problem, err error) {
	if from <= 1 {
		return VerifyHead(events, wantSeq, wantHash)
	}
	return verify(events, from, nil).againstHead(wantSeq, wantHash)
}

// againstHead compares the end of a walk with the head storage recorded.
func (r verifyResult) againstHead(wantSeq uint64, wantHash []byte) (checked uint64, problem *Problem, err error) {
	if r.err != nil || r.problem != nil {
		return r.checked, r.problem, r.err
	}
	switch {
	case r.lastSeq < wantSeq:
		return r.checked, &Problem{
			Seq:    r.lastSeq + 1,
			Reason: fmt.Sprintf("log ends at seq %d, but the recorded head is seq %d", r.lastSeq, wantSeq),
		}, nil
	case r.lastSeq > wantSeq:
		return r.checked, &Problem{
			Seq:    wantSeq + 1,
			Reason: fmt.Sprintf("log continues past the recorded head seq %d, to seq %d", wantSeq, r.lastSeq),
		}, nil
	case wantSeq > 0 && !bytes.Equal(r.lastHash, wantHash):
		return r.checked, &Problem{
			Seq:    wantSeq,
			Reason: "last event hash does not match the recorded head",
		}, nil
	}
	return r.checked, nil, nil
}

// verifyResult carries what both Verify and VerifyHead need; the head is
// only meaningful when there is neither a problem nor an error.
type verifyResult struct {
	checked  uint64
	problem  *Problem
	err      error
	lastSeq  uint64
	lastHash []byte
}

// verify walks events that should start at seq from, the first linking to
// prev; a nil prev takes the first event's PrevHash as it is.
func verify(events iter.Seq2[Event, error], from uint64, prev []byte) verifyResult {
	r := verifyResult{lastSeq: from - 1, lastHash: prev}
	for e, err := range events {
		if err != nil {
			r.err = err
			return r
		}
		want := r.lastSeq + 1
		if sum := e.hashSum(); !bytes.Equal(e.Hash, sum[:]) {
			// An event that does not match its hash cannot be trusted
			// for its own seq either: an edit of that very field would
			// otherwise send the auditor to an intact event. The place
			// is the one the walk reached.
			if e.Seq != want {
				r.problem = &Problem{Seq: want, Reason: fmt.Sprintf("%s, and the event in the place of seq %d says it is seq %d", reasonHash, want, e.Seq)}
				return r
			}
			r.problem = &Problem{Seq: e.Seq, Reason: reasonHash}
			return r
		}
		if e.Seq > want {
			r.problem = &Problem{Seq: e.Seq, Reason: fmt.Sprintf("sequence gap: expected %d, found %d", want, e.Seq)}
			return r
		}
		if e.Seq < want {
			r.problem = &Problem{Seq: e.Seq, Reason: reasonOutOfOrder}
			return r
		}
		if r.lastHash != nil && !bytes.Equal(e.PrevHash, r.lastHash) {
			r.problem = &Problem{Seq: e.Seq, Reason: reasonPrev}
			return r
		}
		r.checked++
		r.lastSeq = e.Seq
		r.lastHash = e.Hash
	}
	return r
}
