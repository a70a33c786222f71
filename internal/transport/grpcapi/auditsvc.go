package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
)

type auditServer struct {
	pb.UnimplementedAuditServiceServer
	identity *identity.Service
	pages    *pageTokens
	log      *auditlog.Log
	clock    clock.Clock
	logger   *slog.Logger
}

func (s *auditServer) ListAuditEvents(ctx context.Context, req *pb.ListAuditEventsRequest) (*pb.ListAuditEventsResponse, error) {
	q := auditlog.Query{Limit: pageSize(req.GetPageSize(), 100, 1000)}
	if c := req.GetCase(); c != "" {
		number, err := intake.ParseCaseName(c)
		if err != nil {
			return nil, toStatus(ctx, s.logger, model.InvalidField("case", "case.name", "%v", err))
		}
		q.Case = "cases/" + number
	}
	if a := req.GetActor(); a != "" {
		id, err := parseUserName(a, "actor")
		if err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		// users/OPERATOR would list nothing, which an auditor could take
		// for a user who did nothing: no user id is upper case.
		if !identity.ValidUserID(id) {
			return nil, toStatus(ctx, s.logger, model.InvalidField("actor", "user.id",
				"names no user: a user id is 2-63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter"))
		}
		// Nor would users/nobody: every actor of the log is a user
		// (never deleted, only disabled) or the service itself.
		if err := s.checkActorExists(ctx, id); err != nil {
			return nil, toStatus(ctx, s.logger, err)
		}
		q.Actor = id
	}
	if t := req.GetStartTime(); t != nil {
		q.From = givenTime(t)
	}
	if t := req.GetEndTime(); t != nil {
		q.To = givenTime(t)
	}
	// A range typed backwards holds no event: answering an empty page
	// would tell the auditor nothing happened.
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return nil, toStatus(ctx, s.logger, model.InvalidField("end_time", "period.order",
			"end_time %s is not after start_time %s", q.To.UTC().Format(time.RFC3339Nano), q.From.UTC().Format(time.RFC3339Nano)))
	}
	q.Action = req.GetAction()
	filters := []string{q.Case, q.Actor, q.From.String(), q.To.String()}
	if q.Action != "" {
		// Only when set, so that a token of a list without it, which an
		// earlier version gave, still goes on.
		filters = append(filters, "action="+q.Action)
	}
	cursor, err := s.pages.decode(ctx, req.GetPageToken(), filters...)
	if err != nil {
		return nil, err
	}
	q.After = cursor
	events, next, err := s.log.List(ctx, principalFrom(ctx), s.clock.Now(), q)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &pb.ListAuditEventsResponse{NextPageToken: s.pages.encode(ctx, next, filters...)}
	for _, e := range events {
		resp.Events = append(resp.Events, auditEventToProto(e))
	}
	return resp, nil
}

// checkActorExists refuses an actor filter that names no user and is not
// the service's own name: its empty page would read as a user who did
// nothing. The auditor learns no more than the log tells them: every user
// is on it, created by user.create.
func (s *auditServer) checkActorExists(ctx context.Context, id string) error {
	if id == access.SystemUserID {
		return nil
	}
	_, err := s.identity.GetUser(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.InvalidField("actor", "user.exists", "no user %s", model.UserName(id))
	}
	return err
}

func (s *auditServer) VerifyAuditLog(ctx context.Context, req *pb.VerifyAuditLogRequest) (*pb.VerifyAuditLogResponse, error) {
	noted, err := notedHead(req)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	res, err := s.log.VerifyFor(ctx, principalFrom(ctx), s.clock.Now(), noted)
	if err != nil {
		return nil, toStatus(ctx, s.logger, err)
	}
	resp := &pb.VerifyAuditLogResponse{Intact: proto.Bool(res.Problem == nil), CheckedEvents: res.Checked, HeadSeq: res.HeadSeq}
	if res.Problem == nil {
		// Only an intact log's head is one to note: a script that notes
		// every answer's head would otherwise anchor the next
		// verification to the tampered log, which would then pass.
		resp.HeadHash = hex.EncodeToString(res.HeadHash)
	} else {
		resp.BrokenSeq = res.Problem.Seq
		resp.Problem = strings.TrimSpace(res.Problem.Reason)
	}
	return resp, nil
}

// notedHead reads the head the auditor noted, both fields or neither: a
// seq alone could not tell a log rewritten from there, a hash alone names
// no event.
func notedHead(req *pb.VerifyAuditLogRequest) (auditlog.Head, error) {
	seq, hashText := req.GetNotedHeadSeq(), req.GetNotedHeadHash()
	switch {
	case seq == 0 && hashText == "":
		return auditlog.Head{}, nil
	case seq == 0:
		return auditlog.Head{}, model.InvalidField("noted_head_seq", "noted_head.both", "noted_head_hash is given without the seq of its event")
	case hashText == "":
		return auditlog.Head{}, model.InvalidField("noted_head_hash", "noted_head.both", "noted_head_seq %d is given without the hash noted with it", seq)
	}
	hash, err := hex.DecodeString(hashText)
	if err != nil { // the schema's pattern lets only 64 hex digits through
		return auditlog.Head{}, model.InvalidField("noted_head_hash", "string.pattern", "%v", err)
	}
	return auditlog.Head{Seq: seq, Hash: hash}, nil
}
