package stats

import "slices"

// Small counts name children: a report that leaves the city level
// withholds every count from 1 to 4 (primary suppression). Withholding
// them alone is not enough where counts add up to another count on the
// same report: a withheld part is the shown total less the shown parts.
// So each such sum is declared as a Relation, and Withhold goes on to
// withhold further counts (secondary, or complementary, suppression) until
// no relation holds exactly one withheld count: a single equation then
// always has two unknowns. Every withheld count reads the same, so that a
// reader cannot tell a small count from one withheld to protect it.
//
// True zeros are shown: a 0 points at no child. A 0 may still be withheld
// as a complement, and is the first one taken, since hiding it costs the
// reader the least.

// CellRef names a cell of a table's rows.
type CellRef struct{ Row, Col int }

// Relation is a count of a table (Total) that its Parts add up to, or
// usually add up to (a case with two forms of abuse counts under each, a
// report without a channel under none): a reader could subtract the shown
// parts from the total to find a withheld one, so Withhold treats it as
// exact.
type Relation struct {
	Total CellRef
	Parts []CellRef
}

// cells returns the total and the parts of r.
func (r Relation) cells() []CellRef { return append([]CellRef{r.Total}, r.Parts...) }

// Withheld is how every withheld count reads, a small one or its
// complement alike.
const Withheld = "x"

// withheldCell is a withheld count.
var withheldCell = Cell{Kind: CellSuppressed, Text: Withheld}

// Withhold returns t with its small counts (1 to SmallCount-1) withheld,
// then, relation by relation, the smallest shown count of each relation
// that holds exactly one withheld count (a part before the total at the
// same value, then the first in order), until none does. Only cells made
// with Count are counts. It marks t Suppressed; t's rows are copied, not
// changed.
func Withhold(t Table) Table {
	rows := make([][]Cell, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = slices.Clone(r)
	}
	for _, r := range rows {
		for i, c := range r {
			if c.count && c.Number >= 1 && c.Number < SmallCount {
				r[i] = withheldCell
			}
		}
	}
	withheld := func(ref CellRef) bool { return rows[ref.Row][ref.Col].Kind == CellSuppressed }
	for changed := true; changed; {
		changed = false
		for _, rel := range t.Relations {
			cells := rel.cells()
			if countFunc(cells, withheld) != 1 {
				continue
			}
			// Parts first: the stable sort keeps them before a total of
			// the same value.
			candidates := append(slices.Clone(rel.Parts), rel.Total)
			candidates = slices.DeleteFunc(candidates, withheld)
			if len(candidates) == 0 {
				continue // a total without parts: nothing to subtract from
			}
			slices.SortStableFunc(candidates, func(a, b CellRef) int {
				x, y := rows[a.Row][a.Col].Number, rows[b.Row][b.Col].Number
				switch {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				return 0
			})
			pick := candidates[0]
			rows[pick.Row][pick.Col] = withheldCell
			changed = true
		}
	}
	t.Rows = rows
	t.Suppressed = true
	return t
}

// ColumnTotals returns the relations of a table whose last row is the
// total of the rows above it, in each column from first on.
func ColumnTotals(rows [][]Cell, first int) []Relation {
	if len(rows) < 2 {
		return nil
	}
	last := len(rows) - 1
	var out []Relation
	for col := first; col < len(rows[last]); col++ {
		r := Relation{Total: CellRef{Row: last, Col: col}}
		for row := range last {
			r.Parts = append(r.Parts, CellRef{Row: row, Col: col})
		}
		out = append(out, r)
	}
	return out
}

// countFunc counts the elements of s for which f is true.
func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}
