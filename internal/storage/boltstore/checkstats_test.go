package boltstore

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/storage/boltstore/recordpb"
)

// TestStoredCellReadInPlace: a statistics cell read in place
// (hashStoredCell) gives the sum and the verdict that decoding it does
// (hashDecodedCell), for cells as the store writes them, with counts of
// every kind, zero ones and none, and for cells written otherwise (a
// field given twice, a deadline kind twice, a map key twice, a field no
// one knows, text not in UTF-8, bytes cut short), which it decodes.
func TestStoredCellReadInPlace(t *testing.T) {
	c := &checker{linkSeed: maphash.MakeSeed()}
	rng := rand.New(rand.NewPCG(1, 2))
	small := func() int64 { return int64(rng.IntN(4)) - 1 } // -1 to 2: zeros too
	var cells [][]byte
	for range 2000 {
		tl := tally.Tally{Reports: small(), CasesOpened: small(), CasesStillOpen: small(), CasesClosed: small(),
			CrimeClosedWithoutReferral: small(), TransfersProposed: small(), TransfersAccepted: small(),
			TransfersDeclined: small(), PoliceReferrals: small(), Emergencies: small(), LateRecordings: small()}
		if rng.IntN(3) == 0 {
			tl = tally.Tally{} // most counters zero, as in most cells
		}
		for _, kind := range []model.DeadlineKind{"ACKNOWLEDGE", "D3", "PLAN"}[:rng.IntN(4)] {
			d := tl.Deadline(kind)
			d.Met, d.Missed = small(), small()
			for range rng.IntN(3) {
				d.Late = mapWith(d.Late, rng.IntN(5)-1, small())
			}
			for range rng.IntN(3) {
				d.OpenDue = mapWith(d.OpenDue, int64(rng.IntN(5))<<40, small())
			}
		}
		for range rng.IntN(3) {
			tl.Escalations = mapWith(tl.Escalations, fmt.Sprint("units/0000", rng.IntN(3)), small())
			tl.PoliceOutcomes = mapWith(tl.PoliceOutcomes, []string{"PROSECUTED", "SUSPENDED"}[rng.IntN(2)], small())
			tl.EmergencyD3 = mapWith(tl.EmergencyD3, "MET", small())
			tl.D3OpenDue = mapWith(tl.D3OpenDue, int64(rng.IntN(3)), small())
		}
		raw, err := encode(tl)
		if err != nil {
			t.Fatal(err)
		}
		cells = append(cells, raw)
	}
	read := 0
	for _, raw := range cells {
		if _, _, ok := storedCellCounts(raw, nil); ok {
			read++
		}
	}
	if read != len(cells) {
		t.Errorf("%d of %d cells written by the store read in place, want all", read, len(cells))
	}
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	entry := func(key []byte, n uint64) []byte {
		return protowire.AppendVarint(append(append(tag(1, protowire.BytesType), protowire.AppendBytes(nil, key)...), tag(2, protowire.VarintType)...), n)
	}
	deadline := func(kind string) []byte {
		m, _ := proto.Marshal(&recordpb.StatDeadline{Kind: kind, Met: 1})
		return protowire.AppendBytes(tag(11, protowire.BytesType), m)
	}
	one := cells[0][1:]
	odd := [][]byte{
		nil, {protoRecord}, {jsonRecord, '{', '}'}, {9, 1},
		join(protowire.AppendVarint(tag(1, protowire.VarintType), 2), protowire.AppendVarint(tag(1, protowire.VarintType), 3)),
		join(deadline("D3"), deadline("D3")),
		join(deadline("D3"), deadline("PLAN")),
		join(protowire.AppendBytes(tag(12, protowire.BytesType), entry([]byte("u"), 1)), protowire.AppendBytes(tag(12, protowire.BytesType), entry([]byte("u"), 2))),
		protowire.AppendBytes(tag(12, protowire.BytesType), entry([]byte{0xff}, 1)),
		protowire.AppendBytes(tag(13, protowire.BytesType), entry([]byte("PROSECUTED"), 0)),
		protowire.AppendVarint(tag(40, protowire.VarintType), 1),
		protowire.AppendBytes(tag(1, protowire.BytesType), []byte("x")),
	}
	for i, raw := range odd {
		if i >= 4 {
			odd[i] = append([]byte{protoRecord}, raw...)
		}
	}
	if len(one) > 2 {
		odd = append(odd, append([]byte{protoRecord}, one[:len(one)-1]...))
	}
	for _, raw := range append(cells, odd...) {
		cell := maphash.Bytes(c.linkSeed, []byte("key"))
		wantSum, wantOdd := c.hashDecodedCell(cell, raw)
		gotSum, gotOdd := c.hashStoredCell([]byte("key"), raw)
		if gotSum != wantSum || gotOdd != wantOdd {
			got, err := decodeAs[tally.Tally](raw)
			t.Errorf("cell %x (%v, %v): read in place, sum %x odd %v; decoded, sum %x odd %v", raw, &got, err, gotSum, gotOdd, wantSum, wantOdd)
		}
	}
}

func mapWith[K comparable](m map[K]int64, k K, n int64) map[K]int64 {
	if m == nil {
		m = map[K]int64{}
	}
	m[k] = n
	return m
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestRecordsReadInPlace: timeline events and outbox entries as the store
// writes them read in place (readsInPlace), and no record read so fails
// to decode, however it is damaged (bytes changed, cut short, added).
func TestRecordsReadInPlace(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	records := []struct {
		raw     func() ([]byte, error)
		message protoreflect.MessageDescriptor
		decodes func([]byte) error
	}{
		{
			func() ([]byte, error) {
				return encode(model.CaseEvent{Seq: 3, Time: at, Actor: "lan.nguyen", Kind: "ACKNOWLEDGED", Detail: "Đã tiếp nhận", DeadlineID: 2})
			},
			caseEventMessage,
			func(b []byte) error { _, err := decodeAs[model.CaseEvent](b); return err },
		},
		{
			func() ([]byte, error) {
				return encode(model.Notification{Seq: 9, Time: at, Kind: "CASE_FORWARDED", Case: "cases/HN-2026-00001",
					Units: []string{"units/00004@2025-07-01", "units/00070@2025-07-01"}, DeadlineID: 1, Detail: "một ca mới"})
			},
			notificationMessage,
			func(b []byte) error { _, err := decodeAs[model.Notification](b); return err },
		},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, r := range records {
		raw, err := r.raw()
		if err != nil {
			t.Fatal(err)
		}
		if !readsInPlace(raw, r.message) {
			t.Fatalf("%s %x as the store writes it does not read in place", r.message.Name(), raw)
		}
		read := 0
		for range 20000 {
			b := bytes.Clone(raw)
			switch rng.IntN(3) {
			case 0:
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			case 1:
				b = b[:rng.IntN(len(b))]
			default:
				b = append(b, byte(rng.IntN(256)), byte(rng.IntN(256)))
			}
			if !readsInPlace(b, r.message) {
				continue
			}
			read++
			if err := r.decodes(b); err != nil {
				t.Errorf("%s %x reads in place but does not decode: %v", r.message.Name(), b, err)
			}
		}
		if read == 0 {
			t.Errorf("no damaged %s read in place: the test tried nothing", r.message.Name())
		}
	}
}

// TestCountSum: a count off by a power of two as large as 2^63 changes the
// sum whatever the hash, even; counts that cancel, negative ones too,
// leave it as it was, as a recount by events adds and takes away.
func TestCountSum(t *testing.T) {
	for _, h := range []uint64{2, 6, 1 << 32, 1 << 63, 0xfffffffffffffffe} {
		for _, n := range []int64{math.MinInt64, 1 << 62, 1 << 40, -1, 1} {
			var s countSum
			if s.add(h, n); s == (countSum{}) {
				t.Errorf("hash %#x times %d sums to 0", h, n)
			}
			if s.add(h, -n); n != math.MinInt64 && s != (countSum{}) {
				t.Errorf("hash %#x times %d, then %d, sums to %x, want 0", h, n, -n, s)
			}
		}
	}
	var a, b countSum
	a.add(7, 5)
	a.add(7, -2)
	b.add(7, 3)
	if a != b {
		t.Errorf("7×5 - 7×2 = %x, 7×3 = %x", a, b)
	}
}
