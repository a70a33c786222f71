package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/boltstore/damagetest"
)

// The tests in this file drive backup, restore and check through Main,
// against real database files in t.TempDir().

// opsClearEnv is mgClearEnv plus the twins of the operations flags.
func opsClearEnv(t *testing.T) {
	t.Helper()
	mgClearEnv(t)
	for _, name := range []string{"ADDR", "TOKEN", "CA_CERT", "CLIENT_CERT", "CLIENT_KEY"} {
		t.Setenv(EnvPrefix+name, "")
	}
}

// opsDatabase makes a stopped server's database with two users (and so
// their tokens and audit events).
func opsDatabase(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "cc.db")
	for _, id := range []string{"first.user", "second.user"} {
		mgMustRun(t, "users", "add", "--create", "--db", db, "--id", id, "--name", id, "--role", "AUDITOR", "--unit", "orgs/system")
	}
	return db
}

// opsBackedUp makes a stopped server's database (opsDatabase) in a new
// directory and an offline backup of it named name beside it.
func opsBackedUp(t *testing.T, name string) (dir, db, backup string) {
	t.Helper()
	opsClearEnv(t)
	dir = t.TempDir()
	db = opsDatabase(t, dir)
	backup = filepath.Join(dir, name)
	mgMustRun(t, "backup", "--to", backup, "--db", db)
	return dir, db, backup
}

func TestOpsBackupOffline(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	out := filepath.Join(dir, "backups", "cc-1.db")
	if err := os.Mkdir(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}

	stdout := mgMustRun(t, "backup", "--to", out, "--db", db)
	// Six events of the file's and the backup's own (database.backup).
	if !strings.Contains(stdout, "Backed up") || !strings.Contains(stdout, "2 users") || !strings.Contains(stdout, "7 audit events") || strings.Contains(stdout, "NOT AUDITED") {
		t.Errorf("backup said %q", stdout)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the backup has mode %v, want 0600", st.Mode().Perm())
	}
	if names := dirNames(t, filepath.Dir(out)); len(names) != 1 {
		t.Errorf("left beside the backup: %v", names)
	}
	if stdout := mgMustRun(t, "check", "--db", out); !strings.HasPrefix(stdout, "OK: ") || !strings.Contains(stdout, "7 audit events (head seq 7)") {
		t.Errorf("check of the backup: %q", stdout)
	}

	// An existing file is never replaced.
	before, _ := os.ReadFile(out)
	mgMustRun(t, "users", "add", "--db", db, "--id", "third.user", "--name", "x", "--role", "AUDITOR", "--unit", "orgs/system")
	code, stdout, stderr := mgRun(t, "backup", "--to", out, "--db", db)
	if code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("backup over an existing file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Errorf("the existing backup changed")
	}
	// A folder for --to (as cp takes one) is named as such: the backup
	// needs its file's name, and "never replaces a file" would say the
	// wrong thing.
	if code, _, stderr := mgRun(t, "backup", "--to", dir, "--db", db); code != 1 || !strings.Contains(stderr, "--to: "+dir+" is a folder") {
		t.Errorf("backup to a folder: exit %d, stderr %q; want 1 saying --to is a folder", code, stderr)
	}
	if code, _, stderr := mgRun(t, "backup", "--db", db); code != 2 || !strings.Contains(stderr, "--to") {
		t.Errorf("backup without --to: exit %d, stderr %q", code, stderr)
	}
	// A file to read that does not exist is named as its flag's, as the
	// commands that open a database name --db (users, audit verify, ...),
	// not as a failed open or stat that names no flag.
	missing := filepath.Join(dir, "missing.db")
	if code, _, stderr := mgRun(t, "backup", "--to", filepath.Join(dir, "x.db"), "--db", missing); code != 1 || strings.Count(stderr, missing) != 1 || !strings.Contains(stderr, "--db: "+missing+" does not exist") {
		t.Errorf("backup of a missing database: exit %d, stderr %q (want 1 naming --db and the path once)", code, stderr)
	}
	if code, _, stderr := mgRun(t, "check", "--db", missing); code != 1 || strings.Count(stderr, missing) != 1 || !strings.Contains(stderr, "--db: "+missing+" does not exist") {
		t.Errorf("check of a missing database: exit %d, stderr %q (want 1 naming --db and the path once)", code, stderr)
	}
	if code, _, stderr := mgRun(t, "restore", "--from", missing, "--db", filepath.Join(dir, "restored.db")); code != 1 || strings.Count(stderr, missing) != 1 || !strings.Contains(stderr, "--from: "+missing+" does not exist") {
		t.Errorf("restore of a missing backup: exit %d, stderr %q (want 1 naming --from and the path once)", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "restored.db")); err == nil {
		t.Errorf("restore of a missing backup made its --db")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Errorf("backup created the database it was to copy")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db.tmp")); err == nil {
		t.Errorf("a failed backup left its temporary file")
	}
	// A folder that does not exist is named as --to's, with what to do,
	// rather than as a failed open of a temporary file the operator never
	// named; and it is not made, so a mistyped path stays a mistake.
	nowhere := filepath.Join(dir, "nightly")
	code, _, stderr = mgRun(t, "backup", "--to", filepath.Join(nowhere, "cc.db"), "--db", db)
	if code != 1 || !strings.Contains(stderr, "--to: the folder "+nowhere+" does not exist") || strings.Contains(stderr, ".tmp") {
		t.Errorf("backup into a folder that does not exist: exit %d, stderr %q; want 1 naming --to and the folder", code, stderr)
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Errorf("backup made the folder %s", nowhere)
	}
	// So is restore's --db in such a folder, before the backup is read.
	code, _, stderr = mgRun(t, "restore", "--from", db, "--db", filepath.Join(nowhere, "cc.db"))
	if code != 1 || !strings.Contains(stderr, "--db: the folder "+nowhere+" does not exist") || strings.Contains(stderr, ".restore-") {
		t.Errorf("restore into a folder that does not exist: exit %d, stderr %q; want 1 naming --db and the folder", code, stderr)
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Errorf("restore made the folder %s", nowhere)
	}
}

// TestOpsHotBackupAndRestore backs up a running server through its API,
// and checks that restore (and check, and an offline backup) refuse the
// live database; with the server stopped, restore replaces it only with
// --force.
func TestOpsHotBackupAndRestore(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	grpcAddr := mgAddr(t)
	s := mgServe(t, db, filepath.Join(dir, "cc.key"), "--grpc-addr", grpcAddr)
	admin := mgTokenRE.FindString(s.console())
	if admin == "" {
		t.Fatalf("no admin token in the console:\n%s", s.console())
	}

	hot := filepath.Join(dir, "hot.db")
	// The servers' environment does not count against --addr; only a
	// store named on the command line does (below).
	t.Setenv(EnvPrefix+"DB", filepath.Join(dir, "other.db"))
	t.Setenv(EnvPrefix+"STORE", "bbolt")
	stdout := mgMustRun(t, "backup", "--to", hot, "--addr", grpcAddr, "--token", admin)
	t.Setenv(EnvPrefix+"DB", "")
	t.Setenv(EnvPrefix+"STORE", "")
	if !strings.Contains(stdout, "Backed up "+grpcAddr) {
		t.Errorf("backup said %q", stdout)
	}
	// The README's Operations: the file is written with mode 0600, the
	// hot backup's as the offline one's.
	if st, err := os.Stat(hot); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("the hot backup has mode %v, want 0600", st.Mode().Perm())
	}
	if stdout := mgMustRun(t, "check", "--db", hot); !strings.HasPrefix(stdout, "OK: ") || !strings.Contains(stdout, "1 user, ") {
		t.Errorf("check of the hot backup: %q", stdout)
	}
	if code, _, stderr := mgRun(t, "backup", "--to", filepath.Join(dir, "bad.db"), "--addr", grpcAddr, "--token", "cc_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code != 1 || !strings.Contains(stderr, "Unauthenticated") {
		t.Errorf("backup with a bad token: exit %d, stderr %q", code, stderr)
	}
	// A store named beside --addr would be ignored: the operator would
	// believe they had backed up that one.
	for _, named := range [][]string{{"--db", db}, {"--store", "etcd://127.0.0.1:1"}, {"--store", "bbolt"}} {
		to := filepath.Join(dir, "both.db")
		args := append([]string{"backup", "--to", to, "--addr", grpcAddr, "--token", admin}, named...)
		if code, _, stderr := mgRun(t, args...); code != 2 || !strings.Contains(stderr, "--addr, "+named[0]) {
			t.Errorf("backup %v: exit %d, stderr %q", named, code, stderr)
		}
		if _, err := os.Stat(to); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("backup %v left %s: %v", named, to, err)
		}
	}

	live, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"restore", "--from", hot, "--db", db},
		{"restore", "--from", hot, "--db", db, "--force"},
		{"check", "--db", db},
		{"backup", "--to", filepath.Join(dir, "offline.db"), "--db", db},
	} {
		start := time.Now()
		code, stdout, stderr := mgRun(t, args...)
		if code != 1 || !strings.Contains(stderr, "in use") {
			t.Errorf("%s while the server runs: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s took %v to give up", args[0], took)
		}
	}
	if now, err := os.Stat(db); err != nil || !os.SameFile(live, now) {
		t.Errorf("the live database was replaced (%v)", err)
	}
	s.stop()

	code, stdout, stderr := mgRun(t, "restore", "--from", hot, "--db", db)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("restore over an existing file without --force: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout = mgMustRun(t, "restore", "--from", hot, "--db", db, "--force")
	if !strings.Contains(stdout, "Restored") {
		t.Errorf("restore said %q", stdout)
	}
	want, _ := os.ReadFile(hot)
	if got, _ := os.ReadFile(db); !bytes.Equal(got, want) {
		t.Errorf("the restored database differs from the backup")
	}
	fresh := filepath.Join(dir, "fresh", "cc.db")
	if err := os.Mkdir(filepath.Dir(fresh), 0o700); err != nil {
		t.Fatal(err)
	}
	mgMustRun(t, "restore", "--from", hot, "--db", fresh)
	if names := dirNames(t, filepath.Dir(fresh)); len(names) != 1 {
		t.Errorf("restore left beside the database: %v", names)
	}
	// The restored database serves again.
	s = mgServe(t, fresh, filepath.Join(dir, "cc.key"))
	if code, body := s.get("/v1/users", admin); code != 200 || !bytes.Contains(body, []byte("users/admin")) {
		t.Errorf("GET /v1/users on the restored database: %d %s", code, body)
	}
	s.stop()
}

// opsTamperAudit edits audit event 2 of the database file at path, so
// that its hash chain breaks there.
func opsTamperAudit(t *testing.T, path string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := binary.BigEndian.AppendUint64(nil, 2)
		e, err := audit.Decode(b.Get(key))
		if err != nil {
			return err
		}
		e.Outcome = "no"
		edited, err := audit.Encode(e)
		if err != nil {
			return err
		}
		return b.Put(key, edited)
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpsCheckTamperedCopy edits an audit event of a backup: check exits 1
// naming it, and restore refuses the copy.
func TestOpsCheckTamperedCopy(t *testing.T) {
	dir, db, copyPath := opsBackedUp(t, "copy.db")
	opsTamperAudit(t, copyPath)

	code, stdout, stderr := mgRun(t, "check", "--db", copyPath)
	if code != 1 || !strings.Contains(stdout, "PROBLEM audit seq 2: the hash chain is broken") || !strings.Contains(stdout, "BROKEN") {
		t.Errorf("check of a tampered copy: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if stdout := mgMustRun(t, "check", "--db", db); !strings.HasPrefix(stdout, "OK: ") {
		t.Errorf("check of the original: %q", stdout)
	}

	target := filepath.Join(dir, "restored.db")
	code, stdout, stderr = mgRun(t, "restore", "--from", copyPath, "--db", target)
	if code != 1 || !strings.Contains(stdout, "PROBLEM audit seq 2") || !strings.Contains(stderr, "not restored") {
		t.Errorf("restore of a tampered copy: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("restore of a tampered copy created %s", target)
	}

	// A file that is not a database at all.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := mgRun(t, "check", "--db", junk); code != 1 {
		t.Errorf("check of junk: exit %d", code)
	}
	if code, _, _ := mgRun(t, "restore", "--from", junk, "--db", target); code != 1 {
		t.Errorf("restore of junk: exit %d", code)
	}
}

// TestOpsBackupOfADatabaseWithProblems holds the README's "If the
// database it copied has problems, the backup is kept, the problems are
// printed and it exits 1": a backup is the evidence of the state the
// problems are in, so it is not thrown away.
func TestOpsBackupOfADatabaseWithProblems(t *testing.T) {
	dir, _, tampered := opsBackedUp(t, "tampered.db")
	opsTamperAudit(t, tampered)
	out := filepath.Join(dir, "of-tampered.db")
	code, stdout, stderr := mgRun(t, "backup", "--to", out, "--db", tampered)
	if code != 1 || !strings.Contains(stdout, "PROBLEM audit seq 2") {
		t.Errorf("backup of a database with problems: exit %d\nstdout:\n%s\nstderr:\n%s\nwant 1 and the problem printed", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the backup of a database with problems was not kept: %v", err)
	}
	if _, err := os.Stat(out + ".tmp"); err == nil {
		t.Errorf("the backup left its temporary file")
	}
}

// TestOpsDamagedFiles cuts and corrupts a backup below bbolt: check and
// restore answer each with a diagnosis and exit 1, never a crash (a cut
// file used to end in SIGBUS inside bbolt's freelist read), and restore
// leaves nothing behind.
func TestOpsDamagedFiles(t *testing.T) {
	_, _, healthy := opsBackedUp(t, "healthy.db")
	data, err := os.ReadFile(healthy)
	if err != nil {
		t.Fatal(err)
	}
	page := int(binary.NativeEndian.Uint32(data[24:28])) // meta 0's page size
	if len(data)%page != 0 || len(data) < 6*page {
		t.Fatalf("the backup is %d bytes, page size %d", len(data), page)
	}

	cases := []struct {
		name string
		file []byte
		want string // in what check prints
	}{
		{"cut to 90%", data[:len(data)*9/10], "truncated"},
		{"cut to 50%", data[:len(data)/2], "truncated"},
		{"one page short", data[:len(data)-page], "truncated"},
		{"only the meta pages", data[:2*page], "truncated"},
		{"0 bytes", nil, "empty"},
		{"1 byte", data[:1], "too short"},
		{"both meta pages damaged", opsDamageMetas(data, page, func(m []byte) { m[0] ^= 0xff }), "no valid meta page"},
		// The diagnosis says what is wrong with each meta page.
		{"both meta checksums wrong", opsBreakMetaChecksums(data, page), "page 0: its checksum does not match; page 1: none valid"},
		{"bad page size", opsDamageMetas(data, page, func(m []byte) { binary.NativeEndian.PutUint32(m[8:], 3000) }), "page size"},
		{"root beyond the end", opsDamageMetas(data, page, func(m []byte) { binary.NativeEndian.PutUint64(m[16:], 1<<40) }), "beyond"},
		{"a page pointer beyond the end", opsDamageBucketRoot(t, data, page), "beyond"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(path, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := mgRun(t, "check", "--db", path)
			if code != 1 || !strings.Contains(stdout+stderr, c.want) || !strings.Contains(stdout, "BROKEN") {
				t.Errorf("check: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", code, c.want, stdout, stderr)
			}
			target := filepath.Join(t.TempDir(), "restored.db")
			code, stdout, stderr = mgRun(t, "restore", "--from", path, "--db", target)
			if code != 1 || !strings.Contains(stdout+stderr, c.want) || !strings.Contains(stderr, "not restored") {
				t.Errorf("restore: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", code, c.want, stdout, stderr)
			}
			if names := dirNames(t, filepath.Dir(target)); len(names) != 0 {
				t.Errorf("restore of a damaged file left %v", names)
			}
			// Restoring a good backup over the damaged file works: the
			// damaged target is not mapped either.
			mgMustRun(t, "restore", "--from", healthy, "--db", path, "--force")
			if stdout := mgMustRun(t, "check", "--db", path); !strings.HasPrefix(stdout, "OK: ") {
				t.Errorf("check after restoring over it: %q", stdout)
			}
		})
	}
}

// Offsets in a bbolt meta page, after its 16-byte page header: magic(4)
// version(4) page size(4) flags(4) root(8) root sequence(8) freelist(8)
// high-water mark(8) txid(8) checksum(8), in the machine's byte order.
const (
	opsMetaStart    = 16
	opsMetaChecksum = 56 // the checksum covers the meta bytes before it
)

// opsDamageMetas returns a copy of data with edit applied to both meta
// pages (given the bytes from the magic on) and their checksums made valid
// again, so that only the edited field is wrong.
func opsDamageMetas(data []byte, page int, edit func(meta []byte)) []byte {
	out := bytes.Clone(data)
	for _, at := range []int{0, page} {
		m := out[at+opsMetaStart : at+page]
		edit(m)
		h := fnv.New64a()
		h.Write(m[:opsMetaChecksum])
		binary.NativeEndian.PutUint64(m[opsMetaChecksum:], h.Sum64())
	}
	return out
}

// opsBreakMetaChecksums returns a copy of data whose two meta pages fail
// their checksums, their fields intact.
func opsBreakMetaChecksums(data []byte, page int) []byte {
	out := bytes.Clone(data)
	for _, at := range []int{0, page} {
		out[at+opsMetaStart+opsMetaChecksum] ^= 0xff
	}
	return out
}

// opsDamageBucketRoot returns a copy of data in which the root page of a
// bucket stored on its own page (not inline) is moved far beyond the end
// of the file; the meta pages stay valid.
func opsDamageBucketRoot(t *testing.T, data []byte, page int) []byte {
	t.Helper()
	out := bytes.Clone(data)
	root := int(binary.NativeEndian.Uint64(out[opsMetaStart+16:]))
	if txid1, txid0 := binary.NativeEndian.Uint64(out[page+opsMetaStart+48:]), binary.NativeEndian.Uint64(out[opsMetaStart+48:]); txid1 > txid0 {
		root = int(binary.NativeEndian.Uint64(out[page+opsMetaStart+16:]))
	}
	p := out[root*page : (root+1)*page]
	const leafFlag, bucketFlag = 0x02, 0x01
	if binary.NativeEndian.Uint16(p[8:]) != leafFlag {
		t.Fatalf("the root page %d is not a leaf (flags %#x)", root, binary.NativeEndian.Uint16(p[8:]))
	}
	count := int(binary.NativeEndian.Uint16(p[10:]))
	for i := range count {
		elem := p[16+16*i:]
		flags, pos, ksize := binary.NativeEndian.Uint32(elem), int(binary.NativeEndian.Uint32(elem[4:])), int(binary.NativeEndian.Uint32(elem[8:]))
		value := elem[pos+ksize:]
		if flags&bucketFlag != 0 && binary.NativeEndian.Uint64(value) != 0 {
			binary.NativeEndian.PutUint64(value, 1<<40)
			return out
		}
	}
	t.Fatalf("no bucket of the backup has a page of its own")
	return nil
}

// TestCheckPrintsProgress: check tells the operator on stderr that it has
// begun (and, on a large database, how far it has come), and keeps stdout
// for the result.
func TestCheckPrintsProgress(t *testing.T) {
	opsClearEnv(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	s, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mgRun(t, "check", "--db", db)
	if code != 0 || !strings.HasPrefix(stdout, "OK: ") || strings.Contains(stdout, "check: ") {
		t.Errorf("check: exit %d, stdout %q", code, stdout)
	}
	if want := "check: reading the page structure of " + db + "\n"; !strings.HasPrefix(stderr, want) {
		t.Errorf("check's stderr = %q, want it to begin with %q", stderr, want)
	}
}

// TestServeRefusesADamagedPage: serve on a file whose meta pages are sound
// but one of whose pages was overwritten (a disk fault), a page the start
// reads, exits 1 with one line naming the file, that it is damaged and
// that childcase check says what is damaged, instead of bbolt's panic and
// a goroutine dump; and check names the page. A start reads more than the
// newest audit events, which it verifies: it looks at the users (is there
// a first admin to create?), so a damaged page of theirs refuses the start
// too, not the first request (as the README said).
//
// The data keys too: a start checks the master key against one wrapped
// key per master (the README's "Data at rest"), so a damaged page of
// theirs refuses the start with the same line as the users'.
func TestServeRefusesADamagedPage(t *testing.T) {
	opsClearEnv(t)
	for _, tt := range []struct {
		bucket string
		line   string // what the one line says besides the file and check
	}{
		{"audit", "childcase: start: verifying the newest audit events: the database file "},
		{"users", "childcase: the database file "},
		{"data_keys", "childcase: the database file "},
	} {
		t.Run(tt.bucket, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "cc.db")
			keyFile := filepath.Join(dir, "cc.key")
			if tt.bucket == "data_keys" {
				// A data key per case: enough cases that their keys fill
				// pages of their own.
				mgMustRun(t, "load", "--db", db, "--cases", "60", "--seed", "1")
				keyFile = db + ".key"
			} else {
				// Enough users that their bucket has pages of its own.
				for i := range 40 {
					id := "user." + strconv.Itoa(i)
					mgMustRun(t, "users", "add", "--create", "--db", db, "--id", id, "--name", id, "--role", "AUDITOR", "--unit", "orgs/system")
				}
			}
			leaves := damagetest.Leaves(t, db, tt.bucket)
			if len(leaves) == 0 {
				t.Fatalf("bucket %q has no page of its own to damage", tt.bucket)
			}
			damaged := []uint64{leaves[len(leaves)-1].ID}
			if tt.bucket == "data_keys" {
				// Every page of them, whichever key the start reads.
				damaged = nil
				for _, l := range leaves {
					damaged = append(damaged, l.ID)
				}
			}
			for _, id := range damaged {
				damagetest.Garble(t, db, id)
			}

			// A start that does not refuse the file serves until this ends.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := Main(ctx, []string{"serve", "--db", db, "--key-file", keyFile,
				"--grpc-addr", mgAddr(t), "--http-addr", mgAddr(t)}, &stdout, &stderr)
			var last []string
			for line := range strings.Lines(stderr.String()) {
				if strings.HasPrefix(line, "childcase: ") {
					last = append(last, line)
				}
			}
			if code != 1 || len(last) != 1 || !strings.HasPrefix(last[0], tt.line+db+" is damaged: a read failed (bbolt panicked in ") ||
				!strings.HasSuffix(last[0], "; run childcase check --db "+db+" to see what is damaged, and restore a backup\n") {
				t.Errorf("serve on a damaged page of %q: exit %d, want 1 with one line %q..., naming %s, the damage and childcase check\nstderr:\n%s",
					tt.bucket, code, tt.line, db, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("serve on a damaged page printed a goroutine dump:\n%s", stderr.String())
			}
			code, out, _ := mgRun(t, "check", "--db", db)
			named := false
			for _, id := range damaged {
				named = named || strings.Contains(out, "PROBLEM file: page "+strconv.FormatUint(id, 10)+" (bucket \""+tt.bucket+"\") says it is page ")
			}
			if code != 1 || !named {
				t.Errorf("check of the damaged file: exit %d, want 1 naming one of the damaged pages %v of bucket %q:\n%s", code, damaged, tt.bucket, out)
			}
		})
	}
}

// TestCheckSummaryCountsInEnglish: one of anything is said in the
// singular ("1 problem", not "1 problems"), none and more in the plural.
func TestCheckSummaryCountsInEnglish(t *testing.T) {
	for n, want := range map[int]string{
		1: "schema version 11, 1 byte; 1 report, 1 case, 1 case event, 1 timer, 1 notification; " +
			"1 user, 1 token, 1 police unit, 1 data key; 1 audit event (head seq 1); 1 problem",
		2: "schema version 11, 2 bytes; 2 reports, 2 cases, 2 case events, 2 timers, 2 notifications; " +
			"2 users, 2 tokens, 2 police units, 2 data keys; 2 audit events (head seq 2); 2 problems",
	} {
		res := app.CheckResult{Omitted: n}
		res.CheckSummary = boltstore.CheckSummary{SchemaVersion: 11, Bytes: int64(n), Reports: n, Cases: n, CaseEvents: n, Timers: n,
			Notifications: n, Users: n, Tokens: n, PoliceUnits: n, DataKeys: n, AuditEvents: n, AuditHeadSeq: uint64(n)}
		if got := summary(res); got != want {
			t.Errorf("summary of %d of each:\n got %s\nwant %s", n, got, want)
		}
	}
	if got := summary(app.CheckResult{}); !strings.Contains(got, "0 reports, 0 cases") {
		t.Errorf("summary of none: %s, want none in the plural", got)
	}
}

// TestCheckOutputCountsInEnglish: what check prints besides its summary,
// its problems and its progress, says one of a thing in the singular too:
// a one-byte file was "too short to be a database: 1 bytes".
func TestCheckOutputCountsInEnglish(t *testing.T) {
	onePlural := regexp.MustCompile(`(^|[^0-9.,])1 (bytes|pages|more pages|records|ids|elements)([^/a-z]|$)`)
	path := filepath.Join(t.TempDir(), "one.db")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mgRun(t, "check", "--db", path)
	if code != 1 || !strings.Contains(stdout, "too short to be a database: 1 byte,") || onePlural.MatchString(stdout+stderr) {
		t.Errorf("check of a one-byte file: exit %d\nstdout:\n%s\nstderr:\n%s\nwant 1 and \"1 byte\" in the singular", code, stdout, stderr)
	}
	var progress bytes.Buffer
	checkProgress(&progress, "one.db")(app.CheckProgress{Bucket: "cases", Records: 1, Elapsed: time.Second})
	if got := progress.String(); !strings.Contains(got, "cases, 1 record read") || onePlural.MatchString(got) {
		t.Errorf("progress of one record: %q, want \"1 record read\"", got)
	}
}

// stopsAfter is a context that is cancelled once Err has been asked n
// times: an interrupt that comes in the middle of a copy, at a place a
// test can name.
type stopsAfter struct {
	context.Context
	n int
}

func (c *stopsAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestRestoreInterruptedLeavesNoTemporaryFile: a restore stopped in the
// middle of its copy (Ctrl-C, SIGTERM: restore's context) stops there,
// removes the temporary file it was writing beside --db and leaves --db
// as it was.
func TestRestoreInterruptedLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(src, bytes.Repeat([]byte("x"), 3*restoreChunk+1), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "cc.db")
	err := copyAtomic(&stopsAfter{Context: context.Background(), n: 2}, src, dst, -1, -1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("an interrupted copy: %v, want context.Canceled", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"backup.db"}) {
		t.Errorf("an interrupted restore left %v, want only the backup", names)
	}
}

// TestRestoreRemovesTheLeftoverOfACrash: a restore killed outright (kill
// -9, a power cut) leaves its temporary file; the next restore onto that
// --db, and the next serve on it, remove it, and nothing else: not the
// file of a restore still running (which holds a lock on it), not a file
// of another name.
func TestRestoreRemovesTheLeftoverOfACrash(t *testing.T) {
	dir, db, backup := opsBackedUp(t, "backup.db")
	crashed := db + ".restore-1234567"
	notOurs := db + ".restore-notes"
	// Files of a crash are older than a minute; one written just now, not
	// yet locked, is a restore between making its file and locking it.
	old := time.Now().Add(-2 * leftoverAge)
	for _, f := range []string{crashed, notOurs} {
		if err := os.WriteFile(f, []byte("half a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	fresh := db + ".restore-7654321"
	if err := os.WriteFile(fresh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	running, err := os.CreateTemp(dir, filepath.Base(db)+".restore-*")
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	if err := lockTemporary(running); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(running.Name(), old, old); err != nil {
		t.Fatal(err)
	}

	out := mgMustRun(t, "restore", "--from", backup, "--db", db, "--force")
	if !strings.Contains(out, "Removed "+crashed+", left by a restore that did not finish") {
		t.Errorf("restore did not say it removed the leftover:\n%s", out)
	}
	want := []string{"backup.db", "cc.db", filepath.Base(notOurs), filepath.Base(running.Name()), filepath.Base(fresh)}
	slices.Sort(want)
	if names := dirNames(t, dir); !slices.Equal(names, want) {
		t.Errorf("after the restore: %v, want %v", names, want)
	}

	// serve removes one as well, before it opens the database.
	if err := os.WriteFile(crashed, []byte("half a copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(crashed, old, old); err != nil {
		t.Fatal(err)
	}
	srv := mgServe(t, db, filepath.Join(dir, "cc.key"))
	srv.stop()
	if !strings.Contains(srv.stderr.String(), `"removed":"`+crashed+`"`) {
		t.Errorf("serve did not log the leftover it removed:\n%s", srv.stderr)
	}
	want = append(want, "cc.key", "cc.db.reserve") // the server's own
	slices.Sort(want)
	if names := dirNames(t, dir); !slices.Equal(names, want) {
		t.Errorf("after the next start: %v, want %v", names, want)
	}
}

// TestRestoreKeepsTheOwnerOfTheFileItReplaces: in production the database
// belongs to the service's own user (the README's unit runs as
// childcase, in its StateDirectory), and an operator restores a backup as
// root. A restored file owned by root, mode 0600, is one the service
// cannot open: it would fail at every restart. The restored file takes
// the owner and group of the file it replaces, and a new one, restored by
// root, those of its folder.
func TestRestoreKeepsTheOwnerOfTheFileItReplaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	const uid, gid = 65534, 65534 // nobody, as the service's user
	owner := func(path string) (int, int) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fileOwner(fi)
	}
	_, db, backup := opsBackedUp(t, "backup.db")
	if err := os.Chown(db, uid, gid); err != nil {
		t.Fatal(err)
	}
	mgMustRun(t, "restore", "--from", backup, "--db", db, "--force")
	if u, g := owner(db); u != uid || g != gid {
		t.Errorf("restored over a file of %d:%d, the file is %d:%d", uid, gid, u, g)
	}

	state := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(state, "cc.db")
	mgMustRun(t, "restore", "--from", backup, "--db", fresh)
	if u, g := owner(fresh); u != uid || g != gid {
		t.Errorf("restored into a folder of %d:%d, the new file is %d:%d", uid, gid, u, g)
	}
}

// TestRestoreByAnotherUserThanRoot: the README's two rules for a restore
// not run as root, by the binary run as nobody. Over a file of root, who
// opens a file of any owner, the restored copy stays nobody's and the
// restore goes through; over a file of a third user, to whom nobody cannot
// give the copy, the restore is refused naming --db, and the file is left
// as it was.
func TestRestoreByAnotherUserThanRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running the binary as another user needs root")
	}
	const nobody, other = 65534, 65533
	_, db, backup := opsBackedUp(t, "backup.db")
	// nobody reaches the files: the folders and the binary are open to it.
	dir := filepath.Dir(db)
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(backup, 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "childcase.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	restoreAsNobody := func() (int, string) {
		t.Helper()
		cmd := exec.Command(exe, "restore", "--from", backup, "--db", db, "--force")
		cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
		cmd.Dir = dir
		runAs(cmd, nobody, nobody)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	owner := func() int {
		t.Helper()
		fi, err := os.Stat(db)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := fileOwner(fi)
		return uid
	}

	if code, out := restoreAsNobody(); code != 0 || owner() != nobody {
		t.Errorf("nobody restoring over root's file: exit %d, the file of %d:\n%s", code, owner(), out)
	}

	if err := os.Chown(db, other, other); err != nil {
		t.Fatal(err)
	}
	code, out := restoreAsNobody()
	if code != 1 || !strings.Contains(out, "--db: "+db+" belongs to user 65533") {
		t.Errorf("nobody restoring over a file of user %d: exit %d, want 1 naming --db:\n%s", other, code, out)
	}
	if owner() != other {
		t.Errorf("the refused restore left the file to %d, want %d", owner(), other)
	}
}

// TestRestoreOntoALinkReplacesTheFileItLinksTo: a --db that is a symbolic
// link (the database kept on another disk, linked from the service's
// folder) is restored into the file it links to. Renaming the copy over
// the link instead replaced the link with a file on the link's disk, and
// left the linked file, on the disk the operator chose, with the data the
// restore was meant to replace.
func TestRestoreOntoALinkReplacesTheFileItLinksTo(t *testing.T) {
	_, db, backup := opsBackedUp(t, "backup.db")
	other := t.TempDir() // another disk
	target := filepath.Join(other, "cc.db")
	if err := os.Rename(db, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, db); err != nil {
		t.Fatal(err)
	}
	// The linked file changes after the backup: the restore must undo it.
	if err := os.WriteFile(target, []byte("written after the backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mgMustRun(t, "restore", "--from", backup, "--db", db, "--force")
	restoredThroughLink(t, db, target, backup, out)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(db), "*.restore-*")); len(left) > 0 {
		t.Errorf("left beside the link: %v", left)
	}
}

// TestRestoreRefusesADBThatIsNoFile: restore --force replaces a database
// file, nothing else. A --db mistyped onto a device (/dev/null), a pipe
// or a folder is refused naming --db, and left as it was: run as root,
// the rename replaced /dev/null itself with the restored database.
func TestRestoreRefusesADBThatIsNoFile(t *testing.T) {
	dir, _, backup := opsBackedUp(t, "backup.db")
	targets := map[string]func(string) error{
		"folder": func(p string) error { return os.Mkdir(p, 0o700) },
	}
	if onUnix {
		targets["pipe"] = mkfifo
	}
	if onUnix && os.Geteuid() == 0 {
		// A null device of its own: the test must not touch /dev/null.
		targets["device"] = mknodNull
	}
	for kind, make := range targets {
		t.Run(kind, func(t *testing.T) {
			db := filepath.Join(dir, kind)
			if err := make(db); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(db)
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := mgRun(t, "restore", "--from", backup, "--db", db, "--force")
			if code != 1 || !strings.Contains(stderr, "--db: "+db+" is not a file") {
				t.Errorf("restore onto a %s: exit %d, want 1 naming --db and what it is\nstdout:\n%s\nstderr:\n%s", kind, code, stdout, stderr)
			}
			after, err := os.Lstat(db)
			if err != nil || after.Mode() != before.Mode() {
				t.Errorf("the %s at --db is now %v (%v), was %v", kind, after.Mode(), err, before.Mode())
			}
			if left, _ := filepath.Glob(filepath.Join(dir, kind+".restore-*")); len(left) > 0 {
				t.Errorf("left beside it: %v", left)
			}
		})
	}
}

// restoredThroughLink checks a restore of backup onto db, a symbolic link
// to target, whose output was out: db is still the link to target, and
// target holds the backup, which the output names.
func restoredThroughLink(t *testing.T, db, target, backup, out string) {
	t.Helper()
	if fi, err := os.Lstat(db); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after the restore %s is no longer a link (%v)", db, err)
	}
	if to, err := os.Readlink(db); err != nil || to != target {
		t.Errorf("after the restore %s links to %q (%v), want it still the link to %s", db, to, err, target)
	}
	want, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the linked file holds %d bytes (%v), want the backup's %d", len(got), err, len(want))
	}
	if !strings.Contains(out, target) {
		t.Errorf("the restore's output does not name the file it wrote, %s:\n%s", target, out)
	}
}

// TestRestoreOntoADanglingLinkKeepsTheLink: a --db linked to a file on
// another disk that is not there (the disk not mounted, the file not yet
// made) is restored into the linked path when its folder exists, and
// refused naming --db and the link's target when it does not. Renaming
// the copy over the link replaced it with a file on the link's own disk,
// which the service then used once the other disk was back.
func TestRestoreOntoADanglingLinkKeepsTheLink(t *testing.T) {
	dir, _, backup := opsBackedUp(t, "backup.db")
	other := t.TempDir() // another disk, mounted
	t.Run("folder there", func(t *testing.T) {
		db := filepath.Join(dir, "linked.db")
		target := filepath.Join(other, "cc.db")
		if err := os.Symlink(target, db); err != nil {
			t.Fatal(err)
		}
		out := mgMustRun(t, "restore", "--from", backup, "--db", db)
		restoredThroughLink(t, db, target, backup, out)
	})
	t.Run("folder missing", func(t *testing.T) {
		db := filepath.Join(dir, "unmounted.db")
		target := filepath.Join(other, "not-mounted", "cc.db")
		if err := os.Symlink(target, db); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := mgRun(t, "restore", "--from", backup, "--db", db)
		if code != 1 || !strings.Contains(stderr, "--db: ") || !strings.Contains(stderr, target) {
			t.Errorf("restore onto a link into a missing folder: exit %d, want 1 naming --db and %s\nstdout:\n%s\nstderr:\n%s", code, target, stdout, stderr)
		}
		if to, err := os.Readlink(db); err != nil || to != target {
			t.Errorf("after the refused restore %s links to %q (%v), want it left as it was", db, to, err)
		}
		if _, err := os.Stat(filepath.Dir(target)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the restore made the link's missing folder (%v)", err)
		}
	})
}

// TestOfflineBackupIsOnTheSourcesTrail: a backup with the server stopped
// copies every child's data, as a hot backup does, so the file it copies
// records it, before the copy (the backup holds its event): by
// users/system, the command as its request id, the backup's name and the
// system user who ran it in the reason. A file of an older schema is
// copied as it is, not migrated to take the event, and the backup says
// that it is not on the trail and why.
func TestOfflineBackupIsOnTheSourcesTrail(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	out := filepath.Join(dir, "cc-1.db")
	mgMustRun(t, "backup", "--to", out, "--db", db)
	for _, file := range []string{db, out} {
		e := lastAuditEvent(t, file)
		if e.Action != "database.backup" || e.Actor != "system" || e.RequestID != "backup" || e.Outcome != audit.OutcomeOK ||
			!strings.Contains(e.Reason, "to "+out) || !strings.Contains(e.Reason, "run by the system user ") {
			t.Errorf("the newest event of %s is %+v, want the backup's", filepath.Base(file), e)
		}
	}

	old := filepath.Join(dir, "schema9.db")
	raw, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", "schema9.bolt.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// The golden file's statistics predate their recount (check finds
	// them wrong, a start's migration mends them): the backup says
	// OLDER SCHEMA for that (TestOfflineBackupOfAnOlderSchemaFile).
	_, stdout, _ := mgRun(t, "backup", "--to", filepath.Join(dir, "old-1.db"), "--db", old)
	if want := "NOT AUDITED: the backup is not on the audit trail of " + old + ": its schema version 9 is older"; !strings.Contains(stdout, want) {
		t.Errorf("backup of a file of schema version 9 said %q, want %q", stdout, want)
	}
	if after, err := os.ReadFile(old); err != nil || !bytes.Equal(after, raw) {
		t.Errorf("the backup changed the file of schema version 9 it copied (%v)", err)
	}
}

// TestCheckOfAnOlderSchemaBackup: check on a backup taken before an
// upgrade (every golden file of an older schema), which restore accepts
// and the first start migrates, says that the file is sound and that the
// first start migrates it, and exits 0: it printed BROKEN, with the older
// version (and, before version 10, the counters the migration recounts)
// as PROBLEM lines, and exited 1, so the restore drill, which checks
// first, stopped on a backup that was fine. Another problem on such a
// file (here a noted head the log does not hold) is still BROKEN.
func TestCheckOfAnOlderSchemaBackup(t *testing.T) {
	opsClearEnv(t)
	for version := 2; version < boltstore.SchemaVersion; version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			golden, err := os.ReadFile(fmt.Sprintf("../storage/boltstore/testdata/schema%d.bolt.golden", version))
			if err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(t.TempDir(), "backup.db")
			if err := os.WriteFile(backup, golden, 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := mgRun(t, "check", "--db", backup)
			wantOK := fmt.Sprintf("OK: schema version %d, ", version)
			wantNotice := fmt.Sprintf("OLDER SCHEMA: the file is sound; its schema version %d is older than this childcase's %d, and the first start on it migrates it",
				version, boltstore.SchemaVersion)
			if code != 0 || !strings.HasPrefix(stdout, wantOK) || !strings.Contains(stdout, wantNotice) ||
				strings.Contains(stdout, "PROBLEM") || strings.Contains(stdout, "BROKEN") {
				t.Errorf("check of a schema-%d backup: exit %d, want 0 saying %q and %q, with no PROBLEM or BROKEN\nstdout:\n%s\nstderr:\n%s",
					version, code, wantOK, wantNotice, stdout, stderr)
			}
			if after, err := os.ReadFile(backup); err != nil || !bytes.Equal(after, golden) {
				t.Errorf("check changed the backup it read (%v)", err)
			}

			code, stdout, _ = mgRun(t, "check", "--db", backup, "--noted-head", "1:"+strings.Repeat("ab", 32))
			if code != 1 || !strings.Contains(stdout, "PROBLEM audit") || !strings.Contains(stdout, "BROKEN: ") || strings.Contains(stdout, "OLDER SCHEMA") {
				t.Errorf("check of a schema-%d backup against a head its log does not hold: exit %d, want 1, BROKEN\nstdout:\n%s", version, code, stdout)
			}
		})
	}
}

// lastAuditEvent is the newest event of the database file at path.
func lastAuditEvent(t *testing.T, path string) audit.Event {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e audit.Event
	err = db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket([]byte("audit")).Cursor().Last()
		e, err = audit.Decode(v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRestoreOfAnOlderSchemaBackup: a backup taken before an upgrade (a
// file of an older schema version) is restored by this childcase, which
// says that the first start migrates it, and the file is the backup byte
// for byte; once opened (migrated), it checks OK. Its check's one
// problem, the older version (and, before version 10, the counters the
// migration recounts), refused it: a backup of before the upgrade could
// not be put back without the childcase that wrote it.
func TestRestoreOfAnOlderSchemaBackup(t *testing.T) {
	opsClearEnv(t)
	for version := 2; version < boltstore.SchemaVersion; version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			dir := t.TempDir()
			golden, err := os.ReadFile(fmt.Sprintf("../storage/boltstore/testdata/schema%d.bolt.golden", version))
			if err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(dir, "backup.db")
			if err := os.WriteFile(backup, golden, 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "cc.db")
			code, stdout, stderr := mgRun(t, "restore", "--from", backup, "--db", db)
			if want := fmt.Sprintf("schema version %d is older than this childcase's %d: the first start on it migrates it", version, boltstore.SchemaVersion); code != 0 || !strings.Contains(stdout, want) {
				t.Fatalf("restore of a schema-%d backup: exit %d, want 0 saying %q\nstdout:\n%s\nstderr:\n%s", version, code, want, stdout, stderr)
			}
			if got, err := os.ReadFile(db); err != nil || !bytes.Equal(got, golden) {
				t.Errorf("the restored file is not the backup as it was (%v)", err)
			}
			s, err := boltstore.Open(db, boltstore.Options{NoSync: true})
			if err != nil {
				t.Fatalf("the first open of the restored file: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if out := mgMustRun(t, "check", "--db", db); !strings.HasPrefix(out, fmt.Sprintf("OK: schema version %d", boltstore.SchemaVersion)) {
				t.Errorf("check of the restored file once opened:\n%s", out)
			}
		})
	}
}

// TestCheckOfAFileItCannotReadCountsNothing: a file damaged as a whole (a
// backup cut short, a page overwritten) is not read record by record, so
// check has no counts of it. It printed them all the same, as zeros
// ("BROKEN: schema version 0, ...; 0 audit events (head seq 0)"): an
// auditor checking a nightly backup read that its audit log was empty.
// Its summary says instead that the records were not read, and counts
// nothing it did not count.
func TestCheckOfAFileItCannotReadCountsNothing(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	// Enough users that their bucket has pages of its own, and each
	// command's events on the audit trail.
	for i := range 40 {
		id := "user." + strconv.Itoa(i)
		mgMustRun(t, "users", "add", "--create", "--db", db, "--id", id, "--name", id, "--role", "AUDITOR", "--unit", "orgs/system")
	}
	whole, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.db")
	if err := os.WriteFile(cut, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	garbled := filepath.Join(dir, "garbled.db")
	if err := os.WriteFile(garbled, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	leaves := damagetest.Leaves(t, garbled, "users")
	if len(leaves) == 0 {
		t.Fatal("the users have no page of their own to damage")
	}
	damagetest.Garble(t, garbled, leaves[0].ID)

	for _, tt := range []struct{ name, path, problem string }{
		{"cut short", cut, "PROBLEM file: the file is truncated: "},
		{"a page overwritten", garbled, "PROBLEM file: page "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := mgRun(t, "check", "--db", tt.path)
			want := fmt.Sprintf("BROKEN: %s; its records were not read (the file is damaged: see its PROBLEM line): nothing counted, no audit head; 1 problem\n",
				counted(len(whole)/2, "byte"))
			if tt.path == garbled {
				want = strings.Replace(want, counted(len(whole)/2, "byte"), counted(len(whole), "byte"), 1)
			}
			if code != 1 || !strings.Contains(out, tt.problem) || !strings.HasSuffix(out, want) {
				t.Errorf("check of a file %s: exit %d, want 1, %q and the summary %q:\n%s", tt.name, code, tt.problem, want, out)
			}
			for _, zero := range []string{"schema version 0", "0 audit events", "head seq 0", "0 reports"} {
				if strings.Contains(out, zero) {
					t.Errorf("check of a file %s says %q of records it did not read:\n%s", tt.name, zero, out)
				}
			}
		})
	}
}

// TestCheckOfAFileMissingABucketCountsNothing: a file that lacks one of
// the layout's buckets (one deleted by a hand on the file, or a bbolt
// file of another program) is reported, and its records are not read,
// since without every bucket they cannot be cross-checked. Its summary
// counted them all the same, as zeros ("0 users, ...; 0 audit events
// (head seq 0)") of a file that holds users and an audit log: the fault
// TestCheckOfAFileItCannotReadCountsNothing holds for a file damaged as
// a whole, on the other way a check stops before the records.
func TestCheckOfAFileMissingABucketCountsNothing(t *testing.T) {
	opsClearEnv(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "lan.nguyen", "--name", "Nguyễn Thị Lan", "--role", "AUDITOR", "--unit", "orgs/system")
	if out := mgMustRun(t, "check", "--db", db); !strings.Contains(out, "1 user,") || strings.Contains(out, "0 audit events") {
		t.Fatalf("check of the sound file counts no user or no audit event:\n%s", out)
	}
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		return errors.Join(tx.DeleteBucket([]byte("outbox")), tx.DeleteBucket([]byte("cursors")))
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := mgRun(t, "check", "--db", db)
	if code != 1 || !strings.Contains(out, "PROBLEM outbox: the bucket is missing") || !strings.Contains(out, "PROBLEM cursors: the bucket is missing") ||
		!strings.HasSuffix(out, " bytes; its records were not read (the file is damaged: see its PROBLEM lines): nothing counted, no audit head; 2 problems\n") {
		t.Errorf("check of a file missing a bucket: exit %d, want 1, the bucket named, and a summary that counts nothing:\n%s", code, out)
	}
	for _, zero := range []string{"0 users", "0 audit events", "head seq 0", "0 reports"} {
		if strings.Contains(out, zero) {
			t.Errorf("check of a file missing a bucket says %q of records it did not read:\n%s", zero, out)
		}
	}
}
