package grpcapi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/privtemp"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

// The content types of an export's chunks, and over REST of its body.
const (
	csvContentType  = "text/csv; charset=utf-8"
	xlsxContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// exportHeader names the columns of an export: the fields of the case list
// that carry no personal data (no names, contacts, narratives or special
// circumstances), by their names in the API.
var exportHeader = []string{
	"case_number", "status", "immediate_danger", "responsible_unit", "incident_unit",
	"receive_time", "create_time", "update_time", "children", "suspected_abuse",
	"open_deadlines", "breached_deadlines", "next_due_time", "police_referrals", "merged_into",
}

// exportZone is the time zone of an export's times: Hanoi's, as its
// readers read them.
var exportZone = time.FixedZone("ICT", 7*60*60)

// exportRow is one case's cells: strings, ints, bools and times, which the
// CSV writes as text and the XLSX as typed cells.
func exportRow(c model.Case) []any {
	p := caseToProto(c)
	var children []string
	for _, ch := range p.GetChildren() {
		children = append(children, fmt.Sprintf("%d %s", ch.GetAgeYears(), strings.TrimPrefix(ch.GetSex().String(), "SEX_")))
	}
	var abuse []string
	for _, a := range p.GetSuspectedAbuse() {
		abuse = append(abuse, strings.TrimPrefix(a.String(), "ABUSE_FORM_"))
	}
	open, breached := 0, 0
	var next time.Time
	for _, d := range c.Deadlines {
		if !d.Open() {
			continue
		}
		open++
		if d.Breached {
			breached++
		}
		if next.IsZero() || d.Due.Before(next) {
			next = d.Due
		}
	}
	return []any{
		c.Number, strings.TrimPrefix(p.GetStatus().String(), "CASE_STATUS_"), c.ImmediateDanger,
		p.GetResponsibleUnit(), p.GetIncidentUnit(),
		c.ReceiveTime, c.CreateTime, c.UpdateTime, strings.Join(children, "; "), strings.Join(abuse, "; "),
		open, breached, next, len(c.PoliceReferrals), c.MergedInto,
	}
}

// csvCell is a cell as CSV text.
func csvCell(v any) string {
	switch v := v.(type) {
	case string:
		return reportfile.SafeText(v)
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.In(exportZone).Format(time.RFC3339)
	default:
		return fmt.Sprint(v)
	}
}

// xlsxCell is a cell as excelize writes it: times as dates, text
// neutralised.
func xlsxCell(v any) any {
	switch v := v.(type) {
	case string:
		return reportfile.SafeText(v)
	case time.Time:
		if v.IsZero() {
			return nil
		}
		// Excel has no time zones: the cell shows Hanoi's wall clock.
		t := v.In(exportZone)
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	return v
}

// exportChunkSize bounds one message of an export.
const exportChunkSize = 256 << 10

// ExportCases streams the cases of the caller's scope as a CSV or XLSX
// file. The rows are read page by page through the list's index; a CSV is
// sent as each page is written; an XLSX is zipped onto the stream as it
// is made, its rows held in memory to a bound and past it in a private
// folder (newExportWorkbook), never whole.
func (s *caseServer) ExportCases(req *pb.ExportCasesRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	ctx := stream.Context()
	p := principalFrom(ctx)
	unit, err := responsibleUnitFilter(req.GetResponsibleUnit())
	if err != nil {
		return toStatus(ctx, s.log, err)
	}
	q := exportQuery{CaseQuery: intake.CaseQuery{ResponsibleUnit: unit, Status: caseStatuses.toModel(req.GetStatus())}, asked: exportAsked(req, unit)}
	send := func(contentType string, data []byte) error {
		for len(data) > 0 {
			n := min(len(data), exportChunkSize)
			// A new slice each time: a sent message must not change.
			if err := stream.Send(&httpbody.HttpBody{ContentType: contentType, Data: bytes.Clone(data[:n])}); err != nil {
				return err
			}
			data = data[n:]
		}
		return nil
	}
	rows := 0
	switch req.GetFormat() {
	case pb.ExportFormat_EXPORT_FORMAT_CSV:
		rows, err = s.exportCSV(ctx, p, q, send)
	case pb.ExportFormat_EXPORT_FORMAT_XLSX:
		rows, err = s.exportXLSX(ctx, p, q, send)
	default: // the validator refuses it first
		return toStatus(ctx, s.log, model.InvalidField("format", "enum.not_in", "a format is required: EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX"))
	}
	if err != nil {
		return toStatus(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "cases exported", "format", req.GetFormat().String(), "rows", rows)
	return nil
}

type exportSend func(contentType string, data []byte) error

// exportQuery is the cases an export asked for, and how it asked, in the
// API's names, for its event on the trail.
type exportQuery struct {
	intake.CaseQuery
	asked string
}

// exportAsked says what an export asked for: its format and its filters,
// or that none narrowed it to fewer than the caller's scope.
func exportAsked(req *pb.ExportCasesRequest, unit units.Key) string {
	parts := []string{"format=" + req.GetFormat().String()}
	if !unit.IsZero() {
		parts = append(parts, "responsible_unit=units/"+unit.String())
	}
	if st := req.GetStatus(); st != pb.CaseStatus_CASE_STATUS_UNSPECIFIED {
		parts = append(parts, "status="+st.String())
	}
	if len(parts) == 1 {
		parts = append(parts, "every case in the caller's scope")
	}
	return strings.Join(parts, "; ")
}

func (s *caseServer) exportCSV(ctx context.Context, p access.Principal, q exportQuery, send exportSend) (int, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	// The header goes with the first page, or alone at the end: either
	// way after the export is on the record.
	header := true
	rows := 0
	err := s.intake.ExportCases(ctx, p, q.CaseQuery, q.asked, func(page []model.Case) error {
		buf.Reset()
		if header {
			buf.WriteString("\uFEFF") // the byte-order mark: Excel then reads UTF-8
			_ = w.Write(exportHeader) // into a buffer: cannot fail
			header = false
		}
		for _, c := range page {
			row := exportRow(c)
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = csvCell(v)
			}
			_ = w.Write(cells)
		}
		w.Flush()
		rows += len(page)
		return send(csvContentType, buf.Bytes())
	})
	if err == nil && header {
		buf.WriteString("\uFEFF")
		_ = w.Write(exportHeader)
		w.Flush()
		err = send(csvContentType, buf.Bytes())
	}
	return rows, err
}

// xlsxRowCell names the first cell of the row of the case after rows
// others, below the header; a sheet ends at excelize.TotalRows, so a case
// past it is refused naming the format, not answered as a fault of the
// server (excelize's own error).
func xlsxRowCell(rows int) (string, error) {
	if rows+2 > excelize.TotalRows {
		return "", model.InvalidField("format", "export.xlsx_rows",
			"an XLSX sheet holds at most %d cases and this export has more: export EXPORT_FORMAT_CSV, or filter by responsible_unit or status", excelize.TotalRows-1)
	}
	return excelize.CoordinatesToCellName(1, rows+2)
}

// exportDirPrefix begins the name of the private folder of each XLSX
// export (mode 0700, in $TMPDIR), where excelize's stream writer puts
// the sheet's rows past what it holds in memory (excelize.StreamChunkSize).
const exportDirPrefix = "childcase-export-"

// newExportWorkbook makes the workbook of an XLSX export, its temporary
// files in a private folder held while the export runs. excelize would
// make them in $TMPDIR itself, named excelize-*: a process killed
// mid-export (kill -9, a power cut) left case rows there that nothing
// ever removed. The caller closes the workbook, then releases the
// folder, which removes it.
func newExportWorkbook() (*excelize.File, *privtemp.Held, error) {
	held, err := privtemp.Hold(exportDirPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	f := excelize.NewFile(excelize.Options{
		TmpDir: held.Dir,
		// excelize's defaults, which Options given replace whole.
		UnzipSizeLimit: excelize.UnzipSizeLimit, UnzipXMLSizeLimit: excelize.StreamChunkSize,
	})
	return f, held, nil
}

// RemoveExportLeftovers removes the private folders of XLSX exports that
// a killed process left in $TMPDIR, the case rows they hold with them,
// and returns them. A folder is removed only when no process holds it:
// another server's export under way on the same machine is left alone,
// and a leftover goes at once, however recent.
func RemoveExportLeftovers() []string {
	var removed []string
	for _, dir := range privtemp.Leftovers(os.TempDir(), exportDirPrefix, 0) {
		if privtemp.RemoveUnheld(dir) {
			removed = append(removed, dir)
		}
	}
	return removed
}

func (s *caseServer) exportXLSX(ctx context.Context, p access.Principal, q exportQuery, send exportSend) (int, error) {
	f, held, err := newExportWorkbook()
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		if err := held.Release(); err != nil {
			s.log.WarnContext(ctx, "an export's temporary folder was not removed", "folder", held.Dir, "error", err)
		}
	}()
	const sheet = "Sheet1"
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return 0, err
	}
	header := make([]any, len(exportHeader))
	for i, h := range exportHeader {
		header[i] = h
	}
	if err := sw.SetRow("A1", header); err != nil {
		return 0, err
	}
	dateFormat := "yyyy-mm-dd hh:mm"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		return 0, err
	}
	rows := 0
	err = s.intake.ExportCases(ctx, p, q.CaseQuery, q.asked, func(page []model.Case) error {
		for _, c := range page {
			row := exportRow(c)
			for i, v := range row {
				row[i] = xlsxCell(v)
				if t, ok := row[i].(time.Time); ok {
					row[i] = excelize.Cell{StyleID: dateStyle, Value: t}
				}
			}
			cell, err := xlsxRowCell(rows)
			if err != nil {
				return err
			}
			if err := sw.SetRow(cell, row); err != nil {
				return err
			}
			rows++
		}
		return nil
	})
	if err != nil {
		return rows, err
	}
	if err := sw.Flush(); err != nil {
		return rows, err
	}
	// The zip writer's writes are a few KiB each: gathered into messages
	// of exportChunkSize, as the CSV's pages are about.
	w := bufio.NewWriterSize(sendWriter{send: send, contentType: xlsxContentType}, exportChunkSize)
	if err := writeWorkbook(f, w); err != nil {
		return rows, err
	}
	return rows, w.Flush()
}

// sendWriter sends what is written to it as an export's chunks.
type sendWriter struct {
	send        exportSend
	contentType string
}

func (w sendWriter) Write(p []byte) (int, error) {
	if err := w.send(w.contentType, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeWorkbook zips f, a workbook whose sheet was streamed, onto w as it
// goes. excelize's WriteTo would build the whole file in one buffer first
// (a city's export, up to a sheet's million rows, is hundreds of MB); its
// zip writer, given w instead of that buffer, writes each part through
// as it is compressed, and the buffer it is handed stays empty. (That
// buffer is where excelize would mark parts over 4 GiB as zip64 for
// Excel; a sheet of excelize.TotalRows export rows stays far below.)
func writeWorkbook(f *excelize.File, w io.Writer) error {
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	_, err := f.WriteToBuffer()
	return err
}
