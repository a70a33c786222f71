package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// testNow is the fake present of the end-to-end tests.
var testNow = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // 10:00 in Hanoi

type testServer struct {
	*app.Server
	cfg   app.Config
	clock *clock.Fake
	conn  *grpc.ClientConn
}

// startServer starts the real service on random localhost ports with a
// database in dbPath (a new one when dbPath is "").
func startServer(t testing.TB, dbPath string) *testServer {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "childcase.db")
	}
	cfg := app.DefaultConfig()
	cfg.DBPath = dbPath
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	clk := clock.NewFake(testNow)
	srv, err := app.Start(context.Background(), cfg, app.Options{
		Clock:  clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ts := &testServer{Server: srv, cfg: cfg, clock: clk, conn: conn}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	if ts.conn != nil {
		ts.conn.Close()
		ts.conn = nil
		if err := ts.Stop(); err != nil {
			panic(err)
		}
	}
}

func (ts *testServer) reports() pb.ReportServiceClient { return pb.NewReportServiceClient(ts.conn) }
func (ts *testServer) cases() pb.CaseServiceClient     { return pb.NewCaseServiceClient(ts.conn) }
func (ts *testServer) units() pb.UnitServiceClient     { return pb.NewUnitServiceClient(ts.conn) }

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
		Caregivers: []*pb.Caregiver{{
			FullName: "Nguyễn Văn Hùng", Relation: "bố dượng", SuspectedAbuser: true,
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
