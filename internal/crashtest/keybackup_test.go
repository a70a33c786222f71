package crashtest

// A hot backup taken while RotateMasterKey runs. The README has the
// operator keep the key file and, after a rotation, the
// childcase.key.retired-<id> files, and start a restored backup "with the
// master key file the backup was taken under": each backup must be under
// one master key, data keys and search index alike, or no key file opens
// it whole.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// fetchBackup streams a whole BackupDatabase into path.
func (h *harness) fetchBackup(cl *client, path string) error {
	stream, err := cl.admin.BackupDatabase(h.as(context.Background(), "admin"), &pb.BackupDatabaseRequest{})
	if err != nil {
		return err
	}
	var whole []byte
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		whole = append(whole, m.GetData()...)
	}
	return os.WriteFile(path, whole, 0o600)
}

// backupMasters returns the masters of a backup's data keys and the key
// ids of its search index entries.
func backupMasters(path string) (masters []string, indexKeys map[string]int, err error) {
	st, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	indexKeys = map[string]int{}
	err = st.View(context.Background(), func(tx datastore.ReadTx) error {
		ks, err := tx.DataKeyPerMaster()
		if err != nil {
			return err
		}
		for _, k := range ks {
			masters = append(masters, k.Wrapped.MasterID)
		}
		for after := uint64(0); ; {
			es, next, err := tx.ListSearchEntries(after, 500)
			if err != nil {
				return err
			}
			for _, e := range es {
				indexKeys[e.KeyID]++
			}
			if next == 0 {
				return nil
			}
			after = next
		}
	})
	return masters, indexKeys, err
}

// TestBackupDuringKeyRotationIsUnderOneMaster takes hot backups one after
// another while a RotateMasterKey re-wraps the data keys of a few hundred
// cases under intake, and the search index is rebuilt; then SIGKILLs the
// server. Each backup must pass `check` and be under one master, the
// retired key's or the new key file's, its data keys and its search
// entries alike: one of the two key files the README says to keep opens
// it whole.
//
// The backups begin once the rotation's next key file appears, and under
// load the rotation could end before the first of them was asked for:
// the test then passed having taken no backup during a rotation. It
// tells from the audit log whether one landed: a backup is audited when
// it is asked for (database.backup, before it waits for the rotation),
// the rotation once it is done (keys.rotate), so a backup asked for after
// the next key file appeared and audited before the rotation was asked
// for while it ran. When none was, the test rotates again, at most
// rotationTries times, and fails if none ever landed.
func TestBackupDuringKeyRotationIsUnderOneMaster(t *testing.T) {
	h := newOpsHarness(t)
	book := &opsBook{}
	h.seedCases(book, 300)

	ctx, cancel := context.WithCancel(context.Background())
	stop := h.load(ctx, book, 2)
	cl := h.dial()
	// A backup, and the two masters of the rotation it was taken during.
	type taken struct{ path, before, after string }
	var backups []taken
	landed := 0
	for try := 0; try < rotationTries && landed == 0; try++ {
		before, err := keys.LoadMaster(h.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		askedBefore := len(backups)
		answered := make(chan error, 1)
		go func() {
			_, err := cl.admin.RotateMasterKey(h.as(context.Background(), "admin"), &pb.RotateMasterKeyRequest{RequestId: fmt.Sprintf("rotate-during-backups-%d", try)})
			answered <- err
		}()
		if !awaitFile(h.keyFile+".next", 10*time.Second) {
			t.Fatalf("no %s.next within 10 s of RotateMasterKey", h.keyFile)
		}
		var paths []string
		var rotateErr error
		for done := false; !done; {
			path := filepath.Join(h.dir, fmt.Sprintf("during-%d-%02d.db", try, len(paths)))
			if err := h.fetchBackup(cl, path); err != nil {
				t.Fatalf("BackupDatabase during the rotation: %v", err)
			}
			paths = append(paths, path)
			select {
			case rotateErr = <-answered:
				done = true
			default:
			}
		}
		if rotateErr != nil {
			t.Fatalf("RotateMasterKey: %v", rotateErr)
		}
		after, err := keys.LoadMaster(h.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if !exists(h.keyFile + ".retired-" + before.ID()) {
			t.Errorf("no %s.retired-%s after the rotation", h.keyFile, before.ID())
		}
		for _, p := range paths {
			backups = append(backups, taken{path: p, before: before.ID(), after: after.ID()})
		}
		rotated := h.auditSeqs(cl, "keys.rotate")
		if len(rotated) != try+1 {
			t.Fatalf("try %d: %d keys.rotate events in the audit log; want %d", try, len(rotated), try+1)
		}
		// Every backup of the earlier tries was asked for before this
		// rotation was audited; the rest of those audited before it are
		// this try's, asked for while it ran.
		for _, seq := range h.auditSeqs(cl, "database.backup") {
			if seq < slices.Max(rotated) {
				landed++
			}
		}
		landed -= askedBefore
		t.Logf("rotation %d: %d of its %d backups asked for while it ran", try, landed, len(paths))
	}
	cl.close()
	h.srv.kill()
	h.srv = nil
	cancel()
	stop()
	if landed == 0 {
		t.Errorf("in %d rotations, no backup was asked for while one ran (each backup's database.backup audit event came after the rotation's keys.rotate): the test tested no backup during a rotation", rotationTries)
	}
	for _, b := range backups {
		name := filepath.Base(b.path)
		kept := map[string]string{b.before: "the retired key file", b.after: "the key file"}
		if code, out := runTool(t, "check", "--db", b.path); code != 0 {
			t.Errorf("%s: childcase check: exit %d:\n%s", name, code, out)
		}
		masters, index, err := backupMasters(b.path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var under []string
		for id := range index {
			m, _, _ := strings.Cut(id, "/")
			if !slices.Contains(under, m) {
				under = append(under, m)
			}
		}
		for _, m := range under {
			if !slices.Contains(masters, m) {
				masters = append(masters, m)
			}
		}
		if len(masters) != 1 || kept[masters[0]] == "" {
			t.Errorf("%s, taken while the master key rotated from %s to %s: its data keys and search entries are under %v; "+
				"no one key file the README keeps opens it whole", name, b.before, b.after, masters)
			continue
		}
		t.Logf("%s: under %s (%s)", name, masters[0], kept[masters[0]])
	}
	h.verifyOps("restart after the rotation and its backups", book)
}

// rotationTries bounds the rotations TestBackupDuringKeyRotationIsUnderOneMaster
// runs to have a backup asked for during one.
const rotationTries = 4

// auditSeqs lists the seqs of the audit events of action, read as the
// auditor, every page.
func (h *harness) auditSeqs(cl *client, action string) []uint64 {
	t := h.t
	t.Helper()
	var seqs []uint64
	req := &pb.ListAuditEventsRequest{Action: action, PageSize: 1000}
	for {
		resp, err := cl.audit.ListAuditEvents(h.as(context.Background(), userAuditor), req)
		if err != nil {
			t.Fatalf("ListAuditEvents of %s: %v", action, err)
		}
		for _, e := range resp.GetEvents() {
			seqs = append(seqs, e.GetSeq())
		}
		if resp.GetNextPageToken() == "" {
			return seqs
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// TestOfflineBackupOfARotationCutShort SIGKILLs an offline `childcase
// keys rotate` while it re-wraps the data keys (stopping it after each
// short slice and looking at a copy of its file until the re-wrap is
// under way), and then backs the file up with the server stopped
// (`backup --db`). The data keys are under two masters until a start
// finishes the rotation, and a copy of them then opens with neither the
// key file nor the retired one: the backup must be refused, saying why
// and what to do, and leave no file; once a start has finished the
// rotation, the same backup is taken, under one master.
func TestOfflineBackupOfARotationCutShort(t *testing.T) {
	requireStoppable(t)
	h := newOpsHarness(t)
	book := &opsBook{}
	h.seedCases(book, 300)
	if err := h.srv.stop(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}
	h.srv = nil
	// rotate starts keys rotate; out holds what it says, read once it ended.
	rotate := func() (cmd *exec.Cmd, out *strings.Builder) {
		cmd = exec.Command(childBin, "keys", "rotate", "--key-file", h.keyFile, "--db", h.db)
		cmd.Env = childEnv()
		out = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	// A kill at a time chosen in advance (a share of an uncut rotation's
	// time) landed in the re-wrap, a window of one batch of data keys, only
	// when the machine ran as fast as when it was timed: the kill is aimed
	// by watching the file instead (killInPhase), in shorter slices at each
	// try until it lands.
	landed := false
	run := 2 * time.Millisecond
	for try := range 8 {
		cmd, out := rotate()
		ended := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(ended) }()
		killed, looked := h.killInPhase(cmd.Process, ended, func() { _ = cmd.Process.Kill(); <-ended }, run, phaseRewrap)
		<-ended
		phase := h.rotationPhase()
		t.Logf("try %d, childcase keys rotate watched in slices of %s (%d looks): %s", try, run, looked, phase)
		if killed == "" {
			t.Logf("it ran to its end (%v): %s", waitErr, strings.TrimSpace(out.String()))
		}
		if killed != "" {
			if phase != killed {
				t.Fatalf("childcase keys rotate was killed stopped, its file copied in phase %q, and the file is left in %q", killed, phase)
			}
			landed = true
			break
		}
		run /= 2
	}
	if !landed {
		t.Fatalf("no kill of keys rotate landed while it re-wrapped the data keys, the last watched in slices of %s: the test tested nothing", 2*run)
	}

	to := filepath.Join(h.dir, "cut-short.db")
	code, out := runTool(t, "backup", "--db", h.db, "--to", to)
	if code == 0 {
		t.Errorf("backup --db of a file whose rotation was cut short exits 0:\n%s", out)
	}
	for _, want := range []string{"master key rotation is unfinished", "start it once on this file"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup --db of a file whose rotation was cut short does not say %q:\n%s", want, out)
		}
	}
	if exists(to) || exists(to+".tmp") {
		t.Errorf("the refused backup left %s or its .tmp", to)
	}

	h.verifyOps("restart after a SIGKILL during keys rotate, its backup refused", book)
	if err := h.srv.stop(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}
	h.srv = nil
	if code, out := runTool(t, "backup", "--db", h.db, "--to", to); code != 0 {
		t.Fatalf("backup --db once the start finished the rotation: exit %d:\n%s", code, out)
	}
	masters, _, err := backupMasters(to)
	if err != nil {
		t.Fatal(err)
	}
	current, err := keys.LoadMaster(h.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(masters, []string{current.ID()}) {
		t.Errorf("the backup taken once the rotation was finished is under %v; want the key file's master %s alone", masters, current.ID())
	}
}
