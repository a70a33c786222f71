package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/childcase/childcase/api/childcase/v1" // the schema's descriptors
	"github.com/childcase/childcase/api/openapi"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// newTestHandler builds the handler over a connection to a stand-in of
// the gRPC server that authenticates every caller (authenticatesAll): the
// routes tested here answer without the service, or fail as if it were
// down.
func newTestHandler(t *testing.T, opts ...Option) http.Handler {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(authenticatesAll))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := NewHandler(context.Background(), conn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// authenticatesAll answers every call as the server would a caller who
// may make it: the gateway's refusal of its input stands
// (grpcapi.InputRefused) when the gateway asks, and any other call finds
// the service down.
func authenticatesAll(_ any, ss grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	if len(md.Get(grpcapi.InputRefusedHeader)) > 0 {
		return grpcapi.InputRefused("")
	}
	return status.Error(codes.Unavailable, "the service is down")
}

func serve(h http.Handler, method, path string, body io.Reader) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Content-Type", "application/json")
	// A bearer token of a token's form, which the stand-in server takes
	// (authenticatesAll; the gateway reads no body of a request without one):
	// without a valid one, a refusal of the input is 401, and these tests
	// are about the refusals.
	req.Header.Set("Authorization", "Bearer cc_0123456789abcdef_"+strings.Repeat("t", 43))
	h.ServeHTTP(rec, req)
	return rec
}

func TestSecurityHeaders(t *testing.T) {
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	tests := []struct {
		name     string
		opts     []Option
		wantHSTS string
	}{
		{"plain HTTP: no HSTS", nil, ""},
		{"TLS: HSTS", []Option{WithHSTS()}, "max-age=63072000; includeSubDomains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, tt.opts...)
			for _, path := range []string{"/openapi.json", "/healthz", "/no/such/path"} {
				rec := serve(h, "GET", path, nil)
				hdr := rec.Result().Header
				for k, v := range want {
					if got := hdr.Get(k); got != v {
						t.Errorf("GET %s (%d): %s = %q, want %q", path, rec.Code, k, got, v)
					}
				}
				got, present := hdr["Strict-Transport-Security"]
				switch {
				case tt.wantHSTS == "" && present:
					t.Errorf("GET %s: Strict-Transport-Security = %q, want none", path, got)
				case tt.wantHSTS != "" && hdr.Get("Strict-Transport-Security") != tt.wantHSTS:
					t.Errorf("GET %s: Strict-Transport-Security = %q, want %q", path, got, tt.wantHSTS)
				}
			}
			if rec := serve(h, "GET", "/openapi.json", nil); rec.Code != http.StatusOK {
				t.Errorf("GET /openapi.json: %d", rec.Code)
			}
			// No gRPC server behind the connection: /healthz says so.
			if rec := serve(h, "GET", "/healthz", nil); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("GET /healthz without a server: %d", rec.Code)
			}
		})
	}
}

// A body over MaxBodyBytes answers 413 with the gateway's JSON error,
// announced or chunked (no length: httptest leaves ContentLength -1 for a
// reader it cannot measure), before any call reaches the server.
func TestBodyLimit(t *testing.T) {
	h := newTestHandler(t, WithHSTS())
	body := `{"narrative": "` + strings.Repeat("a", MaxBodyBytes) + `"}`
	for _, tt := range []struct {
		name, path string
		body       io.Reader
	}{
		{"announced", "/v1/reports", strings.NewReader(body)},
		{"chunked", "/v1/reports", io.MultiReader(strings.NewReader(body))},
		{"another route", "/v1/cases/HN-2026-00001:acknowledge", strings.NewReader(body)},
	} {
		rec := serve(h, "POST", tt.path, tt.body)
		var st spb.Status
		if err := protojson.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Errorf("%s: the answer is not a google.rpc.Status (%v): %.300s", tt.name, err, rec.Body.String())
		}
		if rec.Code != http.StatusRequestEntityTooLarge || codes.Code(st.GetCode()) != codes.InvalidArgument || !strings.Contains(st.GetMessage(), "1 MiB") {
			t.Errorf("%s: POST of %d bytes: %d %s, want 413, INVALID_ARGUMENT naming the 1 MiB limit", tt.name, len(body), rec.Code, rec.Body.String())
		}
		if len(st.GetDetails()) != 2 || !strings.Contains(rec.Body.String(), `"reason":"BODY_TOO_LARGE"`) || !strings.Contains(rec.Body.String(), `"field":"body"`) {
			t.Errorf("%s: want an ErrorInfo with reason BODY_TOO_LARGE and a BadRequest naming body, got %s", tt.name, rec.Body.String())
		}
	}
}

// Every server-streaming method's REST route gets the streaming write
// bound, and nothing else does: a streaming method added to the schema
// without its route here would be cut by the server's WriteTimeout.
func TestStreamingRoutesAreTheStreamingMethods(t *testing.T) {
	var got []string
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				m := methods.Get(j)
				if !m.IsStreamingServer() {
					continue
				}
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule.GetGet() == "" {
					t.Errorf("%s streams but has no GET route", m.FullName())
					continue
				}
				got = append(got, "GET "+rule.GetGet())
			}
		}
		return true
	})
	slices.Sort(got)
	want := []string{backupRoute, watchRoute, exportRoute}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the server-streaming methods' routes are %q; the streaming routes are %q", got, want)
	}
}

// bodyPath names the place a protojson refusal names by its path in the
// body, as the schema names its fields, counting the column in runes as
// protojson does; the member a refusal of an unknown field names is put
// under the object holding it; and nothing when the body is no JSON up
// to that place or no place is named.
func TestBodyPath(t *testing.T) {
	for _, tc := range []struct{ body, refusal, want string }{
		{`{"receive_time": "yesterday"}`, `proto: (line 1:18): invalid google.protobuf.Timestamp value "yesterday"`, "receive_time"},
		{"{\n  \"narrative\": \"đói\",\n  \"children\": \"x\"\n}", `proto: syntax error (line 3:15): unexpected token "x"`, "children"},
		{`{"narrative": "đói", "reporter": {"identified": 5}}`, `proto: syntax error (line 1:49): unexpected token 5`, "reporter.identified"},
		{`{"children": [{"estimated_age_years": 7}, "x"]}`, `proto: syntax error (line 1:43): unexpected token "x"`, "children[1]"},
		{`{"children": [{}, {"estimatedAgeYears": "seven"}]}`, `proto: (line 1:41): invalid value for int32 field estimatedAgeYears: "seven"`, "children[1].estimated_age_years"},
		{`{"children": [{"sex": "SEX_MALE", "shoe_size": 30}]}`, `proto: (line 1:35): unknown field "shoe_size"`, "children[0].shoe_size"},
		{`{"colour": "red"}`, `proto: (line 1:2): unknown field "colour"`, "colour"},
		{`{"channel": `, `proto: syntax error (line 1:13): unexpected token`, ""},
		{`{"channel": "x"}`, `proto: unexpected EOF`, ""},
		{`{"channel": "x"}`, `proto: (line 9:1): beyond the body`, ""},
	} {
		if got := bodyPath([]byte(tc.body), tc.refusal); got != tc.want {
			t.Errorf("bodyPath(%s, %q) = %q, want %q", tc.body, tc.refusal, got, tc.want)
		}
	}
}

// Every route names the gRPC method it calls (authenticationRefusal asks
// the server to authenticate a call by it): a method of the schema.
func TestEveryRouteNamesItsMethod(t *testing.T) {
	routes, err := routesOf(openapi.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range routes {
		service, method, _ := strings.Cut(strings.TrimPrefix(route.rpc, "/"), "/")
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if err != nil || !ok || sd.Methods().ByName(protoreflect.Name(method)) == nil {
			t.Errorf("%s %s calls %q, no method of the schema", route.method, route.pattern, route.rpc)
		}
	}
	if len(routes) < 50 {
		t.Errorf("%d routes; the API has more", len(routes))
	}
}

// /readyz is 503 with the API's JSON error whenever the server is not to
// be sent requests: starting, draining (SHUTTING_DOWN), or ready by its
// own account while its gRPC server does not serve (the stand-in here
// has no health service). GET and HEAD alike; no token is needed.
func TestReadyzIsUnavailableUnlessReadyAndServing(t *testing.T) {
	for _, tt := range []struct {
		state  Readiness
		reason string
	}{
		{Starting, grpcapi.ReasonUnavailable},
		{Draining, grpcapi.ReasonShuttingDown},
		{Ready, grpcapi.ReasonUnavailable},
	} {
		h := newTestHandler(t, WithReadiness(func() Readiness { return tt.state }))
		for _, method := range []string{"GET", "HEAD"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, "/readyz", nil))
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s /readyz in state %d: %d %s, want 503 application/json", method, tt.state, rec.Code, rec.Header().Get("Content-Type"))
			}
			if method == "HEAD" {
				continue
			}
			var st spb.Status
			var info errdetails.ErrorInfo
			err := protojson.Unmarshal(rec.Body.Bytes(), &st)
			if err == nil && len(st.GetDetails()) == 1 {
				err = st.GetDetails()[0].UnmarshalTo(&info)
			}
			if err != nil || st.GetCode() != int32(codes.Unavailable) || info.GetReason() != tt.reason {
				t.Errorf("GET /readyz in state %d: %s (%v), want code 14 with reason %s", tt.state, rec.Body, err, tt.reason)
			}
		}
	}
}
