package app_test

import (
	"encoding/json"
	"net/http"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A POST whose body is the whole request (every :verb method, and
// CreateToken) reads no query parameter: the gateway would drop one
// without a word, so a request_id or etag put there, as CreateReport
// takes its request_id, would be lost and a retry would act twice. Such a
// parameter is refused, 400 naming it, and nothing is done.
func TestRESTQueryOfABodyOnlyPOSTIsRefused(t *testing.T) {
	ts := startServer(t, "")
	admin := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin")}
	tokens := func() int {
		t.Helper()
		resp, err := ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/" + operatorID})
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		return len(resp.GetTokens())
	}
	before := tokens()
	for range 2 { // a client's retry
		code, raw := restRaw(t, ts, "POST", "/v1/users/"+operatorID+"/tokens?request_id=token-1", `{}`, admin)
		var answer struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Type       string `json:"@type"`
				Violations []struct {
					Field, Reason string
				} `json:"field_violations"`
			} `json:"details"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("answer not JSON: %s", raw)
		}
		named := false
		for _, d := range answer.Details {
			for _, v := range d.Violations {
				named = named || v.Field == "request_id" && v.Reason == "query.unexpected"
			}
		}
		if code != http.StatusBadRequest || !named {
			t.Errorf("POST with ?request_id= on a body-only route: %d %s; want 400 naming request_id, rule query.unexpected", code, raw)
		}
	}
	if after := tokens(); after != before {
		t.Errorf("the refused requests made %d tokens", after-before)
	}
	// In the body, as the OpenAPI document has it, the same request_id
	// makes one token however often it is sent.
	for range 2 {
		if code, raw := restRaw(t, ts, "POST", "/v1/users/"+operatorID+"/tokens", `{"request_id": "token-1"}`, admin); code != http.StatusOK {
			t.Fatalf("POST with request_id in the body: %d %s", code, raw)
		}
	}
	if after := tokens(); after != before+1 {
		t.Errorf("two sends of one request_id in the body made %d tokens, want 1", after-before)
	}
	// A route whose body is a field of the request takes the others in
	// the query, as the OpenAPI document lists them.
	if code, raw := restRaw(t, ts, "POST", "/v1/reports?request_id=call-1&validate_only=true", restReport, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID),
	}); code != http.StatusOK {
		t.Errorf("CreateReport with its documented query parameters: %d %s", code, raw)
	}
}
