package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// KeyRotator rotates the master key; package app implements it, since it
// owns the key file.
type KeyRotator interface {
	// A retry with the same request_id returns the first answer.
	RotateMasterKey(ctx context.Context, by access.Principal, req idempotency.Request) (newMasterID string, rewrapped int, err error)
}

// DatabaseBackup takes consistent copies of the database while it serves;
// *boltstore.Store implements it.
type DatabaseBackup interface {
	// Snapshot returns a consistent copy of the whole database file, open
	// at its start, and its size; closing it releases the copy.
	Snapshot(ctx context.Context) (io.ReadCloser, int64, error)
}

type adminServer struct {
	pb.UnimplementedAdminServiceServer
	pages    *pageTokens
	identity *identity.Service
	keys     KeyRotator
	backup   DatabaseBackup
	audit    *auditlog.Log
	clock    clock.Clock
	log      *slog.Logger
}

func (s *adminServer) CreateUser(ctx context.Context, req *pb.CreateUserRequest) (*pb.CreateUserResponse, error) {
	u := req.GetUser()
	user, tok, link, err := s.identity.CreateUser(ctx, principalFrom(ctx), model.User{
		ID: req.GetUserId(), DisplayName: u.GetDisplayName(), Role: roles.toModel(u.GetRole()),
		Unit: u.GetUnit(), Phone: u.GetPhone(),
	}, givenTTL(req.GetTokenTtl()), retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &pb.CreateUserResponse{User: userToProto(user), Token: tokenToProto(tok.Token, tok.Secret),
		PasswordLinkSecret: link.Secret, PasswordLinkExpireTime: timestamp(link.ExpireTime)}, nil
}

func (s *adminServer) GetUser(ctx context.Context, req *pb.GetUserRequest) (*pb.User, error) {
	id, err := parseUserName(req.GetName(), "name")
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	u, err := s.identity.ReadUser(ctx, principalFrom(ctx), id)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return userToProto(u), nil
}

func (s *adminServer) ListUsers(ctx context.Context, req *pb.ListUsersRequest) (*pb.ListUsersResponse, error) {
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), "users")
	if err != nil {
		return nil, err
	}
	us, next, err := s.identity.ListUsersFor(ctx, principalFrom(ctx), cursor, pageSize(req.GetPageSize(), 100, 500))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListUsersResponse{NextPageToken: s.pages.encode(ctx, next, "users")}
	for _, u := range us {
		resp.Users = append(resp.Users, userToProto(u))
	}
	return resp, nil
}

func (s *adminServer) DisableUser(ctx context.Context, req *pb.DisableUserRequest) (*pb.User, error) {
	id, err := parseUserName(req.GetName(), "name")
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	u, err := s.identity.DisableUser(ctx, principalFrom(ctx), id, retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return userToProto(u), nil
}

func (s *adminServer) ResetPassword(ctx context.Context, req *pb.ResetPasswordRequest) (*pb.ResetPasswordResponse, error) {
	id, err := parseUserName(req.GetName(), "name")
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	link, err := s.identity.ResetPassword(ctx, principalFrom(ctx), id, retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &pb.ResetPasswordResponse{PasswordLinkSecret: link.Secret, PasswordLinkExpireTime: timestamp(link.ExpireTime)}, nil
}

func (s *adminServer) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.Token, error) {
	id, err := parseUserName(req.GetParent(), "parent")
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	tok, err := s.identity.CreateToken(ctx, principalFrom(ctx), id, givenTTL(req.GetTtl()), retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return tokenToProto(tok.Token, tok.Secret), nil
}

func (s *adminServer) ListTokens(ctx context.Context, req *pb.ListTokensRequest) (*pb.ListTokensResponse, error) {
	id, err := parseUserName(req.GetParent(), "parent")
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), "tokens", id)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.identity.ListTokens(ctx, principalFrom(ctx), id, cursor, pageSize(req.GetPageSize(), 100, 500))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListTokensResponse{NextPageToken: s.pages.encode(ctx, next, "tokens", id)}
	for _, t := range ts {
		resp.Tokens = append(resp.Tokens, tokenToProto(t, ""))
	}
	return resp, nil
}

func (s *adminServer) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.Token, error) {
	userPart, tokenID, ok := strings.Cut(req.GetName(), "/tokens/")
	userID, err := parseUserName(userPart, "name")
	if !ok || err != nil || tokenID == "" || strings.Contains(tokenID, "/") {
		return nil, toStatus(ctx, s.log, model.InvalidField("name", "token.name", "is not a token name like users/{user}/tokens/{token}"))
	}
	t, err := s.identity.RevokeToken(ctx, principalFrom(ctx), userID, tokenID, retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return tokenToProto(t, ""), nil
}

func (s *adminServer) CreatePoliceUnit(ctx context.Context, req *pb.CreatePoliceUnitRequest) (*pb.PoliceUnit, error) {
	in := req.GetPoliceUnit()
	pu := model.PoliceUnit{ID: req.GetPoliceUnitId(), DisplayName: in.GetDisplayName()}
	for i, name := range in.GetCovers() {
		k, err := parseUnitName(name)
		if err != nil {
			return nil, toStatus(ctx, s.log, model.InvalidField(indexed("police_unit.covers", i), "unit.name", "%v", err))
		}
		pu.Covers = append(pu.Covers, k)
	}
	out, err := s.identity.CreatePoliceUnit(ctx, principalFrom(ctx), pu, retryOf(req))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return policeUnitToProto(out), nil
}

func (s *adminServer) RotateMasterKey(ctx context.Context, req *pb.RotateMasterKeyRequest) (*pb.RotateMasterKeyResponse, error) {
	if s.keys == nil {
		return nil, withInfo(codes.Unimplemented, "key rotation is not configured", ReasonUnavailable, nil)
	}
	id, n, err := s.keys.RotateMasterKey(ctx, principalFrom(ctx), retryOf(req))
	if noRoom(err) {
		// Unlike other writes, a rotation may have gone part way (its
		// next key file, some data keys re-wrapped) before the room ran
		// out: "nothing was written" would be wrong. Reads go on under both
		// keys, and a retry, with the same request_id, finishes it.
		s.log.ErrorContext(ctx, "master key rotation stopped part way: the database is full", "err", err)
		return nil, withInfo(codes.ResourceExhausted,
			"the database is full: the master key rotation stopped part way; the data stays readable under both master keys; once an operator frees space, retry with the same request_id to finish it (a restart finishes it too)",
			ReasonDatabaseFull, nil)
	}
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &pb.RotateMasterKeyResponse{MasterKeyId: id, RewrappedKeys: int64(n)}, nil
}

// backupChunkSize is the size of the messages a backup is streamed in,
// well below gRPC's default 4 MiB limit on a received message.
const backupChunkSize = 256 << 10

// backupContentType is the content type of every chunk, and over REST of
// the whole answer.
const backupContentType = "application/octet-stream"

// BackupDatabase audits the backup, then takes a snapshot (a read
// transaction held only while the copy is written to a local file, so a
// slow client never holds back writers) and streams it in chunks.
func (s *adminServer) BackupDatabase(_ *pb.BackupDatabaseRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	ctx := stream.Context()
	if s.backup == nil || s.audit == nil || s.clock == nil {
		return withInfo(codes.Unimplemented, "database backup is not configured", ReasonUnavailable, nil)
	}
	p := principalFrom(ctx)
	// Like a read, the backup is on the record before a byte leaves; the
	// event is therefore in the backup too.
	if err := s.audit.Record(ctx, p.Event(s.clock.Now(), "database.backup", "database", "", audit.OutcomeOK)); err != nil {
		return toStatus(ctx, s.log, err)
	}
	n, err := s.sendBackup(ctx, stream)
	if err != nil {
		// The failure is recorded too, so the log does not show a backup
		// that never reached the caller as a plain success. Best effort:
		// the stream may have failed because the caller went away.
		_ = s.audit.Record(context.WithoutCancel(ctx), p.Event(s.clock.Now(), "database.backup", "database", "", audit.OutcomeError))
		return toStatus(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "database backup sent", "actor", p.UserID, "bytes", n)
	return nil
}

func (s *adminServer) sendBackup(ctx context.Context, stream grpc.ServerStreamingServer[httpbody.HttpBody]) (int64, error) {
	snap, size, err := s.backup.Snapshot(ctx)
	if noRoom(err) {
		// The copy is written before a byte is sent, beside the database
		// (or, on etcd, in the temporary folder); it is what failed, and
		// the database's own writes may well go on. Saying "the database
		// is full" would send the operator after the wrong problem.
		s.log.ErrorContext(ctx, "database backup: no room for the copy of the database it sends first", "err", err)
		return 0, withInfo(codes.ResourceExhausted,
			"no room for the backup: the server copies the database before sending it and needs as much free space beside it as the database takes; nothing was sent; an operator must free space there (writes are refused only when the database itself has no room)",
			ReasonNoRoomForBackup, nil)
	}
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	var sent int64
	for sent < size {
		// A new buffer each time: a sent message must not change.
		buf := make([]byte, min(backupChunkSize, size-sent))
		if _, err := io.ReadFull(snap, buf); err != nil {
			return sent, err
		}
		if err := stream.Send(&httpbody.HttpBody{ContentType: backupContentType, Data: buf}); err != nil {
			return sent, err
		}
		sent += int64(len(buf))
	}
	return sent, nil
}

type policeUnitServer struct {
	pb.UnimplementedPoliceUnitServiceServer
	identity *identity.Service
	pages    *pageTokens
	log      *slog.Logger
}

func (s *policeUnitServer) ListPoliceUnits(ctx context.Context, req *pb.ListPoliceUnitsRequest) (*pb.ListPoliceUnitsResponse, error) {
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), "policeUnits")
	if err != nil {
		return nil, err
	}
	ps, next, err := s.identity.ListPoliceUnits(ctx, cursor, pageSize(req.GetPageSize(), 100, 500))
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	resp := &pb.ListPoliceUnitsResponse{NextPageToken: s.pages.encode(ctx, next, "policeUnits")}
	for _, p := range ps {
		resp.PoliceUnits = append(resp.PoliceUnits, policeUnitToProto(p))
	}
	return resp, nil
}

func (s *policeUnitServer) GetPoliceUnit(ctx context.Context, req *pb.GetPoliceUnitRequest) (*pb.PoliceUnit, error) {
	id, ok := strings.CutPrefix(req.GetName(), "policeUnits/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, toStatus(ctx, s.log, model.InvalidField("name", "police_unit.name", "is not a police unit name like policeUnits/{id}"))
	}
	p, err := s.identity.GetPoliceUnit(ctx, id)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return policeUnitToProto(p), nil
}

// requestWithID is a creating or state-changing request: it carries a
// request_id.
type requestWithID interface {
	proto.Message
	GetRequestId() string
}

// retryOf is what makes a request idempotent: its request_id and the
// fingerprint of the request without it.
func retryOf(req requestWithID) idempotency.Request {
	return idempotency.Request{ID: req.GetRequestId(), Fingerprint: fingerprintWithoutID(req)}
}

// parseUserName accepts "users/{id}".
func parseUserName(name, field string) (string, error) {
	id, ok := strings.CutPrefix(name, "users/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", model.InvalidField(field, "user.name", "is not a user name like users/{user}")
	}
	return id, nil
}
