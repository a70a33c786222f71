package cli

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// recordingAdmin is an AdminService that answers a rotation and a backup
// and keeps the request ids each call came with.
type recordingAdmin struct {
	pb.UnimplementedAdminServiceServer
	mu    sync.Mutex
	calls []recordedCall
}

type recordedCall struct {
	method, header, requestID string
}

func (a *recordingAdmin) note(ctx context.Context, method, requestID string) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, recordedCall{method: method, header: strings.Join(md.Get(requestIDHeader), ","), requestID: requestID})
}

func (a *recordingAdmin) RotateMasterKey(ctx context.Context, req *pb.RotateMasterKeyRequest) (*pb.RotateMasterKeyResponse, error) {
	a.note(ctx, "rotate", req.GetRequestId())
	return &pb.RotateMasterKeyResponse{MasterKeyId: "k2", RewrappedKeys: 3}, nil
}

func (a *recordingAdmin) BackupDatabase(_ *pb.BackupDatabaseRequest, ss grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	a.note(ss.Context(), "backup", "")
	return nil
}

// TestRemoteCommandsSendARequestID: keys rotate and backup with --addr
// send a request id of their own, which the server audits their call
// under, and keys rotate sends it as the rotation's request_id too (a
// retry of the same call is answered with the same rotation) and prints
// it, so that the operator can find the call's event in the audit log.
func TestRemoteCommandsSendARequestID(t *testing.T) {
	opsClearEnv(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := &recordingAdmin{}
	srv := grpc.NewServer()
	pb.RegisterAdminServiceServer(srv, admin)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	addr := lis.Addr().String()

	out := mgMustRun(t, "keys", "rotate", "--addr", addr, "--token", "cc_admin")
	printed := regexp.MustCompile(`Request id (keys-rotate-[0-9a-f]{16})\b`).FindStringSubmatch(out)
	if printed == nil {
		t.Errorf("keys rotate --addr does not print its request id: %q", out)
	}
	// The fake sends no file, which the backup then finds is none: only
	// the call matters here.
	mgRun(t, "backup", "--to", t.TempDir()+"/b.db", "--addr", addr, "--token", "cc_admin")

	admin.mu.Lock()
	defer admin.mu.Unlock()
	if len(admin.calls) != 2 {
		t.Fatalf("the server got %d calls, want 2: %+v", len(admin.calls), admin.calls)
	}
	rotate, backup := admin.calls[0], admin.calls[1]
	if !regexp.MustCompile(`^keys-rotate-[0-9a-f]{16}$`).MatchString(rotate.header) || rotate.requestID != rotate.header ||
		(printed != nil && printed[1] != rotate.header) {
		t.Errorf("keys rotate sent x-request-id %q and request_id %q, printed %q; want one keys-rotate-… id in all three", rotate.header, rotate.requestID, printed)
	}
	if !regexp.MustCompile(`^backup-[0-9a-f]{16}$`).MatchString(backup.header) {
		t.Errorf("backup sent x-request-id %q, want backup-…", backup.header)
	}
}
