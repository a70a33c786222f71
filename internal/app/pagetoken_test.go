package app_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Page tokens carry a MAC under a key that never leaves the server: a
// client that rewrites the cursor inside a token it was given (keeping
// the rest of the token as it was) is refused with INVALID_ARGUMENT naming
// page_token, over gRPC and REST. The key is made at each start, so a
// token from before a restart is refused the same way.
func TestPageTokenIsAuthenticated(t *testing.T) {
	ts := startServer(t, "")
	for range 3 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	token := first.GetNextPageToken()
	if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: token}); err != nil {
		t.Fatalf("the token as issued: %v", err)
	}

	// The token's text is "version.filters.cursor..."; rewrite the
	// cursor's first character, as a client guessing cursors would.
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("page token %q: %v", token, err)
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		t.Fatalf("page token %q has no cursor part", raw)
	}
	cursor := []byte(parts[2])
	cursor[0] ^= 1
	forged := base64.RawURLEncoding.EncodeToString([]byte(parts[0] + "." + parts[1] + "." + string(cursor)))

	refused := func(what, tok string) {
		t.Helper()
		_, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1, PageToken: tok})
		st := wantCode(t, err, codes.InvalidArgument)
		if got := badFields(st); len(got) != 1 || got[0] != "page_token" {
			t.Errorf("%s over gRPC: fields %v, want page_token (%v)", what, got, st.Message())
		}
		code, body := restCall(t, ts, "GET", "/v1/reports?page_size=1&page_token="+url.QueryEscape(tok), "")
		if code != http.StatusBadRequest || !strings.Contains(body["message"].(string), "page_token") {
			t.Errorf("%s over REST: %d %v", what, code, body)
		}
	}
	refused("a rewritten cursor", forged)

	// After a restart the key is new.
	dbPath := ts.cfg.DBPath
	ts.stop()
	ts = startServer(t, dbPath)
	refused("a token from before the restart", token)
}
