// Package storekey holds what every datastore.Store implementation shares
// that is not tied to one database: the encodings of index keys and list
// cursors, the walk that turns ordered keys into pages, the rules on which
// ids and times a store can hold, and the filter of audit queries. Sharing
// them keeps the stores' answers identical (a cursor of one list is refused
// by another in every store, a timer before 1970 is refused by all). It
// must not import a database package: a store hands it a Cursor over its
// own ordered keys.
package storekey

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

var be = binary.BigEndian

// Lengths of the record keys that end every listed key.
const (
	ReportKeyLen    = 16        // uuid
	CaseKeyLen      = 8         // id
	SeqKeyLen       = 8         // audit or outbox seq
	CaseEventKeyLen = 8 + 8     // case id, seq
	TimerKeyLen     = 8 + 8 + 4 // at, case id, deadline id
)

// The instants a time key can hold: Unix nanoseconds as an unsigned
// big-endian number sort as time only from the epoch on, and UnixNano is
// defined only up to 2262.
var (
	MinTimeKey = time.Unix(0, 0)
	MaxTimeKey = time.Unix(0, math.MaxInt64)
)

// U32 and U64 encode fixed-width big-endian integers, which sort as numbers.
func U32(v uint32) []byte { return be.AppendUint32(nil, v) }
func U64(v uint64) []byte { return be.AppendUint64(nil, v) }

// ReportKey is the key of a report: its uuid's 16 bytes. An id that is not
// a uuid names no report, so it is model.ErrNotFound.
func ReportKey(id string) ([]byte, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, fmt.Errorf("report id %q: %w", id, model.ErrNotFound)
	}
	return u[:], nil
}

// StringPrefix is the index prefix of a string id: the id and a 0x00
// separator, so that "ab" does not match the entries of "abc".
func StringPrefix(id string) []byte { return append([]byte(id), 0) }

// UnitPrefix is the index prefix of a unit version.
func UnitPrefix(k units.Key) []byte { return StringPrefix(k.String()) }

// CallTypeIndexKey is a report's entry in the call type index.
func CallTypeIndexKey(ct model.CallType, reportKey []byte) []byte {
	return append(U32(uint32(ct)), reportKey...)
}

// TokenIndexKey is a token's entry under its user.
func TokenIndexKey(userID, tokenID string) []byte {
	return append(StringPrefix(userID), tokenID...)
}

// CaseEventKey is the key of a case's timeline event.
func CaseEventKey(caseID, seq uint64) []byte { return be.AppendUint64(U64(caseID), seq) }

// CheckID refuses an id a store cannot hold: an empty one (allowed where
// the id is optional) and one containing 0x00, which separates an id from
// the rest of an index key, so that "lan" cannot match the entries of
// "lan\x00x". The rule is the same for every kind of id so that none needs
// a special case later.
func CheckID(what, id string, optional bool) error {
	if id == "" && !optional {
		return fmt.Errorf("%s: the id is empty", what)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%s %q: the id contains a NUL byte", what, id)
	}
	return nil
}

// TimerKey encodes a timer, or refuses one a store cannot hold: an instant
// before 1970 or after 2262 (a zero time included) or a deadline id
// outside 0..MaxInt32. Timers sort by instant, then case id, then deadline
// id.
func TimerKey(tm model.Timer) ([]byte, error) {
	if tm.At.Before(MinTimeKey) || tm.At.After(MaxTimeKey) {
		return nil, fmt.Errorf("timer at %s: the time is outside 1970 to 2262", tm.At.Format(time.RFC3339Nano))
	}
	if tm.DeadlineID < 0 || tm.DeadlineID > math.MaxInt32 {
		return nil, fmt.Errorf("timer of case id %d: deadline id %d out of range", tm.CaseID, tm.DeadlineID)
	}
	k := make([]byte, 0, TimerKeyLen)
	k = be.AppendUint64(k, uint64(tm.At.UnixNano()))
	k = be.AppendUint64(k, tm.CaseID)
	return be.AppendUint32(k, uint32(tm.DeadlineID)), nil
}

// ParseTimerKey decodes a timer key; the time comes back in UTC.
func ParseTimerKey(k []byte) (model.Timer, error) {
	if len(k) != TimerKeyLen {
		return model.Timer{}, fmt.Errorf("timers: malformed key %x", k)
	}
	at, dl := be.Uint64(k[:8]), be.Uint32(k[16:])
	if at > math.MaxInt64 || dl > math.MaxInt32 {
		return model.Timer{}, fmt.Errorf("timers: malformed key %x", k)
	}
	return model.Timer{At: time.Unix(0, int64(at)).UTC(), CaseID: be.Uint64(k[8:16]), DeadlineID: int(dl)}, nil
}

// DueUntil is the largest timer-key instant (Unix nanoseconds) at or
// before until, and false when no timer can be due by then.
func DueUntil(until time.Time) (uint64, bool) {
	if until.Before(MinTimeKey) {
		return 0, false // no timer is stored before 1970
	}
	if until.After(MaxTimeKey) {
		return math.MaxInt64, true
	}
	return uint64(until.UnixNano()), true
}

// IdempotencyNanos is a CreateTime as Unix nanoseconds held to
// 1970..2262, so that index keys sort as time.
func IdempotencyNanos(at time.Time) uint64 { return timeNanos(at) }

// timeNanos is an instant as Unix nanoseconds held to 1970..2262, the
// instants whose big-endian encoding sorts as time.
func timeNanos(at time.Time) uint64 {
	switch {
	case at.Before(MinTimeKey):
		return 0
	case at.After(MaxTimeKey):
		return math.MaxInt64
	}
	return uint64(at.UnixNano())
}

// IdempotencyTimeKey is the index entry of an idempotency record: its
// CreateTime (see IdempotencyNanos), then its key.
func IdempotencyTimeKey(at time.Time, key string) []byte {
	k := make([]byte, 0, 8+len(key))
	k = be.AppendUint64(k, IdempotencyNanos(at))
	return append(k, key...)
}

// AuditTimeKeyLen is the length of an entry of the audit log's index by
// time: the event's time, then its seq.
const AuditTimeKeyLen = 8 + SeqKeyLen

// AuditTimeKey is an event's entry in the index of the audit log by time:
// its time as Unix nanoseconds (held to 1970..2262, see timeNanos), then
// its seq, so that events of the same instant sort by seq.
func AuditTimeKey(at time.Time, seq uint64) []byte {
	k := make([]byte, 0, AuditTimeKeyLen)
	return be.AppendUint64(be.AppendUint64(k, timeNanos(at)), seq)
}

// ScanAuditTime pages through an index of the audit log by time (c walks
// AuditTimeKey entries), newest first and by seq within an instant,
// between q.From and q.To only: it seeks to q.To and stops at q.From, so
// a page reads the entries of its page and one more, not the events
// outside the range (ScanDesc alone would walk them to the end of the
// index). fn is ScanDesc's, given the entry's key.
func ScanAuditTime(c Cursor, q datastore.AuditQuery, fn func(k []byte, take bool) error) (string, error) {
	b := &timeBounded{c: c}
	if !q.From.IsZero() {
		b.lo = AuditTimeKey(q.From, 0)
		setFloor(c, b.lo)
	}
	if !q.To.IsZero() {
		b.hi = AuditTimeKey(q.To, 0) // every entry of To itself has a seq above 0
	}
	return ScanDesc(b, nil, AuditTimeKeyLen, q.After, q.Limit, fn)
}

// timeBounded is a Cursor over the keys of c in [lo, hi) (nil: no bound)
// for ScanDesc's walk down: Last starts below hi, and the walk ends below
// lo. A Seek (to a cursor) is c's own: a cursor of the same range lies
// inside it, and a forged one only moves where the walk starts.
type timeBounded struct {
	c      Cursor
	lo, hi []byte
}

func (b *timeBounded) below(k, v []byte) ([]byte, []byte) {
	if k != nil && b.lo != nil && bytes.Compare(k, b.lo) < 0 {
		return nil, nil
	}
	return k, v
}

func (b *timeBounded) above(k, v []byte) ([]byte, []byte) {
	if k != nil && b.hi != nil && bytes.Compare(k, b.hi) >= 0 {
		return nil, nil
	}
	return k, v
}

func (b *timeBounded) First() ([]byte, []byte) {
	if b.lo == nil {
		return b.above(b.c.First())
	}
	return b.above(b.c.Seek(b.lo))
}

func (b *timeBounded) Last() ([]byte, []byte) {
	if b.hi == nil {
		return b.below(b.c.Last())
	}
	if k, _ := b.c.Seek(b.hi); k == nil {
		return b.below(b.c.Last())
	}
	return b.below(b.c.Prev())
}

func (b *timeBounded) Seek(seek []byte) ([]byte, []byte) { return b.c.Seek(seek) }
func (b *timeBounded) Next() ([]byte, []byte)            { return b.above(b.c.Next()) }
func (b *timeBounded) Prev() ([]byte, []byte)            { return b.below(b.c.Prev()) }

// AuditMatches checks every condition of q on e, the indexed one included,
// so an index entry that disagrees with its event cannot widen the result.
func AuditMatches(q datastore.AuditQuery, e audit.Event) bool {
	switch {
	case q.Case != "" && e.Case != q.Case:
		return false
	case q.Actor != "" && e.Actor != q.Actor:
		return false
	case q.Action != "" && e.Action != q.Action:
		return false
	case !q.From.IsZero() && e.Time.Before(q.From):
		return false
	case !q.To.IsZero() && !e.Time.Before(q.To):
		return false
	}
	return true
}

// Cursor walks ordered keys, as a bbolt cursor does: each method returns
// the key and value it lands on, or a nil key past either end; Seek lands
// on the first key at or after its argument.
type Cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
}

// setFloor tells c, when it takes one (kv.Floorer: an etcd cursor), that
// its walk backwards needs no key below prefix, so that it reads down to
// the prefix only instead of the whole bucket below it.
func setFloor(c Cursor, prefix []byte) {
	if f, ok := c.(interface{ SetFloor([]byte) }); ok && len(prefix) > 0 {
		f.SetFloor(prefix)
	}
}

// setCeiling tells c, when it takes one (kv.Ceiler: an etcd cursor), that
// its walk needs no key past prefix, so that its reads forwards (the seek
// of the prefix's end) cost the member the prefix's keys only instead of
// every key after them.
func setCeiling(c Cursor, prefix []byte) {
	end := PrefixEnd(prefix)
	if f, ok := c.(interface{ SetCeiling([]byte) }); ok && len(prefix) > 0 && end != nil {
		f.SetCeiling(end)
	}
}

// ErrSkip, returned by a ScanDesc callback, leaves the entry out of the
// page.
var ErrSkip = errors.New("skip")

// MaxSkipped is how many entries a page may leave out (ErrSkip) before it
// ends where it is, short or even empty, with a cursor to go on from
// there: a list filtered within its index (a commune's cases of a rare
// status, a queue with due_before) then still reads at most a page and
// this many entries a request, not its whole scope. AIP-158 lets a page
// hold fewer than page_size; only an empty next_page_token ends a list.
const MaxSkipped = 1000

// ErrOutOfScope, returned by a ScanDesc or ScanMerged callback, leaves out
// an entry outside the caller's scope keys (a case of a unit the caller
// named but does not see) as if it were not there: unlike ErrSkip it does
// not count toward MaxSkipped, since a page ended short by such entries
// would tell the caller that they exist, and its cursor the id of one.
var ErrOutOfScope = errors.New("out of scope")

// ScanDesc walks the keys that start with prefix from the newest (the
// largest key) down, starting after the cursor, and calls fn with each
// until limit entries were accepted, then once more with take=false to
// learn whether a next page exists (fn must then only say ErrSkip or nil,
// without taking the entry). Every key is prefix followed by idLen bytes;
// a cursor of another shape is refused. It returns a cursor for the next
// page, or "" when the walk reached the end. Keys of another length are
// passed over: they belong to a longer id that shares the prefix.
func ScanDesc(c Cursor, prefix []byte, idLen int, cursor string, limit int, fn func(k []byte, take bool) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	setFloor(c, prefix)
	setCeiling(c, prefix)
	var k []byte
	if cursor != "" {
		after, err := hex.DecodeString(cursor)
		if err != nil || !bytes.HasPrefix(after, prefix) || len(after) != len(prefix)+idLen {
			return "", model.ErrBadCursor
		}
		if k, _ = c.Seek(after); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	} else if len(prefix) == 0 {
		k, _ = c.Last()
	} else if k, _ = c.Seek(PrefixEnd(prefix)); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	pg := page{limit: limit}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) != len(prefix)+idLen {
			continue
		}
		if end, next, err := pg.judge(fn(k, pg.more()), k); end {
			return next, err
		}
	}
	return "", nil
}

// page counts a scan's entries as its fn answers for them: those taken,
// up to the limit, and those the filters left out, up to MaxSkipped.
type page struct {
	limit, accepted, skipped int
	last                     []byte // the key (or suffix) last taken
}

// more reports whether fn may still take the entry it is given.
func (p *page) more() bool { return p.accepted < p.limit }

// judge reads fn's answer err for the entry at k, and reports whether the
// page ends there, and with what cursor and error: at one more entry fn
// accepts after limit were taken (a next page exists: such a cursor never
// leads to an empty page), after MaxSkipped entries fn left out (ErrSkip;
// the page may be short, even empty), or at fn's error. An entry out of
// scope (ErrOutOfScope) is passed over uncounted.
func (p *page) judge(err error, k []byte) (end bool, cursor string, _ error) {
	switch {
	case errors.Is(err, ErrOutOfScope):
		return false, "", nil
	case errors.Is(err, ErrSkip):
		if p.skipped++; p.skipped == MaxSkipped {
			return true, hex.EncodeToString(k), nil
		}
		return false, "", nil
	case err != nil:
		return true, "", err
	}
	if p.accepted == p.limit {
		return true, hex.EncodeToString(p.last), nil
	}
	p.accepted++
	p.last = append(p.last[:0], k...)
	return false, "", nil
}

// ScanPrefixAsc walks the keys that start with prefix upwards, whatever
// the length of what follows the prefix (a user's tokens by id), starting
// after the cursor, and calls fn with each key's suffix as ScanDesc calls
// its fn: until limit entries were accepted, then once more with
// take=false. The cursor is the hex of a suffix: the last one taken, or,
// when the page ends after MaxSkipped entries fn left out (ErrSkip), the
// last one passed over. It returns "" when the walk reached the end.
func ScanPrefixAsc(c Cursor, prefix []byte, cursor string, limit int, fn func(suffix []byte, take bool) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	setFloor(c, prefix)
	setCeiling(c, prefix)
	var k []byte
	if cursor == "" {
		k, _ = c.Seek(prefix)
	} else {
		after, err := hex.DecodeString(cursor)
		if err != nil || len(after) == 0 {
			return "", model.ErrBadCursor
		}
		from := append(bytes.Clone(prefix), after...)
		if k, _ = c.Seek(from); bytes.Equal(k, from) {
			k, _ = c.Next()
		}
	}
	pg := page{limit: limit}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		suffix := k[len(prefix):]
		if end, next, err := pg.judge(fn(suffix, pg.more()), suffix); end {
			return next, err
		}
	}
	return "", nil
}

// PrefixEnd returns the smallest key greater than every key with prefix p.
// Prefixes here never consist only of 0xff bytes.
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// ScanAsc walks the keys in ascending order, starting after the cursor
// (the hex of the last key of the previous page, "" for the start), and
// calls fn with each until limit entries were seen. It returns a cursor
// for the next page only if another key follows, so a cursor never leads
// to an empty page.
func ScanAsc(c Cursor, cursor string, limit int, fn func(k, v []byte) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	var k, v []byte
	if cursor == "" {
		k, v = c.First()
	} else {
		after, err := hex.DecodeString(cursor)
		if err != nil || len(after) == 0 {
			return "", model.ErrBadCursor
		}
		if k, v = c.Seek(after); bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	var last []byte
	for n := 0; k != nil; k, v = c.Next() {
		if n == limit {
			return hex.EncodeToString(last), nil
		}
		if err := fn(k, v); err != nil {
			return "", err
		}
		n++
		last = k
	}
	return "", nil
}

// AppendAudit seals events onto the chain whose head is (seq, hash) and
// hands each sealed event to put, in order, so a store links events
// appended earlier in the same transaction too. It returns the sealed
// events and the new head, which the store must keep in the same
// transaction as the events.
func AppendAudit(seq uint64, hash []byte, events []audit.Event, put func(audit.Event) error) (sealed []audit.Event, headSeq uint64, headHash []byte, err error) {
	chain := audit.NewChain(seq, hash)
	sealed = make([]audit.Event, 0, len(events))
	for _, e := range events {
		s := chain.Next(e)
		if err := put(s); err != nil {
			return nil, 0, nil, err
		}
		sealed = append(sealed, s)
	}
	headSeq, headHash = chain.Head()
	return sealed, headSeq, headHash, nil
}
