package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
)

// A full disk refuses every kind of write the same way, not only the
// reports TestDatabaseFull fills it with: a case step over gRPC and over
// REST, a link, a new user. A write that still fits in the file's free
// pages is taken, so each kind is sent until one is refused. That one
// answers RESOURCE_EXHAUSTED with reason DATABASE_FULL and a message
// saying so (over REST a 4xx JSON error with the same reason) and keeps
// nothing; the case is still read; and once space is freed the same
// running server takes the same request (issue 5: "writes fail with
// RESOURCE_EXHAUSTED or UNAVAILABLE and a clear message, reads keep
// working, nothing is corrupted, and writes work again once space is
// freed, without a restart").
func TestDiskFullRefusesEveryKindOfWrite(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	dbPath := filepath.Join(dir, "childcase.db")
	ts := startServerWith(t, dbPath, func(c *app.Config) { c.DBReserve = 2 << 20 })
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	op, bd, admin := ts.as(t, operatorID), ts.as(t, "bd.worker"), ts.as(t, "admin")
	var calls []string // counselling reports to link
	for range 200 {
		r := validReport()
		r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
		call, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, call.GetName())
	}

	ballast := fillDiskLeaving(t, dir, 128<<10)
	fillUntilFull(t, ts)

	// untilRefused sends try(0), try(1), ... until one is refused, checks
	// that refusal, and returns its i.
	untilRefused := func(what string, try func(i int) error) int {
		t.Helper()
		for i := range 200 {
			err := try(i)
			if err == nil {
				continue
			}
			st := wantCode(t, err, codes.ResourceExhausted)
			if errorReason(st) != "DATABASE_FULL" || !strings.Contains(st.Message(), "full") {
				t.Errorf("%s on a full disk: reason %q, message %q; want DATABASE_FULL and a message saying the database is full", what, errorReason(st), st.Message())
			}
			t.Logf("%s refused after %d more", what, i)
			return i
		}
		t.Fatalf("200 of %s on a full disk, and none refused", what)
		return 0
	}
	etag := func() string { return getCase(t, ts, "bd.worker", name).GetEtag() }
	note := func(i int) *pb.AddCaseNoteRequest {
		return &pb.AddCaseNoteRequest{Name: name, Etag: etag(), RequestId: fmt.Sprintf("note-%d", i), Text: "gọi lại cho mẹ cháu"}
	}
	link := func(i int) *pb.LinkReportRequest {
		return &pb.LinkReportRequest{Name: calls[i], Case: name, RequestId: fmt.Sprintf("link-%d", i)}
	}
	user := func(i int) *pb.CreateUserRequest {
		return &pb.CreateUserRequest{UserId: fmt.Sprintf("hk.worker%d", i), RequestId: fmt.Sprintf("user-%d", i),
			User: &pb.User{DisplayName: "Lê Thị Hoa", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pHoanKiem}}
	}
	restNote := func(i int, etag string) (int, []byte) {
		return restRaw(t, ts, "POST", "/v1/"+name+":addNote", fmt.Sprintf(`{"etag": %q, "request_id": "rest-note-%d", "text": "mẹ cháu gọi lại"}`, etag, i),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("bd.worker")})
	}

	n := untilRefused("case notes", func(i int) error { _, err := ts.process().AddCaseNote(bd, note(i)); return err })
	refusedNote := note(n)
	l := untilRefused("links", func(i int) error { _, err := ts.reports().LinkReport(op, link(i)); return err })
	u := untilRefused("new users", func(i int) error { _, err := ts.admin().CreateUser(admin, user(i)); return err })
	before := getCase(t, ts, "bd.worker", name)
	r := -1
	for i := range 200 {
		code, raw := restNote(i, before.GetEtag())
		if code == http.StatusOK {
			before = getCase(t, ts, "bd.worker", name)
			continue
		}
		if code < 400 || code >= 500 || !strings.Contains(string(raw), `"DATABASE_FULL"`) || !strings.Contains(string(raw), "full") {
			t.Errorf("a note over REST on a full disk: %d %s; want a 4xx JSON error with reason DATABASE_FULL", code, raw)
		}
		r = i
		break
	}
	if r < 0 {
		t.Fatal("200 notes over REST on a full disk, and none refused")
	}

	// Nothing of the refused ones was kept, and the case is read as before.
	if after := getCase(t, ts, "bd.worker", name); !proto.Equal(after, before) {
		t.Errorf("refused writes changed the case: etag %s -> %s", before.GetEtag(), after.GetEtag())
	}
	if got, err := ts.reports().GetReport(op, &pb.GetReportRequest{Name: calls[l]}); err != nil || got.GetCase() != "" {
		t.Errorf("the refused link: report in case %q, %v", got.GetCase(), err)
	}
	if _, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: fmt.Sprintf("users/hk.worker%d", u)}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("the refused user: %v, want NotFound", err)
	}

	// Space freed: the same server takes the same requests.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	refusedNote.Etag = etag()
	if _, err := ts.process().AddCaseNote(bd, refusedNote); err != nil {
		t.Errorf("the refused note once space is freed: %v", err)
	}
	if got, err := ts.reports().LinkReport(op, link(l)); err != nil || got.GetCase() != name {
		t.Errorf("the refused link once space is freed: %q, %v", got.GetCase(), err)
	}
	if _, err := ts.admin().CreateUser(admin, user(u)); err != nil {
		t.Errorf("the refused user once space is freed: %v", err)
	}
	if code, raw := restNote(r, etag()); code != http.StatusOK {
		t.Errorf("the refused REST note once space is freed: %d %s", code, raw)
	}
	ts.stop()
	checkFile(t, dbPath)
}
