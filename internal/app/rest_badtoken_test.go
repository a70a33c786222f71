package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// badInputs are REST requests the gateway refuses for their input before
// the server sees them: a body that is no JSON, or over 1 MiB, a query
// parameter the method does not read, a query value that is not UTF-8, a
// grpc-timeout it cannot read. With a valid token each answers 400 or
// 413 describing the input.
var badInputs = []struct {
	name, method, path, body string
	headers                  map[string]string
	valid                    int // the answer with a valid token
}{
	{"body no JSON", "POST", "/v1/reports", `{"channel": `, nil, http.StatusBadRequest},
	{"body over 1 MiB", "POST", "/v1/reports", `{"narrative": "` + strings.Repeat("a", 1<<20) + `"}`, nil, http.StatusRequestEntityTooLarge},
	{"unread query parameter", "GET", "/v1/cases?statuss=CASE_STATUS_CLOSED", "", nil, http.StatusBadRequest},
	{"query not UTF-8", "GET", "/v1/cases?page_token=%ff", "", nil, http.StatusBadRequest},
	{"unreadable grpc-timeout", "POST", "/v1/reports", restReport, map[string]string{"Grpc-Timeout": "soon"}, http.StatusBadRequest},
}

func sendBadInput(t *testing.T, ts *testServer, i int, authorization string) *http.Response {
	t.Helper()
	in := badInputs[i]
	headers := map[string]string{"Authorization": authorization}
	for k, v := range in.headers {
		headers[k] = v
	}
	resp, _ := restResponse(t, ts, in.method, in.path, strings.NewReader(in.body), headers)
	return resp
}

// TestRESTWithAnInvalidTokenIsASignInRefusalWhateverTheInput: a REST call
// with a bearer token that does not authenticate (revoked, expired,
// unknown, of a wrong secret, malformed) and input the gateway refuses
// itself answered 400 or 413, describing the input to a caller without
// valid credentials, and went uncounted by the throttle and unaudited.
// As the README says, a call without valid credentials is 401 (with the
// Bearer challenge) whatever its input, 429 with Retry-After once the
// address is throttled, and a refused sign-in in the audit; a valid
// token gets the answer describing the input.
func TestRESTWithAnInvalidTokenIsASignInRefusalWhateverTheInput(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	admin := ts.admin()
	newToken := func(ttl time.Duration) *pb.Token {
		tok, err := admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/" + operatorID, Ttl: durationpb.New(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoked := newToken(time.Hour)
	if _, err := admin.RevokeToken(ts.as(t, "admin"), &pb.RevokeTokenRequest{Name: revoked.GetName()}); err != nil {
		t.Fatal(err)
	}
	expired := newToken(time.Hour)
	ts.advance(t, time.Hour)
	valid := ts.tokens.get(operatorID)
	_, _, refusedBefore := signInAudit(t, ts)

	tokens := []struct{ name, bearer string }{
		{"revoked", revoked.GetSecret()},
		{"expired", expired.GetSecret()},
		{"unknown", "cc_0123456789abcdef_" + strings.Repeat("A", 43)},
		{"wrong secret", valid[:len(valid)-43] + strings.Repeat("B", 43)},
		{"malformed", "cc_not-a-token"},
	}
	sent := 0
	for _, tok := range tokens {
		for i, in := range badInputs {
			resp := sendBadInput(t, ts, i, "Bearer "+tok.bearer)
			sent++
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s token, %s: %s (WWW-Authenticate %q), want 401 with the Bearer challenge", tok.name, in.name, resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
			// The address's allowance comes back: each is judged by its
			// token alone.
			ts.advance(t, 30*time.Second)
		}
	}
	// Counted toward the throttle: 10 more, and the address is throttled,
	// whatever the input and whichever bad token.
	for i := range 10 {
		sendBadInput(t, ts, i%len(badInputs), "Bearer "+tokens[2].bearer)
		sent++
	}
	for _, tok := range tokens {
		resp := sendBadInput(t, ts, 0, "Bearer "+tok.bearer)
		sent++
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s token with bad input from a throttled address: %s (Retry-After %q), want 429 with Retry-After", tok.name, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	// A valid token passes the throttled address and is told what is
	// wrong with its input.
	for i, in := range badInputs {
		if resp := sendBadInput(t, ts, i, "Bearer "+valid); resp.StatusCode != in.valid {
			t.Errorf("a valid token, %s: %s, want %d", in.name, resp.Status, in.valid)
		}
	}

	// A valid token of a role that may not make the call is refused for
	// its role, as the server refuses it whatever the input.
	auditor := ts.tokens.get("auditor")
	for i, in := range badInputs {
		if in.method != "POST" {
			continue
		}
		if resp := sendBadInput(t, ts, i, "Bearer "+auditor); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the auditor's valid token, which may not record a report, %s: %s, want 403", in.name, resp.Status)
		}
	}

	_, events, refused := signInAudit(t, ts)
	if refused-refusedBefore != sent {
		t.Errorf("the audit accounts for %d refused sign-ins, want the %d calls with a bad token: %v", refused-refusedBefore, sent, events)
	}
	var reasons strings.Builder
	for _, e := range events {
		reasons.WriteString(e.GetReason() + "\n")
	}
	for _, why := range []string{"was revoked", "expired", "unknown token", "wrong secret", "malformed token"} {
		if !strings.Contains(reasons.String(), why) {
			t.Errorf("no refused sign-in audited with %q:\n%s", why, reasons.String())
		}
	}
}
