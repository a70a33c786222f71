package grpcapi

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Page tokens bind a storage cursor to the filters of the query that made it,
// so a token cannot be replayed against another query (AIP-158). A token is
// opaque to clients: base64url("v1." + filter hash + "." + cursor).

func filterHash(filters ...string) string {
	h := sha256.Sum256([]byte(strings.Join(filters, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

func encodePageToken(cursor string, filters ...string) string {
	if cursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("v1." + filterHash(filters...) + "." + cursor))
}

// decodePageToken returns the cursor in token, or an INVALID_ARGUMENT error
// when the token is forged, damaged or from another query.
func decodePageToken(token string, filters ...string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", badPageToken()
	}
	version, rest, ok1 := strings.Cut(string(raw), ".")
	hash, cursor, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || version != "v1" || cursor == "" {
		return "", badPageToken()
	}
	if hash != filterHash(filters...) {
		return "", invalidArgument([]*errdetails.BadRequest_FieldViolation{{
			Field: "page_token", Description: "page_token belongs to a query with other filters; send the same filters or start again without a token", Reason: "page_token.same_query",
		}})
	}
	return cursor, nil
}

func badPageToken() error {
	return invalidArgument([]*errdetails.BadRequest_FieldViolation{{
		Field: "page_token", Description: "page_token is not one this service issued", Reason: "page_token.valid",
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
