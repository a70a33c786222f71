package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/storage/boltstore/recordpb"
	"github.com/childcase/childcase/internal/storage/kv"
)

// The statistics counters (package tally) live in the bucket stats from
// schema version 7, one record (recordpb.StatCell) per cell. Every write
// of a report or a case adds, in its own transaction, the difference it
// makes to the record's contribution (tally.Delta): each step, merge,
// reform and firing of the scheduler keeps them equal to the sum over
// the records by construction, which Check verifies and RebuildStats
// restores.
//
// A cell's key is its kind (a byte), its month ("2026-06"; for a daily
// kind, from schema version 9, its day, "2026-06-15") and its unit, then
// for a full cell the channel, call type, abuse forms, sexes and age
// bands, each field ended by 0x00 (no name holds one): the cells of a
// kind and a period of months (or days) are one range of keys, read in
// order.

// dailyStatsVersion is the schema version that added the cells by day.
const dailyStatsVersion = 9

// statKey returns the key of a cell.
func statKey(k tally.Key) []byte { return appendStatKey(nil, k) }

// appendStatKey appends the key of a cell to b: Check builds the key of
// every count of every record again, in a buffer it reuses.
func appendStatKey(b []byte, k tally.Key) []byte {
	fields := [6]string{k.Unit, k.Channel, k.CallType, k.Abuse, k.Sex, k.Age}
	n := 1
	if k.Kind.HasDimensions() {
		n = len(fields)
	}
	size := 1 + len(k.Month) + n
	for _, f := range fields[:n] {
		size += len(f)
	}
	b = append(slices.Grow(b, size), byte(k.Kind))
	b = append(b, k.Month...)
	for _, f := range fields[:n] {
		b = append(append(b, 0), f...)
	}
	return b
}

// parseStatKey reads a cell's key.
func parseStatKey(b []byte) (tally.Key, error) {
	period := len("2006-01")
	if len(b) > 0 && tally.Kind(b[0]).Daily() {
		period = len("2006-01-02")
	}
	if len(b) < 1+period {
		return tally.Key{}, fmt.Errorf("a statistics key of %d bytes", len(b))
	}
	// One string for the period and the fields, which share its bytes:
	// Check reads the key of every cell.
	all := string(b[1:])
	k := tally.Key{Kind: tally.Kind(b[0]), Month: all[:period]}
	var fields [8]string
	n := 0
	for rest := all[period:]; n < len(fields); n++ {
		i := strings.IndexByte(rest, 0)
		if i < 0 {
			fields[n] = rest
			n++
			break
		}
		fields[n], rest = rest[:i], rest[i+1:]
	}
	switch {
	case (k.Kind == tally.Total || k.Kind == tally.DayTotal) && n == 2 && fields[0] == "":
		k.Unit = fields[1]
	case k.Kind.HasDimensions() && n == 7 && fields[0] == "":
		k.Unit, k.Channel, k.CallType, k.Abuse, k.Sex, k.Age = fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]
	default:
		return tally.Key{}, fmt.Errorf("a statistics key of kind %d with %d fields", k.Kind, n-1)
	}
	if !bytes.Equal(statKey(k), b) {
		return tally.Key{}, fmt.Errorf("a statistics key that does not read back")
	}
	return k, nil
}

func statToRec(t tally.Tally) *recordpb.StatCell {
	r := &recordpb.StatCell{
		Reports: t.Reports, CasesOpened: t.CasesOpened, CasesStillOpen: t.CasesStillOpen, CasesClosed: t.CasesClosed,
		CrimeClosedWithoutReferral: t.CrimeClosedWithoutReferral, TransfersProposed: t.TransfersProposed,
		TransfersAccepted: t.TransfersAccepted, TransfersDeclined: t.TransfersDeclined, PoliceReferrals: t.PoliceReferrals,
		Emergencies: t.Emergencies, Escalations: t.Escalations, PoliceOutcomes: t.PoliceOutcomes, EmergencyD3: t.EmergencyD3,
		EmergencyD3OpenDue: t.D3OpenDue, LateRecordings: t.LateRecordings,
	}
	for _, kind := range slices.Sorted(maps.Keys(t.Deadlines)) {
		d := t.Deadlines[kind]
		rd := &recordpb.StatDeadline{Kind: string(kind), Met: d.Met, Missed: d.Missed, OpenDue: d.OpenDue}
		if len(d.Late) > 0 {
			rd.Late = map[int32]int64{}
			for b, n := range d.Late {
				rd.Late[int32(b)] = n
			}
		}
		r.Deadlines = append(r.Deadlines, rd)
	}
	return r
}

func statFromRec(r *recordpb.StatCell) tally.Tally {
	t := tally.Tally{
		Reports: r.GetReports(), CasesOpened: r.GetCasesOpened(), CasesStillOpen: r.GetCasesStillOpen(),
		CasesClosed: r.GetCasesClosed(), CrimeClosedWithoutReferral: r.GetCrimeClosedWithoutReferral(),
		TransfersProposed: r.GetTransfersProposed(), TransfersAccepted: r.GetTransfersAccepted(),
		TransfersDeclined: r.GetTransfersDeclined(), PoliceReferrals: r.GetPoliceReferrals(), Emergencies: r.GetEmergencies(),
		Escalations: nilIfEmpty(r.GetEscalations()), PoliceOutcomes: nilIfEmpty(r.GetPoliceOutcomes()),
		EmergencyD3: nilIfEmpty(r.GetEmergencyD3()), D3OpenDue: nilIfEmpty(r.GetEmergencyD3OpenDue()),
		LateRecordings: r.GetLateRecordings(),
	}
	for _, rd := range r.GetDeadlines() {
		d := t.Deadline(model.DeadlineKind(rd.GetKind()))
		d.Met, d.Missed, d.OpenDue = rd.GetMet(), rd.GetMissed(), nilIfEmpty(rd.GetOpenDue())
		if len(rd.GetLate()) > 0 {
			d.Late = map[int]int64{}
			for b, n := range rd.GetLate() {
				d.Late[int(b)] = n
			}
		}
	}
	return t
}

// nilIfEmpty keeps a decoded empty map equal to a tally's absent one.
func nilIfEmpty[K comparable](m map[K]int64) map[K]int64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

// StatCells implements datastore.StatsReader.
func (t *tx) StatCells(kind tally.Kind, from, to string, fn func(tally.Key, *tally.Tally) error) error {
	if err := t.flushCells(); err != nil {
		return err
	}
	b := t.bucket(bucketStats)
	if b == nil {
		return fmt.Errorf("bucket %s is missing: the file was not opened for writing since schema version 7", bucketStats)
	}
	end := append([]byte{byte(kind)}, to...)
	c := b.Cursor()
	for k, v := c.Seek(append([]byte{byte(kind)}, from...)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		key, err := parseStatKey(k)
		if err != nil {
			return err
		}
		cell, err := decodeAs[tally.Tally](v)
		if err != nil {
			return fmt.Errorf("statistics cell %s: %w", key, err)
		}
		if err := fn(key, &cell); err != nil {
			return err
		}
	}
	return nil
}

// firstReport returns the first report of c, nil when it is not stored.
func (t *tx) firstReport(c model.Case) (*model.StoredReport, error) {
	return tally.FirstReport(c, t.Report)
}

// caseStats is what writing c over prev (nil for a new case) changes in
// the counters. Each takes its own first report: a merge gives the
// survivor reports it did not have, and takes them from the absorbed case.
func (t *tx) caseStats(prev *model.Case, c model.Case) error {
	first, err := t.firstReport(c)
	if err != nil {
		return err
	}
	delta := tally.OfCase(c, first)
	if prev != nil {
		prevFirst, err := t.firstReport(*prev)
		if err != nil {
			return err
		}
		delta = tally.Delta(tally.OfCase(*prev, prevFirst), delta)
	}
	return t.addStats(delta)
}

// reportStats is what writing r over prev (nil for a new report) changes
// in the counters: its own contribution, and that of the case whose first
// report it is, which takes its channel and call type from it. That may
// be a case merged into the one r names: it keeps the report that opened
// it (tally.FirstReportID). rc is r's case as reportCase read it (nil:
// not stored), which the write has read already for its index entries.
func (t *tx) reportStats(prev *model.StoredReport, r model.StoredReport, rc *model.Case) error {
	delta := tally.OfReport(r)
	numbers := []string{r.CaseNumber}
	if prev != nil {
		delta = tally.Delta(tally.OfReport(*prev), delta)
		numbers = append(numbers, prev.CaseNumber)
	}
	slices.Sort(numbers)
	seen := map[string]bool{}
	for len(numbers) > 0 {
		n := numbers[0]
		numbers = numbers[1:]
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		var c model.Case
		if n == r.CaseNumber {
			if rc == nil {
				continue
			}
			c = *rc
		} else {
			var err error
			c, err = t.CaseByNumber(n)
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
		}
		if tally.FirstReportID(c) == r.ID {
			delta.Add(tally.FirstReportDelta(c, prev, &r), 1)
		}
		numbers = append(numbers, c.MergedFrom...)
	}
	return t.addStats(delta)
}

// addStats adds delta to the cells, as the transaction keeps them until
// flushCells writes them.
func (t *tx) addStats(delta tally.Cells) error {
	b := t.bucket(bucketStats)
	if t.cells == nil {
		t.cells = make(map[string]*tally.Tally, len(delta))
	}
	if p, ok := t.kt.(kv.Prefetcher); ok {
		// On etcd, one round trip for the cells the transaction does not
		// hold yet rather than one each.
		var cells []kv.Range
		for k := range delta {
			if key := statKey(k); t.cells[string(key)] == nil {
				cells = append(cells, kv.Point(bucketStats, key))
			}
		}
		if len(cells) > 0 {
			p.Prefetch(cells...)
		}
	}
	for k, d := range delta {
		key := statKey(k)
		cell, ok := t.cells[string(key)]
		if !ok {
			cell = new(tally.Tally)
			if raw := b.Get(key); raw != nil {
				var err error
				if *cell, err = decodeAs[tally.Tally](raw); err != nil {
					return fmt.Errorf("statistics cell %s: %w", k, err)
				}
			}
			t.cells[string(key)] = cell
		}
		cell.Add(d, 1)
	}
	return nil
}

// flushCells writes the cells the transaction changed (addStats), in key
// order; a cell that came to zero is deleted. It runs once the bodies of
// a write transaction are done, before its commit, and before the
// transaction reads the cells (StatCells).
func (t *tx) flushCells() error {
	if len(t.cells) == 0 {
		return nil
	}
	b := t.bucket(bucketStats)
	for _, key := range slices.Sorted(maps.Keys(t.cells)) {
		cell := t.cells[key]
		if cell.IsZero() {
			if err := b.Delete([]byte(key)); err != nil {
				return err
			}
			continue
		}
		raw, err := encode(*cell)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(key), raw); err != nil {
			if k, perr := parseStatKey([]byte(key)); perr == nil {
				return fmt.Errorf("put statistics cell %s: %w", k, err)
			}
			return fmt.Errorf("put statistics cell %q: %w", key, err)
		}
	}
	t.cells = nil
	return nil
}

// recountStats sums the contribution of every report and case of the
// file: what the bucket stats must hold.
func (t *tx) recountStats() (tally.Cells, error) {
	return tally.Recount(records[model.StoredReport](t.bucket(bucketReports), "report", reportString),
		records[model.Case](t.bucket(bucketCases), "case", caseString), t.firstReport)
}

// records yields every record of a bucket, decoded; one that does not
// decode ends the walk with its error, naming it what and name(key).
func records[T any](b kv.Bucket, what string, name func([]byte) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, err := decodeAs[T](v)
			if err != nil {
				err = fmt.Errorf("%s %s: %w", what, name(k), err)
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// buildStats (version 6 to 7, 7 to 8, and RebuildStats) fills the bucket stats,
// emptied first, from every report and case, its cells put in key order
// (see buildCaseIndexes).
func buildStats(btx *bolt.Tx) error {
	_, err := fillStats(btx)
	return err
}

// fillStats is buildStats, and returns the number of cells it wrote.
func fillStats(btx *bolt.Tx) (int, error) {
	if btx.Bucket(bucketStats) != nil {
		if err := btx.DeleteBucket(bucketStats); err != nil {
			return 0, fmt.Errorf("delete bucket %s: %w", bucketStats, err)
		}
	}
	b, err := btx.CreateBucket(bucketStats)
	if err != nil {
		return 0, fmt.Errorf("create bucket %s: %w", bucketStats, err)
	}
	cells, err := newTx(btx).recountStats()
	if err != nil {
		return 0, err
	}
	keys := make([][]byte, 0, len(cells))
	byKey := make(map[string]*tally.Tally, len(cells))
	for k, t := range cells {
		key := statKey(k)
		keys = append(keys, key)
		byKey[string(key)] = t
	}
	slices.SortFunc(keys, bytes.Compare)
	b.FillPercent = 0.9
	for _, key := range keys {
		raw, err := encode(*byKey[string(key)])
		if err != nil {
			return 0, err
		}
		if err := b.Put(key, raw); err != nil {
			return 0, fmt.Errorf("put statistics cell: %w", err)
		}
	}
	return len(keys), nil
}

// RebuildStats recomputes the statistics counters from the records and
// replaces the stored ones (`childcase stats rebuild`, on a stopped
// database). It returns the number of cells written.
func (s *Store) RebuildStats(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := update(s.db, func(btx *bolt.Tx) error {
		var err error
		n, err = fillStats(btx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rebuild statistics: %w", fileDamaged(s.log, s.path, "the rebuild of the statistics", err))
	}
	return n, nil
}
