package cli

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// stalledBackupServer answers BackupDatabase with a first chunk and then
// nothing more until its client goes away: a backup caught in the middle
// of its copy, for as long as a test needs to interrupt it.
type stalledBackupServer struct {
	pb.UnimplementedAdminServiceServer
}

const stalledBackupChunk = 4096

func (stalledBackupServer) BackupDatabase(_ *pb.BackupDatabaseRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	if err := stream.Send(&httpbody.HttpBody{Data: make([]byte, stalledBackupChunk)}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// TestBackupInterruptedLeavesNoTemporaryFile: a backup stopped in the
// middle of its copy, by Ctrl-C or by SIGTERM (systemd stopping the
// nightly unit, a shutdown of the machine), removes the FILE.tmp it was
// writing, as an interrupted restore removes its copy. Left behind, it
// was a partial copy of the database that the README's nightly
// retention (find -name childcase-*.db) never deletes, and a later backup
// to the same name was refused for it.
func TestBackupInterruptedLeavesNoTemporaryFile(t *testing.T) {
	opsClearEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterAdminServiceServer(srv, stalledBackupServer{})
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			to := filepath.Join(dir, "childcase-2026-12-06T0230.db")
			cmd := exec.Command(exe, "backup", "--to", to, "--addr", l.Addr().String(), "--token", "cc_0000000000000000_placeholder")
			cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
			out := &mgBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The signal comes once the first chunk is in FILE.tmp: the
			// copy has begun and cannot finish, the server sending no more.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if fi, err := os.Stat(to + ".tmp"); err == nil && fi.Size() >= stalledBackupChunk {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("backup wrote no first chunk to %s.tmp in 30 s:\n%s", to, out)
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("an interrupted backup: %v, want exit status 1 (it failed, and said so)\n%s", err, out)
			}
			if !strings.Contains(out.String(), "backup interrupted") {
				t.Errorf("an interrupted backup said:\n%s\nwant that it was interrupted", out)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("an interrupted backup left %v, want nothing\n%s", names, out)
			}
		})
	}
}

// TestBackupNeverReplacesAFileThatAppearsAtItsName: a file that takes
// the backup's name after the backup last looked (another backup run by
// hand in the same second, an operator's copy) is never replaced: the
// checked copy takes the name only if it is free, at once, or the backup
// fails, naming it, and leaves no FILE.tmp. A look and then a rename
// replaced such a file silently.
func TestBackupNeverReplacesAFileThatAppearsAtItsName(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	to := filepath.Join(dir, "backup.db")
	theirs := []byte("another backup's bytes")
	backupHooks.beforePublish = func(name string) {
		if err := os.WriteFile(name, theirs, 0o600); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { backupHooks.beforePublish = nil })
	code, stdout, stderr := mgRun(t, "backup", "--db", db, "--to", to)
	if code != 1 || !strings.Contains(stderr, to+" appeared while the backup ran: not replaced") {
		t.Errorf("backup onto a name taken at the last moment: exit %d, want 1 naming it\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got, err := os.ReadFile(to); err != nil || !bytes.Equal(got, theirs) {
		t.Errorf("the file that took the name holds %d bytes (%v), want its %d as they were", len(got), err, len(theirs))
	}
	if _, err := os.Lstat(to + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.tmp is left (%v)", to, err)
	}
}
