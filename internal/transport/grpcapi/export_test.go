package grpcapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/privtemp"
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

// writesCounter records the writes an export's workbook reaches its
// client by.
type writesCounter struct {
	bytes.Buffer
	writes, largest, total int
}

func (w *writesCounter) Write(p []byte) (int, error) {
	w.Buffer.Write(p)
	w.writes++
	w.largest = max(w.largest, len(p))
	w.total += len(p)
	return len(p), nil
}

// An XLSX export of a large scope is zipped onto the stream as it goes:
// the server never holds the whole file (excelize's WriteTo builds it in
// one buffer), only what the zip writer holds between its writes, and
// the sheet's rows are held by excelize's stream writer up to
// excelize.StreamChunkSize before they go to a temporary file.
func TestXLSXExportIsNotHeldWhole(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for r := range 40000 {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		row := []any{fmt.Sprintf("HN-2026-%05d", r), r * 7919 % 100003, fmt.Sprintf("units/%05d@2025-07-01", r*31%126)}
		if err := sw.SetRow(cell, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var w writesCounter
	if err := writeWorkbook(f, &w); err != nil {
		t.Fatal(err)
	}
	if w.total < 4*maxWorkbookWrite {
		t.Fatalf("the workbook is %d bytes: too small to tell", w.total)
	}
	if w.largest > maxWorkbookWrite {
		t.Errorf("the workbook of %d bytes reached its writer in %d writes, one of %d bytes: want none over %d, the file not held whole", w.total, w.writes, w.largest, maxWorkbookWrite)
	}
	// And it is a workbook, whole.
	book, err := excelize.OpenReader(bytes.NewReader(w.Bytes()))
	if err != nil {
		t.Fatalf("the workbook written does not open: %v", err)
	}
	defer book.Close()
	if got, err := book.GetCellValue("Sheet1", "A40000"); err != nil || got != "HN-2026-39999" {
		t.Errorf("the last row's first cell: %q, %v; want HN-2026-39999", got, err)
	}
}

// maxWorkbookWrite is the most a write of a workbook may carry: what the
// zip writer buffers (bufio's 4 KiB) and a deflate block, with room.
const maxWorkbookWrite = 64 << 10

// TestXLSXExportSpillsIntoItsPrivateFolder: past excelize.StreamChunkSize
// an XLSX export's rows go to a temporary file. excelize made it in
// $TMPDIR itself (excelize-*), where a process killed mid-export left
// case rows for good. The file is made in the export's own folder (mode
// 0700, this user's), which no other start removes while the export
// holds it, and which goes, file and all, when the export ends.
func TestXLSXExportSpillsIntoItsPrivateFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, held, err := newExportWorkbook()
	if err != nil {
		t.Fatal(err)
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	spill := ""
	for r := 0; spill == "" && r < 500_000; r++ {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		row := []any{fmt.Sprintf("HN-2026-%05d", r), "AWAITING_ACKNOWLEDGEMENT", "units/00004@2025-07-01", "units/00070@2025-07-01", "7 FEMALE; 9 MALE", "SEXUAL; NEGLECT"}
		if err := sw.SetRow(cell, row); err != nil {
			t.Fatal(err)
		}
		if r%1000 == 0 {
			spill = spillFile(t, tmp)
		}
	}
	if spill == "" {
		t.Fatal("no temporary file was made: the rows never left memory")
	}
	if filepath.Dir(spill) != held.Dir || !strings.HasPrefix(filepath.Base(held.Dir), exportDirPrefix) {
		t.Errorf("the rows went to %s: want them in the export's folder %s", spill, held.Dir)
	}
	if fi, err := os.Lstat(held.Dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || !privtemp.OwnedByUs(fi) {
		t.Errorf("the export's folder: %v, %v; want this user's folder, mode 0700", fi.Mode(), err)
	}
	if removed := RemoveExportLeftovers(); len(removed) > 0 {
		t.Errorf("a start removed the folder of an export under way: %v", removed)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := writeWorkbook(f, io.Discard); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the export left %s in $TMPDIR", left[0].Name())
	}
}

// spillFile names the temporary file excelize made under tmp, at any
// depth, or "".
func spillFile(t *testing.T, tmp string) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "excelize-") {
			found = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
