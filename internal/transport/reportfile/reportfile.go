// Package reportfile renders the statistical reports (stats.Table) as the
// files units file: CSV, XLSX (through excelize, with number and date
// cells) and a printable HTML page (html/template, no external assets). It
// only renders: what a report counts and withholds is decided in package
// stats.
package reportfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xuri/excelize/v2"

	"github.com/childcase/childcase/internal/domain/stats"
)

// Format is a file format of a report.
type Format string

// Formats.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
	HTML Format = "html"
)

// ContentType is the media type of a format.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/html; charset=utf-8"
}

// ParseFormat reads a format name; "" is XLSX, the format units file.
func ParseFormat(s string) (Format, bool) {
	switch f := Format(strings.ToLower(s)); f {
	case "":
		return XLSX, true
	case CSV, XLSX, HTML:
		return f, true
	}
	return "", false
}

// Render renders t in format f.
func Render(t stats.Table, f Format) ([]byte, error) {
	switch f {
	case CSV:
		return renderCSV(t)
	case XLSX:
		return renderXLSX(t)
	case HTML:
		return renderHTML(t)
	}
	return nil, fmt.Errorf("no renderer for format %q", f)
}

// text is how a cell reads in text formats; dates as Vietnamese write
// them, dd/mm/yyyy.
func text(c stats.Cell) string {
	switch c.Kind {
	case stats.CellNumber:
		return strconv.FormatFloat(c.Number, 'f', -1, 64)
	case stats.CellDate:
		return fmt.Sprintf("%02d/%02d/%04d", c.Date.Day, int(c.Date.Month), c.Date.Year)
	}
	return c.Text
}

// SafeText keeps a spreadsheet from taking a text cell for a formula (CSV
// injection): a text that starts with =, +, -, @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets show as text. The
// sign counts after leading spaces and invisible format characters too
// (a spreadsheet that trims them on import, or a user who does, finds the
// formula), and in its full-width form, which Excel takes for the ASCII
// sign. The reports and the exports of case lists both write their cells
// through it.
func SafeText(s string) string {
	if startsFormula(s) {
		return "'" + s
	}
	return s
}

// formulaSigns are the characters a spreadsheet may read a formula (or a
// DDE call) from when a cell starts with them.
const formulaSigns = "=+-@\t\r＝＋－＠"

// startsFormula reports whether s, past its leading spaces and format
// characters, starts with one of formulaSigns.
func startsFormula(s string) bool {
	for _, r := range s {
		switch {
		case strings.ContainsRune(formulaSigns, r):
			return true
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		return false
	}
	return false
}

// renderCSV writes the title, the fields, the table and the notes, with a
// byte-order mark so that spreadsheets read the Vietnamese as UTF-8.
func renderCSV(t stats.Table) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	records := [][]string{{SafeText(t.Title)}}
	for _, f := range t.Fields {
		records = append(records, []string{SafeText(f.Label), SafeText(text(f.Value))})
	}
	records = append(records, nil, t.Columns)
	for _, r := range t.Rows {
		line := make([]string, len(r))
		for i, c := range r {
			line[i] = SafeText(text(c))
		}
		records = append(records, line)
	}
	if len(t.Notes) > 0 {
		records = append(records, nil)
	}
	for _, n := range t.Notes {
		records = append(records, []string{SafeText(n)})
	}
	for _, r := range records {
		if r == nil {
			r = []string{""}
		}
		if err := w.Write(r); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// Sheet is the name of the XLSX sheet that holds a report.
const Sheet = "Báo cáo"

// renderXLSX writes one sheet: the title, the fields (dates as date
// cells), the headed table (counts as number cells) and the notes.
func renderXLSX(t stats.Table) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", Sheet); err != nil {
		return nil, err
	}
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("dd/mm/yyyy")})
	if err != nil {
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	set := func(col, row int, c stats.Cell) error {
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err != nil {
			return err
		}
		switch c.Kind {
		case stats.CellNumber:
			return f.SetCellFloat(Sheet, cell, c.Number, -1, 64)
		case stats.CellDate:
			// A day, not an instant: midnight of it in UTC, which excelize
			// writes as that day's serial number.
			day := time.Date(c.Date.Year, c.Date.Month, c.Date.Day, 0, 0, 0, 0, time.UTC)
			if err := f.SetCellValue(Sheet, cell, day); err != nil {
				return err
			}
			return f.SetCellStyle(Sheet, cell, cell, dateStyle)
		}
		// A string cell is never a formula in Excel, but the text may be
		// copied or saved as CSV from there: neutralised, as the case
		// exports' XLSX are.
		return f.SetCellStr(Sheet, cell, SafeText(c.Text))
	}
	if err := set(1, 1, stats.Text(t.Title)); err != nil {
		return nil, err
	}
	if err := f.SetCellStyle(Sheet, "A1", "A1", bold); err != nil {
		return nil, err
	}
	row := 3
	for _, fl := range t.Fields {
		if err := set(1, row, stats.Text(fl.Label)); err != nil {
			return nil, err
		}
		if err := set(2, row, fl.Value); err != nil {
			return nil, err
		}
		row++
	}
	row++
	for i, h := range t.Columns {
		if err := set(i+1, row, stats.Text(h)); err != nil {
			return nil, err
		}
	}
	last, _ := excelize.CoordinatesToCellName(len(t.Columns), row)
	if err := f.SetCellStyle(Sheet, fmt.Sprintf("A%d", row), last, bold); err != nil {
		return nil, err
	}
	for _, r := range t.Rows {
		row++
		for i, c := range r {
			if err := set(i+1, row, c); err != nil {
				return nil, err
			}
		}
	}
	row++
	for _, n := range t.Notes {
		row++
		if err := set(1, row, stats.Text(n)); err != nil {
			return nil, err
		}
	}
	if err := f.SetColWidth(Sheet, "A", "B", 40); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }

// page is the printable report: styles inline, no script, no external
// asset, so it prints and archives as it is.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"text": text,
	"num":  func(c stats.Cell) bool { return c.Kind == stats.CellNumber || c.Kind == stats.CellSuppressed },
}).Parse(`<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<dl>{{range .Fields}}<dt>{{.Label}}</dt><dd>{{text .Value}}</dd>{{end}}</dl>
<table>
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if num .}} class="n"{{end}}>{{text .}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}</body>
</html>
`))

// pageStyle is the page's one style element, inline so the page stands
// alone; HTMLPolicy lets it in by its hash.
const pageStyle = `
body { font-family: "Times New Roman", serif; margin: 2cm; color: #000; }
h1 { font-size: 16pt; text-align: center; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #000; padding: 3px 6px; font-size: 11pt; }
td.n { text-align: right; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }
dt { font-weight: bold; }
p.note { font-size: 10pt; font-style: italic; }
@media print { body { margin: 1cm; } }
`

// HTMLPolicy is the Content-Security-Policy of the printable page: its
// own style element, by the SHA-256 of its text as a browser computes it,
// and nothing else (no script, no request). A policy that names no style
// would print the page unstyled.
func HTMLPolicy() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'"
}

func renderHTML(t stats.Table) ([]byte, error) {
	var b bytes.Buffer
	data := struct {
		stats.Table
		Style template.CSS
	}{t, template.CSS(pageStyle)}
	if err := page.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
