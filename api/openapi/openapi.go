// Package openapi embeds the OpenAPI document generated from the protos, so
// the server can serve it at /openapi.json. Only this file is hand-written.
package openapi

import _ "embed"

// JSON is the OpenAPI v2 document of the REST API.
//
//go:embed childcase.swagger.json
var JSON []byte
