package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A REST watch answers its headers as soon as it is live, as the gRPC one
// does, not with its first line: a client that bounds its wait for the
// headers (Go's ResponseHeaderTimeout, a proxy's read timeout) would
// otherwise give up on a quiet queue. Here nothing has happened yet, so
// the headers are all there is until a case comes; the notification then
// follows on the same answer. A watch refused before it is live still
// answers its status (TestFileDownloadErrorsAnswerLikeEveryOtherCall).
func TestRESTWatchAnswersHeadersOnceLive(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	secret := ts.addUser(t, "bd.watcher", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ctx, cancel := context.WithTimeout(context.Background(), streamEndWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ts.HTTPAddr()+"/v1/notifications:watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	// Do returns with the headers; without them it waits out ctx.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a watch on a quiet queue sent no headers: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("watch answered %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"result"`) || !strings.Contains(lines.Text(), name) {
		t.Fatalf("first line %q (%v), want the notification of %s", lines.Text(), lines.Err(), name)
	}
}

// The README's other half: a watch refused before it is live answers its
// status, as every other call does, and no early 200. A watch of a case
// out of the caller's scope is such a refusal: 404, its body the
// google.rpc.Status, not a 200 with an error line.
func TestRESTWatchOfACaseOutOfScopeAnswersItsStatus(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004") // Ba Đình's
	code, body := restRaw(t, ts, "GET", "/v1/notifications:watch?case="+name, "",
		map[string]string{"Authorization": "Bearer " + ts.tokens.get("hk.worker")})
	if code != http.StatusNotFound || !strings.HasPrefix(strings.TrimSpace(string(body)), `{"code":5`) {
		t.Errorf("a watch of %s, out of scope: %d %s; want 404 and the status", name, code, body)
	}
}
