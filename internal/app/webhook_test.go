package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/transport/webhook"
)

// TestWebhookReceivesSignedNotifications configures a webhook in the policy
// file and shows that opening a case delivers its notification, signed.
func TestWebhookReceivesSignedNotifications(t *testing.T) {
	secret := "a-webhook-secret-of-some-length"
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", secret)

	type delivery struct {
		body      []byte
		timestamp int64
		signature string
	}
	var mu sync.Mutex
	var got []delivery
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		mu.Lock()
		got = append(got, delivery{body, ts, r.Header.Get(webhook.HeaderSignature)})
		mu.Unlock()
	}))
	defer receiver.Close()

	policyFile := filepath.Join(t.TempDir(), "policy.json")
	policyJSON := `{"webhooks": [{"name": "so-y-te", "url": "` + receiver.URL + `", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`
	if err := os.WriteFile(policyFile, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, "", func(c *app.Config) { c.PolicyFile = policyFile })

	created, err := ts.reports().CreateReport(t.Context(), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("the webhook received nothing")
	}
	first := got[0]
	if !webhook.Verify([]byte(secret), first.timestamp, first.body, first.signature) {
		t.Errorf("signature %q does not verify", first.signature)
	}
	// The timestamp is the attempt's, on the service's clock, so that a
	// receiver refusing one far from its own refuses a replay.
	if first.timestamp != ts.clock.Now().Unix() {
		t.Errorf("%s %d, want the time of the attempt, %d", webhook.HeaderTimestamp, first.timestamp, ts.clock.Now().Unix())
	}
	if webhook.Verify([]byte(secret), first.timestamp+1, first.body, first.signature) {
		t.Errorf("signature %q verifies with another timestamp", first.signature)
	}
	var n struct {
		Kind  string   `json:"kind"`
		Case  string   `json:"case"`
		Units []string `json:"units"`
	}
	if err := json.Unmarshal(first.body, &n); err != nil {
		t.Fatal(err)
	}
	if n.Kind != "CASE_FORWARDED" || n.Case != created.GetCase() || len(n.Units) != 1 || n.Units[0] != "units/00004@2025-07-01" {
		t.Errorf("notification = %+v", n)
	}
	for _, secretWord := range []string{"Nguyễn Thị Lan", "Trần Thị Mai", "Hàng xóm"} {
		if strings.Contains(string(first.body), secretWord) {
			t.Errorf("the webhook body holds %q", secretWord)
		}
	}
	mu.Unlock()

	// The delivery is on the case's audit trail, naming the webhook
	// (written before it was sent: TestDeliveryIsAuditedBeforeItLeaves).
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	var seq struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(first.body, &seq); err != nil {
		t.Fatal(err)
	}
	resource := "notifications/" + strconv.FormatUint(seq.Seq, 10)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		events := auditedBy(t, ts, "auditor", "system")
		i := slices.IndexFunc(events, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "notification.deliver" && e.GetResource() == resource
		})
		if i >= 0 {
			if e := events[i]; e.GetCase() != created.GetCase() || e.GetReason() != "to webhook so-y-te" || e.GetOutcome() != "ok" {
				t.Errorf("the delivery's audit event: %v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification.deliver of %s by the system on the audit trail: %v", resource, events)
		}
	}
	mu.Lock()
}
