package stats_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/childcase/childcase/internal/domain/stats"
)

// grid returns a table of counts with a total for each row (last column),
// for each column (last row) and the grand total, and the relations of
// every row and column of it, margins included.
func grid(counts [][]int) stats.Table {
	rows, cols := len(counts), len(counts[0])
	values := make([][]int, rows+1)
	for i := range values {
		values[i] = make([]int, cols+1)
	}
	for i, r := range counts {
		for j, n := range r {
			values[i][j] = n
			values[i][cols] += n
			values[rows][j] += n
			values[rows][cols] += n
		}
	}
	var t stats.Table
	for _, r := range values {
		var line []stats.Cell
		for _, n := range r {
			line = append(line, stats.Count(n))
		}
		t.Rows = append(t.Rows, line)
	}
	for i := range rows + 1 {
		rel := stats.Relation{Total: stats.CellRef{Row: i, Col: cols}}
		for j := range cols {
			rel.Parts = append(rel.Parts, stats.CellRef{Row: i, Col: j})
		}
		t.Relations = append(t.Relations, rel)
	}
	t.Relations = append(t.Relations, stats.ColumnTotals(t.Rows, 0)...)
	return t
}

// unitTable returns a table shaped like the periodic report: a name and a
// row number that counts nothing, then counts, one row per unit and their
// total below, related by column only.
func unitTable(counts [][]int) stats.Table {
	var t stats.Table
	totals := make([]int, len(counts[0]))
	for i, r := range counts {
		line := []stats.Cell{stats.Text(fmt.Sprint("unit ", i)), stats.Number(i + 1)}
		for j, n := range r {
			line = append(line, stats.Count(n))
			totals[j] += n
		}
		t.Rows = append(t.Rows, line)
	}
	line := []stats.Cell{stats.Text("total"), stats.Number(0)}
	for _, n := range totals {
		line = append(line, stats.Count(n))
	}
	t.Rows = append(t.Rows, line)
	t.Relations = stats.ColumnTotals(t.Rows, 2)
	return t
}

// randomCounts draws a table of counts, most of them small, some zero.
func randomCounts(r *rand.Rand) [][]int {
	counts := make([][]int, 1+r.IntN(6))
	cols := 1 + r.IntN(6)
	for i := range counts {
		counts[i] = make([]int, cols)
		for j := range counts[i] {
			switch r.IntN(4) {
			case 0:
				counts[i][j] = 0
			case 1:
				counts[i][j] = 1 + r.IntN(4)
			case 2:
				counts[i][j] = 5 + r.IntN(10)
			default:
				counts[i][j] = r.IntN(200)
			}
		}
	}
	return counts
}

// For many random tables, what Withhold leaves shows no count from 1 to
// 4, and no row or column (nor the row of column totals, nor the column
// of row totals) holds exactly one withheld count, which its equation
// would give: each has none, or two at least (its total among them when
// it is withheld). The counts shown are unchanged, the cells that count
// nothing too, and the table given is left as it was.
func TestWithholdLeavesNoCellToSubtract(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 5))
	for n := range 3000 {
		counts := randomCounts(r)
		table := grid(counts)
		if n%2 == 1 {
			table = unitTable(counts)
		}
		before := fmt.Sprint(table.Rows)
		got := stats.Withhold(table)
		if fmt.Sprint(table.Rows) != before {
			t.Fatalf("table %d: Withhold changed the table it was given", n)
		}
		if !got.Suppressed {
			t.Errorf("table %d: not marked Suppressed", n)
		}
		for i, row := range got.Rows {
			for j, c := range row {
				was := table.Rows[i][j]
				switch {
				case c.Kind == stats.CellSuppressed:
					if was.Kind != stats.CellNumber || c.Text != stats.Withheld {
						t.Errorf("table %d: cell %d,%d (%+v) withheld as %+v", n, i, j, was, c)
					}
				case c != was:
					t.Errorf("table %d: cell %d,%d was %+v, shows %+v", n, i, j, was, c)
				case c == stats.Count(int(c.Number)) && c.Number >= 1 && c.Number < stats.SmallCount:
					t.Errorf("table %d: cell %d,%d shows the small count %v", n, i, j, c.Number)
				}
			}
		}
		for _, rel := range got.Relations {
			withheld := 0
			for _, ref := range append([]stats.CellRef{rel.Total}, rel.Parts...) {
				if got.Rows[ref.Row][ref.Col].Kind == stats.CellSuppressed {
					withheld++
				}
			}
			if withheld == 1 {
				t.Errorf("table %d: relation %+v holds one withheld count:\n%v\n%v", n, rel, counts, got.Rows)
			}
		}
	}
}

// The complement withheld is the smallest count of the relation, a part
// before a total, and a zero first of all; one complement can call for
// another in the crossing relation; a number that counts nothing (a row's
// number) is never withheld.
func TestWithholdTakesTheSmallestComplement(t *testing.T) {
	withheld := func(table stats.Table) [][]bool {
		var out [][]bool
		for _, r := range stats.Withhold(table).Rows {
			var line []bool
			for _, c := range r {
				line = append(line, c.Kind == stats.CellSuppressed)
			}
			out = append(out, line)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		table stats.Table
		want  [][]bool
	}{
		{"the smaller part", unitTable([][]int{{3}, {6}, {20}}), [][]bool{{false, false, true}, {false, false, true}, {false, false, false}, {false, false, false}}},
		{"a zero first", unitTable([][]int{{3}, {20}, {0}}), [][]bool{{false, false, true}, {false, false, false}, {false, false, true}, {false, false, false}}},
		{"the total when no other part", unitTable([][]int{{3}}), [][]bool{{false, false, true}, {false, false, true}}},
		{"the part before the total", unitTable([][]int{{7}, {3}}), [][]bool{{false, false, true}, {false, false, true}, {false, false, false}}},
		{"no small count, nothing", unitTable([][]int{{0, 7}, {5, 0}}), [][]bool{{false, false, false, false}, {false, false, false, false}, {false, false, false, false}}},
		{"row and column", grid([][]int{{3, 10}, {10, 10}}), [][]bool{{true, true, false}, {true, true, false}, {false, false, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withheld(tc.table); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("withheld %v, want %v", got, tc.want)
			}
		})
	}
}
