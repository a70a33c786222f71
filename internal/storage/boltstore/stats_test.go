package boltstore_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// statCells reads every stored cell of a kind.
func statCells(t *testing.T, s datastore.Store, kind tally.Kind) tally.Cells {
	t.Helper()
	out := tally.Cells{}
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		return tx.StatCells(kind, "0000-00", "9999-99", func(k tally.Key, c *tally.Tally) error {
			cp := *c
			out[k] = &cp
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The counters follow every kind of write of a report and a case, in the
// write's transaction: a case written before its report (as intake does)
// takes its channel from the report once stored, steps move its events
// between cells, a closure in another month, a report's change of
// channel, and a report moved to another case (a merge). After each
// write Check recounts them from the records and finds them in agreement;
// a counter damaged by hand is a problem naming its cell, and
// RebuildStats repairs it.
func TestStatsCountersFollowWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	s := open(t, path)
	ctx := context.Background()
	hanoi := vntime.Location()
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	other := units.Key{Code: "00091", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	june := time.Date(2026, 6, 30, 20, 0, 0, 0, hanoi) // 13:00 UTC: still June in Hà Nội
	first, second := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	report := func(id, number string, ch model.Channel) model.StoredReport {
		return model.StoredReport{
			ID: id, CallType: model.CallIntervention, Channel: ch, IncidentUnit: unit, ReceiveTime: june, CaseNumber: number,
			SuspectedAbuse: []model.AbuseForm{model.AbuseSexual}, Children: []model.ChildSummary{{AgeYears: 7, Sex: model.SexFemale}},
		}
	}
	kase := model.Case{
		Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, IncidentUnit: unit,
		ReportIDs: []string{first}, Revision: 1, ReceiveTime: june, Emergency: true,
		SuspectedAbuse: []model.AbuseForm{model.AbuseSexual}, Children: []model.ChildSummary{{AgeYears: 7, Sex: model.SexFemale}},
		Deadlines: []model.Deadline{
			{ID: 1, Kind: model.DeadlineAcknowledge, State: model.DeadlineOpen, Start: june, Due: june.Add(time.Hour)},
			{ID: 2, Kind: model.DeadlineEmergencyMeasures, State: model.DeadlineOpen, Start: june, Due: june.Add(12 * time.Hour)},
		},
	}
	survivor := model.Case{Number: "HN-2026-00002", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: other, Revision: 1, ReceiveTime: june}
	// The escalation and D3 fall on 30 June in Hà Nội; the missed
	// acknowledgement, the transfer and the referral on 1 July.
	steps := []struct {
		name  string
		write func(tx datastore.Tx) error
	}{
		{"a case, then its report", func(tx datastore.Tx) error {
			if _, err := tx.NextCaseSequence(2026); err != nil {
				return err
			}
			if err := tx.CreateCase(&kase); err != nil {
				return err
			}
			return tx.CreateReport(report(first, kase.Number, model.ChannelHotline111))
		}},
		{"a deadline missed in July with an escalation, D3 met", func(tx datastore.Tx) error {
			kase.Revision++
			d := &kase.Deadlines[0]
			d.State, d.DoneTime, d.MinutesLate = model.DeadlineMissed, june.Add(26*time.Hour), 25*60
			d.Escalations = []model.Escalation{{Time: june.Add(2 * time.Hour), To: "units/00004@2025-07-01"}}
			kase.Deadlines[1].State, kase.Deadlines[1].DoneTime = model.DeadlineMet, june.Add(3*time.Hour)
			return tx.UpdateCase(kase)
		}},
		{"a transfer declined, a referral with its outcome", func(tx datastore.Tx) error {
			kase.Revision++
			kase.Transfers = []model.Transfer{{ID: 1, From: "units/00004@2025-07-01", To: "units/00091@2025-07-01", State: model.TransferDeclined,
				ProposeTime: june.Add(4 * time.Hour), DecideTime: june.Add(5 * time.Hour)}}
			kase.PoliceReferrals = []model.PoliceReferral{{PoliceUnit: "policeUnits/ca-ba-dinh", ReferTime: june.Add(6 * time.Hour),
				Outcome: "PROSECUTED", OutcomeTime: june.Add(48 * time.Hour)}}
			return tx.UpdateCase(kase)
		}},
		{"the report's channel corrected", func(tx datastore.Tx) error {
			return tx.UpdateReport(report(first, kase.Number, model.ChannelPolice))
		}},
		{"a second case and report", func(tx datastore.Tx) error {
			if _, err := tx.NextCaseSequence(2026); err != nil {
				return err
			}
			if err := tx.CreateCase(&survivor); err != nil {
				return err
			}
			return tx.CreateReport(report(second, "", model.ChannelWalkIn))
		}},
		{"closed in August", func(tx datastore.Tx) error {
			kase.Revision++
			kase.Status, kase.CloseTime = model.StatusClosed, june.AddDate(0, 1, 5)
			return tx.UpdateCase(kase)
		}},
		{"merged: its report moves to the survivor", func(tx datastore.Tx) error {
			r := report(first, survivor.Number, model.ChannelPolice)
			if err := tx.UpdateReport(r); err != nil {
				return err
			}
			survivor.Revision++
			survivor.ReportIDs = []string{first}
			if err := tx.UpdateCase(survivor); err != nil {
				return err
			}
			kase.Revision++
			kase.ReportIDs = nil
			return tx.UpdateCase(kase)
		}},
	}
	for _, step := range steps {
		if err := s.Update(ctx, step.write); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if res := mustCheck(t, path); !res.OK() {
			t.Fatalf("after %q the counters differ from the records:\n%s", step.name, problemList(res))
		}
		s = open(t, path)
	}

	// What the cells say, as the steps wrote it.
	totals := statCells(t, s, tally.Total)
	juneCell := totals[tally.Key{Kind: tally.Total, Month: "2026-06", Unit: unit.String()}]
	if juneCell == nil || juneCell.Reports != 2 || juneCell.CasesOpened != 1 || juneCell.CasesStillOpen != 0 || juneCell.Emergencies != 1 ||
		juneCell.EmergencyD3["MET"] != 1 || juneCell.Escalations["units/00004@2025-07-01"] != 1 || juneCell.TransfersDeclined != 0 {
		t.Errorf("June, Ba Đình: %v", juneCell)
	}
	july := totals[tally.Key{Kind: tally.Total, Month: "2026-07", Unit: unit.String()}]
	if july == nil || july.Deadline(model.DeadlineAcknowledge).Missed != 1 || july.TransfersDeclined != 1 || july.PoliceReferrals != 1 ||
		july.PoliceOutcomes["PROSECUTED"] != 1 {
		t.Errorf("July, Ba Đình: %v", july)
	}
	if aug := totals[tally.Key{Kind: tally.Total, Month: "2026-08", Unit: unit.String()}]; aug == nil || aug.CasesClosed != 1 || aug.CrimeClosedWithoutReferral != 0 {
		t.Errorf("August, Ba Đình: %v", aug)
	}
	full := statCells(t, s, tally.Full)
	byPolice := tally.Key{Kind: tally.Full, Month: "2026-06", Unit: other.String(), Channel: "POLICE", CallType: "INTERVENTION"}
	if c := full[byPolice]; c == nil || c.CasesOpened != 1 {
		t.Errorf("the survivor takes the channel of its first report, the merged one's: %v in %v", c, full)
	}
	// The same events by day (schema version 8), for the ends of a
	// period that are not whole months.
	days := statCells(t, s, tally.DayTotal)
	day := func(d string) *tally.Tally {
		return days[tally.Key{Kind: tally.DayTotal, Month: d, Unit: unit.String()}]
	}
	if d := day("2026-06-30"); d == nil || d.Reports != 2 || d.CasesOpened != 1 || d.EmergencyD3["MET"] != 1 || d.Escalations["units/00004@2025-07-01"] != 1 {
		t.Errorf("30 June, Ba Đình: %v", d)
	}
	if d := day("2026-07-01"); d == nil || d.Deadline(model.DeadlineAcknowledge).Missed != 1 || d.TransfersDeclined != 1 || d.PoliceReferrals != 1 || len(d.PoliceOutcomes) != 0 {
		t.Errorf("1 July, Ba Đình: %v", d)
	}
	if d := day("2026-07-02"); d == nil || d.PoliceOutcomes["PROSECUTED"] != 1 || d.PoliceReferrals != 0 {
		t.Errorf("2 July, Ba Đình: %v", d)
	}
	if d := day("2026-08-04"); d == nil || d.CasesClosed != 1 {
		t.Errorf("4 August, Ba Đình: %v", d)
	}
	dayFull := statCells(t, s, tally.DayFull)
	byPoliceThatDay := byPolice
	byPoliceThatDay.Kind, byPoliceThatDay.Month = tally.DayFull, "2026-06-30"
	if c := dayFull[byPoliceThatDay]; c == nil || c.CasesOpened != 1 {
		t.Errorf("30 June, the survivor by the channel of its first report: %v in %v", c, dayFull)
	}

	// A counter damaged by hand is found, its cell named; the rebuild
	// repairs it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key := tally.Key{Kind: tally.Total, Month: "2026-06", Unit: unit.String()}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		bad := *juneCell
		bad.Reports++
		raw, err := boltstore.EncodeRecord(bad)
		if err != nil {
			return err
		}
		return tx.Bucket([]byte("stats")).Put(boltstore.StatKey(key), raw)
	})
	res := mustCheck(t, path)
	if len(res.Problems) != 1 || res.Problems[0].Bucket != "stats" || res.Problems[0].Key != key.String() ||
		!strings.Contains(res.Problems[0].What, "stored reports 3") || !strings.Contains(res.Problems[0].What, "the records give reports 2") {
		t.Fatalf("check of a damaged counter, want one problem naming %q:\n%s", key, problemList(res))
	}
	s = open(t, path)
	cells := len(totals) + len(full) + len(days) + len(dayFull)
	if n, err := s.RebuildStats(ctx); err != nil || n != cells {
		t.Errorf("RebuildStats = %d, %v; want %d cells", n, err, cells)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Fatalf("after the rebuild:\n%s", problemList(res))
	}

	// A cell by day lost is found too.
	lost := tally.Key{Kind: tally.DayTotal, Month: "2026-07-02", Unit: unit.String()}
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte("stats")).Delete(boltstore.StatKey(lost)) })
	res = mustCheck(t, path)
	if len(res.Problems) != 1 || res.Problems[0].Key != lost.String() || !strings.Contains(res.Problems[0].What, "missing") {
		t.Fatalf("check of a lost cell by day, want one problem naming %q:\n%s", lost, problemList(res))
	}
}

// A cell's key reads back as the cell of every kind, monthly or daily;
// one of the wrong length or number of fields for its kind does not.
func TestStatKeysReadBack(t *testing.T) {
	unit := "00004@2025-07-01"
	for _, k := range []tally.Key{
		{Kind: tally.Total, Month: "2026-06", Unit: unit},
		{Kind: tally.Full, Month: "2026-06", Unit: unit, Channel: "HOTLINE_111", CallType: "INTERVENTION", Abuse: "NEGLECT,VIOLENCE", Sex: "FEMALE", Age: "6-10"},
		{Kind: tally.DayTotal, Month: "2026-06-30", Unit: unit},
		{Kind: tally.DayFull, Month: "2026-06-30", Unit: unit, Channel: "POLICE", Sex: "MALE,FEMALE"},
		{Kind: tally.DayFull, Month: "2026-06-30"},
	} {
		got, err := boltstore.ParseStatKey(boltstore.StatKey(k))
		if err != nil || got != k {
			t.Errorf("%s reads back as %+v, %v", k, got, err)
		}
	}
	for _, raw := range []string{
		"", "\x01", "\x012026-0", "\x012026-06", "\x012026-06\x00a\x00b", "\x032026-06\x00a", "\x022026-06\x00a",
		"\x042026-06-30\x00a\x00b\x00c\x00d\x00e\x00f\x00g", "\x012026-06x\x00a",
	} {
		if k, err := boltstore.ParseStatKey([]byte(raw)); err == nil {
			t.Errorf("%q reads as %+v", raw, k)
		}
	}
}

// The writes a group commit shares change the same cells (the month, the
// day, the commune, the city) through one decoded copy each, written
// once before the commit: every write's share is in them, and a write
// that fails in a shared transaction leaves none, since the others run
// again without it. Check recounts the cells from the records.
func TestStatsCellsSharedByAGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	s := open(t, path)
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	june := time.Date(2026, 6, 15, 9, 0, 0, 0, vntime.Location())
	const n = 24
	failed := func(i int) bool { return i%4 == 3 }
	var mu sync.Mutex
	txOf := map[int]bool{}
	errs := storagetest.UpdatesBehindACommit(t, s, n, func(tx datastore.Tx, i int) error {
		mu.Lock()
		txOf[boltstore.TxID(tx)] = true
		mu.Unlock()
		seq, err := tx.NextCaseSequence(2026)
		if err != nil {
			return err
		}
		id := uuid.Must(uuid.NewV7()).String()
		c := model.Case{
			Number: fmt.Sprintf("HN-2026-%05d", seq), Status: model.StatusAwaitingAcknowledgement,
			ResponsibleUnit: unit, IncidentUnit: unit, ReportIDs: []string{id}, Revision: 1, ReceiveTime: june,
		}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		err = tx.CreateReport(model.StoredReport{
			ID: id, CallType: model.CallIntervention, Channel: model.ChannelHotline111, IncidentUnit: unit,
			ReceiveTime: june, CaseNumber: c.Number,
		})
		if err == nil && failed(i) {
			err = fmt.Errorf("write %d refused after its writes", i)
		}
		return err
	})
	want := 0
	for i, err := range errs {
		if failed(i) != (err != nil) {
			t.Errorf("write %d: %v", i, err)
		}
		if err == nil {
			want++
		}
	}
	if len(txOf) >= n {
		t.Fatalf("%d writes ran in %d transactions: none shared a commit, so this tests nothing", n, len(txOf))
	}
	cell := statCells(t, s, tally.Total)[tally.Key{Kind: tally.Total, Month: "2026-06", Unit: unit.String()}]
	if cell == nil || cell.CasesOpened != int64(want) || cell.Reports != int64(want) {
		t.Errorf("June's cell of the commune = %+v, want %d cases opened and %d reports", cell, want, want)
	}
	day := statCells(t, s, tally.DayTotal)[tally.Key{Kind: tally.DayTotal, Month: "2026-06-15", Unit: unit.String()}]
	if day == nil || day.CasesOpened != int64(want) {
		t.Errorf("15 June's cell of the commune = %+v, want %d cases opened", day, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("check after shared writes: %v", res.Problems)
	}
}

// Check compares the counters with the records by sums of hashes, and
// reads them cell by cell only when the sums differ: damage that keeps
// every count's total, or adds nothing to a sum, is found all the same,
// its cell named.
func TestCheckFindsStatsDamageSumsKeep(t *testing.T) {
	cell := func(t *testing.T, tx *bolt.Tx, kind tally.Kind) (tally.Key, tally.Tally) {
		t.Helper()
		cur := tx.Bucket([]byte("stats")).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			key, err := boltstore.ParseStatKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if key.Kind != kind {
				continue
			}
			var got tally.Tally
			if err := boltstore.DecodeRecord(v, &got); err != nil {
				t.Fatal(err)
			}
			return key, got
		}
		t.Fatalf("no cell of kind %d", kind)
		return tally.Key{}, tally.Tally{}
	}
	put := func(tx *bolt.Tx, k tally.Key, v tally.Tally) error {
		raw, err := boltstore.EncodeRecord(v)
		if err != nil {
			return err
		}
		return tx.Bucket([]byte("stats")).Put(boltstore.StatKey(k), raw)
	}
	for _, d := range []struct {
		name   string
		damage func(t *testing.T, tx *bolt.Tx) (tally.Key, error) // returns the cell a problem must name
		what   string
	}{
		{
			name: "a cell moved to another month",
			damage: func(t *testing.T, tx *bolt.Tx) (tally.Key, error) {
				k, v := cell(t, tx, tally.Total)
				moved := k
				moved.Month = "2025-01"
				if err := tx.Bucket([]byte("stats")).Delete(boltstore.StatKey(k)); err != nil {
					return k, err
				}
				return moved, put(tx, moved, v)
			},
			what: "stale",
		},
		{
			name: "a cell of no counts",
			damage: func(t *testing.T, tx *bolt.Tx) (tally.Key, error) {
				k := tally.Key{Kind: tally.Total, Month: "2025-01", Unit: "00004@2025-07-01"}
				return k, put(tx, k, tally.Tally{})
			},
			what: "stale: stored reports 0",
		},
		{
			name: "a count of zero kept",
			damage: func(t *testing.T, tx *bolt.Tx) (tally.Key, error) {
				k, v := cell(t, tx, tally.DayFull)
				v.Escalations = map[string]int64{"units/00004@2025-07-01": 0}
				return k, put(tx, k, v)
			},
			what: "the records give",
		},
	} {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			writeHealthy(t, path)
			var key tally.Key
			rawUpdate(t, path, func(tx *bolt.Tx) (err error) {
				key, err = d.damage(t, tx)
				return err
			})
			res := mustCheck(t, path)
			for _, p := range res.Problems {
				if p.Bucket == "stats" && p.Key == key.String() && strings.Contains(p.What, d.what) {
					return
				}
			}
			t.Fatalf("no problem in stats naming %q and saying %q; found:\n%s", key, d.what, problemList(res))
		})
	}
}

// A stored count changed by a large power of two (its top bit flipped,
// in a damaged or crafted file) is found on every check. The sums
// weighted each count's hash by its number modulo 2^64, where 2^63 times
// an even hash is 0: half the checks, each with a key of its own, passed
// such a file; two counts changed so in two cells cancelled the same way.
func TestCheckFindsACountOffByAPowerOfTwo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	writeHealthy(t, path)
	var keys []tally.Key // two cells of the file
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("stats")).ForEach(func(k, _ []byte) error {
			key, err := boltstore.ParseStatKey(k)
			if len(keys) < 2 {
				keys = append(keys, key)
			}
			return err
		})
	})
	if len(keys) != 2 {
		t.Fatalf("%d statistics cells, want 2 at least", len(keys))
	}
	// flip flips the top bit of a cell's count of reports: twice undoes it.
	flip := func(key tally.Key) {
		rawUpdate(t, path, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("stats"))
			var got tally.Tally
			if err := boltstore.DecodeRecord(b.Get(boltstore.StatKey(key)), &got); err != nil {
				return err
			}
			got.Reports += math.MinInt64
			raw, err := boltstore.EncodeRecord(got)
			if err != nil {
				return err
			}
			return b.Put(boltstore.StatKey(key), raw)
		})
	}
	for _, damaged := range [][]tally.Key{keys[:1], keys[1:], keys} {
		for _, k := range damaged {
			flip(k)
		}
		for run := range 24 {
			res := mustCheck(t, path)
			named := 0
			for _, p := range res.Problems {
				if p.Bucket == "stats" && slices.ContainsFunc(damaged, func(k tally.Key) bool { return p.Key == k.String() }) {
					named++
				}
			}
			if named != len(damaged) || len(res.Problems) != len(damaged) {
				t.Fatalf("cells %v damaged, check %d found:\n%s", damaged, run+1, problemList(res))
			}
		}
		for _, k := range damaged {
			flip(k)
		}
	}
}
