package app_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestMetricsOfUnknownMethodsStayClosed: anyone who reaches the gRPC port,
// without a token, may call a method that does not exist, and its path is
// whatever they typed: a case number, a child's name. The README promises
// that no metric label carries a case number or a person and that every
// label value comes from a closed set; each such path must not become a
// series of its own either, or a loop of made-up paths grows the metrics
// (and the server's memory) without bound. They count together as grpc_service and grpc_method
// "unknown".
func TestMetricsOfUnknownMethodsStayClosed(t *testing.T) {
	ts := metricsServer(t, testNow)
	conn := dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())
	before := rpcSeries(t, ts)
	paths := []string{
		"/childcase.v1.HN-2026-00001.NguyenThiLan/Get",
		"/childcase.v1.CaseService/GetCaseNguyenThiLan",
		"/x/HN-2026-00002",
	}
	for i := range 20 {
		paths = append(paths, fmt.Sprintf("/childcase.v1.CaseService/Made%dUp", i))
	}
	for _, p := range paths {
		err := conn.Invoke(t.Context(), p, &emptypb.Empty{}, &emptypb.Empty{})
		wantCode(t, err, codes.Unimplemented)
	}
	families := scrape(t, ts)
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); strings.Contains(v, "HN-2026") || strings.Contains(v, "Lan") || strings.Contains(v, "Made") {
					t.Errorf("%s: label %s=%q comes from a caller's made-up method path", name, l.GetName(), v)
				}
			}
		}
	}
	// They are counted, all together, under one closed name.
	unknown := map[string]string{"grpc_service": "unknown", "grpc_method": "unknown", "grpc_code": "Unimplemented"}
	if v, _ := sample(families, "grpc_server_handled_total", unknown); v != float64(len(paths)) {
		t.Errorf("grpc_server_handled_total%v = %v, want %d", unknown, v, len(paths))
	}
	if after := rpcSeries(t, ts); after > before+1 {
		t.Errorf("grpc_server_handled_total has %d series after %d calls of made-up methods, %d before: each made-up path is a series of its own",
			after, len(paths), before)
	}
}

// rpcSeries counts the series of grpc_server_handled_total.
func rpcSeries(t *testing.T, ts *testServer) int {
	t.Helper()
	return len(scrape(t, ts)["grpc_server_handled_total"].GetMetric())
}
