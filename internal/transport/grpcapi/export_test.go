package grpcapi

import (
	"errors"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

// An XLSX sheet has excelize.TotalRows rows, the header's among them: the
// last case fits in its last row, and one more is refused naming the
// format, the caller's to change, not answered as an internal error.
func TestXLSXRowsEndWithTheSheet(t *testing.T) {
	last := excelize.TotalRows - 1 // cases before the last one
	if cell, err := xlsxRowCell(last - 1); err != nil || cell != "A1048576" {
		t.Errorf("the last case's row: %q, %v; want A1048576", cell, err)
	}
	_, err := xlsxRowCell(last)
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "format" || fe.Rule != "export.xlsx_rows" {
		t.Errorf("a case past the sheet: %v, want format refused by export.xlsx_rows", err)
	}
}

// TestNeutraliseFormulas: every cell a spreadsheet would take for a
// formula (or a DDE call) starts with an apostrophe, also when the sign
// follows spaces or is a full-width one; other cells, Vietnamese text
// among them, are kept.
func TestNeutraliseFormulas(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		// Spreadsheets drop leading spaces before they look for a
		// formula (LibreOffice's "trim spaces", Excel's paste): so must we.
		{"  =1+1", "'  =1+1"},
		{" -2+3", "' -2+3"},
		{"\u00a0@SUM(A1)", "'\u00a0@SUM(A1)"},
		{"\u3000=1+1", "'\u3000=1+1"},
		{"\ufeff=1+1", "'\ufeff=1+1"},
		{"\n+1", "'\n+1"},
		// Vietnamese text: an opening sign is neutralised, text kept.
		{"=Nguyễn Thị Lan", "'=Nguyễn Thị Lan"},
		{"- Trẻ bị đánh", "'- Trẻ bị đánh"},
		{"Phường Ba Đình", "Phường Ba Đình"},
		{" Đơn vị", " Đơn vị"},
		// Full-width signs, which East Asian Excel takes for ASCII ones.
		{"＝1+1", "'＝1+1"},
		{"＋1", "'＋1"},
		{"－1", "'－1"},
		{"＠SUM(A1)", "'＠SUM(A1)"},
		{"   ", "   "},
		{"HN-2026-00001", "HN-2026-00001"},
		{"units/00004@2025-07-01", "units/00004@2025-07-01"},
		{"a=b", "a=b"},
		{"", ""},
	} {
		if got := reportfile.SafeText(tt.in); got != tt.want {
			t.Errorf("SafeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := xlsxCell(tt.in); got != tt.want {
			t.Errorf("xlsxCell(%q) = %v, want %q", tt.in, got, tt.want)
		}
	}
}
