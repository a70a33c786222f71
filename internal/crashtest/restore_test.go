package crashtest

// SIGKILLs of `childcase restore` part way. The README: it copies through
// a temporary file beside --db, fsyncs it and renames it into place, "so a
// crash leaves either the old file or the whole backup"; the temporary
// file a restore killed outright leaves is removed by the next restore or
// serve on that --db, once it is a minute old.

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fileSum is the SHA-256 of a file's bytes.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(raw)
}

// restoreLeftovers lists the temporary files of restores beside the
// database.
func (h *harness) restoreLeftovers() []string {
	ents, _ := os.ReadDir(filepath.Dir(h.db))
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filepath.Base(h.db)+".restore-") {
			out = append(out, filepath.Join(filepath.Dir(h.db), e.Name()))
		}
	}
	return out
}

// TestKillDuringRestore SIGKILLs `childcase restore --force` of a backup
// over a database that has moved on since, at random moments within the
// time an uninterrupted restore takes, most in its second half. After each kill the database is
// byte for byte the old file or the backup, never a mix; each kill starts
// from the old file again. Then the temporary files left, aged past the
// minute, are removed by the next start, which serves the database with
// every case it holds, and `check` passes.
func TestKillDuringRestore(t *testing.T) {
	h := newOpsHarness(t)
	before := &opsBook{}
	h.seedCases(before, 80)
	if err := h.srv.stop(); err != nil {
		t.Fatal(err)
	}
	h.srv = nil
	backup := filepath.Join(h.dir, "backup.db")
	if code, out := runTool(t, "backup", "--db", h.db, "--to", backup); code != 0 {
		t.Fatalf("childcase backup --db: exit %d:\n%s", code, out)
	}
	// The database moves on: more cases than the backup holds.
	h.srv = h.start()
	after := &opsBook{cases: slices.Clone(before.cases), next: before.next}
	h.seedCases(after, 40)
	if err := h.srv.stop(); err != nil {
		t.Fatal(err)
	}
	h.srv = nil
	oldCopy := filepath.Join(h.dir, "old.db")
	raw, err := os.ReadFile(h.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldCopy, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	oldSum, newSum := sha256.Sum256(raw), fileSum(t, backup)

	// An uninterrupted restore, to time one.
	scratch := filepath.Join(h.dir, "scratch", "childcase.db")
	if err := os.Mkdir(filepath.Dir(scratch), 0o700); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if code, out := runTool(t, "restore", "--from", backup, "--db", scratch); code != 0 {
		t.Fatalf("childcase restore: exit %d:\n%s", code, out)
	}
	took := time.Since(began)

	outcome := map[string]int{}
	for k := 0; k < 12; k++ {
		if err := os.WriteFile(h.db, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(childBin, "restore", "--from", backup, "--db", h.db, "--force")
		cmd.Env = childEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The check of the backup comes first: most kills go to the
		// second half, where the copy is written, synced and renamed.
		wait := time.Duration(h.rng.Int64N(int64(took)))
		if k%4 != 0 {
			wait = took/2 + time.Duration(h.rng.Int64N(int64(took*3/5)))
		}
		time.Sleep(wait)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		switch fileSum(t, h.db) {
		case oldSum:
			outcome["the old file"]++
		case newSum:
			outcome["the backup"]++
		default:
			t.Fatalf("restore killed %s into its run (an uninterrupted one took %s): %s is neither the old file nor the backup",
				wait.Round(time.Millisecond), took.Round(time.Millisecond), h.db)
		}
	}
	left := h.restoreLeftovers()
	t.Logf("12 kills of restore within %s: %v; %d temporary files left", took.Round(time.Millisecond), outcome, len(left))

	// What the kills left is a minute old by the next start.
	old := time.Now().Add(-2 * time.Minute)
	for _, f := range left {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	book := after
	if fileSum(t, h.db) == newSum {
		book = &opsBook{cases: slices.Clone(before.cases), next: after.next}
	}
	h.verifyOps("start after restores killed part way", book)
	if still := h.restoreLeftovers(); len(still) > 0 {
		t.Errorf("after the start, the temporary files of the killed restores are still there: %v", still)
	}
	if err := h.srv.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Errorf("childcase check at the end: exit %d:\n%s", code, out)
	}
}
