package grpcapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Page tokens bind a storage cursor to the caller and the filters of the
// query that made it, so a token cannot be replayed against another query
// (AIP-158) or by another user, and carry a MAC, so a client cannot make
// up a cursor: a token is opaque to clients and only the server can issue
// one. A token is base64url("v2." + filter hash + "." + cursor + "." +
// MAC), the MAC being HMAC-SHA-256, cut to 128 bits, of everything before
// it under the server's page token key. The filter hash is not secret; it
// only tells a token of another caller or other filters apart from a
// forged one in the error.

// PageTokenKeySize is the size of the page token key, in bytes.
const PageTokenKeySize = 32

const pageTokenVersion = "v2"

// macSize is the length of a token's MAC, in bytes (128 bits).
const macSize = 16

// pageTokens issues and checks page tokens under one key.
type pageTokens struct {
	key []byte
}

// NewPageTokenKey returns a new random page token key, for a server given
// none. The service gives the key derived from its master key
// (keys.MasterKey.PageTokenKey), so that its instances, and a restarted
// one, accept each other's tokens.
func NewPageTokenKey() ([]byte, error) {
	key := make([]byte, PageTokenKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("page token key: %w", err)
	}
	return key, nil
}

func newPageTokens(key []byte) (*pageTokens, error) {
	if len(key) == 0 {
		var err error
		if key, err = NewPageTokenKey(); err != nil {
			return nil, err
		}
	}
	if len(key) < PageTokenKeySize {
		return nil, fmt.Errorf("page token key: %d bytes, want at least %d", len(key), PageTokenKeySize)
	}
	return &pageTokens{key: key}, nil
}

// filterHash hashes the caller's user id and the filters of a query. The
// caller is bound here, for every list, rather than by each list among its
// filters: a list that left it out let one admin's or auditor's cursor go
// on for another. (The user id comes first, where the lists that named it
// had it, so their tokens stay good across the change.)
func filterHash(ctx context.Context, filters ...string) string {
	bound := append([]string{principalFrom(ctx).UserID}, filters...)
	h := sha256.Sum256([]byte(strings.Join(bound, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

func (p *pageTokens) mac(signed string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:macSize])
}

func (p *pageTokens) encode(ctx context.Context, cursor string, filters ...string) string {
	if cursor == "" {
		return ""
	}
	signed := pageTokenVersion + "." + filterHash(ctx, filters...) + "." + cursor
	return base64.RawURLEncoding.EncodeToString([]byte(signed + "." + p.mac(signed)))
}

// decode returns the cursor in token, or an INVALID_ARGUMENT error when
// the token is forged, damaged, from another query or another caller, or
// issued under another key (another master key, or a server's own random
// one).
func (p *pageTokens) decode(ctx context.Context, token string, filters ...string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", badPageToken()
	}
	// The cursor may hold dots; the MAC (base64url) has none.
	i := strings.LastIndexByte(string(raw), '.')
	if i < 0 {
		return "", badPageToken()
	}
	signed, mac := string(raw[:i]), string(raw[i+1:])
	if !hmac.Equal([]byte(mac), []byte(p.mac(signed))) {
		return "", badPageToken()
	}
	version, rest, ok1 := strings.Cut(signed, ".")
	hash, cursor, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || version != pageTokenVersion || cursor == "" {
		return "", badPageToken()
	}
	if hash != filterHash(ctx, filters...) {
		return "", invalidArgument([]*errdetails.BadRequest_FieldViolation{{
			Field: "page_token", Description: "page_token belongs to another caller or a query with other filters; send the same filters or start again without a token", Reason: "page_token.same_query",
		}})
	}
	return cursor, nil
}

func badPageToken() error {
	return invalidArgument([]*errdetails.BadRequest_FieldViolation{{
		Field: "page_token", Description: "page_token is not one this service issued, or it was issued before the master key was rotated; start again without a token", Reason: "page_token.valid",
	}})
}

// pageSize applies the default and the ceiling (the schema already refuses
// sizes over the ceiling; the clamp keeps the handler safe on its own).
func pageSize(requested int32, def, max int) int {
	switch {
	case requested <= 0:
		return def
	case int(requested) > max:
		return max
	}
	return int(requested)
}
