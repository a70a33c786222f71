package stats

import (
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A period through 9999-12-31, the last day a date can name (an "until
// further notice" end a client may well send), is read from the
// counters as any other: its end, 10000-01-01, names no cell, and the
// ranges end after the last cell instead. The city's statistics for it
// were counted from every report and case stored, at each request.
func TestCellRangesThroughTheLastDayADateCanName(t *testing.T) {
	day := func(y int, m time.Month, d int) vntime.Date { return vntime.Date{Year: y, Month: m, Day: d} }
	for _, tc := range []struct {
		name     string
		from, to vntime.Date // to: the day after the period
		inRange  []tally.Key // cells the ranges must read
		outRange []tally.Key // cells they must not
	}{
		{
			name: "whole months from 2026", from: day(2026, 1, 1), to: day(10000, 1, 1),
			inRange:  []tally.Key{{Kind: tally.Total, Month: "2026-01"}, {Kind: tally.Total, Month: "2026-07"}, {Kind: tally.Total, Month: "9999-12"}},
			outRange: []tally.Key{{Kind: tally.Total, Month: "2025-12"}},
		},
		{
			name: "from a day within a month", from: day(2026, 7, 15), to: day(10000, 1, 1),
			inRange: []tally.Key{
				{Kind: tally.DayTotal, Month: "2026-07-15"}, {Kind: tally.DayTotal, Month: "2026-07-31"},
				{Kind: tally.Total, Month: "2026-08"}, {Kind: tally.Total, Month: "9999-12"},
			},
			outRange: []tally.Key{{Kind: tally.DayTotal, Month: "2026-07-14"}, {Kind: tally.Total, Month: "2026-07"}},
		},
		{
			name: "the last days", from: day(9999, 12, 15), to: day(10000, 1, 1),
			inRange:  []tally.Key{{Kind: tally.DayTotal, Month: "9999-12-15"}, {Kind: tally.DayTotal, Month: "9999-12-31"}},
			outRange: []tally.Key{{Kind: tally.DayTotal, Month: "9999-12-14"}, {Kind: tally.Total, Month: "9999-12"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ranges, ok := cellRanges(Query{From: tc.from.Start(), To: tc.to.Start()})
			if !ok {
				t.Fatalf("the counters cannot answer %s to %s: every record would be read", tc.from, tc.to)
			}
			read := func(k tally.Key) bool {
				return slices.ContainsFunc(ranges, func(r cellRange) bool { return k.InRange(r.kind, r.from, r.to) })
			}
			for _, k := range tc.inRange {
				if !read(k) {
					t.Errorf("ranges %+v leave out the cell %+v", ranges, k)
				}
			}
			for _, k := range tc.outRange {
				if read(k) {
					t.Errorf("ranges %+v read the cell %+v, outside the period", ranges, k)
				}
			}
		})
	}
}
