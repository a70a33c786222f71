package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoTokensThatIsNoFileIsRefused: --demo-tokens names a file, which
// every start replaces. One that is a device (a newcomer's /dev/null, to
// throw the file away; /dev/stdout, a link to one, to see it), a pipe or a
// folder is refused at start naming the flag, before anything is made,
// and left as it is: run as root, the start renamed its file over
// /dev/null, and a folder failed the start only after the database had
// been made and the demo seeded.
func TestDemoTokensThatIsNoFileIsRefused(t *testing.T) {
	mgClearEnv(t)
	targets := map[string]func(string) error{
		"folder": func(p string) error { return os.Mkdir(p, 0o700) },
	}
	if onUnix {
		targets["pipe"] = mkfifo
		targets["link to a pipe"] = func(p string) error {
			if err := mkfifo(p + ".fifo"); err != nil {
				return err
			}
			return os.Symlink(p+".fifo", p)
		}
	}
	if onUnix && os.Geteuid() == 0 {
		// A null device of its own: the test must not touch /dev/null.
		targets["device"] = mknodNull
	}
	for kind, make := range targets {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			tokens := filepath.Join(dir, "tokens")
			if err := make(tokens); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(tokens)
			if err != nil {
				t.Fatal(err)
			}
			state := t.TempDir()
			var stderr bytes.Buffer
			args := []string{"serve", "--demo", "--demo-tokens", tokens, "--db", filepath.Join(state, "cc.db"), "--key-file", filepath.Join(state, "cc.key"),
				"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
			// Refused, it returns at once; the deadline only ends a start
			// that was not refused and serves.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if code := Main(ctx, args, &stderr, &stderr); code != 1 || !strings.Contains(stderr.String(), "config: demo-tokens: "+tokens+" is ") {
				t.Errorf("--demo-tokens onto a %s: exit %d, stderr %q; want 1 naming demo-tokens", kind, code, stderr.String())
			}
			if after, err := os.Lstat(tokens); err != nil || after.Mode() != before.Mode() {
				t.Errorf("the %s at --demo-tokens is now %v (%v), was %v", kind, after.Mode(), err, before.Mode())
			}
			if names := dirNames(t, state); len(names) != 0 {
				t.Errorf("a start refused for its --demo-tokens made %v", names)
			}
		})
	}
}

// TestDemoIsRefusedOnADatabaseItDidNotMake: --demo seeds an admin whose
// token it prints, users of every role sharing one printed password (a
// city officer among them, who sees every case of the city) and made-up
// cases. On a database with data of its own, a production one reached by
// a stray CHILDCASE_DEMO=true or the README's "add --demo", that opened
// the real cases to whoever read the journal. It runs only on a database
// its own start makes, or one an earlier --demo made; any other is
// refused, naming --demo, and gets no demo user.
func TestDemoIsRefusedOnADatabaseItDidNotMake(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir) // two users added by an admin: real data
	keyFile := filepath.Join(dir, "cc.key")
	var stderr bytes.Buffer
	args := []string{"serve", "--demo", "--db", db, "--key-file", keyFile, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	// Refused, it returns at once; the deadline only ends a start that
	// was not refused and serves.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if code := Main(ctx, args, &stderr, &stderr); code != 1 || !strings.Contains(stderr.String(), "childcase: --demo: ") {
		t.Errorf("serve --demo on a database with users of its own: exit %d, want 1 naming --demo\n%s", code, stderr.String())
	}
	if out := mgMustRun(t, "users", "list", "--db", db); strings.Contains(out, "demo.admin") || strings.Contains(out, "city.officer") {
		t.Errorf("the refused demo start added its users:\n%s", out)
	}
	if strings.Contains(stderr.String(), "cc_") {
		t.Errorf("the refused demo start printed a token:\n%s", stderr.String())
	}
}

// TestDemoTokensIsNoOtherFileOfTheServer: each start replaces the
// --demo-tokens file, so one that names the master key file (or the
// database) replaced it with the tokens, and every sealed record with it
// could no longer be read. Such a start is refused at start naming both
// flags, the path given however it is spelt, and the file left as it is.
func TestDemoTokensIsNoOtherFileOfTheServer(t *testing.T) {
	mgClearEnv(t)
	for _, other := range []string{"key-file", "db"} {
		t.Run(other, func(t *testing.T) {
			dir := t.TempDir()
			db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
			target := map[string]string{"key-file": keyFile, "db": db}[other]
			// A demo database and its key, as a first start makes them.
			mgServe(t, db, keyFile, "--demo").stop()
			kept, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			// The same file under another name: a link beside it.
			alias := filepath.Join(dir, "tokens.env")
			if err := os.Symlink(target, alias); err != nil {
				t.Fatal(err)
			}
			for _, tokens := range []string{target, filepath.Join(dir, ".", filepath.Base(target)), alias} {
				var stderr bytes.Buffer
				args := []string{"serve", "--demo", "--demo-tokens", tokens, "--db", db, "--key-file", keyFile,
					"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				code := Main(ctx, args, &stderr, &stderr)
				cancel()
				if code != 1 || !strings.Contains(stderr.String(), "config: demo-tokens: ") || !strings.Contains(stderr.String(), "--"+other) {
					t.Errorf("--demo-tokens %s, the --%s: exit %d, want 1 naming demo-tokens and %s\n%s", tokens, other, code, other, stderr.String())
				}
				if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, kept) {
					t.Fatalf("the --%s after the start: %.60q (%v), want it as it was", other, got, err)
				}
			}
		})
	}
}

// TestAFileInAFolderItCannotWriteIsRefusedFirst: a --demo-tokens in a
// folder the service's user cannot write in, or a new --db there, is
// refused at start naming the flag and the folder, before anything is
// made. The tokens file used to fail only when it was written, after the
// start had made the master key file and the database, seeded the demo
// and printed its tokens and password; the refused start then removed the
// database but left the key file, and the tokens it printed opened
// nothing. The start runs as another user than root (root writes in any
// folder), through this test binary.
func TestAFileInAFolderItCannotWriteIsRefusedFirst(t *testing.T) {
	if !onUnix {
		t.Skip("folder permissions are Unix's")
	}
	mgClearEnv(t)
	const nobody = 65534
	base := t.TempDir()
	// The service's user reaches the folders and the binary; it may
	// write in state, not in readOnly (root's, or its own made 0555).
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(base, "childcase.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag, name string
		extra      []string
	}{
		{"--demo-tokens", "demo-tokens", []string{"--demo"}},
		{"--db", "db", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(base, c.name+"-state")
			readOnly := filepath.Join(base, c.name+"-read-only")
			if err := os.Mkdir(state, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(state, 0o777); err != nil { // past the umask
				t.Fatal(err)
			}
			if err := os.Mkdir(readOnly, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(readOnly, 0o755) }) // for TempDir's removal
			args := []string{"serve", "--db", filepath.Join(state, "cc.db"), "--key-file", filepath.Join(state, "cc.key"),
				"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
			args = append(append(args, c.extra...), c.flag, filepath.Join(readOnly, "file"))
			// Refused, it returns at once; the deadline only ends a start
			// that was not refused and serves.
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, args...)
			cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
			cmd.Dir = base
			if os.Geteuid() == 0 {
				runAs(cmd, nobody, nobody)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			want := "childcase: config: " + c.name + ": cannot write in the folder " + readOnly + " (permission denied)"
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), want) {
				t.Errorf("%s in a folder its user cannot write in: exit %d; want 1 and %q:\n%s", c.flag, code, want, out)
			}
			if strings.Contains(string(out), "cc_") {
				t.Errorf("the refused start printed a token:\n%s", out)
			}
			for _, d := range []string{state, readOnly} {
				if names := dirNames(t, d); len(names) != 0 {
					t.Errorf("a start refused for its %s left %v in %s", c.flag, names, d)
				}
			}
		})
	}
}
