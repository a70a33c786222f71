package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The media type the REST handler uses inside, to have the gateway write
// a file's bytes bare (httpapi's rawStreamAccept). A client may send it
// too, as a Content-Type or an Accept.
const innerRawStreamType = "application/x.childcase.raw-stream"

// A request body is read the one strict way whatever Content-Type the
// client gives it. The gateway picks its decoder by the Content-Type, and
// the inner type of the file answers picked the gateway's own decoder,
// which takes the first JSON value and drops what follows: a report with
// `}}` after it was recorded, and arrays were decoded whole before the
// validator refused them (a megabyte of empty children took a second of
// the server's time without a token, against 0.03 s as JSON).
func TestRESTBodyIsReadStrictlyWhateverItsContentType(t *testing.T) {
	ts := startServer(t, "")
	before := restReportCount(t, ts)
	for _, ct := range []string{
		innerRawStreamType,
		innerRawStreamType + "; charset=utf-8",
		strings.ToUpper(innerRawStreamType),
		"text/plain",
		"application/octet-stream",
	} {
		t.Run(ct, func(t *testing.T) {
			code, raw := restRaw(t, ts, "POST", "/v1/reports", restReport+`}}`, map[string]string{
				"Content-Type":  ct,
				"Authorization": "Bearer " + ts.tokens.get(operatorID),
			})
			named := slices.Contains(restFieldViolations(raw), restFieldViolation{Field: "body", Reason: "body.parse"})
			if code != http.StatusBadRequest || !named {
				t.Errorf("a report with }} after it, as %s: %d %.300s; want 400 naming body with body.parse", ct, code, raw)
			}
		})
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("refused bodies changed the reports from %d to %d", before, after)
	}
}

// A watch is newline-delimited JSON whatever the client accepts: the
// inner type of the file answers, sent as an Accept, wrote the
// notifications back to back with nothing between them.
func TestRESTWatchIsNewlineDelimitedWhateverTheClientAccepts(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	secret := ts.addUser(t, "bd.watcher", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ts.HTTPAddr()+"/v1/notifications:watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Accept", innerRawStreamType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("watch answered %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	first := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	second := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	lines := bufio.NewScanner(resp.Body)
	for _, name := range []string{first, second} {
		if !lines.Scan() {
			t.Fatalf("no line for %s (%v)", name, lines.Err())
		}
		if line := lines.Text(); strings.Count(line, `"result"`) != 1 || !strings.Contains(line, name) {
			t.Fatalf("line %.400q, want the one notification of %s", line, name)
		}
	}
}

// An answer is JSON whatever the Accept says, as the README promises: no
// 406, and no other format for a client that asks for one (XML, HTML, a
// type it refuses with q=0); an error too.
func TestRESTAnswersJSONWhateverTheAccept(t *testing.T) {
	ts := startServer(t, "")
	for _, accept := range []string{"application/xml", "text/html", "application/json;q=0, text/plain", "*/*", "image/*"} {
		for _, tc := range []struct {
			path   string
			status int
		}{{"/v1/cases", http.StatusOK}, {"/v1/nothing", http.StatusNotFound}} {
			resp, raw := restResponse(t, ts, "GET", tc.path, nil, map[string]string{
				"Accept": accept, "Authorization": "Bearer " + ts.tokens.get(operatorID),
			})
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || !json.Valid(raw) {
				t.Errorf("GET %s, Accept %q: %s %s %.200s; want %d in JSON", tc.path, accept, resp.Status, resp.Header.Get("Content-Type"), raw, tc.status)
			}
		}
	}
}
