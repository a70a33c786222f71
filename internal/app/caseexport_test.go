package app_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// exportCases reads an ExportCases stream to its end.
func exportCases(t *testing.T, ts *testServer, user string, req *pb.ExportCasesRequest) ([]byte, string, error) {
	t.Helper()
	stream, err := ts.conn.NewStream(ts.as(t, user), &grpc.StreamDesc{ServerStreams: true}, pb.CaseService_ExportCases_FullMethodName)
	if err != nil {
		return nil, "", err
	}
	if err := stream.SendMsg(req); err != nil {
		return nil, "", err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, "", err
	}
	var data []byte
	contentType := ""
	for {
		chunk := &httpbody.HttpBody{}
		err := stream.RecvMsg(chunk)
		if errors.Is(err, io.EOF) {
			return data, contentType, nil
		}
		if err != nil {
			return data, contentType, err
		}
		contentType = chunk.GetContentType()
		data = append(data, chunk.GetData()...)
	}
}

// TestExportCases: a commune chair exports the cases of their commune and
// no other, as CSV over REST and as XLSX over gRPC, without personal
// data; each case exported and the export itself are audited; a role that
// is not a supervisor is refused.
func TestExportCases(t *testing.T) {
	start := hn(2026, 3, 16, 9, 0) // a Monday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	mine := []string{openCase(t, ts, start.Add(-2*time.Hour), "00004"), openCase(t, ts, start.Add(-time.Hour), "00004")}
	other := openCase(t, ts, start.Add(-time.Hour), "00070") // Hoàn Kiếm
	number := func(name string) string { return strings.TrimPrefix(name, "cases/") }

	// CSV over REST, with the chair's token.
	req, err := http.NewRequest(http.MethodGet, "http://"+ts.HTTPAddr()+"/v1/cases:export?format=EXPORT_FORMAT_CSV", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.tokens.get("bd.chair"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET /v1/cases:export: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v\n%s", err, body)
	}
	if len(records) != 1+len(mine) || records[0][0] != "case_number" {
		t.Fatalf("CSV export: %d lines, want a header and %d cases:\n%s", len(records), len(mine), body)
	}
	var got []string
	for _, r := range records[1:] {
		got = append(got, r[0])
	}
	for _, name := range mine {
		if !slices.Contains(got, number(name)) {
			t.Errorf("the chair's export lacks %s: %v", name, got)
		}
	}
	for _, leak := range []string{number(other), "Nguyễn", "Trần", "0912", "Hàng xóm"} {
		if bytes.Contains(body, []byte(leak)) {
			t.Errorf("the export holds %q:\n%s", leak, body)
		}
	}

	// XLSX over gRPC: a workbook that opens, with the same rows.
	data, contentType, err := exportCases(t, ts, "bd.chair", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_XLSX})
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("XLSX content type %q", contentType)
	}
	book, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the XLSX does not open: %v", err)
	}
	defer book.Close()
	rows, err := book.GetRows(book.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(mine) || rows[0][0] != "case_number" || !slices.Contains([]string{rows[1][0], rows[2][0]}, number(mine[0])) {
		t.Errorf("XLSX rows: %q", rows)
	}
	// No personal data in the workbook either, nor another commune's case.
	for _, row := range rows {
		for _, cell := range row {
			for _, leak := range []string{number(other), "Nguyễn", "Trần", "0912", "Hàng xóm", "bầm tím"} {
				if strings.Contains(cell, leak) {
					t.Errorf("the XLSX holds %q in %q", leak, cell)
				}
			}
		}
	}
	// receive_time is a date cell, not text.
	if typ, err := book.GetCellType(book.GetSheetName(0), "F2"); err != nil || typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("receive_time cell type %v (%v), want a number (a date)", typ, err)
	}

	// Refused to who is not a supervisor; a missing format names the field.
	_, _, err = exportCases(t, ts, "bd.worker", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV})
	wantCode(t, err, codes.PermissionDenied)
	_, _, err = exportCases(t, ts, "bd.chair", &pb.ExportCasesRequest{})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "format") {
		t.Errorf("a missing format: %v, want the field format named", st)
	}

	// Audited: two exports, each case of each, and the export refused
	// for its missing format, as refused.
	events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/bd.chair", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events.GetEvents() {
		if e.GetAction() == "cases.export" && e.GetOutcome() != "ok" {
			count["refused "+e.GetReason()]++
			continue
		}
		count[e.GetAction()+" "+e.GetCase()]++
	}
	if count["cases.export "] != 2 || count["refused format enum.not_in"] != 1 {
		t.Errorf("audited exports: %d, want 2, and the refused one (%v)", count["cases.export "], count)
	}
	for _, name := range mine {
		if count["case.export "+name] != 2 {
			t.Errorf("%s audited as exported %d times, want 2 (%v)", name, count["case.export "+name], count)
		}
	}
	if count["case.export "+other] != 0 {
		t.Errorf("the other commune's case is audited as exported")
	}
}

// TestFileDownloadErrorsAnswerLikeEveryOtherCall: a refused export (issue
// 13) or backup answers over REST with the same error body as any other
// call, the google.rpc.Status at the top ({"code": ..., "details": [...]})
// with its ErrorInfo reason, and a 401 carries the Bearer challenge. The
// gateway's stream error chunk ({"error": {...}}) is for the watch's NDJSON
// stream, not for a file that never started.
func TestFileDownloadErrorsAnswerLikeEveryOtherCall(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	for _, tc := range []struct {
		user, path string
		status     int
		code       int
		reason     string
	}{
		{"", "/v1/cases:export?format=EXPORT_FORMAT_CSV", 401, 16, "UNAUTHENTICATED"},
		{"bd.worker", "/v1/cases:export?format=EXPORT_FORMAT_CSV", 403, 7, "PERMISSION_DENIED"},
		{"bd.chair", "/v1/cases:export?format=EXPORT_FORMAT_CSV&responsible_unit=bogus", 400, 3, "INVALID_FIELD"},
		{"", "/v1/database:backup", 401, 16, "UNAUTHENTICATED"},
		{"bd.chair", "/v1/database:backup", 403, 7, "PERMISSION_DENIED"},
		// The watch, refused before its first line, answers so too.
		{"", "/v1/notifications:watch", 401, 16, "UNAUTHENTICATED"},
		{"bd.worker", "/v1/notifications:watch?after_seq=999", 400, 3, "INVALID_FIELD"},
	} {
		headers := map[string]string{}
		if tc.user != "" {
			headers["Authorization"] = "Bearer " + ts.tokens.get(tc.user)
		}
		resp, body := restResponse(t, ts, "GET", tc.path, nil, headers)
		var answer struct {
			Code    int `json:"code"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("%s as %q: %v\n%s", tc.path, tc.user, err, body)
		}
		if resp.StatusCode != tc.status || answer.Code != tc.code || len(answer.Details) == 0 || answer.Details[0].Reason != tc.reason {
			t.Errorf("%s as %q: %d %s, want %d with code %d and reason %s at the top", tc.path, tc.user, resp.StatusCode, body, tc.status, tc.code, tc.reason)
		}
		if tc.status == 401 && resp.Header.Get("WWW-Authenticate") != `Bearer realm="childcase"` {
			t.Errorf("%s without a token: WWW-Authenticate = %q, want the Bearer challenge", tc.path, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestCaseExportNamesWhatItExportedOnTheTrail: an export takes cases away
// as a file, so its own event says what was asked for, in the API's
// names (the format and the filters, or that none narrowed it), and each
// case exported has its case.export event of the same request id: the
// rows of the file are those events.
func TestCaseExportNamesWhatItExportedOnTheTrail(t *testing.T) {
	start := hn(2026, 3, 16, 9, 0)
	ts := startServerAt(t, start, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, start.Add(-2*time.Hour), "00004")
	openCase(t, ts, start.Add(-time.Hour), "00004")
	for _, req := range []*pb.ExportCasesRequest{
		{Format: pb.ExportFormat_EXPORT_FORMAT_CSV},
		{Format: pb.ExportFormat_EXPORT_FORMAT_XLSX, ResponsibleUnit: "units/00004@2025-07-01", Status: pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT},
	} {
		if _, _, err := exportCases(t, ts, "bd.chair", req); err != nil {
			t.Fatal(err)
		}
	}
	events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/bd.chair", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	reasons, rows := map[string]string{}, map[string]int{}
	for _, e := range events.GetEvents() {
		switch e.GetAction() {
		case "cases.export":
			reasons[e.GetRequestId()] = e.GetReason()
		case "case.export":
			rows[e.GetRequestId()]++
		}
	}
	want := []string{
		"format=EXPORT_FORMAT_CSV; every case in the caller's scope",
		"format=EXPORT_FORMAT_XLSX; responsible_unit=units/00004@2025-07-01; status=CASE_STATUS_AWAITING_ACKNOWLEDGEMENT",
	}
	var got []string
	for id, reason := range reasons {
		got = append(got, reason)
		if rows[id] != 2 {
			t.Errorf("the export %q has %d case.export events of its request id, want 2", reason, rows[id])
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the exports' events say %q, want %q", got, want)
	}
}

// TestExportLeftoverIsRemovedAtStart: an XLSX export past memory writes
// its rows into a temporary file; a server killed mid-export (kill -9, a
// power cut) left it in $TMPDIR, case numbers, units, ages, sexes and
// forms of abuse outside the database's protections, and nothing ever
// removed it. The next start removes the export's folder, at once (no
// process holds it), and leaves alone a folder of that name another
// local user could have made (mode 0777) and a link; an export leaves
// nothing behind.
func TestExportLeftoverIsRemovedAtStart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	killed := filepath.Join(tmp, "childcase-export-4021777")
	if err := os.Mkdir(killed, 0o700); err != nil {
		t.Fatal(err)
	}
	rows := `<row r="2"><c r="A2" t="inlineStr"><is><t>HN-2026-00005</t></is></c><c r="B2" t="inlineStr"><is><t>7 FEMALE</t></is></c></row>`
	if err := os.WriteFile(filepath.Join(killed, "excelize-3318"), []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(tmp, "childcase-export-planted")
	if err := os.Mkdir(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Chmod(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "childcase-export-link")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}

	ts := startServer(t, "")
	if _, err := os.Lstat(killed); !os.IsNotExist(err) {
		t.Errorf("the folder a killed export left is still there after a start (%v)", err)
	}
	for _, p := range []string{planted, link, elsewhere} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("a start removed %s, not an export's folder: %v", p, err)
		}
	}

	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	if _, _, err := exportCases(t, ts, "bd.chair", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_XLSX}); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*export-[0-9]*"))
	if len(left) > 0 {
		t.Errorf("an export left %v", left)
	}
}
