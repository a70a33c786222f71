package storagetest

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
)

var statsTests = []namedTest{
	{"CellsAreTheRecountOfTheRecords", testStatCellsAreTheRecount},
}

// testStatCellsAreTheRecount pins datastore.StatsReader: after writes of
// every kind a report and a case go through (a case stored before its
// report, as intake stores them; a report with no case; a step of a case
// in another month; its closure; a report's channel corrected; a report
// moved to another case, as a merge moves them, and then corrected, which
// changes the merged case it opened), StatCells answers, for every kind
// of cell, the cells tally.Recount gives of the stored records, non-zero
// ones only, in order of key, and only those of the months asked for.
func testStatCellsAreTheRecount(t *testing.T, s datastore.Store) {
	ids := newIDs(t, 3)
	first := fullReport(ids[0])
	loose := minimalReport(ids[1], model.CallCounselling)
	moved := fullReport(ids[2])
	moved.CaseNumber, moved.Channel, moved.ReceiveTime = "HN-2026-00002", model.ChannelWalkIn, baseTime.AddDate(0, 1, 0)

	c := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
	c.ReportIDs, c.MergedInto, c.MergedFrom, c.CloseTime, c.Reopened = []string{first.ID}, "", nil, time.Time{}, nil
	other := sampleCase("HN-2026-00002", unitB, statusInProgress)
	other.ReportIDs, other.MergedInto, other.MergedFrom, other.CloseTime, other.Reopened = []string{moved.ID}, "", nil, time.Time{}, nil
	other.ReceiveTime = moved.ReceiveTime

	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		return tx.CreateReport(first)
	})
	createReports(t, s, loose)
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateCase(&other); err != nil {
			return err
		}
		return tx.CreateReport(moved)
	})
	// A step in the next month, then the closure two months on.
	c.Revision++
	c.Status = statusInProgress
	c.Deadlines = append(c.Deadlines, model.Deadline{ID: 8, Kind: model.DeadlineAcknowledge, Clock: model.ClockHours,
		Length: 24 * time.Hour, Unit: "units/00004", Start: baseTime, Due: baseTime.Add(24 * time.Hour),
		State: model.DeadlineMissed, Breached: true, DoneTime: baseTime.AddDate(0, 1, 2), MinutesLate: 60})
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	c.Revision++
	c.Status, c.CloseTime = model.StatusClosed, baseTime.AddDate(0, 2, 0)
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	// The first report's channel corrected; the other case's report moved
	// onto the first case, as a merge moves them.
	first.Channel = model.ChannelPolice
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(first) })
	moved.CaseNumber = c.Number
	c.Revision++
	c.ReportIDs, c.MergedFrom = append(c.ReportIDs, moved.ID), []string{other.Number}
	other.Revision++
	other.ReportIDs, other.Status, other.MergedInto, other.CloseTime = nil, model.StatusClosed, c.Number, baseTime.AddDate(0, 1, 3)
	other.FirstReportID = moved.ID // the merged case keeps the report that opened it
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.UpdateReport(moved); err != nil {
			return err
		}
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
		return tx.UpdateCase(other)
	})
	// That report's channel corrected after the merge: the merged case it
	// opened counts under the new one.
	moved.Channel = model.ChannelCommune
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(moved) })

	var want tally.Cells
	view(t, s, func(tx datastore.ReadTx) error {
		rs, _, err := tx.ListReports(datastore.ReportQuery{Limit: 100})
		if err != nil {
			return err
		}
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 100})
		if err != nil {
			return err
		}
		if len(rs) != 3 || len(cs) != 2 {
			t.Fatalf("%d reports and %d cases stored, want 3 and 2", len(rs), len(cs))
		}
		want, err = tally.Recount(withoutErrors(rs), withoutErrors(cs), func(c model.Case) (*model.StoredReport, error) {
			return tally.FirstReport(c, tx.Report)
		})
		return err
	})
	if len(want) == 0 {
		t.Fatal("the recount of the records gives no cell")
	}

	month := baseTime.In(time.UTC).Format("2006-01")
	next := baseTime.AddDate(0, 1, 0).Format("2006-01")
	for _, kind := range []tally.Kind{tally.Total, tally.Full, tally.DayTotal, tally.DayFull} {
		for _, r := range [][2]string{{"2000-01", "2100-01"}, {next, "2100-01"}, {"2000-01", next}, {month, month}} {
			var keys []tally.Key
			for k := range want {
				if k.InRange(kind, r[0], r[1]) {
					keys = append(keys, k)
				}
			}
			slices.SortFunc(keys, tally.Compare)
			type cell struct {
				k tally.Key
				t *tally.Tally
			}
			var got []cell
			view(t, s, func(tx datastore.ReadTx) error {
				return tx.StatCells(kind, r[0], r[1], func(k tally.Key, tl *tally.Tally) error {
					mine := &tally.Tally{} // fn must not keep tl
					mine.Add(tl, 1)
					got = append(got, cell{k, mine})
					return nil
				})
			})
			same := len(got) == len(keys)
			for i := 0; same && i < len(got); i++ {
				same = got[i].k == keys[i] && got[i].t.Equal(want[keys[i]])
			}
			if !same {
				var gotLines, wantLines []string
				for _, c := range got {
					gotLines = append(gotLines, fmt.Sprintf("%s: %s", c.k, c.t))
				}
				for _, k := range keys {
					wantLines = append(wantLines, fmt.Sprintf("%s: %s", k, want[k]))
				}
				t.Errorf("StatCells(kind %d, %s, %s):\n%s\nwant the recount of the records:\n%s",
					kind, r[0], r[1], strings.Join(gotLines, "\n"), strings.Join(wantLines, "\n"))
			}
		}
	}
}

// withoutErrors yields the elements of xs, each with a nil error.
func withoutErrors[T any](xs []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
}
