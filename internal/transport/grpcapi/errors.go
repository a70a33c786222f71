package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// ErrorDomain is the ErrorInfo domain of every error this service returns.
const ErrorDomain = "childcase"

// Reasons a client can switch on, sent in ErrorInfo.
const (
	ReasonInvalidField     = "INVALID_FIELD"
	ReasonNotFound         = "NOT_FOUND"
	ReasonAlreadyExists    = "ALREADY_EXISTS"
	ReasonRequestIDReused  = model.ReasonRequestIDReused
	ReasonEtagMismatch     = model.ReasonEtagMismatch
	ReasonInternal         = "INTERNAL"
	ReasonDeadlineExceeded = "DEADLINE_EXCEEDED"
	ReasonRequestCancelled = "CANCELLED"
	ReasonUnauthenticated  = "UNAUTHENTICATED"
	ReasonPermissionDenied = "PERMISSION_DENIED"
	ReasonThrottled        = "TOO_MANY_FAILED_AUTHENTICATIONS"
	ReasonUnavailable      = "UNAVAILABLE"
	ReasonWrongMasterKey   = "WRONG_MASTER_KEY"
	ReasonDatabaseFull     = "DATABASE_FULL"
	ReasonNoRoomForBackup  = "NO_ROOM_FOR_BACKUP"
	ReasonCommitTooLarge   = "COMMIT_TOO_LARGE"
	ReasonOutcomeUnknown   = "OUTCOME_UNKNOWN"
	ReasonTooManyStreams   = "TOO_MANY_STREAMS"
	ReasonStreamStalled    = "STREAM_STALLED"
	ReasonShuttingDown     = "SHUTTING_DOWN"
	ReasonBodyTooLarge     = "BODY_TOO_LARGE"
	ReasonDatabaseDamaged  = "DATABASE_DAMAGED"
	ReasonUnimplemented    = "UNIMPLEMENTED"
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	// ReasonUnsupportedContentEncoding refuses a REST request body sent in
	// a content coding (gzip, br, ...): only identity is read.
	ReasonUnsupportedContentEncoding = "UNSUPPORTED_CONTENT_ENCODING"
)

// toStatus is the one place that turns an error into a gRPC status. Unknown
// errors are logged whole and returned as Internal with a generic message, so
// no internal detail (or confidential data) reaches a client.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var pre *model.PreconditionError
	switch fields := fieldErrors(err); {
	case len(fields) > 0:
		// A description may quote the value refused, of any length: cut
		// to its bound, it fits the message, which then names the field.
		violations := make([]*errdetails.BadRequest_FieldViolation, 0, len(fields))
		for _, f := range fields {
			violations = append(violations, fieldViolation(f.Field, f.Description, f.Rule))
		}
		return invalidArgument(violations)
	case errors.As(err, &pre):
		return withInfo(codes.FailedPrecondition, pre.Description, pre.Reason, nil)
	case errors.Is(err, model.ErrBadCursor):
		return invalidArgument([]*errdetails.BadRequest_FieldViolation{{
			Field: "page_token", Description: "page_token is not one this service issued", Reason: "page_token.valid",
		}})
	case errors.Is(err, model.ErrNotFound):
		// Say nothing about what was looked for: a name out of the caller's
		// reach must look exactly like one that does not exist.
		return withInfo(codes.NotFound, "not found", ReasonNotFound, nil)
	case errors.Is(err, model.ErrIdempotencyMismatch):
		// The metadata names the field, as an INVALID_FIELD's does: the
		// client is to change the id it sent, and nothing else.
		return withInfo(codes.AlreadyExists, "request_id was already used for a different request; use a new request_id", ReasonRequestIDReused,
			map[string]string{"field": "request_id"})
	case errors.Is(err, model.ErrAlreadyExists):
		return withInfo(codes.AlreadyExists, "already exists", ReasonAlreadyExists, nil)
	case errors.Is(err, identity.ErrUnauthenticated):
		// The call's token was valid when it began and stopped being so
		// before it wrote (its user disabled, the token revoked by
		// another admin meanwhile): it changed nothing, and is refused
		// as such a token is at sign-in.
		return withInfo(codes.Unauthenticated, "the token is no longer valid (revoked, expired or its user disabled); nothing was changed", ReasonUnauthenticated, nil)
	case errors.Is(err, model.ErrPermissionDenied):
		return withInfo(codes.PermissionDenied, "your role may not call this method", ReasonPermissionDenied, nil)
	case errors.Is(err, model.ErrConflict):
		return withInfo(codes.Aborted, "the resource changed since it was read; read it again and retry with the new etag", ReasonEtagMismatch, nil)
	case noRoom(err):
		// The operator must act (free disk space, raise --max-db-size); the
		// client can only retry later. Reads that need no write go on.
		log.ErrorContext(ctx, "database full: a write was refused", "err", err)
		return withInfo(codes.ResourceExhausted,
			"the database is full: nothing was written; writes are refused until an operator frees space, retry later",
			ReasonDatabaseFull, nil)
	case errors.Is(err, model.ErrTooLarge):
		// A commit over the store's limits (etcd's): the operator must
		// raise them; the client can only send less. The log names the
		// limit the write met.
		log.ErrorContext(ctx, "write too large for the store: refused", "err", err)
		return withInfo(codes.ResourceExhausted,
			"the write is larger than the database commits at once: nothing was written; an operator must raise the store's commit limits",
			ReasonCommitTooLarge, nil)
	case errors.Is(err, model.ErrDamaged):
		// A page of the file is damaged where this request read it: the
		// operator must run childcase check and restore a backup. What
		// bbolt said of the page is the operator's, in the log; the
		// requests that read elsewhere go on.
		log.ErrorContext(ctx, "database damaged: a request failed", "err", err)
		return withInfo(codes.DataLoss,
			"the database is damaged where this request read it, so the request failed; the server's log names the file and what the operator must do",
			ReasonDatabaseDamaged, nil)
	case errors.Is(err, model.ErrOutcomeUnknown):
		log.WarnContext(ctx, "store unavailable during a commit", "err", err)
		return withInfo(codes.Unavailable,
			"the database did not answer a write, which may or may not have been made: retry only with the same request_id",
			ReasonOutcomeUnknown, nil)
	case errors.Is(err, model.ErrUnavailable):
		// A replicated store changing leaders: the client retries, a write
		// with the same request_id, which applies it at most once.
		log.WarnContext(ctx, "store unavailable", "err", err)
		return withInfo(codes.Unavailable,
			"the database is unavailable for a moment; retry, a write with the same request_id", ReasonUnavailable, nil)
	case errors.Is(err, context.DeadlineExceeded):
		return withInfo(codes.DeadlineExceeded, "the request took too long", ReasonDeadlineExceeded, nil)
	case errors.Is(err, context.Canceled):
		return withInfo(codes.Canceled, "the request was cancelled", ReasonRequestCancelled, nil)
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return Internal()
}

func withInfo(code codes.Code, msg, reason string, metadata map[string]string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: metadata}); err == nil {
		st = d
	}
	return st.Err()
}

// noRoom tells a write refused for want of room: the store's (its
// reserve, its maximum size, the disk under it) or the system's, for a
// file the server writes beside it (a key file, a backup's copy).
func noRoom(err error) bool {
	return errors.Is(err, model.ErrFull) || errors.Is(err, syscall.ENOSPC)
}

// fieldErrors returns the field errors in err: every one of an
// errors.Join of checks that each name a field, so that a request is told
// all its bad fields at once, or the first found down a chain of wraps.
func fieldErrors(err error) []*model.FieldError {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*model.FieldError
		for _, e := range joined.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var field *model.FieldError
	if errors.As(err, &field) {
		return []*model.FieldError{field}
	}
	return nil
}

// invalidArgument returns INVALID_ARGUMENT naming each field and rule in the
// message (for people and curl) and in BadRequest details (for programs),
// and the first violation's field and rule in the ErrorInfo's metadata
// (field, rule), for a client that reads only the ErrorInfo, as it does of
// every other error. The message stops at maxViolationMessage bytes; the
// details hold them all.
func invalidArgument(violations []*errdetails.BadRequest_FieldViolation) error {
	var msg strings.Builder
	msg.WriteString("invalid request:")
	for i, v := range violations {
		entry := " " + v.Field + ": " + v.Description
		if v.Reason != "" {
			entry += " [" + v.Reason + "]"
		}
		if i > 0 {
			entry = ";" + entry
		}
		if msg.Len()+len(entry) > maxViolationMessage {
			msg.WriteString(fmt.Sprintf("; (%d more in the details)", len(violations)-i))
			break
		}
		msg.WriteString(entry)
	}
	st := status.New(codes.InvalidArgument, msg.String())
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonInvalidField, Domain: ErrorDomain, Metadata: violationMetadata(violations)},
		&errdetails.BadRequest{FieldViolations: violations},
	); err == nil {
		st = d
	}
	return st.Err()
}

// RenameFields returns err, an INVALID_ARGUMENT naming fields in its
// BadRequest, with each field that rename gives another name under that
// name, in the details, the message and the ErrorInfo alike; any other
// error, or one naming no field rename knows, is returned as it is. The
// REST gateway names so the fields a path sets as the OpenAPI document
// names its parameters ({case} for a case's name).
func RenameFields(err error, rename func(field string) (string, bool)) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	for _, d := range st.Details() {
		bad, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		renamed := false
		violations := make([]*errdetails.BadRequest_FieldViolation, 0, len(bad.GetFieldViolations()))
		for _, v := range bad.GetFieldViolations() {
			if name, ok := rename(v.GetField()); ok {
				v = &errdetails.BadRequest_FieldViolation{Field: name, Description: v.GetDescription(), Reason: v.GetReason()}
				renamed = true
			}
			violations = append(violations, v)
		}
		if renamed {
			return invalidArgument(violations)
		}
	}
	return err
}

// violationMetadata is the ErrorInfo metadata of an INVALID_ARGUMENT: the
// field and rule of its first violation (nil when there is none).
func violationMetadata(violations []*errdetails.BadRequest_FieldViolation) map[string]string {
	if len(violations) == 0 {
		return nil
	}
	md := map[string]string{"field": violations[0].GetField()}
	if rule := violations[0].GetReason(); rule != "" {
		md["rule"] = rule
	}
	return md
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// BodyTooLarge is the refusal of a REST body over the gateway's limit of
// limit bytes, which the gateway answers with 413 and this as its body.
// It is INVALID_ARGUMENT, not RESOURCE_EXHAUSTED: the same body will never
// pass, however long the client waits. Nothing of the body was decoded,
// so no call was made.
func BodyTooLarge(limit int64) error {
	size := strconv.FormatInt(limit, 10) + " bytes"
	if limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB (%s)", limit>>20, size)
	}
	return bodyRefused("the request body is over the limit of "+size+": nothing was done",
		"is over the limit of "+size, ReasonBodyTooLarge, "body.max_size", map[string]string{"limit_bytes": strconv.FormatInt(limit, 10)})
}

// UnsupportedContentEncoding is the REST refusal of a request whose
// Content-Encoding is not identity (a gzip body, ...), which the gateway
// answers 415. The gateway reads a body as it comes: decoding it would
// let a few kilobytes inflate past MaxBodyBytes's intent, and reading it
// undecoded refused a valid request as broken JSON. It is
// INVALID_ARGUMENT like BodyTooLarge: the same request never passes.
func UnsupportedContentEncoding(got string) error {
	return bodyRefused(
		fmt.Sprintf("the request's Content-Encoding %q is not accepted: send the body uncompressed, without the header or with Content-Encoding: identity; nothing was done", got),
		"is sent in a Content-Encoding other than identity", ReasonUnsupportedContentEncoding, "body.content_encoding", map[string]string{"header": "Content-Encoding", "accepted": "identity"})
}

// bodyRefused is the INVALID_ARGUMENT of a refusal of a REST body as a
// whole, with reason as its ErrorInfo's reason and a BadRequest violation
// of the field "body" by rule, described so, as every INVALID_ARGUMENT
// names a field, so that a client showing the violations shows this one
// too.
func bodyRefused(msg, description, reason, rule string, metadata map[string]string) error {
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: metadata},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "body", Description: description, Reason: rule}}},
	); err == nil {
		st = d
	}
	return st.Err()
}

// NoSuchMethod is the refusal of a call to a method this server does not
// have, with an ErrorInfo like every other error, so that a client
// switches on one thing.
func NoSuchMethod() error {
	return withInfo(codes.Unimplemented, "no such method", ReasonUnimplemented, nil)
}

// NoSuchRoute is the REST refusal of a path that no route takes. Its
// words are not a missing record's "not found": a newcomer who misspelt a
// step on a case that exists took them for "no such case". The route is
// judged on the path's form alone, so saying so tells nothing of any
// record.
func NoSuchRoute() error {
	return withInfo(codes.NotFound, "no route takes this path: the API's paths are in /openapi.json", ReasonNotFound, nil)
}

// NotReady is /readyz's answer while the server is not ready to take
// requests: UNAVAILABLE, with SHUTTING_DOWN once it has begun to stop
// (draining), UNAVAILABLE otherwise (starting, or its gRPC server not
// serving). It names no data, only the server's state.
func NotReady(stopping bool) error {
	if stopping {
		return withInfo(codes.Unavailable, "not ready: the server is shutting down; send requests to another instance", ReasonShuttingDown, nil)
	}
	return withInfo(codes.Unavailable, "not ready: the server is starting, or its gRPC server is not serving", ReasonUnavailable, nil)
}

// MethodNotAllowed is the REST refusal of an HTTP method that a route
// does not take (the gateway answers it 405, with Allow).
func MethodNotAllowed() error {
	return withInfo(codes.Unimplemented, "method not allowed: the Allow header names the methods this path takes", ReasonMethodNotAllowed, nil)
}
