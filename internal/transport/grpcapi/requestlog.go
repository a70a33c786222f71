package grpcapi

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"google.golang.org/grpc"
)

// One log line per request. What the handlers and the domain log while
// serving a request (a report created, a database error) is folded into
// the request's "finished call" line, with its request id, method, code
// and caller, so that an operator reads one line per request and never
// has to join lines that lack the request id. Records logged outside a
// request (start-up, the scheduler, webhooks) are lines of their own.

type requestLineKey struct{}

// maxFoldedRecords bounds what one request collects: a long stream that
// keeps logging gets lines of its own past it.
const maxFoldedRecords = 16

// requestLine collects the records logged while a request is served.
type requestLine struct {
	mu     sync.Mutex
	closed bool // the finished-call line is written; later records stand alone
	// gateways is set on the call the REST gateway makes to have its
	// caller authenticated for a request whose input it refused, once
	// the caller passed: the gateway logs that request's one line, with
	// its HTTP status (httpapi's logRefused), and the call has none.
	gateways bool
	// client is the call's client address once asked for
	// (authenticator.clientAddr), when clientKnown.
	client      string
	clientKnown bool
	n           int
	level       slog.Level
	events      []string
	attrs       []any // key, value, ...
}

func withRequestLine(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestLineKey{}, &requestLine{level: slog.LevelDebug})
}

func requestLineFrom(ctx context.Context) *requestLine {
	l, _ := ctx.Value(requestLineKey{}).(*requestLine)
	return l
}

// note adds fields to the request's line; outside a request it does
// nothing.
func note(ctx context.Context, keyValues ...any) {
	if l := requestLineFrom(ctx); l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.closed {
			l.attrs = append(l.attrs, keyValues...)
		}
	}
}

// fold takes a record into the line; false when the line is closed or
// full, and the record must be written on its own.
func (l *requestLine) fold(r slog.Record, prefix string, handlerAttrs []slog.Attr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.n >= maxFoldedRecords {
		return false
	}
	l.n++
	l.level = max(l.level, r.Level)
	l.events = append(l.events, r.Message)
	for _, a := range handlerAttrs {
		l.attrs = append(l.attrs, a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		l.attrs = append(l.attrs, prefix+a.Key, a.Value)
		return true
	})
	return true
}

// leaveToGateway marks the request's line as the REST gateway's to write
// (requestLine.gateways); outside a request it does nothing.
func leaveToGateway(ctx context.Context) {
	if l := requestLineFrom(ctx); l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.gateways = true
	}
}

// leftToGateway says whether the gateway writes the request's line.
func (l *requestLine) leftToGateway() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gateways
}

// close ends the collection and returns the fields to add to the
// finished-call line and the highest level folded into it.
func (l *requestLine) close() (fields []any, level slog.Level, folded bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	fields = l.attrs
	if len(l.events) > 0 {
		fields = append([]any{"event", strings.Join(l.events, "; ")}, fields...)
	}
	return fields, l.level, l.n > 0
}

// NewRequestLineHandler wraps h so that a record logged with the context
// of a request being served joins that request's one line instead of
// being written on its own. Give the service one logger built on it.
func NewRequestLineHandler(h slog.Handler) slog.Handler {
	return &requestLineHandler{next: h}
}

type requestLineHandler struct {
	next   slog.Handler
	attrs  []slog.Attr // from WithAttrs, keys already qualified by their groups
	prefix string      // the groups opened by WithGroup, "a.b."
}

func (h *requestLineHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *requestLineHandler) Handle(ctx context.Context, r slog.Record) error {
	if l := requestLineFrom(ctx); l != nil && l.fold(r, h.prefix, h.attrs) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *requestLineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	attrs := append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		attrs = append(attrs, slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
	}
	return &requestLineHandler{next: h.next.WithAttrs(as), attrs: attrs, prefix: h.prefix}
}

func (h *requestLineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &requestLineHandler{next: h.next.WithGroup(name), attrs: h.attrs, prefix: h.prefix + name + "."}
}

// noteActorUnary and noteActorStream put the authenticated caller on the
// request's line; they run after authentication.
func noteActorUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	noteActor(ctx)
	return next(ctx, req)
}

func noteActorStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	noteActor(ss.Context())
	return next(srv, ss)
}

func noteActor(ctx context.Context) {
	if p := principalFrom(ctx); p.UserID != "" {
		note(ctx, "actor", p.UserID, "role", p.Role.String())
	}
}
