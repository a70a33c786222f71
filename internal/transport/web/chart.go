package web

import "strconv"

// A chart is a bar chart drawn on the server as inline SVG: no script, no
// chart library, and no style attribute (the CSP forbids them); its
// colours are classes of console.css. Each bar has a <title> a pointer or
// a screen reader can read, and the page puts a table of the same numbers
// beside it.
type chart struct {
	Title  string
	Head   string   // the header of the labels' column of its table
	Empty  string   // what it says when it has no bars
	Series []series // the legend: one class and name per value of a bar
	Bars   []bar
	// Horizontal: rows (newRowChart), else columns (newChart).
	Horizontal bool
	Width      int // the viewBox's
	Height     int
	Base       int // the axis: a column chart's y, a row chart's x
	Max        int32
	Rects      []rect
}

// series is one kind of value of a chart's bars, e.g. "met".
type series struct {
	Class, Name string
}

// bar is a labelled group of values, one per series.
type bar struct {
	Label  string
	Values []int32
}

// rect is a drawn bar, with the place of its value and, on a group's
// first bar, of the group's label.
type rect struct {
	X, Y, W, H int
	Class      string
	Title      string // "label, series: value"
	Value      string
	VX, VY     int // the value's place
	Label      string
	LX, LY     int    // the label's place
	Anchor     string // the label's text-anchor
}

// The charts' geometry, in viewBox units.
const (
	chartHeight = 200 // a column chart's bars' area
	chartLabels = 40  // room under its axis for the labels
	chartTop    = 20  // room above the highest bar for its value
	chartBar    = 28  // a column's width, or a row's height
	chartGap    = 24  // between groups of bars
	chartLeft   = 8
	rowLabels   = 230 // a row chart's room for the labels, left of its axis
	rowLength   = 330 // its longest bar
	rowBar      = 18
	rowGap      = 12
)

// newChart lays bars out as columns: a group per bar, a column per value,
// heights in proportion to the largest value. Short labels only (months).
func newChart(title string, classes, names []string, bars []bar) chart {
	c := chart{Title: title, Bars: bars, Base: chartTop + chartHeight, Height: chartTop + chartHeight + chartLabels}
	c.setSeries(classes, names)
	x := chartLeft + chartGap/2
	for _, b := range bars {
		groupW := chartBar * len(b.Values)
		for i, v := range b.Values {
			h := scaled(v, c.Max, chartHeight)
			r := rect{X: x + i*chartBar, Y: c.Base - h, W: chartBar - 2, H: h, Class: classes[i],
				Title: b.Label + ", " + names[i] + ": " + strconv.Itoa(int(v)), Value: strconv.Itoa(int(v)),
				VX: x + i*chartBar + (chartBar-2)/2, VY: c.Base - h - 4}
			if i == 0 {
				r.Label, r.LX, r.LY, r.Anchor = b.Label, x+groupW/2, c.Base+20, "middle"
			}
			c.Rects = append(c.Rects, r)
		}
		x += groupW + chartGap
	}
	c.Width = max(x+chartLeft, 200)
	return c
}

// newRowChart lays bars out as rows, for long labels (deadline kinds):
// the label left of the axis, a row per value, lengths in proportion to
// the largest value.
func newRowChart(title string, classes, names []string, bars []bar) chart {
	c := chart{Title: title, Bars: bars, Horizontal: true, Base: rowLabels, Width: rowLabels + rowLength + 50}
	c.setSeries(classes, names)
	y := rowGap
	for _, b := range bars {
		for i, v := range b.Values {
			w := scaled(v, c.Max, rowLength)
			r := rect{X: rowLabels, Y: y + i*rowBar, W: w, H: rowBar - 2, Class: classes[i],
				Title: b.Label + ", " + names[i] + ": " + strconv.Itoa(int(v)), Value: strconv.Itoa(int(v)),
				VX: rowLabels + w + 4, VY: y + i*rowBar + rowBar - 5}
			if i == 0 {
				r.Label, r.LX, r.LY, r.Anchor = b.Label, rowLabels-8, y+rowBar*len(b.Values)/2+5, "end"
			}
			c.Rects = append(c.Rects, r)
		}
		y += rowBar*len(b.Values) + rowGap
	}
	c.Height = max(y, 60)
	return c
}

func (c *chart) setSeries(classes, names []string) {
	for i := range classes {
		c.Series = append(c.Series, series{Class: classes[i], Name: names[i]})
	}
	for _, b := range c.Bars {
		for _, v := range b.Values {
			c.Max = max(c.Max, v)
		}
	}
}

// scaled is v's share of length, the largest value taking all of it.
func scaled(v, largest int32, length int) int {
	if largest <= 0 || v <= 0 {
		return 0
	}
	return int(int64(v) * int64(length) / int64(largest))
}
