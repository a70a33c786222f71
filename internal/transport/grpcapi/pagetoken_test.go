package grpcapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/access"
)

// asCaller is the context of a call by the user.
func asCaller(user string) context.Context {
	return context.WithValue(context.Background(), principalKey{}, access.Principal{UserID: user})
}

func TestPageTokens(t *testing.T) {
	key := bytes.Repeat([]byte{7}, PageTokenKeySize)
	pages, err := newPageTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newPageTokens(bytes.Repeat([]byte{8}, PageTokenKeySize))
	if err != nil {
		t.Fatal(err)
	}
	const cursor = "01a2.22d5.bea0" // cursors may hold dots
	operator := asCaller("operator")
	token := pages.encode(operator, cursor, "1")
	raw, _ := base64.RawURLEncoding.DecodeString(token)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name, token string
		caller      context.Context
		filters     []string
		wantReason  string // "" : the cursor comes back
	}{
		{"as issued", token, operator, []string{"1"}, ""},
		{"no token", "", operator, []string{"1"}, ""},
		{"other filters", token, operator, []string{"2"}, "page_token.same_query"},
		{"other user", token, asCaller("someone"), []string{"1"}, "page_token.same_query"},
		{"issued under another key", other.encode(operator, cursor, "1"), operator, []string{"1"}, "page_token.valid"},
		{"cursor changed", flip(len("v2.") + 12 + 1), operator, []string{"1"}, "page_token.valid"},
		{"filter hash changed", flip(len("v2.")), operator, []string{"1"}, "page_token.valid"},
		{"MAC changed", flip(len(raw) - 1), operator, []string{"1"}, "page_token.valid"},
		{"MAC cut off", base64.RawURLEncoding.EncodeToString([]byte("v2." + filterHash(operator, "1") + "." + cursor)), operator, []string{"1"}, "page_token.valid"},
		{"the old unsigned form", base64.RawURLEncoding.EncodeToString([]byte("v1." + filterHash(operator, "1") + "." + cursor)), operator, []string{"1"}, "page_token.valid"},
		{"not base64", "!!!", operator, []string{"1"}, "page_token.valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pages.decode(tt.caller, tt.token, tt.filters...)
			if tt.wantReason == "" {
				want := cursor
				if tt.token == "" {
					want = ""
				}
				if err != nil || got != want {
					t.Fatalf("decode = %q, %v; want %q", got, err, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("decode = %q, want refusal %s", got, tt.wantReason)
			}
			var reason string
			for _, d := range status.Convert(err).Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						if v.GetField() == "page_token" {
							reason = v.GetReason()
						}
					}
				}
			}
			if reason != tt.wantReason {
				t.Errorf("reason %q, want %q (%v)", reason, tt.wantReason, err)
			}
		})
	}
	if _, err := newPageTokens(make([]byte, 8)); err == nil {
		t.Error("a short key was taken")
	}
}
