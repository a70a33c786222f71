package boltstore

import (
	"hash/maphash"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/storage/boltstore/recordpb"
)

// hashStoredCell returns the sum of statHash over the counts of the stored
// statistics cell v, whose key is k, and whether the cell is one the sums
// cannot judge (odd: it does not decode, counts nothing, or holds a count
// of zero), as decoding it into a tally.Tally and walking its EachCount
// would. It reads the cell in place (storedCellCounts): decoding each
// cell, with its maps, was a tenth of a check of loaded cases. A cell it
// cannot read so, or written otherwise than the store writes them, is
// decoded whole.
func (c *checker) hashStoredCell(k, v []byte) (sum countSum, odd bool) {
	cell := maphash.Bytes(c.linkSeed, k)
	c.cellCounts = c.cellCounts[:0]
	counts, zero, ok := storedCellCounts(v, c.cellCounts)
	c.cellCounts = counts
	if !ok {
		return c.hashDecodedCell(cell, v)
	}
	odd = zero
	for _, n := range counts {
		if n.N == 0 {
			odd = true // a cell of no count is stale
			continue
		}
		sum.add(c.statHash(cell, c.countHash(n)), n.N)
	}
	return sum, odd
}

// hashDecodedCell is hashStoredCell by decoding the cell, whose key
// hashes to cell.
func (c *checker) hashDecodedCell(cell uint64, v []byte) (sum countSum, odd bool) {
	got, err := decodeAs[tally.Tally](v)
	if err != nil {
		return countSum{}, true
	}
	got.EachCount(func(n tally.Count) {
		if n.N == 0 {
			odd = true // a cell of no count is stale
			return
		}
		sum.add(c.statHash(cell, c.countHash(n)), n.N)
	})
	return sum, odd || got.IsZero()
}

// storedCellCounts appends to out the counts of a stored cell, as
// tally.Tally.EachCount gives them once the cell is decoded (statFromRec),
// zero ones included, and says whether the cell counts nothing
// (Tally.IsZero). It reads the recordpb.StatCell message in place, and
// reports !ok for anything but what the store writes: another encoding,
// bytes that do not read, a field it does not know, of another wire type,
// or given twice, a map key given twice, text not in UTF-8. The caller
// then decodes the cell, whose decoding says what of that is wrong.
func storedCellCounts(v []byte, out []tally.Count) (counts []tally.Count, zero, ok bool) {
	if len(v) == 0 || v[0] != protoRecord {
		return out, false, false
	}
	b := v[1:]
	zero = true
	var seen uint32 // the scalar fields read, by number
	first := len(out)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out, false, false
		}
		b = b[n:]
		switch {
		case (num >= 1 && num <= 10 || num == 16) && typ == protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 || seen&(1<<num) != 0 {
				return out, false, false
			}
			seen |= 1 << num
			b = b[m:]
			if x == 0 {
				continue
			}
			zero = false
			field := byte(num)
			if num == 16 {
				field = 19 // LateRecordings, EachCount's last
			}
			out = append(out, tally.Count{Field: field, N: int64(x)})
		case num == 11 && typ == protowire.BytesType:
			msg, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out, false, false
			}
			b = b[m:]
			zero = false
			var dok bool
			if out, dok = deadlineCounts(msg, out, first); !dok {
				return out, false, false
			}
		case num >= 12 && num <= 15 && typ == protowire.BytesType:
			entry, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out, false, false
			}
			b = b[m:]
			zero = false
			field := byte(num + 3) // escalations 15, police outcomes 16, emergency D3 17, D3 open due 18
			cnt, eok := mapEntry(entry, num != 15)
			if !eok {
				return out, false, false
			}
			cnt.Field = field
			if slices.ContainsFunc(out[first:], func(o tally.Count) bool { return o.Field == field && o.Name == cnt.Name && o.Num == cnt.Num }) {
				return out, false, false // a key given twice: the last stands
			}
			out = append(out, cnt)
		default:
			return out, false, false
		}
	}
	return out, zero, true
}

// deadlineCounts appends the counts of a recordpb.StatDeadline message to
// out, as EachCount gives those of its DeadlineTally (at least one), and
// reports !ok as storedCellCounts does, or when out[from:] already holds a
// count of a deadline of its kind (two messages of one kind merge in
// statFromRec).
func deadlineCounts(b []byte, out []tally.Count, from int) ([]tally.Count, bool) {
	var kind model.DeadlineKind
	var met, missed int64
	var seen uint32
	start := len(out)
	var late []tally.Count // Late and OpenDue, appended after Met and Missed
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out, false
		}
		b = b[n:]
		if seen&(1<<num) != 0 && num <= 3 {
			return out, false
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, m := protowire.ConsumeBytes(b)
			if m < 0 || !utf8.Valid(s) {
				return out, false
			}
			kind, b = model.DeadlineKind(s), b[m:]
		case (num == 2 || num == 3) && typ == protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return out, false
			}
			b = b[m:]
			if num == 2 {
				met = int64(x)
			} else {
				missed = int64(x)
			}
		case (num == 4 || num == 5) && typ == protowire.BytesType:
			entry, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out, false
			}
			b = b[m:]
			cnt, ok := mapEntry(entry, false)
			if !ok {
				return out, false
			}
			cnt.Field = byte(num + 9) // Late 13, OpenDue 14
			if num == 4 {
				cnt.Num = int64(int32(cnt.Num)) // an int32 key
			}
			if slices.ContainsFunc(late, func(o tally.Count) bool { return o.Field == cnt.Field && o.Num == cnt.Num }) {
				return out, false
			}
			late = append(late, cnt)
		default:
			return out, false
		}
		seen |= 1 << num
	}
	if slices.ContainsFunc(out[from:start], func(o tally.Count) bool { return o.Field >= 11 && o.Field <= 14 && o.Kind == kind }) {
		return out, false
	}
	if met != 0 || (missed == 0 && len(late) == 0) {
		out = append(out, tally.Count{Field: 11, Kind: kind, N: met})
	}
	if missed != 0 {
		out = append(out, tally.Count{Field: 12, Kind: kind, N: missed})
	}
	for _, l := range late {
		l.Kind = kind
		out = append(out, l)
	}
	return out, true
}

// mapEntry reads a map entry of an int64 value (field 2) under a string
// key (field 1, into Name) when named, else an integer one (into Num).
// The store writes both fields, once each, key first.
func mapEntry(b []byte, named bool) (tally.Count, bool) {
	var cnt tally.Count
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 {
		return cnt, false
	}
	b = b[n:]
	switch {
	case named && typ == protowire.BytesType:
		s, m := protowire.ConsumeBytes(b)
		if m < 0 || !utf8.Valid(s) {
			return cnt, false
		}
		cnt.Name, b = string(s), b[m:]
	case !named && typ == protowire.VarintType:
		x, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return cnt, false
		}
		cnt.Num, b = int64(x), b[m:]
	default:
		return cnt, false
	}
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 || num != 2 || typ != protowire.VarintType {
		return cnt, false
	}
	x, m := protowire.ConsumeVarint(b[n:])
	if m < 0 || n+m != len(b) {
		return cnt, false
	}
	cnt.N = int64(x)
	return cnt, true
}

// The messages of the records that a check only decodes to know that
// they do (readsInPlace).
var (
	caseEventMessage    = (&recordpb.CaseEvent{}).ProtoReflect().Descriptor()
	notificationMessage = (&recordpb.Notification{}).ProtoReflect().Descriptor()
)

// readsInPlace reports whether raw, a stored record of the flat message
// md, certainly decodes, reading it in place: every field one of md's,
// an integer as a varint or a text as valid UTF-8. A check decodes every
// timeline event and outbox entry only to know that it does, and decoding
// them, with the strings it copies, was a tenth of a check of loaded
// cases. It is stricter than the decoder (a field it does not know, or of
// another wire type, the decoder keeps aside): a record it does not
// accept is decoded, which says whether, and what, is wrong with it.
func readsInPlace(raw []byte, md protoreflect.MessageDescriptor) bool {
	if len(raw) == 0 || raw[0] != protoRecord {
		return false
	}
	fields := md.Fields()
	for b := raw[1:]; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if fd == nil {
			return false
		}
		switch kind := fd.Kind(); {
		case kind == protoreflect.StringKind && typ == protowire.BytesType:
			s, m := protowire.ConsumeBytes(b)
			if m < 0 || !utf8.Valid(s) {
				return false
			}
			b = b[m:]
		case (kind == protoreflect.Int64Kind || kind == protoreflect.Uint64Kind) && typ == protowire.VarintType:
			_, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			b = b[m:]
		default:
			return false
		}
	}
	return true
}
