package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// FuzzRESTCreateReport posts arbitrary bodies to POST /v1/reports on the
// real service (REST gateway, interceptors, domain, bbolt) as the hotline
// operator. Every answer must be 2xx or 4xx with a JSON body, never 5xx:
// whatever a client sends, it is the client's mistake or a report.
func FuzzRESTCreateReport(f *testing.F) {
	for _, seed := range []string{
		restReport,
		strings.Replace(restReport, `"reporter": {"anonymous": true}`, `"reporter": {"identified": {"consent": true, "full_name": "Trần Thị Mai", "phone": "0912 345 678"}}`, 1),
		strings.Replace(restReport, `"estimated_age_years": 7`, `"birth_date": "2019-02-29"`, 1),
		strings.Replace(restReport, `"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_COUNSELLING"`, 1),
		strings.Replace(restReport, `"CALL_TYPE_INTERVENTION"`, `2`, 1),
		strings.Replace(restReport, `"00004"`, `"99999"`, 1),
		strings.Replace(restReport, `"2026-11-28T02:00:00Z"`, `"9999-12-31T23:59:59.999999999Z"`, 1),
		strings.Replace(restReport, `"reporter"`, `"case": "cases/HN-2026-00001", "reporter"`, 1),
		`{}`, `null`, `[]`, `{"channel":`, "{\"narrative\": \"\xff\"}", `{"children": [{"estimated_age_years": 1e99}]}`,
	} {
		f.Add([]byte(seed))
	}
	ts := launch(f, testConfig(f, ""), app.Options{Clock: clock.NewFake(testNow), NoSync: true})
	token := ts.tokens.get(operatorID)
	client := &http.Client{Timeout: 30 * time.Second}
	url := "http://" + ts.HTTPAddr() + "/v1/reports"
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 || resp.StatusCode < 200 || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
			t.Fatalf("POST %q: %d %s", body, resp.StatusCode, raw)
		}
		if !json.Valid(raw) {
			t.Fatalf("POST %q: %d, answer not JSON: %q", body, resp.StatusCode, raw)
		}
	})
}
