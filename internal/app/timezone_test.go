package app_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Times are stored as instants: a request may write any offset, an API
// answer gives RFC 3339 in UTC (Z), as google.protobuf.Timestamp's JSON
// is written, and an export, read by people in Hanoi, gives Vietnam
// time (+07:00). The README's API section says so.
func TestTimesAnswerUTCAndExportVietnamTime(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "tz.supervisor", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	body := strings.Replace(restReport, `"2026-11-28T02:00:00Z"`, `"2026-11-28T08:30:00+07:00"`, 1)
	code, created := restCall(t, ts, "POST", "/v1/reports", body)
	if code != http.StatusOK {
		t.Fatalf("create: %d %v", code, created)
	}
	if got := created["receive_time"]; got != "2026-11-28T01:30:00Z" {
		t.Errorf("receive_time in the answer %v, want 2026-11-28T01:30:00Z", got)
	}
	if !strings.HasSuffix(created["create_time"].(string), "Z") {
		t.Errorf("create_time in the answer %v, want UTC", created["create_time"])
	}

	code, raw := restRaw(t, ts, "GET", "/v1/cases:export?format=EXPORT_FORMAT_CSV", "",
		map[string]string{"Authorization": "Bearer " + ts.tokens.get("tz.supervisor")})
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, raw)
	}
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\uFEFF")))).ReadAll()
	if err != nil || len(records) != 2 {
		t.Fatalf("export: %v, want a header and one case:\n%s", err, raw)
	}
	col := slices.Index(records[0], "receive_time")
	if col < 0 {
		t.Fatalf("export has no receive_time column: %q", records[0])
	}
	if got := records[1][col]; got != "2026-11-28T08:30:00+07:00" {
		t.Errorf("receive_time in the export %q, want 2026-11-28T08:30:00+07:00", got)
	}
}
