package grpcapi

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/transport/clientaddr"
)

// publicMethods need no token: probes and tooling.
var publicMethods = map[string]bool{
	"/grpc.health.v1.Health/Check":                                   true,
	"/grpc.health.v1.Health/Watch":                                   true,
	"/grpc.health.v1.Health/List":                                    true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// apiPackage prefixes the methods of access's table to make gRPC full
// method names.
const apiPackage = "/childcase.v1."

// methodRoles says which roles may call each childcase method, from the
// one table of who may do what (access.Rules). A method missing here is
// refused to everyone: deny by default. Which records a caller sees, and
// in which view, is decided further in, by the domain.
var methodRoles = func() map[string][]model.Role {
	m := map[string][]model.Role{}
	for _, r := range access.Rules() {
		m[apiPackage+r.Method] = r.Roles()
	}
	return m
}()

// MethodRoles returns the roles allowed to call a method, and whether the
// method needs no token at all. Tests use it to check that every method
// has a rule.
func MethodRoles(fullMethod string) (roles []model.Role, public bool) {
	return methodRoles[fullMethod], publicMethods[fullMethod]
}

type principalKey struct{}

// principalFrom returns the authenticated principal of the request.
func principalFrom(ctx context.Context) access.Principal {
	p, _ := ctx.Value(principalKey{}).(access.Principal)
	return p
}

// authenticator checks bearer tokens and method rules, slows down clients
// that keep failing, and audits every failure.
type authenticator struct {
	identity *identity.Service
	audit    *auditlog.Log
	guard    *SignInGuard
	cases    CaseResolver // nil: refused calls are audited without their case
	clock    clock.Clock
	gateway  bool           // the client address is the one the in-process gateway forwards
	trusted  []netip.Prefix // proxies whose x-forwarded-for names the client
	// lookupTimeout bounds a stream's authentication (the server's
	// --request-timeout, Deps.UnaryTimeout; 0 for none): a unary call's
	// is bounded by unaryDeadline, which a stream, living for hours, has
	// not.
	lookupTimeout time.Duration
}

// Failed authentications a client (an address, or a token id) may make in
// a burst, and how fast that allowance comes back.
const (
	failureBurst  = 10
	failureRefill = 30 * time.Second
)

// authenticate returns ctx with the caller's principal, or the status to
// refuse the call with. request returns the call's request, and is called
// only when the caller's role may not make the call: the refusal names the
// record it targeted in the audit.
//
// The throttle counts failures per client address and per token id
// presented. A token id that keeps failing is refused, valid secret or
// not: someone is guessing at it. An address that keeps failing is
// refused when it presents no token id to judge by, but a token of the
// right form is still checked, so that one bad client does not lock out
// everyone behind the same address (a NAT, a reverse proxy); if it fails
// too, the answer is the throttle's.
func (a *authenticator) authenticate(ctx context.Context, method string, request func() any) (context.Context, error) {
	if publicMethods[method] {
		return ctx, nil
	}
	roles, ok := methodRoles[method]
	if !ok {
		// Every method served has a rule (TestEveryRegisteredMethodHasARule), so
		// this is a method the server does not have (the unknown-service
		// handler's calls come here first): nothing is called either way.
		return nil, NoSuchMethod()
	}
	// Refusals of a window that has ended are written now, before this
	// call does anything: they happened first.
	a.guard.refusals.Flush(ctx, false)
	client := a.clientAddr(ctx)
	token, why := bearerToken(ctx)
	tokenID, _ := identity.TokenID(token)
	addrWait := a.guard.clients.wait(clientaddr.ThrottleKey(client))
	var idWait time.Duration
	if tokenID != "" {
		idWait = a.guard.tokens.wait(tokenID)
	}
	if idWait > 0 || (addrWait > 0 && tokenID == "") {
		reason := "throttled: too many failures from this address"
		if idWait > 0 {
			reason = "throttled: too many failures with token " + tokenID
		}
		a.guard.throttled.Add(1)
		a.guard.refusals.Add(ctx, client, method, reason, RequestID(ctx))
		return nil, throttled(max(idWait, addrWait))
	}
	var u model.User
	var t model.Token
	if why == "" {
		var err error
		u, t, err = a.identity.Authenticate(ctx, token)
		switch {
		case errors.Is(err, identity.ErrUnauthenticated):
			why = strings.TrimPrefix(err.Error(), identity.ErrUnauthenticated.Error()+": ")
		case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			// The call's deadline (the server's --request-timeout, or
			// the client's) ran out while the store did not answer: the
			// same answer as a handler's that runs out of time.
			return nil, withInfo(codes.DeadlineExceeded, "the request took too long", ReasonDeadlineExceeded, nil)
		case err != nil && errors.Is(ctx.Err(), context.Canceled):
			return nil, withInfo(codes.Canceled, "the request was cancelled", ReasonRequestCancelled, nil)
		case err != nil:
			return nil, withInfo(codes.Unavailable, "authentication is unavailable; retry", ReasonUnavailable, nil)
		}
	}
	if why != "" {
		a.guard.failed.Add(1)
		a.guard.clients.fail(clientaddr.ThrottleKey(client))
		if tokenID != "" {
			a.guard.tokens.fail(tokenID)
		}
		a.guard.refusals.Add(ctx, client, method, why, RequestID(ctx))
		if addrWait > 0 {
			return nil, throttled(addrWait)
		}
		return nil, Unauthenticated()
	}
	p := identity.TokenPrincipal(u, t, RequestID(ctx))
	if !slices.Contains(roles, p.Role) {
		a.recordDenied(ctx, p, method, request())
		return nil, withInfo(codes.PermissionDenied, "your role may not call this method", ReasonPermissionDenied, nil)
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// bearerToken returns the token of the authorization metadata, or why
// there is none.
func bearerToken(ctx context.Context) (token, why string) {
	return bearerOf(metadata.ValueFromIncomingContext(ctx, "authorization"))
}

// bearerOf returns the token of the authorization values of a call (its
// metadata, or a REST request's headers), or why there is none.
func bearerOf(vals []string) (token, why string) {
	switch {
	case len(vals) == 0:
		return "", "no authorization"
	case len(vals) > 1:
		return "", "more than one authorization"
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", "authorization is not a bearer token"
	}
	return strings.TrimSpace(token), ""
}

// Unauthenticated is the refusal of a call without a valid bearer token;
// the REST gateway answers it too, for a call it refuses before the
// server would have authenticated it (httpapi's credential-less refusals).
func Unauthenticated() error {
	return withInfo(codes.Unauthenticated, "a valid bearer token is required", ReasonUnauthenticated, nil)
}

func throttled(wait time.Duration) error {
	st := status.New(codes.ResourceExhausted, "too many failed authentications from this client or with this token; wait and retry")
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonThrottled, Domain: ErrorDomain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
	); err == nil {
		st = d
	}
	return st.Err()
}

// InputRefusedHeader is the metadata the REST gateway sends on the call it
// makes, with an empty request, for a request whose input it refused
// itself (a body that is no JSON or too large, a query it cannot read):
// the server authenticates the caller for the method as for any call,
// and, instead of calling the method, answers InputRefused, after which
// the gateway describes the input. So a caller without valid credentials
// learns nothing of its input and is counted and audited as a refused
// sign-in, whatever it sent. Only the gateway's server heeds it: the
// gateway passes on no header of a client's but the request id, and no
// handler runs on the public server for it either way.
const InputRefusedHeader = "x-childcase-input-refused"

// InputRefused answers a call marked with InputRefusedHeader whose caller
// authenticated and may call the method: the gateway's refusal of its
// input stands. refusal is the header's value (InputRefusal): the field
// and rule, or the code, the gateway refused the input with, which the
// answer carries as any refusal of the server's does (a BadRequest
// violation, or the ErrorInfo reason), so that an admin's call refused so
// is audited by its code as over gRPC (callAudit).
func InputRefused(refusal string) error {
	refusal = screenedRefusal(refusal)
	field, rule, ok := strings.Cut(refusal, " ")
	if !ok {
		reason := refusal
		if reason == "" {
			reason = ReasonInvalidField
		}
		return withInfo(codes.InvalidArgument, inputRefusedMessage, reason, nil)
	}
	st := status.New(codes.InvalidArgument, inputRefusedMessage)
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonInvalidField, Domain: ErrorDomain, Metadata: map[string]string{"field": field, "rule": rule}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Reason: rule}}},
	); err == nil {
		st = d
	}
	return st.Err()
}

const inputRefusedMessage = "input refused by the REST gateway"

// IsInputRefused says whether err is InputRefused: the server
// authenticated the caller, and refused nothing else.
func IsInputRefused(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.InvalidArgument && st.Message() == inputRefusedMessage
}

// InputRefusal is the value of InputRefusedHeader for the gateway's
// refusal err of a request's input: the field and rule of its first
// violation ("user_id query.unexpected"), or its ErrorInfo reason
// (BODY_TOO_LARGE), as refusalOf reads a refusal for the audit.
func InputRefusal(err error) string {
	_, reason, _ := refusalOf(err)
	return screenedRefusal(reason)
}

var (
	// refusalField is a field as the service names one: a client's
	// name of a field no request has (an unknown query parameter, an
	// unknown field of a body) passes only in this form and length, so
	// that the audit never quotes free text the client sent.
	refusalField = regexp.MustCompile(`^[A-Za-z0-9_]+(?:\[[0-9]+\])?(?:\.[A-Za-z0-9_]+(?:\[[0-9]+\])?)*$`)
	// refusalRule is a rule or an ErrorInfo reason: the service's codes.
	refusalRule = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
)

// maxRefusalField bounds a field named in an input refusal's audit.
const maxRefusalField = 100

// screenedRefusal is refusal (a field and rule, or a code) in the form
// the audit takes: the rule alone when the field is not a field's name,
// empty when the rule is not a code.
func screenedRefusal(refusal string) string {
	// The rule is a code, with no space; a field path the client made
	// (a map key) may hold some.
	field, rule := "", refusal
	if i := strings.LastIndexByte(refusal, ' '); i >= 0 {
		field, rule = refusal[:i], refusal[i+1:]
	}
	if len(rule) > maxRefusalField || !refusalRule.MatchString(rule) {
		return ""
	}
	if field == "" || len(field) > maxRefusalField || !refusalField.MatchString(field) {
		return rule
	}
	return field + " " + rule
}

// inputRefused returns the refusal a call of the gateway carries for a
// request whose input it refused (InputRefusedHeader), and whether it is
// one. Its caller has passed: the gateway writes the request's log line,
// with the HTTP status it answers, and this call writes none.
func (a *authenticator) inputRefused(ctx context.Context) (string, bool) {
	if !a.gateway {
		return "", false
	}
	refusal := metadata.ValueFromIncomingContext(ctx, InputRefusedHeader)
	if len(refusal) == 0 {
		return "", false
	}
	leaveToGateway(ctx)
	return refusal[0], true
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	ctx, err := a.authenticate(ctx, info.FullMethod, func() any { return req })
	if err != nil {
		return nil, err
	}
	return next(ctx, req)
}

// inputRefusedUnary and inputRefusedStream answer a call of the gateway
// for a request whose input it refused (InputRefusedHeader), once its
// caller has passed authentication, with InputRefused, and run no
// handler. They come after the audit of every call (callAudit), so that
// a REST call refused for its input is on the trail as the same call
// refused over gRPC is.
func (a *authenticator) inputRefusedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if refusal, ok := a.inputRefused(ctx); ok {
		return nil, InputRefused(refusal)
	}
	return next(ctx, req)
}

func (a *authenticator) inputRefusedStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if refusal, ok := a.inputRefused(ss.Context()); ok {
		return InputRefused(refusal)
	}
	return next(srv, ss)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	request := func() any { return nil }
	if !info.IsClientStream {
		request = func() any { return serverStreamRequest(ss, info.FullMethod) }
	}
	// The token's lookup reads the store: a client that set no deadline
	// (the console's live queue through the gateway) would otherwise wait
	// on it for as long as the store does not answer (an etcd cluster
	// gone). The stream itself goes on under its own context.
	authCtx := ss.Context()
	if a.lookupTimeout > 0 {
		var cancel context.CancelFunc
		authCtx, cancel = context.WithTimeout(authCtx, a.lookupTimeout)
		defer cancel()
	}
	authed, err := a.authenticate(authCtx, info.FullMethod, request)
	if err != nil {
		return err
	}
	ctx := ss.Context()
	if p, ok := authed.Value(principalKey{}).(access.Principal); ok {
		ctx = context.WithValue(ctx, principalKey{}, p)
	}
	return next(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
}

// serverStreamRequest reads the one request of a server stream (a watch
// of a case), which its handler would have read first, so that a call
// refused for the role is audited on the record it names, as a unary
// call is; nil when it cannot be read. The call is refused either way,
// and its handler never runs.
func serverStreamRequest(ss grpc.ServerStream, method string) any {
	service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return nil
	}
	// A client sends a server stream's request with the call; one that
	// does not is not waited for long, so a refused stream never holds
	// the server for longer than requestWait. RecvMsg returns when the
	// refusal ends the stream.
	got := make(chan any, 1)
	go func() {
		req := mt.New().Interface()
		if err := ss.RecvMsg(req); err != nil {
			got <- nil
			return
		}
		got <- req
	}()
	t := time.NewTimer(requestWait)
	defer t.Stop()
	select {
	case req := <-got:
		return req
	case <-t.C:
		return nil
	case <-ss.Context().Done():
		return nil
	}
}

// requestWait bounds how long a server stream refused for the caller's
// role waits for its request, to name the record it targets.
const requestWait = 5 * time.Second

// failureLimiter is a token bucket of failed authentications per key (a
// client address, or a token id): each failure takes a token, tokens come
// back one per refill period, and a key with none left is throttled until
// one comes back (what that means is the authenticator's rule). Memory is
// bounded: when the table is full, a new key takes the place of one that
// has refilled, or else of the least throttled of a sample (evict). A
// key that is throttled is never forgotten for one that is not, so
// failing with many other keys does not lift a throttle.
type failureLimiter struct {
	clock  clock.Clock
	burst  float64
	refill time.Duration

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxTrackedClients = 10000

func newFailureLimiter(clk clock.Clock, burst int, refill time.Duration) *failureLimiter {
	return &failureLimiter{clock: clk, burst: float64(burst), refill: refill, clients: map[string]*bucket{}}
}

// level returns the client's bucket brought up to now; callers hold mu.
func (l *failureLimiter) level(client string, now time.Time) *bucket {
	b, ok := l.clients[client]
	if !ok {
		return &bucket{tokens: l.burst, at: now}
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.refill))
	b.at = now
	return b
}

// wait returns how long the client must wait before trying again; 0 if
// it may try now.
func (l *failureLimiter) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.level(client, l.clock.Now())
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.refill))
}

// fail takes a token from the client's bucket.
func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	b := l.level(client, now)
	b.tokens = max(0, b.tokens-1)
	if _, ok := l.clients[client]; !ok {
		if len(l.clients) >= maxTrackedClients {
			l.evict(now)
		}
		l.clients[client] = b
	}
}

// evictSample is how many keys evict looks at: enough that a throttled key
// is all but never the best of them while most keys are not throttled,
// few enough that a flood of new keys costs little each.
const evictSample = 64

// evict forgets one key to make room: the first of a sample (Go's map
// order is random) whose bucket has refilled, or else the sample's key
// with the most tokens, the least throttled. Forgetting a key gives it a
// full bucket, so it is the one whose forgetting changes least. Callers
// hold mu.
func (l *failureLimiter) evict(now time.Time) {
	var victim string
	most, seen := -1.0, 0
	for c, b := range l.clients {
		tokens := b.tokens + float64(now.Sub(b.at))/float64(l.refill)
		if tokens >= l.burst {
			victim = c
			break
		}
		if tokens > most {
			victim, most = c, tokens
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(l.clients, victim)
}
