package app_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Reflection, which needs no token, describes the API and nothing else:
// the schema of the stored records (proto/childcase/storage/v1, "no part
// of the API") and the protos of the libraries linked in (etcd's client,
// Prometheus) are not shown to whoever asks, while every symbol of the
// API, and the files it imports, still are, so grpcurl works as before.
func TestReflectionShowsOnlyTheAPI(t *testing.T) {
	ts := startServer(t, "")
	ask := reflectionAsker(t, ts)
	symbol := func(name string) *reflectionpb.ServerReflectionResponse {
		return ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: name}})
	}
	for _, name := range []string{
		"childcase.v1.CaseService", "childcase.v1.Case", "childcase.v1.CaseProcessService.MergeCase",
		"childcase.v1.AdminService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
		"google.rpc.Status", "buf.validate.FieldRules",
	} {
		if resp := symbol(name); len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("symbol %s of the API: %v, want its file", name, resp.GetErrorResponse())
		}
	}
	for _, name := range []string{
		"childcase.storage.v1.Case", "childcase.storage.v1.IdempotencyRecord",
		"etcdserverpb.RangeRequest", "mvccpb.KeyValue", "io.prometheus.client.MetricFamily",
	} {
		if resp := symbol(name); resp.GetErrorResponse() == nil {
			t.Errorf("symbol %s, no part of the API: answered with %d files, want not found", name, len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()))
		}
	}
	for _, path := range []string{"childcase/storage/v1/records.proto", "gogoproto/gogo.proto"} {
		resp := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: path}})
		if resp.GetErrorResponse() == nil {
			t.Errorf("file %s, no part of the API: answered, want not found", path)
		}
	}
	if resp := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: "childcase/v1/case.proto"}}); resp.GetErrorResponse() != nil {
		t.Errorf("file childcase/v1/case.proto: %v, want it", resp.GetErrorResponse())
	}
}

// TestReflectionAndHealthNeedNoToken holds the README's grpcurl lines
// ("grpcurl -plaintext localhost:9111 list", the health check), which
// send no token: on a connection that never carries one, reflection lists
// the services and the health check answers, while a call of the API is
// UNAUTHENTICATED. The other reflection tests ran on a connection that
// adds a token to every call.
func TestReflectionAndHealthNeedNoToken(t *testing.T) {
	ts := startServer(t, "")
	conn, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || len(resp.GetListServicesResponse().GetService()) == 0 {
		t.Errorf("reflection without a token: %v, %v; want the services", resp, err)
	}
	if h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check without a token: %v, %v; want SERVING", h, err)
	}
	_, err = pb.NewCaseServiceClient(conn).GetCase(context.Background(), &pb.GetCaseRequest{Name: "cases/HN-2026-00001"})
	wantCode(t, err, codes.Unauthenticated)
}

// reflectionAsker opens a reflection stream to ts and returns a function
// that sends one request on it and returns its answer.
func reflectionAsker(t *testing.T, ts *testServer) func(*reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection: %v", err)
		}
		return resp
	}
}
