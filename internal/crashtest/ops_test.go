package crashtest

// SIGKILLs at the moments the random crash test does not reach: during a
// master key rotation, during a hot backup and while the disk is full.
// Each test is short (a few seconds): a seeded database, a few kills at
// chosen points, and after each the checks of what must hold.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// opsCase is a case opened by an acknowledged report, its only child
// named so that no other case's child has the same name.
type opsCase struct{ report, caseName, child string }

// opsBook holds the acknowledged cases of a test.
type opsBook struct {
	mu    sync.Mutex
	cases []opsCase
	next  int // the next case's index (its child's name, its request id)
	// refused counts the writes refused RESOURCE_EXHAUSTED (a full disk).
	refused atomic.Int64
	// doubt counts the writes that failed otherwise (cut by a kill): each
	// may be stored or not.
	doubt atomic.Int64
}

var (
	opsFamily = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"}
	opsMiddle = []string{"Văn", "Thị", "Minh", "Thu", "Đức", "Ngọc", "Gia", "Bảo"}
	opsGiven  = []string{"An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Linh", "Nam", "Phúc", "Quân", "Sơn", "Trang", "Vy", "Yến", "Tâm"}
)

// opsChildName is the i-th name: each of the first 1,024 differs from
// every other in at least one syllable.
func opsChildName(i int) string {
	g := opsGiven[i%len(opsGiven)]
	i /= len(opsGiven)
	m := opsMiddle[i%len(opsMiddle)]
	i /= len(opsMiddle)
	return opsFamily[i%len(opsFamily)] + " " + m + " " + g
}

// opsNarrative is a long narrative (about 12 KB), so that a few dozen
// reports make a database of megabytes: a backup of several chunks.
func opsNarrative(i int) string {
	var b strings.Builder
	for b.Len() < 12000 {
		fmt.Fprintf(&b, "Lần %d: hàng xóm nghe tiếng trẻ khóc và tiếng đánh, báo lúc %d. ", i, b.Len())
	}
	return b.String()
}

// intake creates one report that opens a case and, once acknowledged,
// books it. A write refused or cut short is not booked: it may be there
// or not.
func (h *harness) intake(ctx context.Context, cl *client, book *opsBook) error {
	book.mu.Lock()
	i := book.next
	book.next++
	book.mu.Unlock()
	r := newReport("00004", pb.CallType_CALL_TYPE_INTERVENTION, "")
	child := opsChildName(i)
	r.Children[0].FullName = child
	r.Narrative = opsNarrative(i)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := cl.reports.CreateReport(h.as(cctx, userOp), &pb.CreateReportRequest{Report: r, RequestId: fmt.Sprintf("ops-%d", i)})
	switch {
	case status.Code(err) == codes.ResourceExhausted:
		book.refused.Add(1)
		return err
	case err != nil:
		book.doubt.Add(1)
		return err
	}
	if resp.GetCase() == "" {
		return fmt.Errorf("report %s of child %q opened no case", resp.GetName(), child)
	}
	book.mu.Lock()
	book.cases = append(book.cases, opsCase{report: resp.GetName(), caseName: resp.GetCase(), child: child})
	book.mu.Unlock()
	return nil
}

// seedCases books n cases, written by 8 clients at once.
func (h *harness) seedCases(book *opsBook, n int) {
	h.t.Helper()
	cl := h.dial()
	defer cl.close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	per := (n + clients - 1) / clients
	for w := 0; w < clients; w++ {
		wg.Go(func() {
			for j := 0; j < per && w*per+j < n; j++ {
				if err := h.intake(context.Background(), cl, book); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Fatalf("seed the database: %v", err)
	}
}

// load runs clients that write cases until ctx ends (the kill), booking
// those acknowledged; stop waits for them.
func (h *harness) load(ctx context.Context, book *opsBook, n int) (stop func()) {
	var wg sync.WaitGroup
	conns := make([]*client, n)
	for w := range conns {
		conns[w] = h.dial()
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := h.intake(ctx, conns[w], book); err != nil {
					time.Sleep(5 * time.Millisecond) // refused (full disk) or the server is gone
				}
			}
		})
	}
	return func() {
		wg.Wait()
		for _, c := range conns {
			c.close()
		}
	}
}

// runTool runs the binary with args (a management command) and returns
// its exit code and output.
func runTool(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(childBin, args...)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("childcase %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// childEnv is the environment without the CHILDCASE_* twins of the flags.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHILDCASE_") {
			env = append(env, kv)
		}
	}
	return env
}

// verifyOps checks, with the server down, that `childcase check` passes
// on the database; then starts the server (on the key file as it is:
// with a KEYFILE.next beside it when a rotation was cut short) and checks
// that every booked case's report opens with its child's name, that a
// search by that name finds the case, and that a new write is accepted.
// It leaves the server running.
func (h *harness) verifyOps(stage string, book *opsBook) { h.verifyOpsFull(stage, book, false) }

// verifyOpsFull is verifyOps; on a full disk (full) no new write is tried.
func (h *harness) verifyOpsFull(stage string, book *opsBook, full bool) {
	t := h.t
	t.Helper()
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Fatalf("%s: childcase check --db exit %d:\n%s", stage, code, out)
	}
	// A write refused (a full disk) keeps nothing; one cut by the kill may
	// be there or not.
	res, err := boltstore.Check(context.Background(), h.db)
	if err != nil {
		t.Fatalf("%s: boltstore.Check: %v", stage, err)
	}
	book.mu.Lock()
	acked := len(book.cases)
	book.mu.Unlock()
	if doubt := int(book.doubt.Load()); res.Reports < acked || res.Reports > acked+doubt {
		h.problem("the file holds %d reports; %d were acknowledged, %d cut short by a kill and %d refused (lost, or a refused write kept)",
			res.Reports, acked, doubt, book.refused.Load())
	}
	h.srv = h.start()
	cl := h.dial()
	defer cl.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	book.mu.Lock()
	cases := slices.Clone(book.cases)
	book.mu.Unlock()
	for _, c := range cases {
		r, err := cl.reports.GetReport(h.as(ctx, userCity), &pb.GetReportRequest{Name: c.report})
		if err != nil {
			h.problem("acknowledged report %s (child %q) does not open: %v", c.report, c.child, err)
			continue
		}
		if got := r.GetChildren()[0].GetFullName(); got != c.child || r.GetNarrative() == "" {
			h.problem("report %s opens with child %q and a narrative of %d bytes; want %q and the narrative", c.report, got, len(r.GetNarrative()), c.child)
		}
		if _, err := cl.cases.GetCase(h.as(ctx, userCity), &pb.GetCaseRequest{Name: c.caseName}); err != nil {
			h.problem("acknowledged case %s does not open: %v", c.caseName, err)
		}
	}
	h.searchFindsAll(ctx, cl, cases)
	if full {
		h.endOfStage(stage)
		return
	}
	if err := h.intake(ctx, cl, book); err != nil {
		h.problem("a new report after the restart: %v", err)
	}
	h.endOfStage(stage)
}

// searchFindsAll checks that a search by each case's child's name finds
// the case. The index may still be catching up in the background right
// after a start: a case missed is looked for again, for at most 20 s.
func (h *harness) searchFindsAll(ctx context.Context, cl *client, cases []opsCase) {
	missing := cases
	deadline := time.Now().Add(20 * time.Second)
	for {
		var still []opsCase
		var lastErr error
		for _, c := range missing {
			resp, err := cl.cases.SearchCases(h.as(ctx, userCity), &pb.SearchCasesRequest{ChildName: c.child, PageSize: 20})
			if err != nil {
				lastErr = err
				still = append(still, c)
				continue
			}
			if !slices.ContainsFunc(resp.GetCandidates(), func(cc *pb.CaseCandidate) bool { return cc.GetCase().GetName() == c.caseName }) {
				still = append(still, c)
			}
		}
		if len(still) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range still {
				h.problem("a search for child %q does not find case %s (last error %v)", c.child, c.caseName, lastErr)
			}
			return
		}
		missing = still
		time.Sleep(200 * time.Millisecond)
	}
}

// newOpsHarness is a harness with a bootstrapped server running.
func newOpsHarness(t *testing.T) *harness {
	requireChild(t)
	h := newHarness(t, uint64(time.Now().UnixNano()), 0)
	h.setup()
	return h
}

// awaitFile polls until path exists, or the deadline.
func awaitFile(path string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := os.Lstat(path); err == nil {
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

// TestKillDuringKeyRotation SIGKILLs the server at points of a
// RotateMasterKey under load: as its next key file appears (before the
// data keys are re-wrapped), at fractions of an uninterrupted rotation's
// time (the re-wrap and the search index rebuild that follows), and once
// it answered; and SIGKILLs an offline `childcase keys rotate` the same
// way. After each, started again on the same --key-file (the README: a
// rotation cut short is finished at start), every acknowledged case must
// open, be found by a search and `check` must pass.
func TestKillDuringKeyRotation(t *testing.T) {
	requireStoppable(t)
	h := newOpsHarness(t)
	book := &opsBook{}
	h.seedCases(book, 120)

	// One rotation to the end, to learn how long one takes here under load.
	ctx, cancel := context.WithCancel(context.Background())
	stop := h.load(ctx, book, 4)
	cl := h.dial()
	began := time.Now()
	if _, err := cl.admin.RotateMasterKey(h.as(context.Background(), "admin"), &pb.RotateMasterKeyRequest{RequestId: "rotate-measure"}); err != nil {
		t.Fatalf("RotateMasterKey: %v", err)
	}
	took := time.Since(began)
	cl.close()
	cancel()
	stop()
	t.Logf("an uninterrupted rotation under load took %s", took)

	type point struct {
		name string
		kill func(answered <-chan error) // returns when it is time to kill
	}
	after := func(f float64) func(<-chan error) {
		return func(<-chan error) { time.Sleep(time.Duration(f * float64(took))) }
	}
	points := []point{
		{"as the next key file appears", func(<-chan error) { awaitFile(h.keyFile+".next", 10*time.Second) }},
		{"at 20% of a rotation's time", after(0.2)},
		{"at 45% of a rotation's time", after(0.45)},
		{"at 70% of a rotation's time", after(0.7)},
		{"at 95% of a rotation's time", after(0.95)},
		{"once it answered", func(answered <-chan error) { <-answered }},
	}
	phases := map[string]int{}
	// cut runs one RotateMasterKey with requestID under load, kills the
	// server when kill returns (if kill has not), and checks the restart
	// and a retry of the rotation with the same request_id.
	cut := func(name, requestID string, kill func(answered <-chan error)) (phase string) {
		ctx, cancel := context.WithCancel(context.Background())
		stop := h.load(ctx, book, 4)
		cl := h.dial()
		answered := make(chan error, 1)
		go func() {
			_, err := cl.admin.RotateMasterKey(h.as(context.Background(), "admin"), &pb.RotateMasterKeyRequest{RequestId: requestID})
			answered <- err
		}()
		kill(answered)
		h.srv.kill()
		h.srv = nil
		cancel()
		stop()
		cl.close()
		phase = h.rotationPhase()
		phases[phase]++
		t.Logf("killed %s: %s", name, phase)
		h.verifyOps("restart after a SIGKILL during RotateMasterKey "+name, book)
		if exists(h.keyFile + ".next") {
			t.Errorf("after the restart %s.next is still there: the rotation cut short was not finished", h.keyFile)
		}
		// The client, whose call the kill cut short, retries it with the
		// same request_id: the rotation it asked for is done (finished at
		// start, or never begun and done now), never a second one.
		before, err := keys.LoadMaster(h.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cl = h.dial()
		resp, err := cl.admin.RotateMasterKey(h.as(context.Background(), "admin"), &pb.RotateMasterKeyRequest{RequestId: requestID})
		cl.close()
		if err != nil {
			t.Fatalf("retry of RotateMasterKey after the restart: %v", err)
		}
		after, err := keys.LoadMaster(h.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if phase != phaseNone && after.ID() != before.ID() {
			t.Errorf("killed %s, a retry of the rotation with its request_id rotated again (master %s, then %s): a retried request applied twice",
				name, before.ID(), after.ID())
		}
		if after.ID() != resp.GetMasterKeyId() {
			t.Errorf("the retry answered master %s; the key file holds %s", resp.GetMasterKeyId(), after.ID())
		}
		return phase
	}
	for i, p := range points {
		cut(p.name, fmt.Sprintf("rotate-%d", i), p.kill)
	}
	// The kills at fractions of a rotation's time land where the machine's
	// load puts them: one more, aimed at the re-wrap and the rebuild by
	// watching the file (killInPhase), in shorter slices at each try until
	// it lands, so that every run tests a kill there.
	run := 2 * time.Millisecond
	for try := 0; ; try++ {
		if try == 8 {
			t.Errorf("no kill landed while data keys were re-wrapped or the index rebuilt (%v), the last watched in slices of %s: the test tested neither", phases, 2*run)
			break
		}
		var looked int
		phase := cut(fmt.Sprintf("while watched, in slices of %s", run), fmt.Sprintf("rotate-watched-%d", try), func(answered <-chan error) {
			ended := make(chan struct{})
			go func() { <-answered; close(ended) }()
			srv := h.srv
			_, looked = h.killInPhase(srv.cmd.Process, ended, func() { srv.kill() }, run, phaseRewrap, phaseRebuild)
		})
		t.Logf("the watched kill looked %d times", looked)
		if phase == phaseRewrap || phase == phaseRebuild {
			break
		}
		run /= 2
	}

	// The offline command, killed as its next key file appears and at
	// half its time.
	for _, wait := range []func(){
		func() { awaitFile(h.keyFile+".next", 10*time.Second) },
		func() { time.Sleep(took / 2) },
	} {
		if err := h.srv.stop(); err != nil {
			t.Fatalf("stop the server: %v", err)
		}
		h.srv = nil
		cmd := exec.Command(childBin, "keys", "rotate", "--key-file", h.keyFile, "--db", h.db)
		cmd.Env = childEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Logf("killed childcase keys rotate: %s", h.rotationPhase())
		h.verifyOps("restart after a SIGKILL during keys rotate", book)
	}
}

// refusesBackup checks that neither `check` nor `restore` takes the
// partial backup at path for a good one.
func (h *harness) refusesBackup(path, what string) {
	t := h.t
	t.Helper()
	if code, out := runTool(t, "check", "--db", path); code == 0 {
		t.Errorf("%s: childcase check passes a partial backup (%s):\n%s", what, path, out)
	}
	dst := filepath.Join(h.dir, "restored.db")
	if code, out := runTool(t, "restore", "--from", path, "--db", dst); code == 0 || exists(dst) {
		t.Errorf("%s: childcase restore takes a partial backup (exit %d, %s made: %v):\n%s", what, code, dst, exists(dst), out)
	}
	os.Remove(dst)
}

// leftBeside lists the files beside the database that a backup may have
// left: its snapshots and temporary files.
func (h *harness) leftBeside() []string {
	ents, _ := os.ReadDir(filepath.Dir(h.db))
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.Contains(n, ".snapshot-") || strings.Contains(n, ".tmp") || strings.Contains(n, ".restore-") {
			out = append(out, n)
		}
	}
	return out
}

// backupTries bounds the backups TestKillDuringBackup takes to land one
// kill in one.
const backupTries = 5

// drain reads a backup stream to its end: the bytes it still brought and
// how it ended (io.EOF for a whole backup).
func drain(stream pb.AdminService_BackupDatabaseClient) (int, error) {
	n := 0
	for {
		m, err := stream.Recv()
		if err != nil {
			return n, err
		}
		n += len(m.GetData())
	}
}

// killWhen SIGKILLs proc (with kill, which waits for its end) at a moment
// at, asked while proc is stopped, says is in the window the test aims
// at. Like killInPhase, it lets proc run in slices of run; after each it
// stops it (SIGSTOP, then waits until every thread has stopped, so that
// no write is under way) and asks at; in the window it kills proc while
// still stopped, so that the kill lands where at saw it. It gives up
// (landed false) when proc ended (ended closed), when at says the window
// has passed, or after maxLooks looks, leaving proc running.
func (h *harness) killWhen(proc *os.Process, ended <-chan struct{}, kill func(), run time.Duration, maxLooks int, at func() (in, passed bool)) (landed bool, looked int) {
	t := h.t
	t.Helper()
	for looked < maxLooks {
		select {
		case <-ended:
			return false, looked
		case <-time.After(run):
		}
		if err := pause(proc); err != nil {
			return false, looked // it exited meanwhile
		}
		if err := awaitStopped(proc.Pid, 10*time.Second); err != nil {
			_ = resume(proc) // never left stopped, whatever the error
			if errors.Is(err, errExited) {
				return false, looked
			}
			t.Fatal(err)
		}
		looked++
		in, passed := at()
		if in {
			kill()
			return true, looked
		}
		if err := resume(proc); err != nil {
			t.Fatal(err)
		}
		if passed {
			return false, looked
		}
	}
	return false, looked
}

// TestKillDuringBackup SIGKILLs the server while BackupDatabase streams a
// backup (after 0, 1 and 3 chunks, under load), and while `childcase
// backup --addr` receives one; and SIGKILLs `childcase backup` itself
// half way. The stream must end in an error, never a clean end; the
// partial file must be refused by `check` and `restore`; nothing may be
// left beside the database; and the live database must pass `check`, with
// every acknowledged case there, opening and found by a search.
//
// A kill sent at once, or as the client's file first grows, could land
// before the server began the backup or after it sent it all (under load,
// either): the test then passed having tested nothing. Each kill is aimed
// instead (killWhen): the process is stopped, the test looks whether it is
// in the backup (the server holds the backup's snapshot open; `childcase
// backup` has a partial .tmp file and no backup yet) and kills it there,
// else lets it run on and looks again; a backup that ended unhit is taken
// again, at most backupTries times, and the test fails if none was hit.
func TestKillDuringBackup(t *testing.T) {
	requireStoppable(t)
	h := newOpsHarness(t)
	book := &opsBook{}
	h.seedCases(book, 150)
	fi, err := os.Stat(h.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("database of %d bytes, %d chunks of a backup", fi.Size(), fi.Size()/(256<<10)+1)

	// A whole backup passes check: what the partial ones fail below is
	// their being cut short.
	cl := h.dial()
	wholePath := filepath.Join(h.dir, "whole.db")
	if err := h.fetchBackup(cl, wholePath); err != nil {
		t.Fatalf("BackupDatabase: %v", err)
	}
	cl.close()
	whole, err := os.ReadFile(wholePath)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := runTool(t, "check", "--db", wholePath); code != 0 {
		t.Fatalf("childcase check of a whole backup: exit %d:\n%s", code, out)
	}
	// A download over REST may be cut at any byte, not only between
	// chunks: the whole backup cut one byte and one page short of its
	// end (where its last pages may be free ones) and at random lengths.
	for _, n := range []int{len(whole) - 1, len(whole) - 4096, 1 + h.rng.IntN(len(whole)-1), 1 + h.rng.IntN(len(whole)-1)} {
		cut := filepath.Join(h.dir, "cut.db")
		if err := os.WriteFile(cut, whole[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		h.refusesBackup(cut, fmt.Sprintf("a backup of %d bytes cut at %d", len(whole), n))
	}

	// serverInBackup tells, with srv stopped, whether it is in a backup:
	// it holds the backup's snapshot open.
	serverInBackup := func(srv *child) bool {
		held, err := holdsSnapshot(srv.cmd.Process.Pid)
		if err != nil {
			t.Fatalf("the open files of the stopped server: %v", err)
		}
		return held
	}
	for _, chunks := range []int{0, 1, 3} {
		what := fmt.Sprintf("server killed after %d chunks of BackupDatabase", chunks)
		ctx, cancel := context.WithCancel(context.Background())
		stop := h.load(ctx, book, 4)
		cl := h.dial()
		partial := filepath.Join(h.dir, fmt.Sprintf("partial-%d.db", chunks))
		var got []byte
		var stream pb.AdminService_BackupDatabaseClient
		landed := false
		run := 2 * time.Millisecond
		for try := 0; try < backupTries && !landed; try++ {
			stream, err = cl.admin.BackupDatabase(h.as(context.Background(), "admin"), &pb.BackupDatabaseRequest{})
			if err != nil {
				t.Fatalf("BackupDatabase: %v", err)
			}
			got = nil
			for range chunks {
				m, err := stream.Recv()
				if err != nil {
					t.Fatalf("%s: chunk: %v", what, err)
				}
				got = append(got, m.GetData()...)
			}
			// After a chunk the backup is under way: a look that finds no
			// snapshot came after its end. Before one, the backup may not
			// have begun: look again.
			srv := h.srv
			var looked int
			landed, looked = h.killWhen(srv.cmd.Process, srv.exited, func() { srv.kill() }, run, 500, func() (in, passed bool) {
				in = serverInBackup(srv)
				return in, !in && chunks > 0
			})
			if landed {
				t.Logf("%s: try %d, killed holding the backup's snapshot (%d looks, slices of %s)", what, try, looked, run)
				break
			}
			rest, end := drain(stream)
			t.Logf("%s: try %d, the server held no snapshot at any of %d looks (slices of %s); its backup ended (%v, %d bytes more): again", what, try, looked, run, end, rest)
			run /= 2
		}
		if !landed {
			t.Errorf("%s: in %d tries no kill landed while the server held the backup's snapshot: the test tested no kill during a backup", what, backupTries)
			h.srv.kill()
		}
		h.srv = nil
		var end error
		for {
			m, err := stream.Recv()
			if err != nil {
				end = err
				break
			}
			got = append(got, m.GetData()...)
		}
		cancel()
		stop()
		cl.close()
		if landed && end == io.EOF {
			t.Errorf("%s: the stream ended cleanly after %d bytes: a cut backup looks complete", what, len(got))
		} else if status.Code(end) != codes.Unavailable {
			t.Logf("%s: the stream ended with %v", what, end)
		}
		if err := os.WriteFile(partial, got, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes received", what, len(got))
		if landed && len(got) > 0 {
			h.refusesBackup(partial, what)
		}
		if left := h.leftBeside(); len(left) > 0 {
			t.Errorf("%s: left beside the database: %v", what, left)
		}
		h.verifyOps("restart after "+what, book)
	}

	// childcase backup --addr, its server killed while it receives: while
	// the server holds the backup's snapshot, and the command has not
	// ended.
	landed := false
	run := 2 * time.Millisecond
	for try := 0; try < backupTries && !landed; try++ {
		to := filepath.Join(h.dir, fmt.Sprintf("backup-a%d.db", try))
		cmd := exec.Command(childBin, "backup", "--to", to, "--addr", h.srv.grpcAddr, "--token", h.tokens["admin"])
		cmd.Env = childEnv()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ended := make(chan struct{})
		var err error
		go func() { err = cmd.Wait(); close(ended) }()
		srv := h.srv
		var looked int
		landed, looked = h.killWhen(srv.cmd.Process, srv.exited, func() { srv.kill() }, run, 500, func() (in, passed bool) {
			select {
			case <-ended:
				return false, true
			default:
			}
			return serverInBackup(srv), false
		})
		<-ended
		if !landed {
			t.Logf("childcase backup, try %d: it ended (%v) before a look (%d, slices of %s) found the server in its backup: again", try, err, looked, run)
			if err == nil {
				if code, out := runTool(t, "check", "--db", to); code != 0 {
					t.Errorf("childcase backup answered success, but its file fails check:\n%s", out)
				}
			}
			run /= 2
			continue
		}
		h.srv = nil
		t.Logf("childcase backup, try %d: its server killed holding the backup's snapshot (%d looks)", try, looked)
		switch {
		case err == nil && exists(to):
			t.Errorf("childcase backup whose server was killed before the backup's end answered success:\n%s", out.String())
		case err == nil:
			t.Errorf("childcase backup whose server was killed exits 0 and leaves no %s:\n%s", to, out.String())
		default:
			t.Logf("childcase backup whose server was killed: %v: %s", err, strings.TrimSpace(out.String()))
			if exists(to) {
				t.Errorf("childcase backup failed (%v) but left %s", err, to)
			}
			if exists(to + ".tmp") {
				t.Errorf("childcase backup failed (%v) but left %s.tmp", err, to)
			}
		}
		h.verifyOps("restart after a SIGKILL during childcase backup", book)
	}
	if !landed {
		t.Errorf("in %d tries no kill of the server landed while childcase backup received: the test tested no such kill", backupTries)
	}

	// childcase backup itself killed half way: with a partial .tmp file
	// and no backup yet.
	landed = false
	run = 2 * time.Millisecond
	for try := 0; try < backupTries && !landed; try++ {
		to := filepath.Join(h.dir, fmt.Sprintf("backup-b%d.db", try))
		cmd := exec.Command(childBin, "backup", "--to", to, "--addr", h.srv.grpcAddr, "--token", h.tokens["admin"])
		cmd.Env = childEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ended := make(chan struct{})
		go func() { _ = cmd.Wait(); close(ended) }()
		var looked int
		landed, looked = h.killWhen(cmd.Process, ended, func() { _ = cmd.Process.Kill(); <-ended }, run, 500, func() (in, passed bool) {
			if exists(to) {
				return false, true
			}
			fi, err := os.Stat(to + ".tmp")
			return err == nil && fi.Size() > 0, false
		})
		<-ended
		if !landed {
			t.Logf("childcase backup, try %d: it ended before a look (%d, slices of %s) found its .tmp file partial: again", try, looked, run)
			run /= 2
			continue
		}
		fi, err := os.Stat(to + ".tmp")
		if err != nil || exists(to) {
			t.Fatalf("childcase backup killed stopped with a partial %s.tmp: now %v, and %s there: %v", to, err, to, exists(to))
		}
		t.Logf("childcase backup killed with %d bytes in %s.tmp (try %d, %d looks)", fi.Size(), to, try, looked)
		h.refusesBackup(to+".tmp", "childcase backup killed")
		if code, out := runTool(t, "backup", "--to", to, "--addr", h.srv.grpcAddr, "--token", h.tokens["admin"]); code == 0 || !strings.Contains(out, ".tmp exists") {
			t.Errorf("a new backup to %s beside a cut one: exit %d, want it refused naming the .tmp file:\n%s", to, code, out)
		}
	}
	if !landed {
		t.Errorf("in %d tries no kill of childcase backup landed while it wrote its .tmp file: the test tested no such kill", backupTries)
	}
	if err := h.srv.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Errorf("childcase check after the backups: exit %d:\n%s", code, out)
	}
}

// mountTmpfs mounts a tmpfs of size bytes for the test, as the full-disk
// tests of internal/app do: it skips where mounting is not permitted,
// except in CI, which runs as root and must test the full disk.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var err error
	if os.Geteuid() != 0 {
		err = errors.New("not running as root")
	} else if out, merr := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); merr != nil {
		err = fmt.Errorf("mount: %v: %s", merr, out)
	}
	if err != nil {
		if inCI() {
			t.Fatalf("CI runs as root and must test the full disk: %v", err)
		}
		t.Skipf("mounting a tmpfs is not permitted: %v", err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestKillWhileDiskFull runs the server's database on an 8 MiB tmpfs,
// fills the disk with a file and SIGKILLs the server while 8 clients write
// into the full disk; starts it again on the full disk (it must, and
// answer reads) and kills it so again; then frees the space and starts
// it: every acknowledged case must be there, open and be found by a
// search, `check` must pass, and writes must work.
func TestKillWhileDiskFull(t *testing.T) {
	requireChild(t)
	disk := mountTmpfs(t, 8<<20)
	h := newHarness(t, uint64(time.Now().UnixNano()), 0)
	h.db = filepath.Join(disk, "childcase.db")
	h.storeArgs = []string{"--db", h.db, "--db-reserve", "2MiB"}
	h.setup()
	book := &opsBook{}
	h.seedCases(book, 20)

	free, err := freeBytes(disk)
	if err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(disk, "ballast")
	if err := os.WriteFile(ballast, make([]byte, free-256<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	for round := 1; round <= 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		before := book.refused.Load()
		stop := h.load(ctx, book, clients)
		deadline := time.Now().Add(30 * time.Second)
		for book.refused.Load() < before+5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if book.refused.Load() < before+5 {
			t.Fatalf("round %d: no write refused RESOURCE_EXHAUSTED in 30 s: the disk did not fill", round)
		}
		time.Sleep(time.Duration(50+h.rng.IntN(200)) * time.Millisecond)
		h.srv.kill()
		h.srv = nil
		cancel()
		stop()
		book.mu.Lock()
		t.Logf("round %d: killed while the disk is full: %d cases acknowledged, %d writes refused", round, len(book.cases), book.refused.Load())
		book.mu.Unlock()
		h.verifyOpsFull(fmt.Sprintf("restart on the full disk after SIGKILL %d", round), book, true)
	}

	// A rotation on the full disk fails; once space is freed its retry,
	// without a restart, rotates (and answers the key then in place).
	cl := h.dial()
	admin := h.as(context.Background(), "admin")
	_, err = cl.admin.RotateMasterKey(admin, &pb.RotateMasterKeyRequest{RequestId: "rotate-full"})
	t.Logf("RotateMasterKey on the full disk: %v (next key file left: %v)", err, exists(h.keyFile+".next"))
	if err != nil && exists(h.keyFile+".next") && !strings.Contains(status.Convert(err).Message(), "stopped part way") {
		t.Errorf("RotateMasterKey refused on the full disk, its next key file left, without saying it stopped part way: %v", err)
	}
	cl.close()
	// Killed so, it starts again on the full disk and answers reads, its
	// rotation left for a retry when the start has no room to finish it.
	h.srv.kill()
	h.srv = nil
	h.verifyOpsFull("restart on the full disk after a SIGKILL following a rotation refused there", book, true)
	cl = h.dial()
	if _, err := cl.admin.RotateMasterKey(admin, &pb.RotateMasterKeyRequest{RequestId: "rotate-full"}); err == nil {
		t.Logf("RotateMasterKey on the full disk after the restart went through")
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	resp, err := cl.admin.RotateMasterKey(admin, &pb.RotateMasterKeyRequest{RequestId: "rotate-full"})
	cl.close()
	if err != nil {
		t.Errorf("RotateMasterKey retried once space is freed: %v", err)
	} else if m, err := keys.LoadMaster(h.keyFile); err != nil || m.ID() != resp.GetMasterKeyId() {
		t.Errorf("RotateMasterKey retried once space is freed answered master %s; the key file holds %v (%v)", resp.GetMasterKeyId(), m.ID(), err)
	}
	if exists(h.keyFile + ".next") {
		t.Errorf("after the rotation %s.next is still there", h.keyFile)
	}
	h.srv.kill()
	h.srv = nil
	h.verifyOps("restart with space freed", book)
	if err := h.srv.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Errorf("childcase check at the end: exit %d:\n%s", code, out)
	}
}

// The phases of a rotation a kill can leave, told from the files.
const (
	phaseNone    = "no rotation under way (not begun, or done)"
	phaseBefore  = "next key file written, no data key re-wrapped yet"
	phaseRewrap  = "data keys under two masters (the re-wrap cut short)"
	phaseRebuild = "data keys re-wrapped, index entries under two masters (the rebuild cut short)"
	phaseRecord  = "data keys and index under the new master, its key file not yet in place"
)

// rotationPhase tells, with the server down, where a rotation was cut
// short: from the next key file beside the key file, the masters of the
// data keys and the key ids of the search index's entries.
func (h *harness) rotationPhase() string {
	phase, err := rotationPhaseOf(h.db, h.keyFile+".next")
	if err != nil {
		h.t.Fatal(err)
	}
	return phase
}

// rotationPhaseOf is rotationPhase of the database file db, the next key
// file at next.
func rotationPhaseOf(db, next string) (string, error) {
	if !exists(next) {
		return phaseNone, nil
	}
	nextKey, err := keys.LoadMaster(next)
	if err != nil {
		return "", fmt.Errorf("the next key file: %w", err)
	}
	st, err := boltstore.OpenReadOnly(db, boltstore.Options{})
	if err != nil {
		return "", fmt.Errorf("open %s read-only: %w", db, err)
	}
	defer st.Close()
	phase := phaseRecord
	err = st.View(context.Background(), func(tx datastore.ReadTx) error {
		ks, err := tx.DataKeyPerMaster()
		if err != nil {
			return err
		}
		switch {
		case len(ks) > 1:
			phase = phaseRewrap
			return nil
		case len(ks) == 1 && ks[0].Wrapped.MasterID != nextKey.ID():
			phase = phaseBefore
			return nil
		}
		ids := map[string]bool{}
		var after uint64
		for {
			es, next, err := tx.ListSearchEntries(after, 500)
			if err != nil {
				return err
			}
			for _, e := range es {
				ids[e.KeyID] = true
			}
			if next == 0 {
				break
			}
			after = next
		}
		for id := range ids {
			if !strings.HasPrefix(id, nextKey.ID()+"/") {
				phase = phaseRebuild
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", db, err)
	}
	return phase, nil
}

// rotationOrder is the order of the phases of one rotation.
var rotationOrder = []string{phaseBefore, phaseRewrap, phaseRebuild, phaseRecord}

// killInPhase SIGKILLs proc (with kill, which waits for its end), which is
// rotating the master key of the harness's file (an offline keys rotate,
// or the server; ended closes when the rotation is over), once the file is
// in one of the phases want. A kill at a time chosen in advance lands
// where it aims only if the machine runs as fast as when the time was
// chosen, and under load it did not (a window of one batch of data keys
// is a few milliseconds); this one watches the window instead. proc runs
// in slices of run: after each it is stopped (SIGSTOP, then waited for
// until every thread has stopped, so that no write is under way) and the
// file is copied and its phase read from the copy; in a wanted phase proc
// is killed while still stopped, which leaves the file as the copy is. It
// returns the phase the copy showed when it killed, or "" when the
// rotation ended, or went past the wanted phases, between two looks (the
// process then finishes, and the caller tries again with shorter slices);
// looked counts the looks.
func (h *harness) killInPhase(proc *os.Process, ended <-chan struct{}, kill func(), run time.Duration, want ...string) (killed string, looked int) {
	t := h.t
	t.Helper()
	last := slices.IndexFunc(rotationOrder, func(p string) bool { return p == want[len(want)-1] })
	copyPath := filepath.Join(h.dir, "aim-copy.db")
	defer os.Remove(copyPath)
	begun := false
	for {
		select {
		case <-ended:
			return "", looked
		case <-time.After(run):
		}
		if err := pause(proc); err != nil {
			return "", looked // it exited meanwhile
		}
		if err := awaitStopped(proc.Pid, 10*time.Second); err != nil {
			_ = resume(proc) // never left stopped, whatever the error
			if errors.Is(err, errExited) {
				return "", looked
			}
			t.Fatal(err)
		}
		looked++
		phase := phaseNone
		if exists(h.keyFile + ".next") {
			if err := copyFile(h.db, copyPath); err != nil {
				t.Fatal(err)
			}
			var err error
			if phase, err = rotationPhaseOf(copyPath, h.keyFile+".next"); err != nil {
				t.Fatalf("the copy of the file of a stopped rotation: %v", err)
			}
		}
		if slices.Contains(want, phase) {
			kill()
			return phase, looked
		}
		at := slices.Index(rotationOrder, phase)
		passed := at > last || (phase == phaseNone && begun)
		begun = begun || at >= 0
		if err := resume(proc); err != nil {
			t.Fatal(err)
		}
		if passed {
			<-ended
			return "", looked
		}
	}
}

// requireStoppable skips a test that aims its kills with killInPhase
// where a stopped process cannot be told (no /proc), except in CI.
func requireStoppable(t *testing.T) {
	t.Helper()
	if !canAwaitStopped && !inCI() {
		t.Skip("cannot tell here that a stopped process has stopped (no /proc)")
	}
}

// copyFile copies the file from to the file to.
func copyFile(from, to string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o600)
}
