package reportfile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A text a spreadsheet would run as a formula is neutralised in the CSV
// and in the XLSX (where every text is also a string cell, never a
// formula, as the README promises of the reports' files), and a date is a
// date-formatted number.
func TestRenderNeutralisesFormulas(t *testing.T) {
	table := stats.Table{
		Title:   "=HYPERLINK(\"http://x\")",
		Fields:  []stats.Field{{Label: "Ngày lập", Value: stats.Date(vntime.Date{Year: 2026, Month: 7, Day: 15})}},
		Columns: []string{"Đơn vị", "Số lượng"},
		Rows:    [][]stats.Cell{{stats.Text("+1"), stats.Number(7)}, {stats.Text("@x"), {Kind: stats.CellSuppressed, Text: stats.Withheld}}},
	}
	csv, err := Render(table, CSV)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ufeff\"'=HYPERLINK", "\n'+1,7\n", "\n'@x,x\n", "Ngày lập,15/07/2026\n"} {
		if !strings.Contains(string(csv), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv)
		}
	}
	data, err := Render(table, XLSX)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if formula, _ := f.GetCellFormula(Sheet, "A1"); formula != "" {
		t.Errorf("the title is the formula %q", formula)
	}
	for cell, want := range map[string]string{"A1": "'=HYPERLINK(\"http://x\")", "A6": "'+1", "A7": "'@x"} {
		if v, _ := f.GetCellValue(Sheet, cell); v != want {
			t.Errorf("the XLSX cell %s reads %q, want %q", cell, v, want)
		}
	}
	if v, _ := f.GetCellValue(Sheet, "B3"); v != "15/07/2026" {
		t.Errorf("the date cell reads %q", v)
	}
	if typ, _ := f.GetCellType(Sheet, "B6"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("the count is a cell of type %v", typ)
	}
	if v, _ := f.GetCellValue(Sheet, "B6"); v != "7" {
		t.Errorf("the count reads %q, want 7", v)
	}
	page, err := Render(table, HTML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("=HYPERLINK(&#34;http://x&#34;)")) {
		t.Errorf("the page does not escape the title:\n%s", page)
	}
}
