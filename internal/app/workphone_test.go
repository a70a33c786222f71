package app_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// TestWorkPhoneIsAPhoneNumber: a user's work phone is the number the
// police call the responsible officer on, so one that is no number ("call
// the office", a landline short of a digit) is refused as intake refuses
// a caller's, naming user.phone and the rule phone.number, and no user is
// made; a number in full width, as a Vietnamese input method types it, is
// kept in ASCII, as intake keeps a caller's.
func TestWorkPhoneIsAPhoneNumber(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := map[string]string{"Authorization": "Bearer " + ts.tokens.get("admin")}
	user := func(phone string) string {
		b, err := json.Marshal(map[string]any{"display_name": "Lan", "role": "ROLE_COMMUNE_WORKER", "unit": pBaDinh, "phone": phone})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, phone := range []string{"gọi văn phòng phường", "024 3825 000", "0912 345 6789", "111"} {
		code, answer := restRaw(t, ts, "POST", "/v1/users?user_id=bad.phone", user(phone), admin)
		if grpcCode, named := restViolations(t, answer); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{"user.phone"}) ||
			!bytes.Contains(answer, []byte("[phone.number]")) {
			t.Errorf("work phone %q: %d %.300s, want 400 naming user.phone, rule phone.number", phone, code, answer)
		}
		if code, answer := restRaw(t, ts, "GET", "/v1/users/bad.phone", "", admin); code != 404 {
			t.Errorf("GET the user after the refusal of %q: %d %.200s, want 404", phone, code, answer)
		}
	}
	code, answer := restRaw(t, ts, "POST", "/v1/users?user_id=good.phone", user("０２４ ３８２５ ００００"), admin)
	var created struct {
		User struct{ Phone string } `json:"user"`
	}
	if err := json.Unmarshal(answer, &created); err != nil || code != 200 || created.User.Phone != "024 3825 0000" {
		t.Errorf("a work phone in full width: %d %.300s (%v), want it kept as 024 3825 0000", code, answer, err)
	}
}
