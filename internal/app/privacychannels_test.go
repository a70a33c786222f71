package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestPersonalDataNeverLeavesByLogsWebhooksOrMetrics: what a child, a
// caregiver or a reporter is, and every free text, stays out of the
// channels that leave the service's sealed records: the log (every level,
// refused requests' messages included), the webhooks' bodies and the
// metrics. Every personal field carries a marker; the calls are accepted
// and refused ones (a name with a control character, a bad phone, a bad
// birth date, bodies that are no report), a search and a disclosure by
// those details, a note, a transfer's reason and a referral.
func TestPersonalDataNeverLeavesByLogsWebhooksOrMetrics(t *testing.T) {
	receiver := newWebhookReceiver(t)
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", "a-webhook-secret-of-some-length")
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	policyJSON := `{"webhooks": [{"name": "so-y-te", "url": "` + receiver.url + `", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`
	if err := os.WriteFile(policyFile, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	var lines logLines
	cfg := testConfig(t, "")
	cfg.PolicyFile = policyFile
	cfg.MetricsAddr = "127.0.0.1:0"
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&lines, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ts.addPoliceUnit(t, "ca-ba-dinh", "units/00004@2025-07-01")
	ts.addUser(t, "sup.111", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "worker", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	ts.addUser(t, "police", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")

	markers := []string{
		"Pchildname", "PCOND-1", "PLOC-1", "PHARM-1", "Pcarername", "0911 222 333", "0911222333", "PCARERADDR-1",
		"PNARR-1", "PFAM-1", "PACT-1", "Preportername", "0977 888 999", "0977888999", "PREL-1", "PREPADDR-1",
		"2015-02-28", "Pbadname", "PBADNARR-2", "PBADREP-2", "PPHONE-2", "2015-02-30", "PREST-4", "PRESTNARR-5",
		"PREASON-6", "PNOTE-7", "PTRANSFER-8", "POFFENCE-9", "Psearchname", "0966 000 111", "Psearchcarer",
	}
	r := validReport()
	r.Children[0].FullName = "Pchildname Xa"
	r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2015-02-28"}
	r.Children[0].Condition = "PCOND-1"
	r.Children[0].Location = "PLOC-1"
	r.Children[0].ExpectedHarm = "PHARM-1"
	r.Caregivers[0] = &pb.Caregiver{FullName: "Pcarername Ya", Relation: "bố", Phone: "0911 222 333", Address: "PCARERADDR-1", SuspectedAbuser: true}
	r.Narrative, r.FamilySituation, r.ActionsTaken = "PNARR-1", "PFAM-1", "PACT-1"
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
		Consent: true, FullName: "Preportername Za", Phone: "0977 888 999", RelationToChild: "PREL-1", Address: "PREPADDR-1",
	}}}
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r, RequestId: "privacy-1"})
	if err != nil {
		t.Fatal(err)
	}

	// Refused for a field: the refusals are logged with their messages.
	bad := validReport()
	bad.Children[0].FullName = "Pbadname\x01Q"
	bad.Narrative = "PBADNARR-2"
	bad.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{Consent: true, FullName: "PBADREP-2", Phone: "PPHONE-2"}}}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: bad}); err == nil {
		t.Fatal("a name with a control character was taken")
	}
	bad = validReport()
	bad.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2015-02-30"}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: bad}); err == nil {
		t.Fatal("30 February was taken")
	}
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	for _, body := range []string{
		`{"narrative": 5, "children": [{"fullName": "PREST-4"}]}`,
		`{"narrative": "PRESTNARR-5", "callType": "PREST-4"}`,
	} {
		if code, raw := restRaw(t, ts, "POST", "/v1/reports", body, auth); code != http.StatusBadRequest {
			t.Fatalf("REST %s: %d %s", body, code, raw)
		}
	}

	// A search and a disclosure by those details, a refused one too.
	sup := ts.as(t, "sup.111")
	if _, err := ts.cases().SearchCases(sup, &pb.SearchCasesRequest{ChildName: "Pchildname Xa", Phone: "0977 888 999", CaregiverName: "Pcarername Ya"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.cases().SearchCases(sup, &pb.SearchCasesRequest{ChildName: "Psearchname\x02", Phone: "0966 000 111", CaregiverName: "Psearchcarer"}); err == nil {
		t.Fatal("a search with a control character was taken")
	}
	q := url.Values{"child_name": {"Psearchname"}, "phone": {"0966 000 111"}, "birth_date": {"2015-02-30"}}
	if code, raw := restRaw(t, ts, "GET", "/v1/cases:search?"+q.Encode(), "", map[string]string{"Authorization": "Bearer " + ts.tokens.get("sup.111")}); code != http.StatusBadRequest {
		t.Fatalf("REST search of 30 February: %d %s", code, raw)
	}
	if _, err := ts.reports().DiscloseReporter(sup, &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: "xác minh lại PREASON-6 cuộc gọi"}); err != nil {
		t.Fatal(err)
	}

	// Free text on the case: a note, a transfer's reason, a referral.
	worker := ts.as(t, "worker")
	etag := func() string {
		t.Helper()
		c, err := ts.cases().GetCase(worker, &pb.GetCaseRequest{Name: created.GetCase()})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetEtag()
	}
	if _, err := ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: created.GetCase(), Etag: etag(), Text: "PNOTE-7", RequestId: "privacy-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: created.GetCase(), Etag: "999", Text: "PNOTE-7"}); err == nil {
		t.Fatal("a note on a stale etag was taken")
	}
	if _, err := ts.process().ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: created.GetCase(), Etag: etag(), PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "POFFENCE-9"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().ProposeTransfer(worker, &pb.ProposeTransferRequest{Name: created.GetCase(), Etag: etag(), ToUnit: "units/00070@2025-07-01", Reason: "gia đình chuyển nhà PTRANSFER-8"}); err != nil {
		t.Fatal(err)
	}

	// The webhook hears of the case and the referral.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if len(receiver.bodies()) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + ts.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	webhookBodies := strings.Join(receiver.bodies(), "\n")
	logText := lines.text()

	// The channels carry what they are for: otherwise finding nothing in
	// them would prove nothing.
	for _, want := range []struct{ channel, text, want string }{
		{"log", logText, `"grpc.method":"CreateReport"`},
		{"log", logText, `"grpc.code":"InvalidArgument"`},
		{"log", logText, `"grpc.method":"DiscloseReporter"`},
		{"webhook", webhookBodies, `"kind":"POLICE_REFERRAL"`},
		{"metrics", string(metrics), `grpc_method="SearchCases"`},
	} {
		if !strings.Contains(want.text, want.want) {
			t.Errorf("the %s lacks %s:\n%s", want.channel, want.want, want.text)
		}
	}
	for _, ch := range []struct{ channel, text string }{
		{"log", logText}, {"webhook", webhookBodies}, {"metrics", string(metrics)},
	} {
		for _, m := range markers {
			if strings.Contains(ch.text, m) {
				t.Errorf("the %s holds %q:\n%s", ch.channel, m, lineOf(ch.text, m))
			}
		}
	}
}

// lineOf returns the line of text that holds s.
func lineOf(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// webhookReceiver is an HTTP server that keeps the body of every request
// a webhook delivers to it.
type webhookReceiver struct {
	url  string
	mu   sync.Mutex
	kept []string
}

// newWebhookReceiver starts a receiver, closed when the test ends.
func newWebhookReceiver(t *testing.T) *webhookReceiver {
	rec := &webhookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.kept = append(rec.kept, string(body))
		rec.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

// bodies returns the bodies received so far, in order.
func (rec *webhookReceiver) bodies() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.kept)
}
