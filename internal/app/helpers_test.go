package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// testNow is the fake present of the end-to-end tests.
var testNow = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // 10:00 in Hanoi

type testServer struct {
	*app.Server
	cfg    app.Config
	clock  *clock.Fake
	conn   *grpc.ClientConn // calls carry the operator's token unless the context has one
	tokens *tokenBook
	t      testing.TB
	sent   *sentTexts // what the clients sent, looked for in the file at stop
}

// The users every test server has, besides the bootstrap admin.
const (
	operatorID = "operator" // HOTLINE_OPERATOR of the 111 hotline: the default caller
)

// startServer starts the real service on random localhost ports with a
// database in dbPath (a new one when dbPath is ""). On a new database it
// takes the bootstrap admin token from the console and creates the
// operator; tokens are kept beside the database so a restarted server's
// test can use them again.
func startServer(t testing.TB, dbPath string) *testServer {
	t.Helper()
	return startServerWith(t, dbPath, nil)
}

// startServerWith is startServer with a change to the configuration.
func startServerWith(t testing.TB, dbPath string, configure func(*app.Config)) *testServer {
	t.Helper()
	cfg := testConfig(t, dbPath)
	if configure != nil {
		configure(&cfg)
	}
	return launch(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
}

// launch starts the service with cfg and opts (whose Clock must be a
// *clock.Fake, shared by a restarted server's test) and a client for it.
// Logs are discarded unless opts has a Logger.
func launch(t testing.TB, cfg app.Config, opts app.Options) *testServer {
	t.Helper()
	clk := opts.Clock.(*clock.Fake)
	var console bytes.Buffer
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Console = &console
	srv, err := app.Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	book := loadTokenBook(t, cfg.DBPath+".tokens.json")
	if tok := tokenPattern.FindString(console.String()); tok != "" {
		book.put(t, "admin", tok)
	}
	sent := newSentTexts(t)
	conn, err := grpc.NewClient(srv.GRPCAddr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if m, ok := req.(proto.Message); ok {
				sent.record(m)
			}
			return invoker(book.defaultCtx(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(book.defaultCtx(ctx), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ts := &testServer{Server: srv, cfg: cfg, clock: clk, conn: conn, tokens: book, t: t, sent: sent}
	t.Cleanup(ts.stop)
	if book.get(operatorID) == "" {
		ts.addUser(t, operatorID, pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	}
	return ts
}

var tokenPattern = regexp.MustCompile(`cc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// tokenBook holds the test users' tokens, in a file beside the database.
type tokenBook struct {
	path   string
	tokens map[string]string
}

func loadTokenBook(t testing.TB, path string) *tokenBook {
	t.Helper()
	b := &tokenBook{path: path, tokens: map[string]string{}}
	raw, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(raw, &b.tokens); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *tokenBook) get(user string) string { return b.tokens[user] }

func (b *tokenBook) put(t testing.TB, user, token string) {
	t.Helper()
	b.tokens[user] = token
	raw, _ := json.Marshal(b.tokens)
	if err := os.WriteFile(b.path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// defaultCtx adds the operator's token unless ctx carries an authorization.
func (b *tokenBook) defaultCtx(ctx context.Context) context.Context {
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		return ctx
	}
	if tok := b.get(operatorID); tok != "" {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	return ctx
}

// as returns a context whose calls act as the user.
func (ts *testServer) as(t testing.TB, user string) context.Context {
	t.Helper()
	tok := ts.tokens.get(user)
	if tok == "" {
		t.Fatalf("no token for user %q", user)
	}
	return withToken(context.Background(), tok)
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// addUser creates a user through the AdminService and keeps their token.
func (ts *testServer) addUser(t testing.TB, id string, role pb.Role, unit string) string {
	t.Helper()
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: id,
		User:   &pb.User{DisplayName: "Test " + id, Role: role, Unit: unit, Phone: fmt.Sprintf("024 3825 %04d", len(id))},
	})
	if err != nil {
		t.Fatalf("create user %s: %v", id, err)
	}
	ts.tokens.put(t, id, resp.GetToken().GetSecret())
	return resp.GetToken().GetSecret()
}

// addFormerUser creates a user of a unit a reform ended, which no admin may
// create today (user.unit, unit.in_force), as a database that lived
// through the reform holds them (Server.SeedUser), and keeps their token.
func (ts *testServer) addFormerUser(t testing.TB, id string, role pb.Role, unit string) {
	t.Helper()
	tok, err := ts.SeedUser(context.Background(), id, strings.TrimPrefix(role.String(), "ROLE_"), unit)
	if err != nil {
		t.Fatalf("seed user %s: %v", id, err)
	}
	ts.tokens.put(t, id, tok)
}

// addPoliceUnit registers a police unit through the AdminService.
func (ts *testServer) addPoliceUnit(t testing.TB, id string, covers ...string) {
	t.Helper()
	_, err := ts.admin().CreatePoliceUnit(ts.as(t, "admin"), &pb.CreatePoliceUnitRequest{
		PoliceUnitId: id, PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an " + id, Covers: covers},
	})
	if err != nil {
		t.Fatalf("create police unit %s: %v", id, err)
	}
}

// testConfig is the configuration of a test server: random localhost ports
// and a database in dbPath (a new one when dbPath is "").
func testConfig(t testing.TB, dbPath string) app.Config {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "childcase.db")
	}
	cfg := app.DefaultConfig()
	cfg.DBPath = dbPath
	cfg.KeyFile = dbPath + ".key"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	return cfg
}

func (ts *testServer) stop() {
	if ts.conn != nil {
		ts.conn.Close()
		ts.conn = nil
		if err := ts.Stop(); err != nil {
			panic(err)
		}
		if ts.sent != nil {
			ts.sent.checkSealed(ts.t, ts.cfg.DBPath)
		}
	}
}

// setClock moves the fake clock to now and settles the scheduler; advance
// moves it forward by d and settles. Tests move a running server's clock
// with these, never with ts.clock directly: what falls due at the new time
// fires in the background, and a test that read a case's etag, timeline
// or notifications before a firing committed would fail now and then
// (ABORTED on an etag the firing made stale, a count one short).
func (ts *testServer) setClock(t testing.TB, now time.Time) {
	t.Helper()
	ts.clock.Set(now)
	ts.settle(t)
}

func (ts *testServer) advance(t testing.TB, d time.Duration) {
	t.Helper()
	ts.clock.Advance(d)
	ts.settle(t)
}

// settle waits until the deadline scheduler has finished a whole pass begun
// after the call: every deadline event due at the clock's time has fired
// and committed (app's SettleScheduler). The server must lead.
func (ts *testServer) settle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound for a loaded CI machine
	defer cancel()
	if err := ts.SettleScheduler(ctx); err != nil {
		t.Fatalf("the scheduler finished no pass after the clock moved to %s: %v", ts.clock.Now(), err)
	}
}

func (ts *testServer) reports() pb.ReportServiceClient { return pb.NewReportServiceClient(ts.conn) }
func (ts *testServer) cases() pb.CaseServiceClient     { return pb.NewCaseServiceClient(ts.conn) }
func (ts *testServer) units() pb.UnitServiceClient     { return pb.NewUnitServiceClient(ts.conn) }
func (ts *testServer) admin() pb.AdminServiceClient    { return pb.NewAdminServiceClient(ts.conn) }
func (ts *testServer) audit() pb.AuditServiceClient    { return pb.NewAuditServiceClient(ts.conn) }
func (ts *testServer) process() pb.CaseProcessServiceClient {
	return pb.NewCaseProcessServiceClient(ts.conn)
}

// validReport is an intervention report about one child in Phường Ba Đình.
func validReport() *pb.Report {
	return &pb.Report{
		Channel:             pb.Channel_CHANNEL_HOTLINE_111,
		ReceiveTime:         timestamppb.New(testNow.Add(-time.Hour)),
		IncidentCommuneCode: "00004",
		CallType:            pb.CallType_CALL_TYPE_INTERVENTION,
		Children: []*pb.Child{{
			FullName:  "Nguyễn Thị Lan",
			Age:       &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 9},
			Sex:       pb.Sex_SEX_FEMALE,
			Condition: "bầm tím ở tay",
		}},
		// Not a suspected abuser: a report naming a caregiver as one
		// opens an emergency (Art. 31(1)), with clocks of 2 and 12 hours
		// whose warnings would fall in the middle of ordinary scenarios.
		// The emergency scenarios say so themselves.
		Caregivers: []*pb.Caregiver{{
			FullName: "Nguyễn Văn Hùng", Relation: "bố dượng",
		}},
		Narrative:      "Hàng xóm nghe tiếng trẻ khóc và tiếng đánh nhiều đêm.",
		SuspectedAbuse: []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_VIOLENCE},
		Reporter: &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: "Trần Thị Mai", Phone: "0912 345 678", RelationToChild: "hàng xóm",
		}}},
	}
}

// wantCode fails unless err is a status with code want.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		t.Fatalf("got %v, want code %v", err, want)
	}
	return st
}

// badFields returns the fields named in a status's BadRequest details.
func badFields(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
