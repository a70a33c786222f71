package crashtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestEtagHistoryCheck feeds the linearizability check of the failover
// test histories made by hand, through the recorder as the clients' calls
// would: those a linearizable service can give pass, and each way of
// breaking it is found, with the visualisation written.
func TestEtagHistoryCheck(t *testing.T) {
	const c = "cases/HN-2026-000001"
	at := func(ms int) time.Time {
		return time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	}
	type call struct {
		from, to int // ms
		req      any
		etag     string // of the answer
		err      error
	}
	read := func(from, to int, etag string) call {
		return call{from, to, &pb.GetCaseRequest{Name: c}, etag, nil}
	}
	note := func(from, to int, rid, sent, etag string, err error) call {
		return call{from, to, &pb.AddCaseNoteRequest{Name: c, RequestId: rid, Etag: sent, Text: "x"}, etag, err}
	}
	aborted := status.Error(codes.Aborted, "stale etag")
	lost := status.Error(codes.Unavailable, "connection reset")
	tests := []struct {
		name  string
		calls []call
		ok    bool
	}{
		{"steps in turn", []call{read(0, 1, "1"), note(2, 3, "a", "1", "2", nil), note(4, 5, "b", "2", "3", nil), read(6, 7, "3")}, true},
		{"a race: one wins, one is aborted", []call{read(0, 1, "1"), note(2, 6, "a", "1", "2", nil), note(3, 5, "b", "1", "", aborted), read(7, 8, "2")}, true},
		{"unseen writes (the scheduler) within the budget", []call{read(0, 1, "1"), note(2, 3, "a", "1", "", aborted), read(4, 5, "3")}, true},
		{"a lost answer, applied", []call{read(0, 1, "1"), note(2, 3, "a", "1", "", lost), read(4, 5, "2")}, true},
		{"a lost answer, not applied", []call{read(0, 1, "1"), note(2, 3, "a", "1", "", lost), read(4, 5, "1")}, true},
		{"a lost answer, then the first answer to its retry", []call{read(0, 1, "1"), note(2, 3, "a", "1", "", lost), read(4, 5, "2"), note(6, 7, "a", "1", "2", nil), read(8, 9, "2")}, true},
		{"a stale read after an acknowledged step", []call{read(0, 1, "1"), note(2, 3, "a", "1", "2", nil), read(4, 5, "1"), read(6, 7, "2")}, false},
		{"two steps applied from the same etag (a lost update)", []call{read(0, 1, "1"), note(2, 3, "a", "1", "2", nil), note(4, 5, "b", "1", "2", nil), read(6, 7, "2")}, false},
		{"aborted while its etag was certainly current", []call{read(0, 1, "1"), note(2, 3, "a", "1", "", aborted), read(4, 5, "1")}, false},
		{"a step that moved the etag by two", []call{read(0, 1, "1"), note(2, 3, "a", "1", "3", nil), read(4, 5, "3")}, false},
		{"an etag going back", []call{read(0, 1, "2"), read(2, 3, "1"), read(4, 5, "2")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newEtagHistory()
			for _, k := range tt.calls {
				var reply *pb.Case
				if k.err == nil {
					reply = &pb.Case{Name: c, Etag: k.etag}
				}
				method := "GetCase"
				if _, ok := k.req.(*pb.AddCaseNoteRequest); ok {
					method = "AddCaseNote"
				}
				hs.record(0, method, k.req, reply, k.err, at(k.from), at(k.to))
			}
			dir := t.TempDir()
			n, err := hs.check(dir, time.Minute)
			if tt.ok {
				if err != nil {
					t.Fatalf("check: %v, want linearizable", err)
				}
				if n == 0 {
					t.Fatal("no operation checked")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "not linearizable") {
				t.Fatalf("check: %v, want not linearizable", err)
			}
			html, rerr := os.ReadFile(filepath.Join(dir, "etag-linearizability.html"))
			if rerr != nil || len(html) == 0 {
				t.Fatalf("the visualisation was not written: %v", errors.Join(rerr, err))
			}
		})
	}
}
